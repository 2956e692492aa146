from gecko_cli.dedup.config import DedupConfig
from gecko_cli.dedup.run import run


def test_dedup_accounts_for_every_document(tiny_raw, tmp_path):
    out = str(tmp_path / "clean")
    report = run(DedupConfig(input=tiny_raw, output=out))
    docs = report.manifest["stats"]["documents"]
    assert docs["read"] == 12
    assert docs["read"] == docs["kept"] + sum(docs["dropped"].values())
    assert docs["dropped"]["exact_duplicate"] == 3  # ko-1, en-1 (case and spaces), short-1
    assert docs["dropped"]["empty"] == 1

import dataclasses
import filecmp
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gecko_cli.dedup.config import DedupConfig
from gecko_cli.dedup.run import run
from gecko_cli.errors import ConfigError
from helpers import write_jsonl


def _rows(folder):
    rows = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("shard-"):
            rows += pa.ipc.open_file(os.path.join(folder, name)).read_all().to_pylist()
    return rows


def _ids(folder):
    return [r["id"] for r in _rows(folder)]


def _same_files(a, b):
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b))
    for name in names:
        assert filecmp.cmp(os.path.join(a, name), os.path.join(b, name), shallow=False), name


def test_kept_documents_and_accounting(tiny_raw, tmp_path):
    out = str(tmp_path / "clean")
    report = run(DedupConfig(input=tiny_raw, output=out, keep_dropped=str(tmp_path / "dropped")))
    stats = report.manifest["stats"]
    docs = stats["documents"]
    assert docs["read"] == 12
    assert docs["read"] == docs["kept"] + sum(docs["dropped"].values())
    assert docs["dropped"] == {"exact_duplicate": 3, "near_duplicate": 2, "empty": 1, "bad_record": 0}
    assert _ids(out) == ["ko-0", "en-0", "code-0", "en-2", "ko-3", "short-0"]
    assert sum(s["rows"] for s in report.manifest["shards"]) == docs["kept"]
    assert sum(row["read"] for row in stats["by_lang"].values()) == 12
    assert stats["by_lang"]["ko"] == {"read": 4, "kept": 2, "exact_duplicate": 1, "near_duplicate": 1,
                                      "empty": 0, "bad_record": 0}
    assert set(stats["by_source"]) == {"wiki", "web", "github", "news", "blog"}
    dropped = _rows(str(tmp_path / "dropped"))
    by_id = {r["id"]: r for r in dropped}
    assert by_id["ko-1"]["dedup_reason"] == "exact_duplicate" and by_id["ko-1"]["dedup_dup_of"] == "ko-0"
    assert by_id["ko-2"]["dedup_reason"] == "near_duplicate" and by_id["ko-2"]["dedup_dup_of"] == "ko-0"
    assert by_id["code-1"]["dedup_dup_of"] == "code-0"
    assert by_id["empty-0"]["dedup_reason"] == "empty" and by_id["empty-0"]["dedup_cluster"] is None
    assert len(dropped) == sum(docs["dropped"].values())
    assert not os.path.exists(os.path.join(out, ".gecko-work"))


def test_keep_longest(tiny_raw, tmp_path):
    report = run(DedupConfig(input=tiny_raw, output=str(tmp_path / "c"), keep="longest"))
    ids = _ids(str(tmp_path / "c"))
    assert "ko-2" in ids and "ko-0" not in ids  # "약 구백만 명" is one character longer
    assert report.manifest["stats"]["documents"]["kept"] == 6


def _random_text(seed, words=40):
    rng = random.Random(seed)
    vocab = ["서울", "한강", "모델", "token", "shard", "python", "데이터", "학습", "binary", "함수", "loop", "값"]
    return " ".join(rng.choice(vocab) + str(rng.randrange(1000)) for _ in range(words))


def test_deterministic_and_workers_do_not_change_output(tmp_path):
    raw = tmp_path / "raw"
    corpus = [{"id": f"d{i}", "text": _random_text(i % 300)} for i in range(400)]  # 100 exact copies
    for k in range(4):
        write_jsonl(str(raw / f"part{k}.jsonl.zst"), corpus[k::4])
    outs = []
    for name, workers in (("a", 1), ("b", 1), ("c", 2)):
        out = str(tmp_path / name)
        run(DedupConfig(input=str(raw), output=out, workers=workers, shard_bytes=4000))
        outs.append(out)
    assert len([n for n in os.listdir(outs[0]) if n.startswith("shard-")]) > 4
    _same_files(outs[0], outs[1])
    _same_files(outs[0], outs[2])


def test_phases_on_two_hosts_compose_to_the_same_result(tiny_raw, tmp_path):
    whole = str(tmp_path / "whole")
    run(DedupConfig(input=tiny_raw, output=whole))
    split = str(tmp_path / "split")
    base = DedupConfig(input=tiny_raw, output=split, num_hosts=2)
    for phase in ("signatures", "pairs", "clusters", "filter"):
        for host in (1, 0):
            report = run(dataclasses.replace(base, phase=phase, host_index=host))
    assert report.complete
    _same_files(whole, split)


def test_phase_before_its_inputs_is_a_clear_error(tiny_raw, tmp_path):
    from gecko_cli.errors import DataError

    with pytest.raises(DataError, match="signatures"):
        run(DedupConfig(input=tiny_raw, output=str(tmp_path / "o"), phase="pairs"))


def test_rerun_is_a_no_op_and_other_settings_need_overwrite(tiny_raw, tmp_path):
    out = str(tmp_path / "clean")
    run(DedupConfig(input=tiny_raw, output=out))
    before = os.path.getmtime(os.path.join(out, "manifest.json"))
    again = run(DedupConfig(input=tiny_raw, output=out))
    assert again.already_complete
    assert os.path.getmtime(os.path.join(out, "manifest.json")) == before
    with pytest.raises(ConfigError, match="other settings"):
        run(DedupConfig(input=tiny_raw, output=out, threshold=0.9))
    report = run(DedupConfig(input=tiny_raw, output=out, threshold=0.9, overwrite=True))
    assert report.manifest["config"]["threshold"] == 0.9


def test_refuses_a_foreign_non_empty_output(tiny_raw, tmp_path):
    out = tmp_path / "clean"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        run(DedupConfig(input=tiny_raw, output=str(out)))


def test_mixed_formats_extra_columns_and_text_field(tmp_path):
    raw = tmp_path / "raw"
    docs = [{"content": _random_text(i), "meta": {"n": i}} for i in range(6)]
    write_jsonl(str(raw / "a.jsonl.gz"), docs[:2])
    pq.write_table(pa.Table.from_pylist(docs[2:4]), str(raw / "b.parquet"))
    table = pa.Table.from_pylist(docs[4:])
    with pa.OSFile(str(raw / "c.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    out = str(tmp_path / "clean")
    report = run(DedupConfig(input=str(raw), output=out, text_field="content"))
    assert report.manifest["stats"]["documents"]["kept"] == 6
    rows = _rows(out)
    assert [r["meta"]["n"] for r in rows] == list(range(6))
    assert rows[0]["id"] == "a.jsonl.gz:1" and rows[2]["id"] == "b.parquet#0"
    assert rows[0]["source"] == "a.jsonl.gz"


def test_skip_bad_records_are_counted_and_kept_for_audit(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_bytes(
        b'{"text": "a good document with some words"}\n{"text": 5}\nnot json\n'
        b'{"text": "another good document, different"}\n{"nothing": 1}\n\xff\xfe{"text": "x"}\n'
    )
    out, dropped = str(tmp_path / "clean"), str(tmp_path / "dropped")
    report = run(DedupConfig(input=str(raw), output=out, on_bad_record="skip", keep_dropped=dropped))
    docs = report.manifest["stats"]["documents"]
    assert docs["read"] == 6 and docs["kept"] == 2 and docs["dropped"]["bad_record"] == 4
    rows = _rows(dropped)
    assert [r["id"] for r in rows] == ["a.jsonl:2", "a.jsonl:3", "a.jsonl:5", "a.jsonl:6"]
    assert all(r["dedup_reason"].startswith("bad_record: ") for r in rows)
    assert rows[1]["text"] == "not json"


def test_bad_record_stops_the_run_and_leaves_nothing_complete(tmp_path):
    from gecko_cli.errors import DataError

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_text('{"text": "fine"}\n{"text": "broken"\n')
    out = tmp_path / "clean"
    with pytest.raises(DataError, match=r"a\.jsonl:2"):
        run(DedupConfig(input=str(raw), output=str(out)))
    assert not (out / "manifest.json").exists()
    assert not [n for n in os.listdir(out) if n.startswith("shard-")]


def test_rerun_after_a_failed_start_may_change_settings(tmp_path):
    from gecko_cli.errors import DataError

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_text('{"text": "a first document to keep"}\n{bad\n')
    out = str(tmp_path / "clean")
    with pytest.raises(DataError, match=r"a\.jsonl:2") as e:
        run(DedupConfig(input=str(raw), output=out))
    assert "--on-bad-record skip" in e.value.hint
    report = run(DedupConfig(input=str(raw), output=out, on_bad_record="skip"))  # the hint, followed
    stats = report.manifest["stats"]
    assert stats["documents"]["dropped"]["bad_record"] == 1
    assert stats["text_bytes"]["read"] == len("a first document to keep")  # a bad record has no text


def test_finished_work_with_other_settings_needs_overwrite(tiny_raw, tmp_path):
    out = str(tmp_path / "clean")
    run(DedupConfig(input=tiny_raw, output=out, phase="signatures"))
    with pytest.raises(ConfigError, match="unfinished"):
        run(DedupConfig(input=tiny_raw, output=out, threshold=0.9))

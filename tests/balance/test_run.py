import dataclasses
import filecmp
import json
import os

import pyarrow as pa
import pytest

from gecko_cli.balance.config import BalanceConfig
from gecko_cli.balance.run import run
from gecko_cli.errors import ConfigError, DataError
from helpers import BAD_TOKENIZER_FILES, bad_tokenizer_folder, write_jsonl

KO = ["오늘은 날씨가 맑아서 한강 공원에 산책을 다녀왔다. 바람이 시원하고 사람들이 많았다.",
      "이 영화는 배우들의 연기가 훌륭하고 이야기도 탄탄해서 두 시간이 금방 지나갔습니다.",
      "서울 지하철은 노선이 많아서 처음 온 사람도 쉽게 목적지까지 갈 수 있다고 한다.",
      "문의는 hong.gildong@example.co.kr 또는 010-1234-5678 로 연락 주시기 바랍니다."]
EN = ["The committee met on Tuesday to discuss the budget for next year and agreed on most items.",
      "Rivers carry sediment from the mountains to the sea, shaping valleys over millions of years.",
      "She opened the old book and found a letter that her grandmother had written decades ago.",
      "A good night's sleep helps the brain consolidate memories and recover from the day's work.",
      "The train was late again, so the passengers waited on the cold platform and read the news."]
CODE = ["def add(a, b):\n    return a + b\n\n\nprint(add(2, 3))\n",
        "import os\n\nfor name in os.listdir('.'):\n    if name.endswith('.py'):\n        print(name)\n",
        "fn main() {\n    let v = vec![1, 2, 3];\n    println!(\"{:?}\", v);\n}\n"]


def _docs(labelled=True):
    docs = []
    for lang, texts in (("ko", KO), ("en", EN), ("code", CODE)):
        for i, t in enumerate(texts * 3):
            docs.append({"id": f"{lang}-{i}", "text": t + f" ({i})" * (lang != "code"),
                         "lang": lang if labelled else None, "source": f"src-{lang}"})
    return docs


@pytest.fixture
def clean(tmp_path):
    write_jsonl(str(tmp_path / "clean" / "a.jsonl"), _docs()[::2])
    write_jsonl(str(tmp_path / "clean" / "b.jsonl"), _docs()[1::2])
    return str(tmp_path / "clean")


def _rows(folder):
    rows = []
    with open(os.path.join(folder, "manifest.json")) as fh:
        for shard in json.load(fh)["shards"]:
            rows += pa.ipc.open_file(os.path.join(folder, shard["name"])).read_all().to_pylist()
    return rows


def test_output_reaches_the_mix_and_accounts_for_everything(clean, tmp_path):
    out = str(tmp_path / "mixed")
    report = run(BalanceConfig(input=clean, output=out, apply_rules=False, keep_dropped=str(tmp_path / "d")))
    stats = report.manifest["stats"]
    rows = _rows(out)
    assert len(rows) == stats["documents"]["out"]
    assert len({r["id"] for r in rows}) == len(rows)  # every copy has its own id
    sizes = {}
    for r in rows:
        sizes[r["lang"]] = sizes.get(r["lang"], 0) + len(r["text"].encode())
    total = sum(sizes.values())
    for lang, share in (("ko", 0.35), ("en", 0.28), ("code", 0.37)):
        assert sizes[lang] == stats["languages"][lang]["bytes_out"]
        assert abs(sizes[lang] / total - share) < 0.05  # within one document of these tiny inputs
        assert stats["languages"][lang]["epochs"] <= 4.0 + 1e-9
    assert max(s["epochs"] for s in stats["languages"].values()) == pytest.approx(4.0)
    assert any("~ep" in r["id"] for r in rows)
    assert all("hong.gildong@example.co.kr" not in r["text"] and "010-1234-5678" not in r["text"] for r in rows)
    assert stats["pii"].get("email", 0) >= 1 and stats["pii"].get("phone", 0) >= 1


def test_shuffled_and_deterministic_whatever_the_workers(clean, tmp_path):
    outs = []
    for name, workers, seed in (("a", 1, 0), ("b", 2, 0), ("c", 1, 1)):
        out = str(tmp_path / name)
        run(BalanceConfig(input=clean, output=out, workers=workers, seed=seed, shard_bytes=800, apply_rules=False))
        outs.append(out)
    names = sorted(os.listdir(outs[0]))
    assert len(names) > 3 and names == sorted(os.listdir(outs[1]))
    assert all(filecmp.cmp(os.path.join(outs[0], n), os.path.join(outs[1], n), shallow=False) for n in names)
    langs = [r["lang"] for r in _rows(outs[0])]
    assert langs != sorted(langs, key=["ko", "en", "code"].index)  # mixed, not grouped by language
    assert [r["id"] for r in _rows(outs[0])] != [r["id"] for r in _rows(outs[2])]  # another seed, another order


def test_one_shard_compressed_on_the_workers_threads_is_the_same(clean, tmp_path, monkeypatch):
    from gecko_cli.balance import shuffle
    from gecko_cli.shards import writer

    monkeypatch.setattr(shuffle, "BATCH_BYTES", 600)  # many record batches in the one output shard
    made = []

    class Spy(writer.ParallelFileWriter):
        def __init__(self, *args):
            made.append(args[-1])
            super().__init__(*args)

    monkeypatch.setattr(writer, "ParallelFileWriter", Spy)
    outs = {}
    for workers in (1, 3):
        outs[workers] = str(tmp_path / f"w{workers}")
        run(BalanceConfig(input=clean, output=outs[workers], workers=workers, apply_rules=False))
    assert made == [3]  # --workers 3 and one shard: its batches compressed on 3 threads; --workers 1: on none
    assert os.listdir(outs[1]) == os.listdir(outs[3])
    shard = os.path.join(outs[3], "shard-00000.arrow")
    assert pa.ipc.open_file(shard).num_record_batches > 5
    assert filecmp.cmp(os.path.join(outs[1], "shard-00000.arrow"), shard, shallow=False)


@pytest.mark.parametrize("settings", [{}, {"shard_bytes": 800}, {"total": 1500}],
                         ids=["one shard, repeated", "many shards", "down-sampled"])
def test_each_output_row_keeps_its_own_columns(clean, tmp_path, settings):
    # The gather takes the small columns (id, lang, source) apart from the texts: from every kept row once when a
    # shard repeats them, else only the rows it takes. Either way each row's columns are its document's.
    out = str(tmp_path / "mixed")
    report = run(BalanceConfig(input=clean, output=out, apply_rules=False, workers=2, **settings))
    docs = {d["id"]: d for d in _docs()}
    rows = _rows(out)
    assert len(rows) == report.manifest["stats"]["documents"]["out"] and rows
    if settings.get("shard_bytes"):
        assert len(report.manifest["shards"]) > 1
    for r in rows:
        doc = docs[r["id"].split("~ep")[0]]
        assert (r["lang"], r["source"]) == (doc["lang"], doc["source"])
        if "@" not in doc["text"]:  # (the rest are scrubbed)
            assert r["text"] == doc["text"]


def test_dry_run_writes_nothing(clean, tmp_path):
    out = tmp_path / "mixed"
    report = run(BalanceConfig(input=clean, output=str(out), dry_run=True, apply_rules=False))
    assert report.dry_run and report.stats["languages"]["ko"]["docs_out"] > 0
    assert not out.exists()


def test_total_and_epoch_cap(clean, tmp_path):
    out = str(tmp_path / "mixed")
    with pytest.raises(DataError, match="above --max-epochs"):
        run(BalanceConfig(input=clean, output=out, total=10**7, apply_rules=False))
    report = run(BalanceConfig(input=clean, output=out, total=10**7, best_effort=True, apply_rules=False))
    assert not report.manifest["stats"]["mix"]["achieved"]
    small = run(BalanceConfig(input=clean, output=str(tmp_path / "s"), total=2000, apply_rules=False))
    assert sum(r["bytes_out"] for r in small.manifest["stats"]["languages"].values()) == pytest.approx(2000, rel=0.1)


def test_language_missing_from_the_input_is_a_clear_error(tmp_path):
    write_jsonl(str(tmp_path / "clean" / "a.jsonl"), [d for d in _docs() if d["lang"] != "code"])
    with pytest.raises(DataError, match="no code documents"):
        run(BalanceConfig(input=str(tmp_path / "clean"), output=str(tmp_path / "m"), apply_rules=False))
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_unlabelled_documents_are_detected(tmp_path):
    write_jsonl(str(tmp_path / "clean" / "a.jsonl"), _docs(labelled=False))
    report = run(BalanceConfig(input=str(tmp_path / "clean"), output=str(tmp_path / "m"), apply_rules=False))
    langs = report.manifest["stats"]["languages"]
    assert langs["ko"]["docs_in"] == 12 and langs["en"]["docs_in"] == 15 and langs["code"]["docs_in"] == 9


def test_phases_on_two_hosts_compose_to_the_same_result(clean, tmp_path):
    whole = str(tmp_path / "whole")
    run(BalanceConfig(input=clean, output=whole, shard_bytes=800, apply_rules=False))
    split = str(tmp_path / "split")
    base = BalanceConfig(input=clean, output=split, shard_bytes=800, num_hosts=2, apply_rules=False)
    for phase in ("scan", "plan", "scatter", "gather"):
        for host in (1, 0):
            report = run(dataclasses.replace(base, phase=phase, host_index=host))
    assert report.complete
    names = sorted(os.listdir(whole))
    assert names == sorted(os.listdir(split))
    assert all(filecmp.cmp(os.path.join(whole, n), os.path.join(split, n), shallow=False) for n in names)


def test_rules_drop_with_named_reasons(tmp_path):
    docs = _docs() + [{"id": "junk", "text": "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ ㅎㅎㅎㅎㅎㅎㅎㅎㅎㅎ", "lang": "ko"}]
    write_jsonl(str(tmp_path / "clean" / "a.jsonl"), docs)
    out, dropped = str(tmp_path / "m"), str(tmp_path / "d")
    report = run(BalanceConfig(input=str(tmp_path / "clean"), output=out, keep_dropped=dropped))
    reasons = report.manifest["stats"]["languages"]["ko"]["dropped"]
    assert sum(reasons.values()) >= 1
    rows = pa.ipc.open_file(os.path.join(dropped, "shard-00000.arrow")).read_all().to_pylist()
    assert "junk" in {r["id"] for r in rows}
    assert all(r["balance_reason"] for r in rows)



@pytest.mark.parametrize("kernels", ["on", "off"])
def test_kept_texts_are_the_scrubbed_texts_of_the_kept_documents(tmp_path, monkeypatch, kernels):
    # Scrubbed, dropped and untouched documents interleaved in one batch: the scan's work file must hold each
    # kept document once, with its text as scrubbed, and the manifest count those texts' bytes.
    from gecko_cli.balance import pii
    from gecko_cli.balance.work import Work

    monkeypatch.setenv("GECKO_CPU_KERNELS", kernels)
    greek = "Ελληνικά κείμενα εδώ, αρκετά μεγάλα για να μείνουν στη σειρά."
    docs = []
    for i in range(40):
        kind = i % 4
        text = (f"{KO[3]} 메일 kim{i}@example.com 번호 010-2222-{3000 + i}" if kind == 0 else
                greek if kind == 1 else f"{EN[i % len(EN)]} Mail jane{i}@example.org today." if kind == 2 else
                f"{KO[i % 3]} ({i})")
        docs.append({"id": f"d{i}", "text": text, "source": "s"})
    write_jsonl(str(tmp_path / "clean" / "a.jsonl"), docs)
    out = str(tmp_path / "m")
    report = run(BalanceConfig(input=str(tmp_path / "clean"), output=out, relabel=True, apply_rules=False,
                               mix={"ko": 0.6, "en": 0.4}, keep_work=True))
    kept = pa.ipc.open_file(Work(out).kept_file(0)).read_all().to_pylist()
    expected = [(d["id"], pii.scrub(d["text"])[0]) for d in docs if d["text"] != greek]
    assert [(r["id"], r["text"]) for r in kept] == expected
    assert sum("<EMAIL>" in t for _, t in expected) == 20 and sum("<PHONE>" in t for _, t in expected) == 10
    stats = report.manifest["stats"]
    assert stats["documents"]["dropped"] == {"other_language": 10}
    langs = {r["id"]: r["lang"] for r in kept}
    for lang in ("ko", "en"):
        assert stats["languages"][lang]["bytes_kept"] == sum(len(t.encode()) for i, t in expected if langs[i] == lang)
    for r in _rows(out):
        assert r["text"] == dict(expected)[r["id"].split("~ep")[0]]


@pytest.mark.parametrize("other", [False, True])
def test_bad_records_skipped_are_dropped_with_their_reason(tmp_path, other):
    # (a bad record is read as an empty text, which is in no language: dropped even where `other` is kept)
    path = tmp_path / "clean" / "a.jsonl"
    write_jsonl(str(path), _docs() + [{"id": "x", "text": "Ελληνικά κείμενα εδώ, αρκετά μεγάλα για να μείνουν."}])
    lines = path.read_text().splitlines()
    lines[2:2] = ['{"id": "nums", "text": 5, "lang": "ko"}', "not json"]  # among the documents, not at the end
    path.write_text("\n".join(lines) + "\n")
    out, dropped = str(tmp_path / "m"), str(tmp_path / "d")
    mix = {"ko": 0.3, "en": 0.3, "code": 0.3, "other": 0.1} if other else {"ko": 0.35, "en": 0.28, "code": 0.37}
    report = run(BalanceConfig(input=str(tmp_path / "clean"), output=out, keep_dropped=dropped, mix=mix,
                               keep_other=other, on_bad_record="skip", relabel=True, apply_rules=False))
    docs = report.manifest["stats"]["documents"]
    assert docs["dropped"].get("bad_record") == 2 and docs["read"] == len(_docs()) + 3
    assert docs["kept"] + sum(docs["dropped"].values()) == docs["read"]
    reasons = [r["balance_reason"] for r in
               pa.ipc.open_file(os.path.join(dropped, "shard-00000.arrow")).read_all().to_pylist()]
    assert reasons.count("bad_record") == 2
    assert "nums" not in {r["id"] for r in _rows(out)}


def _byte_level_tokenizer(folder) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.train_from_iterator([d["text"] for d in _docs()], trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>"]))
    os.makedirs(folder)
    tok.save(str(folder / "tokenizer.json"))
    return str(folder)


def test_mix_by_tokens_with_a_real_tokenizer(clean, tmp_path):
    _byte_level_tokenizer(tmp_path / "tok")
    report = run(BalanceConfig(input=clean, output=str(tmp_path / "m"), by="tokens", tokenizer=str(tmp_path / "tok"),
                               apply_rules=False))
    langs = report.manifest["stats"]["languages"]
    assert all(r["tokens_per_byte"] > 0 for r in langs.values())
    assert langs["ko"]["tokens_per_byte"] != langs["en"]["tokens_per_byte"]
    for lang, share in (("ko", 0.35), ("en", 0.28), ("code", 0.37)):
        assert abs(langs[lang]["share_out"] - share) < 0.05


def test_a_scan_for_bytes_is_not_reused_for_tokens(clean, tmp_path):
    # A scan made for --by bytes takes no token samples: a rerun by tokens is refused like any other change of
    # what the scan depends on (not planned without samples), and --overwrite scans again.
    out = str(tmp_path / "m")
    run(BalanceConfig(input=clean, output=out, phase="scan", apply_rules=False))
    by_tokens = BalanceConfig(input=clean, output=out, by="tokens", tokenizer=_byte_level_tokenizer(tmp_path / "tok"),
                              apply_rules=False)
    with pytest.raises(ConfigError, match="unfinished balance run with other settings"):
        run(by_tokens)
    report = run(dataclasses.replace(by_tokens, overwrite=True))
    assert report.complete
    assert all(r["tokens_per_byte"] > 0 for r in report.manifest["stats"]["languages"].values())


def test_tokens_without_a_tokenizer_file_is_a_clear_error(clean, tmp_path):
    with pytest.raises(DataError, match="tokenizer.json not found"):
        run(BalanceConfig(input=clean, output=str(tmp_path / "m"), by="tokens", tokenizer=str(tmp_path / "none")))


def _gecko(*args: str):
    """Run gecko in a fresh process, as a user would."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GECKO_DEBUG"}
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], capture_output=True, text=True,
                          env={**env, "NO_COLOR": "1"}, timeout=120)


@pytest.mark.parametrize("flags, message", [
    (["--max-epochs", "nan"], "--max-epochs must be a finite number, not nan"),
    (["--max-epochs", "inf"], "--max-epochs must be a finite number, not inf"),
    (["--mix", "ko=nan,en=1"], "--mix: the share of ko is nan, not a finite number"),
])
def test_non_finite_values_stop_balance_before_any_work(clean, tmp_path, flags, message):
    done = _gecko("balance", clean, str(tmp_path / "m"), *flags)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[0] == f"error: {message}" and "hint: " in done.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("content", BAD_TOKENIZER_FILES)
def test_bad_tokenizer_stops_balance_before_the_scan(clean, tmp_path, content):
    tok = bad_tokenizer_folder(tmp_path / "tok", content)
    with pytest.raises(DataError, match="tokenizer.json: not a readable tokenizer"):
        run(BalanceConfig(input=clean, output=str(tmp_path / "m"), by="tokens", tokenizer=str(tok), apply_rules=False))
    assert not (tmp_path / "m").exists()
    done = _gecko("balance", clean, str(tmp_path / "m"), "--by", "tokens", "--tokenizer", str(tok), "--dry-run")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "not a readable tokenizer" in done.stderr.splitlines()[0]


def test_unfinished_train_tokenizer_folder_is_refused(clean, tmp_path):
    folder = _byte_level_tokenizer(tmp_path / "tok")
    (tmp_path / "tok" / "report.json").write_text("{}")  # train-tokenizer writes it; manifest.json comes last
    cfg = BalanceConfig(input=clean, output=str(tmp_path / "m"), by="tokens", tokenizer=folder, apply_rules=False)
    with pytest.raises(DataError, match="unfinished `gecko train-tokenizer` run"):
        run(cfg)
    assert not (tmp_path / "m").exists()
    (tmp_path / "tok" / "manifest.json").write_text(json.dumps({"stage": "train-tokenizer", "shards": []}))
    assert run(cfg).complete


@pytest.mark.parametrize("held", ["none", "first", "all"])
def test_kept_metadata_held_between_phases_or_not_gives_the_same_output(clean, tmp_path, monkeypatch, held):
    from gecko_cli.balance.work import SCAN_META, Work

    reference = str(tmp_path / "reference")
    run(BalanceConfig(input=clean, output=reference, shard_bytes=800, apply_rules=False))
    first = SCAN_META.itemsize * len(_docs()[::2])  # what a.jsonl's documents take (all are kept)
    monkeypatch.setattr(Work, "META_CACHE_BYTES", {"none": 0, "first": first, "all": 1 << 20}[held])
    reads = []
    real = Work._read_meta
    monkeypatch.setattr(Work, "_read_meta", lambda self, unit: reads.append(unit) or real(self, unit))
    out = str(tmp_path / "out")
    run(BalanceConfig(input=clean, output=out, shard_bytes=800, apply_rules=False))
    names = sorted(os.listdir(reference))
    assert names == sorted(os.listdir(out))
    assert all(filecmp.cmp(os.path.join(reference, n), os.path.join(out, n), shallow=False) for n in names)
    # the scan hands over each file's metadata within its share of the limit; the plan reads the rest, scatter
    # again only what was not held
    assert sorted(reads) == {"none": [0, 0, 1, 1], "first": [0, 1, 1], "all": []}[held]


@pytest.mark.parametrize("how", ["held", "files: over the limit", "files: work kept"])
def test_scattered_copies_held_in_memory_or_written_give_the_same_output(clean, tmp_path, monkeypatch, how):
    from gecko_cli.balance.work import Work

    reference = str(tmp_path / "reference")
    run(BalanceConfig(input=clean, output=reference, shard_bytes=800, apply_rules=False, phase="scan"))
    for phase in ("plan", "scatter", "gather"):  # each phase in its own run: the copies go to files
        run(BalanceConfig(input=clean, output=reference, shard_bytes=800, apply_rules=False, phase=phase))
    if how == "files: over the limit":
        monkeypatch.setattr(Work, "COPIES_HELD_BYTES", 0)
    scattered = []
    real = Work.hold_copies
    monkeypatch.setattr(Work, "hold_copies", lambda self, unit, *a: scattered.append(unit) or real(self, unit, *a))
    out = str(tmp_path / "out")
    keep = how == "files: work kept"
    report = run(BalanceConfig(input=clean, output=out, shard_bytes=800, apply_rules=False, keep_work=keep))
    assert report.complete and report.manifest["stats"]["shards"] > 1
    names = sorted(n for n in os.listdir(reference) if not n.startswith("."))
    assert names == sorted(n for n in os.listdir(out) if not n.startswith("."))
    assert all(filecmp.cmp(os.path.join(reference, n), os.path.join(out, n), shallow=False) for n in names)
    assert sorted(scattered) == ([0, 1] if how == "held" else [])
    if keep:
        files = sorted(os.listdir(os.path.join(out, ".gecko-work", "scatter")))
        assert files == ["copies-00000.bin", "copies-00001.bin", "done-00000.json", "done-00001.json"]


def test_metadata_of_an_earlier_run_s_scan_is_read_back(clean, tmp_path, monkeypatch):
    from gecko_cli.balance.work import Work

    reference = str(tmp_path / "reference")
    run(BalanceConfig(input=clean, output=reference, shard_bytes=800, apply_rules=False))
    out = str(tmp_path / "out")
    run(BalanceConfig(input=clean, output=out, shard_bytes=800, apply_rules=False, phase="scan"))
    reads = []
    real = Work._read_meta
    monkeypatch.setattr(Work, "_read_meta", lambda self, unit: reads.append(unit) or real(self, unit))
    assert run(BalanceConfig(input=clean, output=out, shard_bytes=800, apply_rules=False)).complete
    assert sorted(reads) == [0, 1]  # the scan was done: its metadata comes from its files, once
    names = sorted(os.listdir(reference))
    assert names == sorted(os.listdir(out))
    assert all(filecmp.cmp(os.path.join(reference, n), os.path.join(out, n), shallow=False) for n in names)


@pytest.mark.parametrize("damage", ["missing", "empty", "cut short", "fewer rows"])
def test_a_scan_whose_work_file_a_crash_lost_is_done_again(clean, tmp_path, caplog, damage):
    # The scan's shards of survivors are not synced to disk: a system crash may leave one missing, empty or cut
    # short under a done marker that reached the disk. The rerun checks them and scans those inputs again.
    from gecko_cli.balance import scan
    from gecko_cli.balance.work import Work
    from gecko_cli.shards import discover

    real_process = scan._process
    reference = str(tmp_path / "reference")
    run(BalanceConfig(input=clean, output=reference, shard_bytes=800, apply_rules=False))
    out = str(tmp_path / "out")
    run(BalanceConfig(input=clean, output=out, shard_bytes=800, apply_rules=False, phase="scan"))
    work = Work(out)
    lost = work.kept_file(1)
    if damage == "missing":
        os.remove(lost)
    elif damage == "fewer rows":  # a readable shard, but not all that the marker says it holds
        table = pa.ipc.open_file(lost).read_all()
        with pa.ipc.new_file(lost, table.schema) as w:
            w.write_table(table.slice(0, table.num_rows - 1))
    else:
        data = open(lost, "rb").read()
        with open(lost, "wb") as fh:
            fh.write(b"" if damage == "empty" else data[: len(data) // 2])
    scanned = []
    with pytest.MonkeyPatch.context() as mp:  # (one worker: in this process)
        mp.setattr(scan, "_process",
                   lambda cfg, batch, table: scanned.append(batch.ids[0]) or real_process(cfg, batch, table))
        report = run(BalanceConfig(input=clean, output=out, shard_bytes=800, apply_rules=False, workers=1))
    assert report.complete
    second = next(f for f in discover(clean, ()) if f.index == 1)
    assert scanned and {i.split("#")[0] for i in scanned} <= {d["id"] for d in _docs()} - {
        d["id"] for d in (_docs()[::2] if second.relpath == "b.jsonl" else _docs()[1::2])}  # that input only
    assert f"{second.relpath} is scanned again" in caplog.text
    names = sorted(os.listdir(reference))
    assert names == sorted(os.listdir(out))
    assert all(filecmp.cmp(os.path.join(reference, n), os.path.join(out, n), shallow=False) for n in names)


def test_only_the_scans_work_files_are_written_without_a_sync(clean, tmp_path, monkeypatch):
    from gecko_cli.shards import writer

    synced = []
    real = writer._fsync
    def spy(path):
        synced.append(os.path.relpath(path, tmp_path).split(".tmp-")[0])
        real(path)

    monkeypatch.setattr(writer, "_fsync", spy)
    out = str(tmp_path / "out")
    run(BalanceConfig(input=clean, output=out, apply_rules=False, keep_work=True, keep_dropped=str(tmp_path / "d")))
    assert sorted(synced) == ["d/shard-00000.arrow", "d/shard-00001.arrow", "out/shard-00000.arrow"]
    assert sorted(os.listdir(os.path.join(out, ".gecko-work", "scan"))) == [
        "done-00000.json", "done-00001.json", "shard-00000.arrow", "shard-00001.arrow"]

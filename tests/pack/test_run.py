import dataclasses
import filecmp
import json
import os

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import schemas
from gecko_cli.errors import ConfigError, DataError
from gecko_cli.pack.config import PackConfig
from gecko_cli.pack.run import run
from helpers import BAD_TOKENIZER_FILES, bad_tokenizer_folder, write_jsonl

_RNG = np.random.default_rng(7)
WORDS = ["".join(chr(0xAC00 + int(k)) for k in _RNG.integers(0, 300, size=int(_RNG.integers(1, 4)))) for _ in range(300)]
WORDS += ["".join(chr(97 + int(k)) for k in _RNG.integers(0, 26, size=int(_RNG.integers(2, 9)))) for _ in range(600)]


def _docs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    langs = ("ko", "en", "code")
    return [{"id": f"d{i}", "lang": langs[i % 3],
             "text": " ".join(rng.choice(WORDS, size=int(rng.integers(3, 400)))) + f" <s> {i}"} for i in range(n)]


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    from tokenizers import Tokenizer

    from gecko_cli.tokenizer.trainer import TrainSpec, save, train

    folder = str(tmp_path_factory.mktemp("tok"))
    tok = train(iter([d["text"] for d in _docs(600, seed=1)]), TrainSpec(vocab=700, min_frequency=1))
    save(tok, folder)
    assert Tokenizer.from_file(os.path.join(folder, "tokenizer.json")).get_vocab_size() == 700
    return folder


@pytest.fixture
def mixed(tmp_path):
    docs = _docs()
    write_jsonl(str(tmp_path / "mixed" / "a.jsonl"), docs[::2])
    write_jsonl(str(tmp_path / "mixed" / "b.jsonl"), docs[1::2])
    return str(tmp_path / "mixed")


def _rows(folder):
    with open(os.path.join(folder, "manifest.json")) as fh:
        manifest = json.load(fh)
    tables = [pa.ipc.open_file(os.path.join(folder, s["name"])).read_all() for s in manifest["shards"]]
    return manifest, pa.concat_tables(tables) if tables else None


@pytest.mark.parametrize("strategy", ["concat", "best-fit"])
def test_packs_every_token_and_accounts_for_it(mixed, tok_dir, tmp_path, strategy):
    out = str(tmp_path / "packed")
    cfg = PackConfig(input=mixed, output=out, tokenizer=tok_dir, seq_len=64, strategy=strategy, val_fraction=0.1)
    report = run(cfg)
    manifest, table = _rows(out)
    stats = manifest["stats"]
    tokens = np.array(table[schemas.TOKENS].to_pylist())
    used = table[schemas.USED].to_numpy()
    assert tokens.shape == (stats["rows"], 64) and tokens.dtype.kind in "iu"
    assert used.sum() == stats["tokens"]
    assert (tokens[np.arange(64)[None, :] >= used[:, None]] == manifest["pad_id"]).all()
    val_manifest, val = _rows(os.path.join(out, "val"))
    assert stats["documents"] + val_manifest["stats"]["documents"] == 300
    bos = (tokens == manifest["bos_id"]).sum() + (np.array(val[schemas.TOKENS].to_pylist()) == manifest["bos_id"]).sum()
    assert bos == 300  # every document starts with <s>; a literal "<s>" in the text is not one
    assert sum(stats["tokens_by_lang"].values()) == stats["tokens"]
    assert manifest["tokenizer"]["fingerprint"] and manifest["seq_len"] == 64
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    tok.encode_special_tokens = True
    long_docs = sum(len(tok.encode(d["text"], add_special_tokens=False).ids) + 2 > 64 for d in _docs())
    cut = stats["documents_cut"] + val_manifest["stats"]["documents_cut"]
    if strategy == "best-fit":  # only documents longer than a row are ever cut
        assert cut == long_docs and stats["padding"] > 0
    else:
        assert cut >= long_docs
    assert report.complete


_CODE_CHARS = "0123456789(){}[];=+-*/%"


def _mixed_langs(n=60, seed=5):
    """Korean, English and code-like documents, each language in its own script (Hangul, Latin letters, digits and
    punctuation), from a few words to several rows of 64 tokens."""
    rng = np.random.default_rng(seed)
    code = ["".join(rng.choice(list(_CODE_CHARS), size=int(rng.integers(1, 6)))) for _ in range(200)]
    words = {"ko": WORDS[:300], "en": WORDS[300:], "code": code}
    docs = []
    for i in range(n):
        lang = ("ko", "en", "code")[i % 3]
        docs.append({"id": f"m{i}", "lang": lang,
                     "text": " ".join(rng.choice(words[lang], size=int(rng.integers(1, 120))))})
    return docs


def _script(piece: str) -> int | None:
    """The language whose script a token's text is in (0 ko, 1 en, 2 code), or None (spaces only)."""
    import re

    byte = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece)
    if byte and int(byte.group(1), 16) >= 0x80:
        return 0  # only Korean documents hold non-ASCII text
    text = chr(int(byte.group(1), 16)) if byte else piece.replace("\u2581", "")
    if any("\uac00" <= c <= "\ud7a3" for c in text):
        return 0
    if any(c.isascii() and c.isalpha() for c in text):
        return 1
    return 2 if text.strip() else None


@pytest.mark.parametrize("strategy", ["concat", "best-fit"])
def test_languages_of_tokens_and_bytes(tok_dir, tmp_path, strategy):
    from tokenizers import Tokenizer

    from gecko_cli.pack.reader import PackedDataset

    docs = _mixed_langs()
    write_jsonl(str(tmp_path / "in" / "a.jsonl"), docs[:25])
    write_jsonl(str(tmp_path / "in" / "b.jsonl"), docs[25:])
    out = str(tmp_path / "packed")
    run(PackConfig(input=str(tmp_path / "in"), output=out, tokenizer=tok_dir, seq_len=64, strategy=strategy,
                   val_fraction=0.2, rows_per_batch=4))
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    script = np.array([_script(tok.id_to_token(i)) if tok.id_to_token(i) not in ("<s>", "</s>", "<unk>") else None
                       for i in range(tok.get_vocab_size())], dtype=float)
    bytes_by_lang, cut, rest_mid_row = np.zeros(4, np.int64), 0, 0
    for sub in ("", "val"):
        manifest, table = _rows(os.path.join(out, sub))
        stats = manifest["stats"]
        ds = PackedDataset(out, "val" if sub else "train")
        assert ds.has_langs and ds.num_rows == stats["rows"] == table.num_rows
        batches = [ds.sequential_batch(start, min(5, ds.num_rows - start)) for start in range(0, ds.num_rows, 5)]
        tokens, langs = (np.concatenate([getattr(b, f) for b in batches]) for f in ("tokens", "langs"))
        segment_ids, positions, loss_mask = (np.concatenate([getattr(b, f) for b in batches])
                                             for f in ("segment_ids", "positions", "loss_mask"))
        lang_bytes = np.concatenate([b.lang_bytes for b in batches])
        # Every token whose text shows its script is in its document's language; padding is -1.
        known = ~np.isnan(script[tokens]) & loss_mask
        assert known.sum() > 0.8 * loss_mask.sum()
        np.testing.assert_array_equal(langs[known], script[tokens][known])
        assert np.all((langs == -1) == ~loss_mask)
        # The columns agree with each other, with the per-token languages, and with the manifest.
        columns = {name: table[name].to_numpy() for name in (*schemas.LANG_TOKENS, *schemas.LANG_BYTES)}
        lang_tokens = np.stack([columns[name] for name in schemas.LANG_TOKENS], axis=1)
        for code in range(4):
            np.testing.assert_array_equal((langs == code).sum(axis=1), lang_tokens[:, code])
        np.testing.assert_array_equal(lang_bytes, np.stack([columns[name] for name in schemas.LANG_BYTES], axis=1))
        np.testing.assert_array_equal(lang_bytes.sum(axis=1), table[schemas.TEXT_BYTES].to_numpy())
        assert np.all((lang_bytes > 0) <= (lang_tokens > 0))
        segment_langs = table[schemas.SEGMENT_LANGS].to_pylist()
        np.testing.assert_array_equal([len(x) for x in segment_langs], segment_ids.max(axis=1))
        np.testing.assert_array_equal(np.concatenate([np.asarray(x) for x in segment_langs]),
                                      langs[(positions == 0) & loss_mask])
        assert stats["tokens_by_lang"] == dict(zip(schemas.PACKED_LANGS, lang_tokens.sum(axis=0).tolist()))
        assert stats["text_bytes"] == int(lang_bytes.sum()) and stats["tokens"] == int(loss_mask.sum())
        bytes_by_lang += lang_bytes.sum(axis=0)
        cut += stats["documents_cut"]
        rest_mid_row += int(((positions == 0) & loss_mask & (tokens != manifest["bos_id"]))[:, 1:].sum())
    want = {lang: sum(len(d["text"].encode()) for d in docs if d["lang"] == lang) for lang in ("ko", "en", "code")}
    assert dict(zip(schemas.PACKED_LANGS, bytes_by_lang.tolist())) == {**want, "other": 0}
    assert cut > 5
    if strategy == "best-fit":  # the rest of a cut document after another one in a row: opened by </s>
        assert rest_mid_row > 0


def test_deterministic_whatever_the_workers(mixed, tok_dir, tmp_path):
    outs = []
    for name, workers in (("a", 1), ("b", 2)):
        out = str(tmp_path / name)
        run(PackConfig(input=mixed, output=out, tokenizer=tok_dir, seq_len=32, shard_bytes=32 * 2 * 16,
                       workers=workers))
        outs.append(out)
    names = sorted(os.listdir(outs[0]))
    assert len([n for n in names if n.startswith("shard-")]) > 2 and names == sorted(os.listdir(outs[1]))
    for name in names:
        if name != "val":
            assert filecmp.cmp(os.path.join(outs[0], name), os.path.join(outs[1], name), shallow=False)


def test_phases_on_two_hosts(mixed, tok_dir, tmp_path):
    whole = str(tmp_path / "whole")
    run(PackConfig(input=mixed, output=whole, tokenizer=tok_dir, seq_len=32, shard_bytes=32 * 2 * 16))
    split = str(tmp_path / "split")
    base = PackConfig(input=mixed, output=split, tokenizer=tok_dir, seq_len=32, shard_bytes=32 * 2 * 16, num_hosts=2)
    for phase in ("encode", "write"):
        for host in (1, 0):
            report = run(dataclasses.replace(base, phase=phase, host_index=host))
    assert report.complete
    assert filecmp.cmp(os.path.join(whole, "manifest.json"), os.path.join(split, "manifest.json"), shallow=False)


def test_bad_input_before_work_starts(mixed, tmp_path):
    with pytest.raises(DataError, match="not found"):
        run(PackConfig(input=mixed, output=str(tmp_path / "p"), tokenizer=str(tmp_path / "none")))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable tokenizer"):
        run(PackConfig(input=mixed, output=str(tmp_path / "p"), tokenizer=str(tmp_path / "bad")))
    with pytest.raises(ConfigError, match="at least 2"):
        PackConfig(seq_len=1)
    assert not (tmp_path / "p").exists()


def test_killed_runs_resume_to_the_uninterrupted_result(tok_dir, tmp_path):
    import shutil
    import subprocess
    import sys

    from helpers import CORPUS, kill_when

    raw = tmp_path / "raw"
    raw.mkdir()
    for rel in ("ko/nsmc_reviews", "ko/korsts", "ko/rust_book_ko", "en/rust_book_en", "code/py_flask", "code/c_lua"):
        shutil.copy(os.path.join(CORPUS, f"{rel}.jsonl.zst"), raw / f"{rel.replace('/', '_')}.jsonl.zst")
    base = [sys.executable, "-m", "gecko_cli", "-q", "pack", str(raw)]
    args = ["--tokenizer", tok_dir, "--seq-len", "256", "--shard-size", "200KB"]
    ref = subprocess.run([*base, str(tmp_path / "ref"), *args], capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    cmd = [*base, str(tmp_path / "out"), *args, "--workers", "2"]
    work = tmp_path / "out" / ".gecko-work"
    killed = sum(kill_when(cmd, str(work / m)) for m in
                 ("encode/done-00001.json", "encode/done-00004.json", "write/done-train-00002.json"))
    assert killed >= 2, "the runs finished before they could be killed: use a larger input"
    assert not (tmp_path / "out" / "manifest.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for sub in ("", "val"):
        names = sorted(n for n in os.listdir(tmp_path / "ref" / sub) if n != "val")
        assert names == sorted(n for n in os.listdir(tmp_path / "out" / sub) if n != "val")
        for name in names:
            assert filecmp.cmp(tmp_path / "ref" / sub / name, tmp_path / "out" / sub / name, shallow=False), name


def test_cli_user_errors(mixed, tmp_path):
    import subprocess
    import sys

    def gecko(*args):
        return subprocess.run([sys.executable, "-m", "gecko_cli", *args], cwd=tmp_path, capture_output=True, text=True)

    done = gecko("pack", mixed, "packed")  # the default tokenizer/ folder does not exist here
    assert done.returncode == 1 and "tokenizer" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    done = gecko("pack", mixed, "packed", "--seq-len", "1", "--tokenizer", "x")
    assert done.returncode == 1 and "--seq-len must be at least 2" in done.stderr
    assert gecko("pack", "--strategy", "random").returncode == 2


@pytest.mark.parametrize("content", BAD_TOKENIZER_FILES)
def test_unreadable_tokenizer_is_a_clear_error(mixed, tmp_path, content):
    tok = bad_tokenizer_folder(tmp_path / "tok", content)
    with pytest.raises(DataError, match="tokenizer.json: not a readable tokenizer"):
        run(PackConfig(input=mixed, output=str(tmp_path / "p"), tokenizer=str(tok)))
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("mark", ["report.json", "report.md", ".gecko-work"])
def test_unfinished_train_tokenizer_folder_is_refused(mixed, tok_dir, tmp_path, mark):
    import shutil

    folder = tmp_path / "tok"
    shutil.copytree(tok_dir, folder)  # tokenizer.json and the two transformers files, as train-tokenizer saves them
    (folder / mark).mkdir() if mark.startswith(".") else (folder / mark).write_text("{}")
    cfg = PackConfig(input=mixed, output=str(tmp_path / "p"), tokenizer=str(folder), seq_len=64)
    for tokenizer in (str(folder), str(folder / "tokenizer.json")):
        with pytest.raises(DataError, match=f"unfinished `gecko train-tokenizer` run \\({mark} but no manifest.json\\)"):
            run(dataclasses.replace(cfg, tokenizer=tokenizer))
    assert not (tmp_path / "p").exists()
    (folder / "manifest.json").write_text(json.dumps({"stage": "train-tokenizer", "shards": []}))
    assert run(cfg).complete


def test_a_plain_huggingface_tokenizer_folder_is_accepted(mixed, tok_dir, tmp_path):
    import shutil

    folder = tmp_path / "hf"
    folder.mkdir()
    shutil.copy(os.path.join(tok_dir, "tokenizer.json"), folder / "tokenizer.json")
    (folder / "config.json").write_text("{}")  # other files of a model folder do not matter
    assert run(PackConfig(input=mixed, output=str(tmp_path / "p"), tokenizer=str(folder), seq_len=64)).complete

"""The batch functions the scan runs (`detect_batch`, `check_batch`, `scrub_batch`, `core.process`) against the
per-document functions and the per-document loop they replace, kept here as the specification: every result
must be the same, on corner cases, on random mixtures of them and on a sample of the shared corpus."""

import dataclasses
import hashlib
import itertools
import os
import random
import unicodedata
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.balance import core, langid, pii, rules, shuffle
from gecko_cli.balance.core import LANG_CODES, NOT_IN_MIX, OTHER_REASON
from gecko_cli.kernels import lines as line_kernel
from gecko_cli.kernels import numbers as number_kernel
from gecko_cli.kernels import scripts as script_kernel
from helpers import corpus_sources, utf8


# ------------------------------------------------------------------------------------------- specification
def reference_process(texts, labels, metas, *, relabel, keep_other, rule_cfg, scrub, mix_langs):
    """`core.process` as a loop over documents: label, apply the rules, scrub; metas as one dict per document."""
    langs, reasons, out, found_all = [], [], [], Counter()
    for text, label, meta in zip(texts, labels, metas):
        lang = label if (label in LANG_CODES and not relabel) else langid.detect(text, meta)
        reason = None
        if lang == "other" and not keep_other:
            reason = OTHER_REASON
        elif lang not in mix_langs:
            reason = NOT_IN_MIX
        elif rule_cfg is not None and lang != "other":
            reason = rules.check(text, lang, rule_cfg)
        if reason is None and scrub:
            text, found = pii.scrub(text)
            found_all.update({k: v for k, v in found.items() if v})
        langs.append(lang)
        reasons.append(reason)
        out.append(text)
    return langs, reasons, out, found_all


def reference_doc_keys(ids, seed):
    salt = f"{seed}\0".encode()
    return np.array([int.from_bytes(hashlib.blake2b(salt + i.encode("utf-8", "surrogatepass"), digest_size=8)
                                    .digest(), "little") for i in ids], dtype=np.uint64)


# ------------------------------------------------------------------------------------------------- texts
PY = "import os\n\n\ndef walk(root):\n    for folder, _, names in os.walk(root):\n        yield folder\n"
KO = "대한민국의 수도는 서울이며, 서울은 한강을 끼고 발달한 도시이다. 인구는 약 천만 명이다."
EN = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch."
CORNERS = [
    "", " ", "\n", "\n\n\n", " \t\n ", "a", "굿", "ok", "ㅋㅋㅋㅋㅋㅋ", "ㅋㅋㅋ\nㅋㅋㅋ\n하하", "ᄏᄏᄏᄏ 웃김\nᄏᄏ",
    unicodedata.normalize("NFD", KO), unicodedata.normalize("NFD", KO) + "\nㅋㅋ", KO, EN, PY, PY * 40,
    "a\r\nb\r\nc", "a\rb\rc", "x\u2028y\u2029z\x85w", "line\x0bline\x0cline\x1cline", "\u3000전각 공백\u3000\n\xa0nbsp\xa0",
    "#tag #tag2 ★★★ … ... .... #", "★☆★☆ 최저가 ♥♥ #대박 #할인 ■■■", "Loading... please wait... " * 8,
    "a\n\n\nb\n\n\nb", "  \n  x  \n  x \n\n x", "p1\nl2\n\np1\nl2\n\np1\nl2\n\nother", "\n".join(["same line"] * 9),
    "```py\nx = 1\n```\n안녕하세요 반갑습니다", "Intro::\n\n    code block\n    more\n\nProse after.",
    ".. code-block:: python\n\n    x = 1\n\nText.", "```\n" + "let x = 1;\n" * 900 + "```\nprose " * 30,
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam.", "ἀρχή ἐστι", "Привет, мир! Как дела?", "こんにちは世界。",
    "ㄅㄆㄇㄈ 注音", "「引用」と『書名』。", "中文文本，标点。", "12345 67890", "-_-^", "\x00nul\x00",
    "\ud800lone surrogate", "emoji 😀😀😀 text", "var a=function(b){return b};" * 80,
    ";".join(f"var a{i}=function(b,c){{return b+c*{i}}}" for i in range(200)),
    "KEY = '" + "0123456789abcdef" * 40 + "'\n", "data = [" + ", ".join(str(i) for i in range(300)) + "]\n",
    'blob = b"' + "".join(f"\\x{b:02x}" for b in range(200)) + '"\n', " ".join(["word"] * 3000),
    "010-1234-5678", "a 010-1234-5678", "010-1234-5678\n02-123-4567", "x@y.com 010-1234-5678 z@w.org",
    "901231-1234567", "4111 1111 1111 1111", "+82 10-1234-5678\n", "\n010 1234 5678", "1588-1234\n1600-1700",
    "v1.2.3 12345678901234", "git@github.com:o/r.git", "ids 1234567890123 4111111111111111 6011000000000004",
    "전화 010-1234-5678 010-8765-4321 둘 다", "(02) 555-1234 and (415) 555-0132 and 212-555-0147.",
    "Q: 오늘 날씨 어때?\nA: 맑고 따뜻해요.", "홈\n회사소개\n제품\n고객센터\n로그인\n회원가입",
    "ㅋㅋㅋㅋ\t\t\t\t가나다", "ㅋㅋ ㅋㅋ\n\n가나", "ㅋㅋㅋ\t\t\t가나다라",
    # data literals at the bounds of what each kind needs to be searched: a base64 run of exactly 64; 6 times
    # the backslashes just above the budget; 10 times the digits just above it
    "k = '" + "Ab0+/" * 12 + "Ab0+'", "s = '" + "\\uabcd" * 16 + "'" + "x" * 78,
    "1" + "         1" * 19 + "\n" + "y" * 168,
]
# Texts whose neighbours in a batch must not change how they are read: each ends or starts where a match could
# run on into the next one.
EDGES = ["010 1234", "5678 끝", "abc", "010-1234-5678", "x@y.com", "1234.", "5", "+82", "10-1234-5678", "02-123-",
         "4567", "a\n", "\nb", "\n\n", "a ", " a", "한 ", " 글", "ㅋ", "#", "tag", "..", ".", "\t", "def f():", ""]
FRAGMENTS = CORNERS[1:] + ["\n", "\n\n", " ", "  ", "\t", "ㅋ", "ㅠㅠ", "#", "...", "★", "x@y.co", "010", "-1234-",
                           "5678", "::", "```", "\r\n", "def f():", "    return 1", "}", "<a href='x'>"]


def random_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))) for _ in range(count)]


def corpus_sample(per_source: int) -> list[dict]:
    """The first documents of every source of the shared corpus."""
    return [d for _, docs in corpus_sources(per_source) for d in docs]


@pytest.fixture(scope="module")
def texts():
    return CORNERS + random_texts(600) + [d["text"] for d in corpus_sample(60)]


CONFIGS = [
    rules.RulesConfig(),
    rules.RulesConfig(max_symbol_word_ratio=0.02, min_mean_line_chars=40, max_dup_line_frac=0.1,
                      max_dup_line_char_frac=0.05, max_dup_para_frac=0.05, max_dup_para_char_frac=0.05,
                      max_jamo_frac=0.1, max_code_line_chars=200, code_long_line_chars=80, max_code_long_line_frac=0.1,
                      max_code_literal_frac=0.05, min_chars=20, max_chars=20000, max_code_dup_line_char_frac=0.3),
    rules.RulesConfig(max_code_line_chars=None, min_mean_line_chars=None, max_chars=None, max_dup_line_frac=None,
                      max_symbol_word_ratio=0, max_jamo_frac=0, max_dup_para_char_frac=0),
    rules.RulesConfig(max_code_long_line_frac=None, code_long_line_chars=5, max_mean_line_chars=30,
                      max_dup_para_frac=None, min_chars=0, max_dup_line_char_frac=1),
]


# ------------------------------------------------------------------------------------------------ the rules
@pytest.fixture(params=["kernel", "python"])
def counted_by(request, monkeypatch):
    """The rules' line statistics and the language counts from the C++ kernels (kernels/lines.cc,
    kernels/scripts.cc), or from Python and numpy."""
    if request.param == "python":
        monkeypatch.setenv(kernels.SETTING, "off")
    else:
        assert line_kernel.available() and script_kernel.available()
    return request.param


@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_check_batch_is_check(texts, cfg, counted_by):
    column = utf8(texts)
    for lang in rules.LANGS:
        want = [rules.check(t, lang, cfg) for t in texts]
        assert rules.check_batch(texts, [lang] * len(texts), cfg) == want, lang
        assert rules.check_batch(texts, [lang] * len(texts), cfg, column) == want, lang
    langs = [random.Random(i).choice(rules.LANGS) for i in range(len(texts))]
    want = [rules.check(t, g, cfg) for t, g in zip(texts, langs)]
    assert rules.check_batch(texts, langs, cfg) == want
    # the texts at other rows of a longer, chunked column
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = [texts[i] for i in order]
    column = pa.chunked_array([utf8(["ㅋㅋㅋ ★★"] + shuffled[:7]), utf8(shuffled[7:])])
    where = np.empty(len(texts), np.int64)
    where[order] = np.arange(len(texts)) + 1
    assert rules.check_batch(texts, langs, cfg, column, where.tolist()) == want


def test_check_batch_edges():
    assert rules.check_batch([], [], rules.RulesConfig()) == []
    with pytest.raises(ValueError, match="other"):
        rules.check_batch([EN, EN], ["en", "other"], rules.RulesConfig())


# ------------------------------------------------------------------------------------------- the detector
def test_detect_batch_is_detect(texts, counted_by):
    want = [langid.detect(t) for t in texts]
    assert langid.detect_batch(texts) == want
    assert langid.detect_batch(texts, None, utf8(texts)) == want  # counts read from the column's bytes
    sliced = pa.chunked_array([utf8(["x"] + texts[:9]).slice(1), utf8(texts[9:])])
    assert langid.detect_batch(texts, None, sliced) == want
    for size in (1, 7):  # batches of any size
        got = [x for k in range(0, len(texts), size) for x in langid.detect_batch(texts[k:k + size])]
        assert got == want


def test_detect_batch_reads_meta_columns_as_detect_reads_meta(texts):
    rng = random.Random(1)
    keys = ["path", "source", "id", "ext", "language", "filename", "file", "repo_path", "programming_language"]
    values = ["a.py", "x/y.py", "allegro.pl", "src/Makefile", "Makefile", "http://x.com/index.php", "notes.md",
              ".PY", " Rust ", "python", "english", None, "dir/CMakeLists.txt", "a.b/c", "file", "ko", "README",
              "deno.sh", "C:\\src\\main.c", "Dockerfile", "x.txt"]
    metas = [{k: rng.choice(values) for k in rng.sample(keys, 3)} for _ in texts]
    expected = [langid.detect(t, m) for t, m in zip(texts, metas)]
    columns = {k: [m.get(k) for m in metas] for k in keys}  # a missing field reads as None: no evidence
    assert langid.detect_batch(texts, columns) == expected
    assert langid.detect_batch(texts, {k: pa.array(v, pa.string()) for k, v in columns.items()}) == expected
    chunked = {k: pa.chunked_array([pa.array(v[:50], pa.string()), pa.array(v[50:], pa.string())])
               for k, v in columns.items()}
    assert langid.detect_batch(texts, chunked) == expected
    sliced = {k: pa.array(["x.py", *v, "a.rs"], pa.string()).slice(1, len(v)) for k, v in columns.items()}
    assert langid.detect_batch(texts, sliced) == expected
    assert langid.detect_batch([], {}) == []


def test_a_null_meta_value_says_nothing_whatever_its_bytes():
    # Arrow may leave bytes under a null: "main.py" here, which must not make the document code
    offsets = pa.py_buffer(np.array([0, 7, 15], np.int32))
    validity = pa.py_buffer(np.packbits([False, True], bitorder="little"))
    paths = pa.Array.from_buffers(pa.string(), 2, [validity, offsets, pa.py_buffer(b"main.pynotes.md")])
    assert paths.to_pylist() == [None, "notes.md"]
    assert langid.detect_batch(["오늘은 날씨가 맑다.", "오늘은 날씨가 맑다."], {"path": paths}) == ["ko", "ko"]
    assert langid.detect_batch(["오늘은 날씨가 맑다."], {"path": pa.array(["main.py"])}) == ["code"]


# ------------------------------------------------------------------------------------------- the scrubber
@pytest.mark.parametrize("prefiltered", ["all", "runs", "spans"])
def test_scrub_batch_is_scrub(texts, prefiltered):
    # "runs": only the texts whose bytes hold a run of digits and separators are searched for numbers; "spans":
    # the runs themselves are found in the bytes (kernels/numbers.py run_spans)
    numbers = number_kernel.candidates(utf8(texts)) if prefiltered != "all" else None
    assert numbers is None or 0 < numbers.sum() < len(texts) / 2
    for size in (len(texts), 1, 5):
        changed, total = {}, Counter()
        for k in range(0, len(texts), size):
            runs = None
            if prefiltered == "spans":
                flagged = np.flatnonzero(numbers[k:k + size])
                which, start, end = number_kernel.run_spans(utf8(texts[k:k + size]), flagged)
                runs = (flagged[which], start, end)
            c, t = pii.scrub_batch(texts[k:k + size], None if numbers is None else numbers[k:k + size], runs)
            changed.update({k + i: v for i, v in c.items()})
            total.update(t)
        expected_total = Counter()
        for i, text in enumerate(texts):
            out, found = pii.scrub(text)
            expected_total.update(found)
            assert changed.get(i, text) == out, text
            assert (i in changed) == bool(found)
        assert total == expected_total and total["email"] and total["phone"] and total["rrn"] and total["card"]
    assert pii.scrub_batch([]) == ({}, Counter())


def test_neighbours_in_a_batch_do_not_matter():
    cfg = CONFIGS[1]
    for a, b in itertools.product(EDGES, repeat=2):
        pair = [a, b]
        assert langid.detect_batch(pair) == [langid.detect(a), langid.detect(b)], pair
        for lang in rules.LANGS:
            assert rules.check_batch(pair, [lang, lang], cfg) == [rules.check(a, lang, cfg), rules.check(b, lang, cfg)]
        changed, _ = pii.scrub_batch(pair)
        assert [changed.get(0, a), changed.get(1, b)] == [pii.scrub(a)[0], pii.scrub(b)[0]], pair


# ------------------------------------------------------------------------------------- the whole document step
@pytest.mark.parametrize("relabel, keep_other, cfg, scrub, mix", [
    (True, False, CONFIGS[0], True, {"ko", "en", "code"}),
    (False, True, CONFIGS[1], True, {"ko", "en", "code", "other"}),
    (False, False, None, False, {"ko", "code"}),
    (True, True, CONFIGS[2], True, {"en", "other"}),
])
@pytest.mark.parametrize("arrow", [False, True], ids=["lists", "arrow"])
def test_process_is_the_loop_over_documents(texts, relabel, keep_other, cfg, scrub, mix, arrow):
    rng = random.Random(2)
    labels = [rng.choice(["ko", "en", "code", "other", None, "fr"]) for _ in texts]
    metas = [{"source": rng.choice(["src/a.py", "news", None]), "id": f"doc-{i}"} for i in range(len(texts))]
    kwargs = dict(relabel=relabel, keep_other=keep_other, rule_cfg=cfg, scrub=scrub, mix_langs=mix)
    langs, reasons, out, found = reference_process(texts, labels, metas, **kwargs)
    columns = {"source": pa.array([m["source"] for m in metas], pa.string()), "id": [m["id"] for m in metas]}
    got = core.process(texts, None if relabel else labels, columns, **kwargs, utf8=utf8(texts) if arrow else None)
    assert (got.langs, got.reasons, got.texts, got.pii) == (langs, reasons, out, found)
    assert got.scrubbed == [i for i, (a, b) in enumerate(zip(texts, out)) if a is not b]


# ----------------------------------------------------------------------------------------- keys and output
def test_doc_keys_and_copy_ids():
    ids = [f"src-{i}" for i in range(50)] + ["", "한국어-id"]
    assert np.array_equal(core.doc_keys(ids + ["\ud800"], 7), reference_doc_keys(ids + ["\ud800"], 7))
    for setting in ("on", "off"):  # an Arrow column: hashed by kernels/keys.py, or by hashlib without it
        os.environ[kernels.SETTING] = setting
        try:
            assert np.array_equal(core.doc_keys(pa.array(ids), 7), reference_doc_keys(ids, 7))
        finally:
            del os.environ[kernels.SETTING]
    copy = np.array([i % 4 for i in range(len(ids))], np.int32)
    assert core.copy_id_column(pa.array(ids, pa.string()), copy).to_pylist() == core.copy_ids(ids, copy)
    with_null = ["a", None, "c"]
    assert core.copy_id_column(pa.array(with_null, pa.string()), np.array([0, 2, 1])).to_pylist() == \
        core.copy_ids(with_null, np.array([0, 2, 1]))


@pytest.mark.parametrize("taken", [(400, 300), (40, 30)], ids=["repeated", "subset"])
def test_interleaved_batches_cut_the_interleaved_texts(taken, monkeypatch):
    # Documents repeated (more text taken than the sources hold): the sources are combined once and each batch
    # is one take. A subset: each batch reads its rows chunk by chunk (take_rows). Both cut the same batches.
    rng = np.random.default_rng(0)
    words = ["x" * int(n) for n in rng.integers(0, 50, 300)]
    a = pa.chunked_array([pa.array(words[:100]), pa.array(words[100:180])])
    b = pa.chunked_array([pa.array(words[180:])])
    rows_a, rows_b = rng.integers(0, 180, taken[0]), rng.integers(0, 120, taken[1])
    order = rng.permutation(sum(taken))
    calls = []
    take_rows = shuffle.take_rows
    monkeypatch.setattr(shuffle, "take_rows", lambda *args: calls.append(1) or take_rows(*args))
    whole = shuffle.interleave_texts([(a, rows_a), (b, rows_b)], order)
    expected = pa.concat_arrays([a.take(pa.array(rows_a)).combine_chunks(),
                                 b.take(pa.array(rows_b)).combine_chunks()]).take(pa.array(order))
    assert whole.to_pylist() == expected.to_pylist()
    calls.clear()
    pieces = list(shuffle.interleaved_batches([(a, rows_a), (b, rows_b)], order, 500))
    assert [p[0] for p in pieces] == [0, *(p[1] for p in pieces[:-1])] and pieces[-1][1] == len(order)
    assert pa.concat_arrays([p[2] for p in pieces]).to_pylist() == expected.to_pylist()
    for p in pieces:
        p[2].validate(full=True)
    sizes = [p[2].nbytes - 4 * (len(p[2]) + 1) for p in pieces]
    assert all(size <= 500 + 50 for size in sizes) and len(pieces) > 1
    assert len(calls) == (0 if taken[0] > 100 else len(pieces))
    # with buffers used again (kernels/texts.py): the same pieces, each read before the next ones are taken
    reused = [(lo, hi, text.to_pylist()) for lo, hi, text in
              shuffle.interleaved_batches([(a, rows_a), (b, rows_b)], order, 500, reuse=2)]
    assert [(lo, hi) for lo, hi, _ in reused] == [(lo, hi) for lo, hi, _ in pieces]
    assert [t for _, _, texts in reused for t in texts] == expected.to_pylist()


def test_config_batch_plan_follows_the_registry():
    cfg = dataclasses.replace(rules.RulesConfig(), max_jamo_frac=None)
    for lang in rules.LANGS:
        plan = [name for name, _, _ in cfg._plan[lang]]
        assert plan == [name for name, _ in cfg._tests[lang][1]]
    assert "jamo_runs" not in [name for name, _, _ in cfg._plan["ko"]]

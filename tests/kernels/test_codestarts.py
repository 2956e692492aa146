"""The kernel that counts the lines opening like code against the language detector's regex."""

import random

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.balance.langid import _CODE_START, _code_starts
from gecko_cli.kernels import codestarts
from helpers import corpus_texts, utf8

PIECES = ["\n", "\n", " ", "\t", "  ", "if", "def", "public", "pub", "final", "finally", "x", ":", ";", "{", "}", ")",
          "]", "(", "[", ",", "=", "then", "do", " then", " do", "SELECT", "FROM", " from", "import", "import ",
          "from ", " import", "@", "@app.route", "#", "##", "# ", "#include", "#if", "#ifdef", "#define", "--", "-- ",
          '"""', "'''", "//", "/*", "*/", "*", "-", "'", '"', "a.b", "_", "é", "한", "가나", "\r", "x y", " z ",
          "select", "int", "return", "end", "module", "mod", "use", "using", "WHERE", "ORDER", "SET", "9", ".",
          "then\n", "do\n", "\u00a0", "\x00", "ß", "٣", "a", "b c", "\ud800"]
CORNERS = ["", "\n", "#", "#\nif x:", "##\nreturn 1;", "--\n}", "-- x\n}", "# x\n}", "@app.route('/')\ndef f():",
           "@dataclass\nclass A:", "@ x", "import os", "import 한글", "from a.b import c", "from 한 import c",
           "from a import(", "from a importx", "SELECT a FROM b", "SELECT * FROM t", "SELECT was good", "select x",
           "if x then", "if x한 then", "while x do", "while x 한do", "end", "public static void main() {",
           "pub한 fn", "finally:", "#include <x>", "#ifdef X", "#  define X 1", "#includes", '"""doc"""', "'''",
           "// c", "/* c */", "*/", "}", ")", "]", "x\r\nif y:\r\n", "  \t  return x;", "\tdef f(x):", "The end.",
           "한국어 문장입니다.\n그리고 if x:", "x = 1\n#\n#\ny = 2", "#\n\nif x:"]


def _regex(texts):
    return [len(_CODE_START.findall("\n" + t + "\n")) for t in texts]


def _random_texts(seed: int, count: int) -> list[str]:
    r = random.Random(seed)
    return ["".join(r.choice(PIECES) for _ in range(r.randint(0, 40))) for _ in range(count)]


def test_the_kernel_builds_here():
    assert codestarts.available()


@pytest.mark.parametrize("seed", [0, 1])
def test_counts_are_the_regex_s_where_the_kernel_decides(seed):
    texts = CORNERS + _random_texts(seed, 30000)
    got = codestarts.counts(texts)
    want = np.array(_regex(texts))
    decided = got >= 0
    assert (got[decided] == want[decided]).all()
    assert decided.mean() > 0.9 and want[decided].max() > 3  # it decides most, and counts more than one a text
    # the corners where Unicode decides: \w after "import", in the module of "from", \b before a closing "do"
    assert [t for t, n in zip(CORNERS, got) if n < 0] == ["import 한글", "from 한 import c", "while x 한do"]


def test_counts_of_corpus_texts_are_the_regex_s():
    texts = corpus_texts(60)
    got = codestarts.counts(texts)
    want = np.array(_regex(texts))
    assert ((got == want) | (got == -1)).all() and (got >= 0).mean() > 0.9 and want.max() > 10


def test_counts_from_a_column_and_the_fallback_give_the_regex_s_counts(monkeypatch):
    texts = [t for t in CORNERS + _random_texts(2, 3000) if "\ud800" not in t]  # (Arrow holds no lone surrogate)
    column = pa.chunked_array([utf8(texts[:1000]), utf8(["x"] + texts[1000:]).slice(1)])
    rows = np.random.default_rng(3).permutation(len(texts))[:2000]
    got = codestarts.counts_column(column, rows)
    assert ((got == np.array(_regex(texts))[rows]) | (got == -1)).all()
    assert codestarts.counts_column(pa.array(texts, pa.large_string()), rows) is None
    # the language detector's counts: from the column where a text is held as it is (-1: not held), the regex
    # where the kernel leaves one to it, or where it does not run
    held = np.where(np.arange(len(texts)) % 3 == 0, -1, np.arange(len(texts)))
    assert _code_starts(texts, utf8(texts), held).tolist() == _regex(texts)
    assert _code_starts(texts).tolist() == _regex(texts)
    monkeypatch.setenv(kernels.SETTING, "off")
    assert codestarts.counts(texts) is None and codestarts.counts_column(utf8(texts), rows) is None
    assert _code_starts(texts, utf8(texts), held).tolist() == _regex(texts)

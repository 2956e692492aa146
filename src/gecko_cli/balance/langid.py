"""Rule-based language labels for documents: ``ko``, ``en``, ``code`` or ``other``.

``detect(text, meta)`` applies these rules in order; the first that fires gives the label.

1. **Metadata.** The document is ``code``, without reading its text, when ``meta`` says so: a file field
   (``path``, ``filename``, ``file``, ``file_path``, ``filepath``, ``file_name``, ``repo_path``) names a file with
   a source-code extension (``.py .c .h .cc .cpp .hpp .java .js .mjs .ts .tsx .jsx .rs .go .rb .php .cs .kt
   .swift .scala .sh .lua .sql .m .r .pl`` and more: ``CODE_EXTENSIONS``) or a build file (``Makefile``,
   ``Dockerfile``, ``CMakeLists.txt``); ``source`` or ``id`` holds such a *path* (with a ``/``: a bare
   ``allegro.pl`` is more likely a web site than a Perl file); ``ext``/``extension`` is such an extension; or
   ``language``/``programming_language`` names a programming language (``CODE_LANGUAGES``). Web addresses never
   count (a page served by ``index.php`` is not PHP), and neither do markup, prose or data extensions (``.md .rst
   .txt .po .html .json .yaml``): those documents are labelled by their text. Values are matched only by these
   generic patterns, never by dataset or source names.
2. **No letters, no language.** A text without a single letter (empty, whitespace, numbers, punctuation, emoji)
   is ``other``.
3. **Code blocks of markup are removed** before anything is measured, so documentation is labelled by its prose:
   Markdown fences (three backticks); reST code directives (``.. code-block::``, ``.. code::``, ``.. sourcecode::``,
   ``.. doctest::``, ``.. testcode::``, ``.. literalinclude::``, ``.. math::``, ...) with their indented bodies;
   and reST literal blocks after a line ending in ``::``: the indented block, or, in flattened text such as .po
   strings where the block lost its indentation, the following lines up to one that ends a sentence. Other
   directives (``.. note::``) keep their bodies. Tilde fences are left alone (``~~~~`` underlines reST titles).
4. **Long documents are sampled**: beyond ``SAMPLE_ABOVE`` (6 K characters) only the first, middle and last
   ``CHUNK_CHARS`` (2 K) are read, each chunk with its Markdown fences closed. On the sample corpus 2 K chunks
   label as accurately as 4 K ones in about 30 % less time.
5. **Korean one-liners.** A text of one or two non-blank lines in which Hangul is at least ``KO_SHARE`` of the
   letters is ``ko`` (reviews and comments with emoticons such as ``;;;`` or ``^_^`` are not code).
6. **Code** when the text has the shape of source code. Over the non-blank lines and the characters of the
   stripped, sampled text::

       score = starts + symbols + 0.1 * indented - 2 * word_pairs      code when score > CODE_THRESHOLD = 0.08

   ``starts`` is the share of lines that open like code: a keyword on a line that ends in code punctuation
   (``def f(x):``, ``return x;``, ``if (a) {``, ``fn main() {``, ``let x = 1;``, ``public ... {``, ``else:``),
   ``import x``, ``from a import b``, an upper-case SQL clause (``SELECT``, ``FROM``, ``WHERE``, ...), a
   preprocessor line (``#include``), a decorator or annotation (``@x``), a comment marker (``//``, ``# ``,
   ``/*``, ``*/``, ``-- ``), a docstring quote, or a closing bracket.
   ``symbols`` is the share of characters among ``( ) [ ] { } = < > _ | & \\ ^ $ @ ;``; ``indented`` is the
   share of indented lines; ``word_pairs`` is the number of letter-space-letter pairs per letter, high in prose
   of any script and low in code. Comments count as code-shaped lines whatever their language, so a Python file
   with Korean comments and docstrings stays code. A text of one or two lines needs at least one code-shaped
   line (``G-O-O-D ^-^`` is not code). The weights come from a logistic fit on the sample corpus, rounded.
7. **Prose languages**, from the letters of the stripped, sampled text: Hangul (syllables and jamo), Latin (with
   accented letters) and other scripts (Cyrillic, Greek, Arabic, Hebrew, Indic, Thai, kana, Han, ...). Hangul at
   least ``KO_SHARE`` = 15 % of the letters is ``ko``: a Hangul syllable carries about three Latin letters' worth
   of text, so Korean that quotes whole English sentences stays ``ko`` while English that mentions a Korean
   word stays ``en``. Otherwise more Latin than other-script letters is ``en`` (any Latin-script prose), else
   ``other`` (Japanese, Chinese, Russian, Arabic, ...).

Limits: a Markdown ``# Title`` reads as a comment line (harmless among paragraphs of prose); data files (CSV,
YAML, JSON) are labelled by their shape and letters, usually ``en`` or ``code``; a text whose letters are only
Latin, like an English review in a Korean corpus, is ``en`` by design.

Speed: no per-character Python loop. Letters and symbols are counted on a byte *shape* of the UTF-8 text, made by
one ``bytes.translate`` (a class per UTF-8 lead byte, continuation bytes dropped) and read with ``bytes.count``;
line starts by one precompiled regex whose matches all begin with a newline. ``detect_batch`` (what `gecko
balance` runs) gives the same labels for a batch at once: the batch's UTF-8 bytes counted per document in one
pass by a C++ kernel (kernels/scripts.py; without it, one shape for the whole batch counted by numpy), file-name
fields read by Arrow kernels, and only the documents that need it (long, CR, code blocks, the code score's regex)
handled one by one.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np

from gecko_cli import compute
from gecko_cli.kernels import byteclasses as byte_kernel
from gecko_cli.kernels import codestarts as code_start_kernel
from gecko_cli.kernels import scripts as script_kernel
from gecko_cli.kernels.columns import text_bounds

LANGS = ("ko", "en", "code", "other")
_KO, _EN, _CODE, _OTHER_LABEL = range(len(LANGS))
_LABELS = np.array(LANGS, object)  # a label's index -> the label

KO_SHARE = 0.15  # Hangul share of letters at or above which prose is Korean
CODE_THRESHOLD = 0.08  # code when starts + symbols + 0.1 * indented - 2 * word_pairs is above this
SHORT_LINES = 3  # texts with fewer non-blank lines than this are code only with a code-shaped line, never if Korean
CHUNK_CHARS = 2048  # long documents are read as first, middle and last chunk of this many characters
SAMPLE_ABOVE = 3 * CHUNK_CHARS  # documents longer than this are sampled

CODE_EXTENSIONS = frozenset(
    "py pyi pyx pxd ipynb c h cc cpp cxx c++ hh hpp hxx ipp inl cu cuh java js mjs cjs ts tsx jsx mts cts rs go rb "
    "php cs fs fsx vb kt kts swift scala sc sh bash zsh fish ps1 psm1 bat cmd lua sql m mm r pl pm hs lhs ml mli "
    "ex exs erl hrl clj cljs cljc el lisp scm rkt dart jl nim zig sv vhd vhdl asm s f f90 f95 f03 for pas d groovy "
    "gradle tf cmake mk proto sol vue svelte elm cr css scss sass less".split()
)
CODE_LANGUAGES = frozenset(
    "python rust c c++ cpp java javascript js typescript ts go golang ruby php c# csharp f# fsharp kotlin swift "
    "scala shell bash sh zsh powershell lua sql r perl haskell ocaml elixir erlang clojure lisp scheme racket dart "
    "julia nim zig fortran pascal d groovy objective-c objc matlab assembly asm cuda verilog vhdl solidity makefile "
    "dockerfile cmake vue svelte elm crystal tsx jsx".split()
)
_CODE_FILENAMES = frozenset(("makefile", "gnumakefile", "dockerfile", "cmakelists.txt", "rakefile", "gemfile"))
_FILE_ENDS = frozenset(("file", "File", "FILE"))  # build files without a dot: Makefile, Dockerfile
_FILE_END_WORDS = np.array([int.from_bytes(end.encode(), "little") for end in sorted(_FILE_ENDS)], np.uint32)
_PATH_KEYS = frozenset(("path", "filename", "file", "file_path", "filepath", "file_name", "repo_path", "source", "id"))
_LOOSE_PATH_KEYS = frozenset(("source", "id"))
_EXT_KEYS = frozenset(("ext", "extension"))
_NAME_KEYS = _EXT_KEYS | {"language", "programming_language"}

_CODE_DIRECTIVES = frozenset(
    "code-block code sourcecode testcode testoutput testsetup testcleanup doctest ipython literalinclude highlight "
    "parsed-literal productionlist jupyter-execute code-cell math graphviz".split()
)
# Regex searches for a literal are several times faster than `in` for these needles (memchr on the first char).
_FENCE_MARK, _LITERAL_MARK, _DIRECTIVE_MARK = re.compile("```"), re.compile("::"), re.compile(r"\.\. ")
_FENCE = re.compile(r"```[^\n]*\n(?:[^`]+|`)*?(?:```[^\n]*|\Z)")
# A directive with its indented body; the body is dropped for code directives and kept for the others.
_DIRECTIVE = re.compile(r"\.\. ([\w:-]+)::([^\n]*\n(?:[ \t]*\n|[ \t]+[^\n]*\n)*)")
# A literal block after "::": indented, or flattened (.po strings) up to a line that ends a sentence.
_LITERAL = re.compile(
    r"::[ \t]*\n(?:(?:[ \t]*\n)*[ \t]+[^\n]*\n(?:[ \t]*\n|[ \t]+[^\n]*\n)*"
    r"|(?:[ \t]*\n|[ \t]+[^\n]*\n|[^\n]*(?:[^.!?:\s]|[)\]]:)[ \t]*\n"
    r"|(?:class|def|async|if|elif|else|for|while|try|except|finally|with)\b[^\n]*:[ \t]*\n)*)"
)


def _alternation(words: list[str]) -> str:
    """A regex alternation of ``words`` written as a prefix tree, so the engine rejects a line at its first
    letter instead of trying every word in turn."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[:1], []).append(word[1:])
    branches = []
    for first, rests in sorted(groups.items()):
        if not first:
            continue
        tail = _alternation([r for r in rests if r])
        if "" in rests and tail:
            tail = f"(?:{tail})?"
        branches.append(re.escape(first) + tail)
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")" if branches else ""


_KEYWORDS = (
    "abstract assert await break case char class const continue def default elif else end enum except export "
    "extern final finally fn for function goto if impl int lambda let local mod module namespace package pass "
    "private protected pub public raise require return static struct switch throw trait try typedef unsigned use "
    "using var void while with yield"
).split()
_SQL = "SELECT INSERT UPDATE DELETE CREATE ALTER DROP FROM WHERE JOIN LEFT INNER VALUES GROUP ORDER HAVING SET".split()
# A line that opens like code. Every match starts with the newline before the line, which gives the regex
# engine a literal prefix to jump between lines. The possessive indentation and the lookahead on the first
# character keep it from retrying the alternatives at every indentation width (which costs twice the time).
_CODE_START = re.compile(
    r"\n[ \t]*+(?=[a-zA-Z@#/*\-\"'})\]])(?:"
    r"" + _alternation(_KEYWORDS) + r"\b[^\n]*+(?:(?<=[:;{(=)\[\],])|(?<=\bthen)|(?<=\bdo))"
    r"|" + _alternation(_SQL) + r"\b(?![ \t]+[a-z]+[ \t]+[a-z])"
    r"|import[ \t]+[\w.*{]|from[ \t]+[\w.]+[ \t]+import\b|@[\w.]+(?:\(|[ \t]*(?=\n))"
    r"|#[ \t]*(?:include|define|if|ifdef|ifndef|endif|else|elif|pragma|undef)\b"
    r"|\"\"\"|'''|//|#(?:[ \t\n]|#+\n)|/\*|\*/|--[ \t\n]|[})\]])"
)


def _class_table() -> bytes:
    """Map each UTF-8 byte to a class letter: ``a`` Latin letter, ``h`` Hangul, ``o`` other script, ``g`` and
    ``j`` the mixed U+1000 and U+3000 blocks (Hangul jamo, Vietnamese, kana, CJK punctuation, ...), ``s`` code
    symbol, ``0`` digit, space, newline, and ``.`` for the rest (punctuation, symbols, emoji)."""
    table = bytearray(b"." * 256)
    for byte in range(128):
        char = chr(byte)
        if char.isalpha():
            table[byte] = ord("a")
        elif char.isdigit():
            table[byte] = ord("0")
        elif char in " \t\n":
            table[byte] = ord(" ") if char == "\t" else byte
        elif char in "()[]{}=<>_|&\\^$@;":
            table[byte] = ord("s")
    leads = {"a": range(0xC3, 0xCA), "o": [*range(0xCE, 0xE1), *range(0xE4, 0xEA)], "h": range(0xEA, 0xEE),
             "g": (0xE1,), "j": (0xE3,)}
    for cls, bytes_ in leads.items():
        for byte in bytes_:
            table[byte] = ord(cls)
    return bytes(table)


_CLASSES = _class_table()
_DROP = bytes(range(0x80, 0xC0)) + b"\r"  # continuation bytes (one class byte per character) and CR
_OTHER = ord("o")
# The mixed blocks (class byte, then the second UTF-8 bytes of their Hangul letters, Latin letters and
# non-letters; the rest are other-script letters), counted on the UTF-8 bytes only when the block occurs.
_MIXED_BLOCKS = (
    (ord("g"), (b"\xe1\x84", b"\xe1\x85", b"\xe1\x86", b"\xe1\x87"),  # U+1100..U+11FF conjoining jamo
     (b"\xe1\xb8", b"\xe1\xb9", b"\xe1\xba", b"\xe1\xbb"), ()),  # U+1E00..U+1EFF Latin, e.g. Vietnamese
    (ord("j"), (b"\xe3\x84", b"\xe3\x85", b"\xe3\x86"), (),  # U+3100..U+31BF compatibility jamo (ㅋ ㅠ)
     (b"\xe3\x80",)),  # U+3000..U+303F ideographic space and CJK punctuation
)

# The letters of the mixed blocks by code point: Hangul, Latin, other script (the blocks' other characters
# are not letters).
_MIXED_RANGES = (((0x1100, 0x11FF), (0x3100, 0x31BF)), ((0x1E00, 0x1EFF),),
                 ((0x1000, 0x10FF), (0x1200, 0x1DFF), (0x1F00, 0x1FFF), (0x3040, 0x30FF), (0x31C0, 0x3FFF)))


def code_from_meta(meta: dict | None) -> bool:
    """Whether a document's metadata alone says it is source code (rule 1 of the module docstring).

    Args:
        meta: The document's other fields; only string values of the known keys are read.

    Returns:
        True when a file field ends in a source-code extension or names a build file, an extension field holds
        a source-code extension, or a language field names a programming language.
    """
    if not meta:
        return False
    for key, value in meta.items():
        if key in _PATH_KEYS:
            # A plain id has no dot and no "file" ending: rejected here in two cheap steps, without a call.
            if type(value) is str and ("." in value or value[-4:] in _FILE_ENDS) \
                    and _names_code_file(value, key in _LOOSE_PATH_KEYS):
                return True
        elif key in _NAME_KEYS and type(value) is str:
            if value.strip().lower().lstrip(".") in (CODE_EXTENSIONS if key in _EXT_KEYS else CODE_LANGUAGES):
                return True
    return False


def _names_code_file(value: str, loose: bool) -> bool:
    """Whether ``value`` is the name or path of a source file; a ``loose`` field (``source``, ``id``) must hold
    a path, since a bare ``allegro.pl`` or ``deno.sh`` there is more likely a web site than a Perl or shell file.
    Web addresses never count: a page served by ``index.php`` is not PHP source."""
    dot = value.rfind(".")
    slash = max(value.rfind("/"), value.rfind("\\"))
    if loose and slash < 0 or "://" in value:
        return False
    return value[dot + 1:].lower() in CODE_EXTENSIONS or value[slash + 1:].lower() in _CODE_FILENAMES


def _directive(match: re.Match) -> str:
    """Replacement for ``_DIRECTIVE``: drop code directives, keep the others without their ``::``."""
    if match.group(1) in _CODE_DIRECTIVES:
        return "\n"
    return f".. {match.group(1)}:{match.group(2)}"


def strip_code_blocks(text: str) -> str:
    """Remove Markdown fences, reST code directives and reST literal blocks, keeping the prose around them.

    Args:
        text: Markdown, reST or any other text.

    Returns:
        The text without its code blocks (unchanged when it has no fence and no ``::``).
    """
    if _FENCE_MARK.search(text):
        text = _FENCE.sub("\n", text)
    if _LITERAL_MARK.search(text):
        text = text + "\n"
        if _DIRECTIVE_MARK.search(text):
            text = _DIRECTIVE.sub(_directive, text)
        text = _LITERAL.sub("::\n\n", text)
    return text


def sample(text: str) -> str:
    """First, middle and last ``CHUNK_CHARS`` of a long text (the text itself when short).

    Each chunk is closed as a Markdown document of its own: one that starts inside a fence gets an opening
    fence and one that ends inside a fence gets a closing one, so block stripping pairs fences as in the text.

    Args:
        text: The document text.

    Returns:
        At most three chunks joined by newlines.
    """
    size = len(text)
    if size <= SAMPLE_ABOVE:
        return text
    chunks, fenced = [], _FENCE_MARK.search(text) is not None
    for start in (0, (size - CHUNK_CHARS) // 2, size - CHUNK_CHARS):
        chunk = text[start:start + CHUNK_CHARS]
        if fenced:  # even a chunk without a fence may lie inside a long one
            inside = text.count("```", 0, start) % 2
            if (inside + chunk.count("```")) % 2:
                chunk += "\n```"
            if inside:
                chunk = "```\n" + chunk
        chunks.append(chunk)
    return "\n".join(chunks)


def script_counts(shape: bytes, data: bytes) -> tuple[int, int, int]:
    """Count Hangul, Latin and other-script letters.

    Args:
        shape: ``data`` translated to classes by ``_CLASSES`` with continuation bytes dropped.
        data: The UTF-8 bytes of the text (read only when it holds the rare mixed blocks).

    Returns:
        ``(hangul, latin, other)`` letter counts.
    """
    hangul, latin = shape.count(b"h"), shape.count(b"a")
    other = shape.count(b"o") if _OTHER in shape else 0  # most texts have none; `int in bytes` is a memchr
    for block, jamo_prefixes, latin_prefixes, non_letter_prefixes in _MIXED_BLOCKS:
        if block in shape:
            jamo = sum(map(data.count, jamo_prefixes))
            extended = sum(map(data.count, latin_prefixes))
            rest = shape.count(block) - jamo - extended - sum(map(data.count, non_letter_prefixes))
            hangul, latin, other = hangul + jamo, latin + extended, other + rest
    return hangul, latin, other


def code_score(text: str, shape: bytes, letters: int, hangul: int, lines: int) -> float:
    """Score how much a text looks like source code (rule 6 of the module docstring).

    Args:
        text: The stripped, sampled text.
        shape: Its class bytes (``_CLASSES``).
        letters: Its number of letters in all scripts (at least 1).
        hangul: Its number of Hangul letters.
        lines: Its number of non-blank lines (at least 1).

    Returns:
        The score; the text is code when it is above ``CODE_THRESHOLD``.
    """
    starts = len(_CODE_START.findall("\n" + text + "\n"))
    if lines < SHORT_LINES and not starts:
        return -1.0  # one or two lines need a code-shaped one: "G-O-O-D ^-^" is not code
    word_pairs = shape.count(b"a a") + (shape.count(b"h h") if hangul else 0)
    return (starts / lines + shape.count(b"s") / len(shape) + 0.1 * shape.count(b"\n ") / lines
            - 2.0 * word_pairs / letters)


def _prose(text: str) -> tuple[str, bool]:
    """The sampled text with "\n" line ends and without code blocks (rules 3 and 4); whether it has several
    lines (before the blocks are removed)."""
    prose = sample(text) if len(text) > SAMPLE_ABOVE else text
    if "\r" in prose:  # the line rules read "\n" only
        prose = prose.replace("\r\n", "\n").replace("\r", "\n")
    multiline = "\n" in prose  # most short documents are one line: nothing to strip, one line to count
    if multiline:
        prose = strip_code_blocks(prose)
    return prose, multiline


def detect(text: str, meta: dict | None = None) -> str:
    """Label one document ko, en, code or other.

    Args:
        text: The document text.
        meta: The document's other string fields (``path``, ``filename``, ``ext``, ``language``, ``source``,
            ``id``, ...); a source-code file name or a programming language there makes the document code.

    Returns:
        One of ``LANGS``.
    """
    if meta and code_from_meta(meta):
        return "code"
    if not text:
        return "other"
    prose, multiline = _prose(text)
    data = prose.encode("utf-8", "surrogatepass")
    shape = data.translate(_CLASSES, _DROP)
    hangul, latin, other = (0, shape.count(b"a"), 0) if prose.isascii() else script_counts(shape, data)
    letters = hangul + latin + other
    if not letters:
        return "other"  # also whitespace-only text
    korean = hangul >= KO_SHARE * letters
    lines = shape.count(b"\n") + 1 - shape.count(b"\n\n") if multiline else 1
    if korean and lines < SHORT_LINES:
        return "ko"
    if code_score(prose, shape, letters, hangul, max(lines, 1)) > CODE_THRESHOLD:
        return "code"
    if korean:
        return "ko"
    return "en" if latin > other else "other"


def code_from_meta_columns(meta: Mapping[str, Sequence], size: int) -> np.ndarray:
    """`code_from_meta` of a batch of documents whose fields come as columns.

    Args:
        meta: field name -> one value per document (a list, or a pyarrow string array: then the values that
            might name a file are found by Arrow kernels and only those are read in Python).
        size: the number of documents.

    Returns:
        A bool per document.
    """
    out = np.zeros(size, bool)
    for key, values in meta.items():
        if key in _PATH_KEYS:
            loose = key in _LOOSE_PATH_KEYS
            if hasattr(values, "to_pylist"):  # Arrow: a dot or a "file" ending, found in the column's bytes
                rows = np.flatnonzero(_maybe_files(values))
                if not rows.size:  # the common case: ids and sources that name no file
                    continue
                candidates = compute.take(values, rows).to_pylist()
            else:
                rows = np.flatnonzero([type(v) is str and ("." in v or v[-4:] in _FILE_ENDS) for v in values])
                candidates = [values[i] for i in rows.tolist()]
            for i, value in zip(rows.tolist(), candidates):
                if not out[i] and _names_code_file(value, loose):
                    out[i] = True
        elif key in _NAME_KEYS:
            names = CODE_EXTENSIONS if key in _EXT_KEYS else CODE_LANGUAGES
            if hasattr(values, "to_pylist"):  # each distinct value once
                encoded = compute.dictionary_encode(values.combine_chunks() if hasattr(values, "chunks") else values)
                known = np.array([type(v) is str and v.strip().lower().lstrip(".") in names
                                  for v in encoded.dictionary.to_pylist()] + [False], bool)
                index = compute.fill_null(encoded.indices, len(known) - 1).to_numpy(zero_copy_only=False)
                out |= known[index]
            else:
                out |= np.fromiter((type(v) is str and v.strip().lower().lstrip(".") in names for v in values),
                                   bool, size)
    return out


def _maybe_files(values) -> np.ndarray:
    """Per value of an Arrow string column, whether it holds a dot or ends in one of _FILE_ENDS (False for a
    null): the values that may name a file, found by numpy in the column's UTF-8 bytes."""
    data, starts, ends = text_bounds(values, np.arange(len(values)))
    out = np.zeros(len(values), bool)
    if data.buffer is None:
        return out
    raw = np.frombuffer(data.buffer, np.uint8)
    lo, hi = int(starts.min()), int(ends.max())  # the bytes of these rows (a slice's buffer holds more)
    dots = np.flatnonzero(raw[lo:hi] == ord(".")) + lo
    if dots.size:  # the row of each dot: the last that starts at or before it (a null's bytes hold none)
        row = np.searchsorted(starts, dots, side="right") - 1
        inside = row >= 0
        inside[inside] = dots[inside] < ends[row[inside]]
        out[row[inside]] = True
    long = np.flatnonzero(ends - starts >= 4)
    if long.size:  # the last 4 bytes as one little-endian number each
        at = ends[long]
        tails = sum(raw[at - 4 + k].astype(np.uint32) << np.uint32(8 * k) for k in range(4))
        out[long[functools.reduce(np.logical_or, [tails == word for word in _FILE_END_WORDS])]] = True
    return out


def detect_batch(texts: Sequence[str], meta: Mapping[str, Sequence] | None = None, utf8=None) -> list[str]:
    """`detect` of a batch of documents: the same labels, with array code instead of a Python loop per
    document for the steps every document takes (the rules of the module docstring, in the same order).

    Args:
        texts: the documents' texts.
        meta: the documents' other string fields as columns: field name -> one value per document (see
            `code_from_meta_columns`).
        utf8: the same texts as an Arrow string column, when the caller has it: the script counts of the texts
            that rules 3 and 4 leave as they are are then read from its bytes.

    Returns:
        One of ``LANGS`` per document.
    """
    size = len(texts)
    labels = np.full(size, "other", object)
    is_code = code_from_meta_columns(meta, size) if meta else np.zeros(size, bool)
    labels[is_code] = "code"
    lengths = np.fromiter(map(len, texts), np.int64, size)
    rows = np.flatnonzero(~is_code & (lengths > 0))  # empty texts are "other"
    if not rows.size:
        return labels.tolist()
    if rows.size < size:
        texts = [texts[i] for i in rows.tolist()]
    # Rules 3 and 4 change only long texts, and texts with CR, or with several lines and a ``` or a "::".
    special = lengths[rows] > SAMPLE_ABOVE
    short = np.flatnonzero(~special)
    multiline = np.zeros(len(texts), bool)
    breaks = byte_kernel.found(utf8, rows[short], b"\n\r") if utf8 is not None else None
    if breaks is None:
        short_texts = texts if short.size == rows.size else [texts[j] for j in short.tolist()]
        breaks = np.stack([_contains(short_texts, "\n"), _contains(short_texts, "\r")], axis=1)
    multiline[short] = has_newline = breaks[:, 0]
    special[short] = breaks[:, 1]
    several = short[has_newline]
    for mark in ("```", "::"):
        held = byte_kernel.occurrences(utf8, rows[several], mark, limit=1) if utf8 is not None else None
        if held is None:
            held = _contains([texts[j] for j in several.tolist()], mark)
        special[several] |= held > 0
    prose = list(texts)
    for j in np.flatnonzero(special).tolist():
        prose[j], multiline[j] = _prose(texts[j])
    in_column = np.where(special, -1, rows) if utf8 is not None else None
    labels[rows] = _labels(prose, multiline, utf8, in_column)
    return labels.tolist()


def _counts(shapes: list[bytes], what: bytes) -> np.ndarray:
    return np.fromiter(map(bytes.count, shapes, repeat(what)), np.int64, len(shapes))


def _contains(texts: list, what) -> np.ndarray:
    return np.fromiter(map(operator.contains, texts, repeat(what)), bool, len(texts))


def _labels(prose: list[str], multiline: np.ndarray, utf8=None, in_column: np.ndarray | None = None) -> np.ndarray:
    """Rules 2, 5, 6 and 7 for stripped, sampled texts (none empty), as `detect` applies them one by one: a label
    per text (an object array). `in_column[j]`, with `utf8`, is the row of the Arrow column that holds `prose[j]`
    as it is (-1: none)."""
    size = len(prose)
    counted = _kernel_counts(prose, utf8, in_column)
    if counted is not None:
        hangul, latin, other = counted.hangul, counted.latin, counted.other
        newlines, pairs = counted.newlines, counted.newline_pairs
    else:  # without the kernel: one encoding of the batch translated to the shape, counted by numpy
        lengths = np.fromiter(map(len, prose), np.int64, size)
        data = ("\0".join(prose) + "\0").encode("utf-8", "surrogatepass")
        shape, starts, (hangul, latin, other), newlines, pairs = _shape_counts(prose, lengths, data, multiline)
    letters = hangul + latin + other
    korean = hangul >= KO_SHARE * letters
    lines = np.ones(size, np.int64)
    multi = np.flatnonzero(multiline)
    lines[multi] = newlines[multi] + 1 - pairs[multi]
    labels = np.where(korean, _KO, np.where(latin > other, _EN, _OTHER_LABEL))  # indices in LANGS
    labels[letters == 0] = _OTHER_LABEL
    scored = np.flatnonzero((letters > 0) & ~(korean & (lines < SHORT_LINES)))
    if scored.size:
        texts = [prose[j] for j in scored.tolist()]
        if counted is not None:
            parts = (counted.latin_pairs[scored] + counted.hangul_pairs[scored], counted.symbols[scored],
                     counted.indents[scored], counted.size[scored])
        else:
            parts = _shape_parts([shape[a:a + n] for a, n in zip(starts[scored].tolist(), lengths[scored].tolist())],
                                 hangul[scored])
        rows = in_column[scored] if utf8 is not None and in_column is not None else None
        starts = _code_starts(texts, utf8, rows)
        score = _code_scores(texts, *parts, letters[scored], lines[scored], starts)
        labels[scored[score > CODE_THRESHOLD]] = _CODE
    return _LABELS[labels]


def _kernel_counts(prose: list[str], utf8, in_column: np.ndarray | None) -> script_kernel.ScriptCounts | None:
    """The counts of kernels/scripts.py (None where it does not run): the texts that the Arrow column holds as
    they are from its bytes, the others from one encoding of them, each followed by a separator (class ".",
    never counted)."""
    if not script_kernel.available():
        return None
    at = np.flatnonzero(in_column >= 0) if utf8 is not None else np.zeros(0, np.int64)
    from_column = script_kernel.counts_column(utf8, in_column[at], _CLASSES) if at.size else None
    if from_column is None:  # none of them in the column (or it is no string column): all encoded
        at = np.zeros(0, np.int64)
    elif at.size == len(prose):
        return from_column
    rest = np.setdiff1d(np.arange(len(prose)), at, assume_unique=True)
    texts = [prose[j] for j in rest.tolist()]
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    encoded = script_kernel.counts(("\0".join(texts) + "\0").encode("utf-8", "surrogatepass"), lengths, _CLASSES)
    if from_column is None:
        return encoded
    out = np.zeros((len(prose), len(script_kernel.ScriptCounts._fields)), np.int64)
    out[at] = np.stack(from_column, axis=1)
    out[rest] = np.stack(encoded, axis=1)
    return script_kernel.ScriptCounts(*out.T)


def _shape_counts(prose: list[str], lengths: np.ndarray, data: bytes, multiline: np.ndarray):
    """What kernels/scripts.py counts, by numpy: the batch's shape (a byte per character, each text's shape
    followed by the separator's, so that a text's counts are sums over its part), where each text starts in it,
    letters by script, newlines and "\n\n" pairs (for the texts of several lines)."""
    size = len(prose)
    starts = np.zeros(size, np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    joined = data.translate(_CLASSES, _DROP)
    shape = np.frombuffer(joined, np.uint8)

    def counts(cls: int) -> np.ndarray:
        return np.add.reduceat((shape == cls).view(np.uint8), starts, dtype=np.int64)

    hangul, latin, other = counts(ord("h")), counts(ord("a")), counts(_OTHER)
    in_blocks = counts(_MIXED_BLOCKS[0][0]) + counts(_MIXED_BLOCKS[1][0])
    some = np.flatnonzero(in_blocks)
    if some.size:  # these letters are told apart by their code points (script_counts: their UTF-8 bytes)
        code_points = np.frombuffer("\0".join([prose[j] for j in some.tolist()]).encode("utf-32-le", "surrogatepass"),
                                    np.uint32)
        where = np.zeros(len(some), np.int64)
        np.cumsum(lengths[some][:-1] + 1, out=where[1:])
        for kind, ranges in enumerate(_MIXED_RANGES):
            found = np.zeros(len(code_points), bool)
            for lo, hi in ranges:
                found |= (code_points - np.uint32(lo)) <= np.uint32(hi - lo)
            n = np.bincount(np.searchsorted(where, np.flatnonzero(found), side="right") - 1, minlength=len(some))
            (hangul, latin, other)[kind][some] += n
    newlines, pairs = np.zeros(size, np.int64), np.zeros(size, np.int64)
    if multiline.any():  # bytes.count(b"\n\n") counts a run of k newlines k // 2 times
        at = np.flatnonzero(shape == 10)
        first = np.ones(len(at), bool)
        first[1:] = at[1:] != at[:-1] + 1
        runs = np.flatnonzero(first)
        pairs = np.bincount(np.searchsorted(starts, at[runs], side="right") - 1,
                            np.diff(runs, append=len(at)) // 2, size).astype(np.int64)
        newlines = counts(10)
    return joined, starts, (hangul, latin, other), newlines, pairs


def _shape_parts(shapes: list[bytes], hangul: np.ndarray) -> tuple[np.ndarray, ...]:
    """The word pairs, code symbols, indented lines and length of each shape, for `_code_scores`."""
    word_pairs = _counts(shapes, b"a a")
    with_hangul = np.flatnonzero(hangul).tolist()
    word_pairs[with_hangul] += _counts([shapes[j] for j in with_hangul], b"h h")
    return word_pairs, _counts(shapes, b"s"), _counts(shapes, b"\n "), np.fromiter(map(len, shapes), np.int64,
                                                                                    len(shapes))


def _code_starts(texts: list[str], utf8=None, rows: np.ndarray | None = None) -> np.ndarray:
    """Per text, `len(_CODE_START.findall("\n" + text + "\n"))`: by kernels/codestarts.py where it runs (from the
    bytes of the Arrow column `utf8` for the texts it holds as they are, at `rows[j]` >= 0; from an encoding of the
    others), else, and for the texts the kernel leaves to it, by the regex."""
    size = len(texts)
    out = np.full(size, -1, np.int64)
    held = np.flatnonzero(rows >= 0) if rows is not None and size else np.zeros(0, np.int64)
    counted = code_start_kernel.counts_column(utf8, rows[held]) if held.size else None
    if counted is not None:
        out[held] = counted
    rest = np.flatnonzero(out < 0) if counted is not None else np.arange(size)
    if rest.size:
        counted = code_start_kernel.counts([texts[j] for j in rest.tolist()])
        if counted is not None:
            out[rest] = counted
            rest = rest[counted < 0]
    if rest.size:
        out[rest] = np.fromiter(map(len, map(_CODE_START.findall, map("\n{}\n".format, (texts[j] for j in rest.tolist())))),
                                np.int64, rest.size)
    return out


def _code_scores(prose: list[str], word_pairs: np.ndarray, symbols: np.ndarray, indents: np.ndarray,
                 size: np.ndarray, letters: np.ndarray, lines: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """`code_score` of several texts, from the counts on their shapes (and `_code_starts` of them, when known)."""
    if starts is None:
        starts = _code_starts(prose)
    score = starts / lines + symbols / size + 0.1 * indents / lines - 2.0 * word_pairs / letters
    score[(lines < SHORT_LINES) & (starts == 0)] = -1.0  # one or two lines need a code-shaped one
    return score

"""Helpers shared by the tests: where the shared sample corpus is, and writing JSON-lines files."""

from __future__ import annotations

import glob
import gzip
import io
import itertools
import json
import os
import signal
import subprocess
import time

import numpy as np
import pyarrow as pa
import zstandard

SHARED = os.environ.get("GECKO_SHARED") or os.path.join(os.path.dirname(__file__), "..", "..", "shared")
CORPUS = os.path.join(SHARED, "corpus")


def corpus_sources(per_source: int) -> list[tuple[str, list[dict]]]:
    """The first `per_source` documents of every source file of the shared corpus, with the source's name."""
    out = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*", "*.jsonl.zst"))):
        with open(path, "rb") as fh:
            lines = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8")
            out.append((os.path.basename(path).split(".")[0], [json.loads(x) for x in itertools.islice(lines, per_source)]))
    assert out, f"no corpus files under {CORPUS} (set GECKO_SHARED)"
    return out


def corpus_texts(per_source: int) -> list[str]:
    """The texts of `corpus_sources`."""
    return [d["text"] for _, docs in corpus_sources(per_source) for d in docs]


def write_jsonl(path: str, docs: list[dict]) -> str:
    """Write documents as JSON lines; .zst and .gz suffixes compress."""
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if path.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    elif path.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def kill_when(cmd: list[str], marker: str, timeout_s: float = 120) -> bool:
    """Start a command and SIGKILL it (a real crash) as soon as `marker` exists; True if it was still running."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(marker) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive


#: tokenizer.json contents that are not a tokenizer: not JSON, empty, truncated, JSON of another shape, not UTF-8;
#: None stands for a folder where the file should be.
BAD_TOKENIZER_FILES = (b"{bad", b"", b'{"version": "1.0", "model": {"type": "BPE", "vocab"', b'{"a": 1}', b"\xff\xfe",
                       None)


def bad_tokenizer_folder(folder, content: bytes | None):
    """A tokenizer folder whose tokenizer.json holds `content` (a folder in its place when None)."""
    folder.mkdir()
    if content is None:
        (folder / "tokenizer.json").mkdir()
    else:
        (folder / "tokenizer.json").write_bytes(content)
    return folder


def utf8(texts: list[str | None]) -> pa.Array:
    """A string array of the texts, lone surrogates and all (Arrow's converter refuses them)."""
    data = [b"" if t is None else t.encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in data])]).astype(np.int32)
    valid = pa.array([t is not None for t in texts]).buffers()[1] if None in texts else None
    return pa.Array.from_buffers(pa.string(), len(texts), [valid, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))],
                                 null_count=texts.count(None))

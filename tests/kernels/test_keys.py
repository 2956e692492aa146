"""The key kernel against hashlib's BLAKE2b."""

import hashlib
import random

import numpy as np
import pyarrow as pa

from gecko_cli import kernels
from gecko_cli.kernels import keys
from helpers import utf8


def reference(ids: list[str], salt: bytes) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(salt + i.encode("utf-8", "surrogatepass"), digest_size=8)
                                    .digest(), "little") for i in ids], np.uint64)


def test_keys_are_hashlibs_at_every_block_boundary():
    r = random.Random(0)
    ids = ["", "a", "한국어-문서-0001", "\ud800", "\U0001f600"] + \
        ["".join(r.choice("ab가😀-_/.") for _ in range(n)) for n in range(0, 300)]
    for salt in (b"0\x00", b"12345\x00", b"s" * 127, b"s" * 128, b"s" * 129):
        got = keys.doc_keys(utf8(ids), salt)
        assert got is not None and got.dtype == np.uint64
        assert np.array_equal(got, reference(ids, salt)), salt


def test_sliced_and_chunked_columns():
    ids = [f"doc-{i}" for i in range(100)]
    want = reference(ids, b"7\x00")
    assert np.array_equal(keys.doc_keys(pa.array(ids).slice(10, 50), b"7\x00"), want[10:60])
    assert np.array_equal(keys.doc_keys(pa.chunked_array([pa.array(ids[:30]), pa.array(ids[30:]).slice(0)]), b"7\x00"),
                          want)
    assert keys.doc_keys(pa.array([], pa.string()), b"7\x00").tolist() == []


def test_nulls_other_columns_and_off_mean_none(monkeypatch):
    assert keys.doc_keys(pa.array(["a", None]), b"0\x00") is None
    assert keys.doc_keys(pa.array(["a"], pa.large_string()), b"0\x00") is None
    monkeypatch.setenv(kernels.SETTING, "off")
    assert keys.doc_keys(pa.array(["a"]), b"0\x00") is None

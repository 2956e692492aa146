"""The files dedup's phases hand to each other, under OUT/.gecko-work/.

Every per-unit artefact is written under a temporary name and renamed; its `done-*.json` marker is written
last, so a unit counts as finished only when everything it wrote is in place. Arrays are raw little-endian
files read back through memory maps, so that no phase needs all signatures in memory at once.
"""

from __future__ import annotations

import base64

import numpy as np
import pyarrow as pa

from gecko_cli.stage import WorkDir, memmap

META = np.dtype([("hash", "<u8", (2,)), ("nchars", "<i8"), ("nbytes", "<i8"), ("status", "u1")])
DECISION = np.dtype([("reason", "u1"), ("dup_of", "<i8"), ("cluster", "<i8")])

# Status of a record after the signatures phase, and the fate of each document after clustering.
OK, EMPTY_DOC, BAD = 0, 1, 2
KEPT, EXACT, NEAR, EMPTY, BAD_RECORD = 0, 1, 2, 3, 4
REASONS = ("kept", "exact_duplicate", "near_duplicate", "empty", "bad_record")


class Work(WorkDir):
    """The work folder of one dedup output, with the array files its phases hand to each other."""

    def __init__(self, out_dir: str):
        super().__init__(out_dir, ("signatures", "pairs", "clusters", "filter"), "dedup")

    def sig_file(self, unit: int) -> str:
        return self.path("signatures", f"sig-{unit:05d}.u32")

    def meta_file(self, unit: int) -> str:
        return self.path("signatures", f"meta-{unit:05d}.bin")

    def ids_file(self, unit: int) -> str:
        return self.path("signatures", f"ids-{unit:05d}.arrow")

    def sketch_file(self, unit: int) -> str:
        return self.path("signatures", f"sketch-{unit:05d}.u16")

    def signatures(self, unit: int, num_perm: int) -> np.ndarray:
        return memmap(self.sig_file(unit), np.uint32).reshape(-1, num_perm)

    def sketches(self, unit: int, bins: int) -> np.ndarray:
        return memmap(self.sketch_file(unit), np.uint16).reshape(-1, bins)

    def meta(self, unit: int) -> np.ndarray:
        return memmap(self.meta_file(unit), META)

    def ids(self, unit: int) -> pa.Array:
        reader = pa.ipc.open_file(pa.memory_map(self.ids_file(unit)))
        return reader.read_all().column(0).combine_chunks()

    def band_file(self, band: int) -> str:
        return self.path("pairs", f"band-{band:05d}.npy")

    def decision_file(self, unit: int) -> str:
        return self.path("clusters", f"decision-{unit:05d}.bin")

    def decisions(self, unit: int) -> np.ndarray:
        return memmap(self.decision_file(unit), DECISION)



def schema_to_text(schema: pa.Schema | None) -> str | None:
    return None if schema is None else base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_text(text: str | None) -> pa.Schema | None:
    return None if text is None else pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


class RowStore:
    """Per-document rows (signatures or sketches) of all input files, addressed by global document index.

    The arrays are memory maps: only the rows asked for are read.
    """

    def __init__(self, arrays: list[np.ndarray], counts: list[int]):
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.arrays = arrays
        self.width = arrays[0].shape[1] if arrays else 0
        self.dtype = arrays[0].dtype if arrays else np.uint32

    @classmethod
    def signatures(cls, work: Work, counts: list[int], num_perm: int) -> RowStore:
        return cls([work.signatures(i, num_perm) for i in range(len(counts))], counts)

    @classmethod
    def sketches(cls, work: Work, counts: list[int], bins: int) -> RowStore:
        return cls([work.sketches(i, bins) for i in range(len(counts))], counts)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), self.width), dtype=self.dtype)
        unit = np.searchsorted(self.offsets, idx, side="right") - 1
        for u in np.unique(unit):
            sel = unit == u
            out[sel] = self.arrays[u][idx[sel] - self.offsets[u]]
        return out

    def columns(self, start: int, stop: int) -> np.ndarray:
        """Columns start..stop-1 of every row, end to end (one LSH band)."""
        parts = [a[:, start:stop] for a in self.arrays]
        return np.concatenate(parts) if parts else np.zeros((0, stop - start), self.dtype)


class IdStore:
    """Document ids of all input files, addressed by global document index."""

    def __init__(self, work: Work, counts: list[int]):
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.work = work
        self._cache: dict[int, pa.Array] = {}

    def lookup(self, idx: np.ndarray) -> list:
        out: list = [None] * len(idx)
        unit = np.searchsorted(self.offsets, idx, side="right") - 1
        for u in np.unique(unit):
            if u not in self._cache:
                self._cache[u] = self.work.ids(int(u))
            sel = np.flatnonzero(unit == u)
            vals = self._cache[u].take(pa.array(idx[sel] - self.offsets[u])).to_pylist()
            for k, v in zip(sel, vals):
                out[k] = v
        return out

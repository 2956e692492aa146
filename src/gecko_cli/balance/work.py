"""The files balance's phases hand to each other, under OUT/.gecko-work/."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from gecko_cli import compute, schemas
from gecko_cli.balance.core import LANG_NAMES
from gecko_cli.errors import DataError
from gecko_cli.shards import open_shard
from gecko_cli.stage import WorkDir, memmap

#: Per kept document after the scan: language code, text bytes, sampling key.
SCAN_META = np.dtype([("lang", "u1"), ("nbytes", "<i8"), ("key", "<u8")])
#: The column of the scan's shards that holds each kept document's sampling key (not written to the output).
KEY = "__gecko_balance_key"
_LANGS = pa.array(LANG_NAMES, pa.string())
#: Per output copy of a kept document, grouped by output shard and in row order within it.
COPY = np.dtype([("row", "<i8"), ("copy", "<i4"), ("key", "<u8")])



class Work(WorkDir):
    """The work folder of one balance output."""

    #: The most bytes of SCAN_META kept in memory between the phases of one run (the plan reads every file's,
    #: then scatter each file's again): 256 MB, the documents of about 15 million.
    META_CACHE_BYTES = 256 << 20

    #: The most bytes of COPY that scatter keeps in memory for the gather of the same run instead of writing
    #: them (see balance/run.py `_holds_copies`): 256 MB, about 13 million copies of documents.
    COPIES_HELD_BYTES = 256 << 20

    def __init__(self, out_dir: str):
        super().__init__(out_dir, ("scan", "plan", "scatter", "gather"), "balance")
        self._meta: dict[int, np.ndarray] = {}
        self._meta_bytes = 0
        self._copies: dict[int, tuple[list[int], np.ndarray]] = {}
        self._scan_infos: dict[int, dict] = {}

    def kept_dir(self) -> str:
        return self.path("scan", "")

    def meta_file(self, unit: int) -> str:
        return self.path("scan", f"meta-{unit:05d}.bin")

    def sample_file(self, unit: int) -> str:
        return self.path("scan", f"sample-{unit:05d}.json")

    def meta(self, unit: int) -> np.ndarray:
        """SCAN_META of the documents a scanned file kept, from the columns of its shard of survivors (kept in
        memory for the next call while they fit in META_CACHE_BYTES; a scanned file does not change)."""
        if unit in self._meta:
            return self._meta[unit]
        meta = self._read_meta(unit)
        self.hold_meta(unit, meta)
        return meta

    def hold_meta(self, unit: int, meta: np.ndarray) -> None:
        """Keep a scanned file's SCAN_META in memory for `meta` while it fits in META_CACHE_BYTES (the scan
        hands over what it computed, so that the plan need not read it back)."""
        if unit not in self._meta and self._meta_bytes + meta.nbytes <= self.META_CACHE_BYTES:
            self._meta[unit] = meta
            self._meta_bytes += meta.nbytes

    def _read_meta(self, unit: int) -> np.ndarray:
        path = self.kept_file(unit)
        if os.path.exists(self.meta_file(unit)):  # a scan by an earlier version, which wrote them apart
            return memmap(self.meta_file(unit), SCAN_META)
        if not os.path.exists(path):  # an input without records
            return np.zeros(0, SCAN_META)
        kept = open_shard(path).read_all()
        meta = np.zeros(kept.num_rows, SCAN_META)
        if kept.num_rows:
            meta["lang"] = compute.index_in(kept[schemas.LANG], _LANGS).to_numpy()
            meta["nbytes"] = compute.binary_length(kept[schemas.TEXT]).to_numpy()
            meta["key"] = kept[KEY].to_numpy()
        return meta

    def hold_scan_info(self, unit: int, info: dict) -> None:
        """Keep what a scanned file's done marker says (its counts) for `scan_info`, as the scan returned it."""
        self._scan_infos[unit] = info

    def scan_info(self, unit: int) -> dict:
        """A scanned file's counts: as its scan returned them in this run, else from its done marker."""
        held = self._scan_infos.get(unit)
        return held if held is not None else self.done_info("scan", unit)

    def kept_file(self, unit: int) -> str:
        return self.path("scan", f"shard-{unit:05d}.arrow")

    def kept_intact(self, unit: int, info: dict) -> bool:
        """Whether a scanned file's shard of survivors holds what its done marker (`info`) says it kept. The shard
        is not synced to disk when written (scan.py: a rerun checks it here instead), so a system crash may have
        left it empty, cut short or missing; an input without records has none."""
        rows = sum(row["docs_kept"] for row in info["langs"].values())
        path = self.kept_file(unit)
        if os.path.exists(self.meta_file(unit)):  # a scan by an earlier version, which synced its files
            return True
        if not os.path.exists(path):
            return rows == 0
        try:
            return open_shard(path).read_all().num_rows == rows
        except (DataError, pa.ArrowException, OSError):
            return False

    def forget_scan(self, unit: int) -> None:
        """Remove a scanned file's done marker, then its shard of survivors: it is scanned again."""
        for path in (self.done_path("scan", unit), self.kept_file(unit)):
            if os.path.exists(path):
                os.remove(path)
        self._scan_infos.pop(unit, None)
        held = self._meta.pop(unit, None)
        if held is not None:
            self._meta_bytes -= held.nbytes

    def copies_file(self, unit: int) -> str:
        return self.path("scatter", f"copies-{unit:05d}.bin")

    def copies(self, unit: int) -> np.ndarray:
        return memmap(self.copies_file(unit), COPY)

    def hold_copies(self, unit: int, copies: np.ndarray, offsets: list[int]) -> None:
        """Keep a scanned file's scattered copies (COPY) and where each output shard's start (offsets, one more
        than the shards) in memory, instead of in its files."""
        self._copies[unit] = (offsets, copies)

    def holds_copies(self, unit: int) -> bool:
        return unit in self._copies

    def scattered(self, unit: int) -> tuple[list[int], np.ndarray]:
        """A scanned file's copies grouped by output shard: (offsets, copies), held in memory or from the files
        of its finished scatter (the copies memory-mapped)."""
        if unit in self._copies:
            return self._copies[unit]
        return self.done_info("scatter", unit)["offsets"], self.copies(unit)

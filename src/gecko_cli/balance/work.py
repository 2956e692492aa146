"""The files balance's phases hand to each other, under OUT/.gecko-work/."""

from __future__ import annotations

import numpy as np

from gecko_cli.stage import WorkDir, memmap

#: Per kept document after the scan: language code, text bytes, sampling key.
SCAN_META = np.dtype([("lang", "u1"), ("nbytes", "<i8"), ("key", "<u8")])
#: Per output copy of a kept document, grouped by output shard and in key order within it.
COPY = np.dtype([("row", "<i8"), ("copy", "<i4"), ("key", "<u8")])



class Work(WorkDir):
    """The work folder of one balance output."""

    def __init__(self, out_dir: str):
        super().__init__(out_dir, ("scan", "plan", "scatter", "gather"), "balance")

    def kept_dir(self) -> str:
        return self.path("scan", "")

    def meta_file(self, unit: int) -> str:
        return self.path("scan", f"meta-{unit:05d}.bin")

    def sample_file(self, unit: int) -> str:
        return self.path("scan", f"sample-{unit:05d}.json")

    def meta(self, unit: int) -> np.ndarray:
        return memmap(self.meta_file(unit), SCAN_META)

    def kept_file(self, unit: int) -> str:
        return self.path("scan", f"shard-{unit:05d}.arrow")

    def copies_file(self, unit: int) -> str:
        return self.path("scatter", f"copies-{unit:05d}.bin")

    def copies(self, unit: int) -> np.ndarray:
        return memmap(self.copies_file(unit), COPY)

"""Writing shards and manifests atomically: a crash never leaves a file that looks complete and is not."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from gecko_cli.shards.ipc import ParallelFileWriter, has_dictionary

SHARD_PATTERN = "shard-{index:05d}.arrow"
MANIFEST = "manifest.json"
_TMP = ".tmp-"


@dataclass(frozen=True)
class ShardInfo:
    """A finished shard as the manifest lists it."""

    name: str
    rows: int
    bytes: int

    def as_dict(self) -> dict:
        return {"name": self.name, "rows": self.rows, "bytes": self.bytes}


def shard_name(index: int) -> str:
    return SHARD_PATTERN.format(index=index)


class ShardWriter:
    """One shard: an Arrow IPC file with zstd-compressed record batches, renamed into place when closed.

    Use as a context manager: leaving the block normally closes the shard (see `info`), leaving it with an
    exception deletes the partial file. Or call `close()` / `abort()` yourself.

    With `threads` above 1, up to that many record batches are compressed at once (`ipc.ParallelFileWriter`); the
    file is the same, byte for byte.

    The file is synced to disk before it is renamed, so that a system crash never leaves a renamed file without its
    data; with `sync=False` it is not (nor is its writing back started early): for work files that are checked
    when a rerun would use them again, and written again when a crash lost them.
    """

    def __init__(self, out_dir: str, index: int, schema: pa.Schema, compression: str | None = "zstd",
                 threads: int = 1, sync: bool = True):
        self.name = shard_name(index)
        self.path = os.path.join(out_dir, self.name)
        self._tmp = f"{self.path}{_TMP}{os.getpid()}"
        self._sync = sync
        self.schema = schema
        self.rows = 0
        self.batches = 0  # record batches written so far: the index of the next one in the file
        self.info: ShardInfo | None = None  # set by close()
        self._sink = pa.OSFile(self._tmp, "wb")
        try:
            # Uncompressed shards (work files) can be memory-mapped and read row by row without copies.
            parallel = threads > 1 and compression is not None and not has_dictionary(schema)
            options = pa.ipc.IpcWriteOptions(compression=compression, use_threads=not parallel)
            if parallel:  # each of its threads compresses whole batches, without Arrow's pool
                self._writer = ParallelFileWriter(self._sink, schema, options, threads)
            else:
                self._writer = pa.ipc.new_file(self._sink, schema, options=options)
        except BaseException:
            self._sink.close()
            os.remove(self._tmp)
            raise

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if data.num_rows:
            batches = data.to_batches() if isinstance(data, pa.Table) else [data]
            for batch in batches:
                self._writer.write_batch(batch)
            self._wrote(len(batches), data.num_rows)

    def write_made(self, make: Callable[[], pa.RecordBatch], rows: int) -> None:
        """Write the record batch of `rows` rows that `make()` builds: on one of the writer's threads when it has
        several, so that building it overlaps with compressing the batches before (`make` may use memory again
        that the `threads + 1`-th call before this one used, not later), else now."""
        if not rows:
            return

        def made() -> pa.RecordBatch:
            batch = make()
            if batch.num_rows != rows:
                raise ValueError(f"a record batch of {batch.num_rows} rows was made where {rows} were announced")
            return batch

        if isinstance(self._writer, ParallelFileWriter):
            self._writer.write_made(made)
        else:
            self._writer.write_batch(made())
        self._wrote(1, rows)

    def _wrote(self, batches: int, rows: int) -> None:
        self.batches += batches
        self.rows += rows
        if self._sync:
            _start_writeback(self._sink)

    def close(self) -> ShardInfo:
        """Finish the file and rename it into place; returns what the manifest lists (again if called twice)."""
        if self.info is None:
            try:
                self._writer.close()
            except BaseException:
                self.abort()
                raise
            self._sink.close()
            if self._sync:
                _fsync(self._tmp)
            os.replace(self._tmp, self.path)
            self.info = ShardInfo(self.name, self.rows, os.path.getsize(self.path))
        return self.info

    def abort(self) -> None:
        """Delete the partial file; a shard already closed is complete and stays."""
        if self.info is not None:
            return
        if isinstance(self._writer, ParallelFileWriter):
            self._writer.cancel()
        else:
            try:
                self._writer.close()
            except pa.ArrowException:
                pass
        self._sink.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def write_bytes_atomic(path: str, data: bytes | memoryview) -> None:
    """Write a whole file under a temporary name and rename it into place."""
    tmp = f"{path}{_TMP}{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path: str, obj) -> None:
    """Write JSON (stable key order as given, UTF-8, indented) atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def write_manifest(out_dir: str, manifest: dict) -> str:
    """Write `manifest.json`: the last file a stage writes, whose presence marks the output complete."""
    path = os.path.join(out_dir, MANIFEST)
    write_json_atomic(path, manifest)
    return path


def remove_temp_files(folder: str) -> None:
    """Delete partial files left by a crashed run."""
    for path in glob.glob(os.path.join(glob.escape(folder), f"*{_TMP}*")):
        os.remove(path)


def fingerprint(obj) -> str:
    """A short stable hash of a JSON-serialisable value (configs, input listings)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def _start_writeback(sink: pa.NativeFile) -> None:
    """Have the kernel start writing what the file holds so far to disk, without waiting (Linux
    sync_file_range): the fsync of `close` then waits for the last record batches only."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(sink.fileno(), 0, 0, 2)  # SYNC_FILE_RANGE_WRITE; a failure only leaves it to fsync


def _sync_file_range():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint], ctypes.c_int
    return function


_SYNC_FILE_RANGE = _sync_file_range()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

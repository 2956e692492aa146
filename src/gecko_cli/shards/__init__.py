"""The shard contract: finding and reading inputs, writing shards and manifests, reading finished outputs.

Stages use these functions and never touch Arrow IPC or input formats themselves.
"""

from gecko_cli.shards.dataset import iter_shard_batches, open_shard, read_batch, read_manifest
from gecko_cli.shards.inputs import FORMATS, InputFile, check_hosts, discover, host_slice
from gecko_cli.shards.readers import ReadBatch, extras_schema_of, iter_records
from gecko_cli.shards.writer import (
    MANIFEST,
    ShardInfo,
    ShardWriter,
    fingerprint,
    remove_temp_files,
    shard_name,
    write_bytes_atomic,
    write_json_atomic,
    write_manifest,
)

__all__ = [
    "FORMATS", "MANIFEST", "InputFile", "ReadBatch", "ShardInfo", "ShardWriter", "check_hosts", "discover",
    "extras_schema_of", "fingerprint", "host_slice", "iter_records", "iter_shard_batches", "open_shard",
    "read_batch", "read_manifest", "remove_temp_files", "shard_name", "write_bytes_atomic", "write_json_atomic",
    "write_manifest",
]

"""From packed rows to global device arrays: each process reads its own slice of every global batch and the
slices are assembled into arrays sharded over the mesh's batch axes."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from gecko_cli.errors import ConfigError
from gecko_cli.pack.reader import PackedDataset
from gecko_cli.pretrain.mesh import RULES

FIELDS = ("tokens", "segment_ids", "positions", "loss_mask")


@dataclass(frozen=True)
class BatchShape:
    """How a global batch is laid out: rows = accum x micro_rows, each micro-batch split over the batch axes."""

    rows: int        # rows per optimizer step, over all devices
    micro_rows: int  # rows per forward/backward pass, over all devices
    seq_len: int

    @property
    def accum(self) -> int:
        return self.rows // self.micro_rows


def batch_shape(batch_tokens: int, micro_batch: int, seq_len: int, batch_devices: int, num_processes: int) -> BatchShape:
    """Check and resolve --batch-tokens and --micro-batch against the packed rows and the mesh.

    Args:
        batch_tokens: tokens per optimizer step.
        micro_batch: rows per pass (0 = all rows at once).
        seq_len: tokens per packed row.
        batch_devices: product of the mesh axes the batch is split over (data x fsdp).
        num_processes: JAX processes, each of which reads its share of every micro-batch.
    """
    if batch_tokens % seq_len:
        raise ConfigError(f"--batch-tokens {batch_tokens:,} is not a multiple of the packed rows' {seq_len} tokens",
                          hint=f"use a multiple of {seq_len}, e.g. {max(1, batch_tokens // seq_len) * seq_len}")
    rows = batch_tokens // seq_len
    micro = micro_batch or rows
    if rows % micro:
        raise ConfigError(f"--micro-batch {micro} does not divide the batch of {rows} rows "
                          f"(--batch-tokens {batch_tokens:,} / {seq_len})", hint="pick a divisor of the batch's rows")
    step = np.lcm(batch_devices, num_processes)
    if micro % step:
        raise ConfigError(f"a micro-batch of {micro} rows cannot be split over the mesh's {batch_devices} batch devices "
                          f"and {num_processes} processes", hint=f"make the rows per pass a multiple of {step}")
    return BatchShape(rows=rows, micro_rows=micro, seq_len=seq_len)


def batch_sharding(mesh) -> NamedSharding:
    """Arrays (accum, micro_rows, seq_len): micro-batch rows over the batch axes."""
    return NamedSharding(mesh, P(None, RULES["batch"], None))


def host_arrays(data: PackedDataset, shape: BatchShape, step: int, seed: int, process: int, processes: int
                ) -> dict[str, np.ndarray]:
    """This process's rows of global batch `step`, as (accum, micro_rows / processes, seq_len) arrays.

    Micro-batch a of step s is the reader's global batch s * accum + a of micro_rows rows: the same rows in the
    same order as rows [a * micro_rows, (a + 1) * micro_rows) of a global batch of accum x micro_rows rows, so
    the data is the same whatever the accumulation, and each process reads only its contiguous part.
    """
    parts = [data.batch(step * shape.accum + a, shape.micro_rows, seed, host_index=process, num_hosts=processes)
             for a in range(shape.accum)]
    return {name: np.stack([getattr(b, name) for b in parts]) for name in FIELDS}


def global_batch(data: PackedDataset, shape: BatchShape, step: int, seed: int, sharding: NamedSharding) -> dict:
    """The global batch of `step` as arrays sharded over the batch axes; this process reads only its rows
    (process p holds rows [p * R / P, (p + 1) * R / P) of each micro-batch's R rows, its devices' part of the
    batch axis: jax orders a multi-process mesh's devices by process)."""
    arrays = host_arrays(data, shape, step, seed, jax.process_index(), jax.process_count())
    global_shape = (shape.accum, shape.micro_rows, shape.seq_len)
    return {name: jax.make_array_from_process_local_data(sharding, x, global_shape) for name, x in arrays.items()}

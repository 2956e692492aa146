"""Validation loss and bits per byte, overall and per language, on packed rows (the val/ split).

Bits per byte = summed next-token loss in nats / ln 2 / UTF-8 bytes of the text the rows cover: comparable across
tokenizers. A prediction counts for the language of the token it predicts; bytes come from the rows' per-language
byte columns. Used by `gecko pretrain` every --eval-every steps and by `gecko eval --suite bpb`.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from gecko_cli.pack.reader import Batch, PackedDataset
from gecko_cli.pretrain import step as steplib
from gecko_cli.pretrain.data import FIELDS
from gecko_cli.pretrain.mesh import RULES
from gecko_cli.schemas import PACKED_LANGS

N_LANGS = len(PACKED_LANGS)


def _sums(graphdef, settings, params, batch, lang_bytes):
    fields = {k: batch[k] for k in FIELDS}
    nats, count = steplib.eval_sums(graphdef, settings, params, fields, batch["langs"], N_LANGS)
    return nats, count, jnp.sum(lang_bytes, axis=0)


class Validator:
    """Sums of loss, predicted tokens and bytes per language over batches of `chunk` rows on a mesh."""

    def __init__(self, graphdef, settings: steplib.StepSettings, mesh, param_shardings, chunk: int):
        self.mesh, self.chunk = mesh, chunk
        self.rows = NamedSharding(mesh, P(RULES["batch"], None))
        replicated = NamedSharding(mesh, P())
        self.fn = jax.jit(partial(_sums, graphdef, settings), in_shardings=(param_shardings, self.rows, self.rows),
                          out_shardings=(replicated, replicated, replicated))

    def _arrays(self, b: Batch, rows: int) -> tuple[dict, np.ndarray]:
        """The batch's arrays padded to `rows` rows (padding rows carry no loss and no bytes)."""
        n = len(b.tokens)
        langs = b.langs if b.langs is not None else np.where(b.loss_mask, N_LANGS - 1, -1)
        lang_bytes = b.lang_bytes if b.lang_bytes is not None else np.zeros((n, N_LANGS), np.int64)
        arrays = {name: getattr(b, name) for name in FIELDS}
        arrays["langs"] = langs.astype(np.int32)
        if n < rows:
            arrays = {k: np.concatenate([v, np.zeros((rows - n, *v.shape[1:]), v.dtype)]) for k, v in arrays.items()}
            arrays["langs"][n:] = -1
            lang_bytes = np.concatenate([lang_bytes, np.zeros((rows - n, N_LANGS), lang_bytes.dtype)])
        return arrays, lang_bytes.astype(np.float32)

    def sums(self, params, batches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(nats, predicted tokens, bytes) per language over this process's parts of the given batches."""
        nats, count, nbytes = (np.zeros(N_LANGS) for _ in range(3))
        local = self.chunk // jax.process_count()
        for b in batches:
            arrays, lang_bytes = self._arrays(b, local)
            put = partial(jax.make_array_from_process_local_data, self.rows)
            g = {k: put(v, (self.chunk, *v.shape[1:])) for k, v in arrays.items()}
            with jax.set_mesh(self.mesh):
                n, c, nb = jax.device_get(self.fn(params, g, put(lang_bytes, (self.chunk, N_LANGS))))
            nats, count, nbytes = nats + n, count + c, nbytes + nb
        return nats, count, nbytes

    def sampled(self, params, data: PackedDataset, rows: int, seed: int) -> dict | None:
        """Figures on a fixed seeded sample of `rows` rows (rounded down to whole chunks); None if too few rows."""
        rows = min(rows, data.num_rows) // self.chunk * self.chunk
        if rows == 0:
            return None
        procs, me = jax.process_count(), jax.process_index()
        batches = (data.batch(k, self.chunk, seed, host_index=me, num_hosts=procs) for k in range(rows // self.chunk))
        return figures(*self.sums(params, batches))

    def full(self, params, data: PackedDataset) -> dict:
        """Figures on every row of `data`, in stored order (the last chunk padded)."""
        procs, me = jax.process_count(), jax.process_index()
        local = self.chunk // procs

        def batches():
            for start in range(0, data.num_rows, self.chunk):
                first = min(start + me * local, data.num_rows)
                yield data.sequential_batch(first, max(0, min(local, data.num_rows - first)))

        return figures(*self.sums(params, batches()))


def figures(nats: np.ndarray, count: np.ndarray, nbytes: np.ndarray) -> dict:
    """Loss per predicted token and bits per byte, overall and per language (where the language has any)."""
    out = {"val_loss": float(nats.sum() / max(count.sum(), 1)), "val_tokens": int(count.sum()),
           "val_bytes": int(nbytes.sum())}
    if nbytes.sum() > 0:
        out["val_bpb"] = float(nats.sum() / math.log(2) / nbytes.sum())
    for i, lang in enumerate(PACKED_LANGS):
        if count[i] > 0:
            out[f"val_loss_{lang}"] = float(nats[i] / count[i])
        if nbytes[i] > 0:
            out[f"val_bpb_{lang}"] = float(nats[i] / math.log(2) / nbytes[i])
    return out

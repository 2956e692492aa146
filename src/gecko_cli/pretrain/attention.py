"""Causal, document-masked attention behind one function, with the implementation chosen per platform.

All implementations take q (B, T, H, D), k and v (B, T, K, D) with K dividing H (grouped-query attention) and
per-token segment ids (B, T); a query attends to keys at or before it with the same segment id. Segment id 0
(padding) attends only within padding, which keeps every softmax row finite; its loss is masked elsewhere.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gecko_cli.kernels import attention_cpu


def default_implementation(platform: str) -> str:
    """The implementation `auto` picks: einsum on CPU (measured faster than jax.nn.dot_product_attention's XLA
    path there; benchmarks/bench_attention.py), cuDNN flash attention on GPU, splash attention on TPU."""
    return {"gpu": "cudnn", "cuda": "cudnn", "rocm": "xla", "tpu": "splash"}.get(platform, "einsum")


def mask(segment_ids: jax.Array | None, seq_len: int) -> jax.Array:
    """(B or 1, 1, T, T) boolean mask: causal, and within one segment when segment ids are given."""
    causal = jnp.tril(jnp.ones((seq_len, seq_len), dtype=jnp.bool_))[None, None]
    if segment_ids is None:
        return causal
    same = segment_ids[:, None, :, None] == segment_ids[:, None, None, :]
    return causal & same


def attention(q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array | None, impl: str) -> jax.Array:
    """Attention output (B, T, H, D) in q's dtype; `segment_ids` None means plain causal attention."""
    if impl == "einsum":
        return _einsum(q, k, v, segment_ids)
    if impl == "xla":
        return jax.nn.dot_product_attention(q, k, v, mask=mask(segment_ids, q.shape[1]), implementation="xla")
    if impl == "online":
        if attention_cpu.usable(q, k, v):  # the same recurrence, fused, on CPU
            return attention_cpu.attention(q, k, v, segment_ids)
        return _online(q, k, v, segment_ids)
    if impl == "cudnn":
        return _cudnn(q, k, v, segment_ids)
    if impl == "splash":
        return _splash(q, k, v, segment_ids)
    raise ValueError(f"unknown attention implementation {impl!r}")


#: Query rows per block of the einsum implementation: each block of queries is scored only against the keys up to
#: its last row, so about half of the causal score matrix (the blocks above the diagonal) is never computed.
QUERY_BLOCK = 128
MAX_QUERY_BLOCKS = 16


def _blocks(seq_len: int, size: int, most: int) -> list[tuple[int, int]]:
    """(start, end) of blocks of `size` rows, doubled until there are at most `most`; the last block is shorter
    when the size does not divide the sequence."""
    while -(-seq_len // size) > most:
        size *= 2
    return [(lo, min(lo + size, seq_len)) for lo in range(0, seq_len, size)]


def query_blocks(seq_len: int) -> list[tuple[int, int]]:
    """The query blocks the einsum implementation scores separately: QUERY_BLOCK rows, at most MAX_QUERY_BLOCKS."""
    return _blocks(seq_len, QUERY_BLOCK, MAX_QUERY_BLOCKS)


def _einsum(q, k, v, segment_ids):
    """Softmax attention written with einsums. Masked scores are pushed to the float32 minimum by an additive bias
    (0 where attending is allowed), so they get exactly zero weight, as with jnp.where; keys after a query block's
    last row are masked for every row of the block, so they are left out of that block's scores altogether."""
    b, t, h, d = q.shape
    kv = k.shape[2]
    groups = h // kv
    bias = jnp.where(mask(segment_ids, t), 0.0, jnp.finfo(jnp.float32).min)  # (B or 1, 1, T, S)
    if groups == 1:  # plain multi-head attention: 4-D einsums, without a size-1 group axis in the layouts
        q_spec, o_spec = "bthd,bshd->bhts", "bhts,bshd->bthd"
    else:
        q = q.reshape(b, t, kv, groups, d)  # (B, T, K, G, D)
        bias = bias[:, :, None]  # (B or 1, 1, 1, T, S)
        q_spec, o_spec = "btkgd,bskd->bkgts", "bkgts,bskd->btkgd"
    outs = []
    for lo, hi in query_blocks(t):
        scores = jnp.einsum(q_spec, q[:, lo:hi], k[:, :hi], preferred_element_type=jnp.float32) / math.sqrt(d)
        probs = jax.nn.softmax(scores + bias[..., lo:hi, :hi], axis=-1).astype(v.dtype)
        outs.append(jnp.einsum(o_spec, probs, v[:, :hi]))
    out = outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=1)
    return out.reshape(b, t, h, d)


#: Block size of the online implementation: at least ONLINE_BLOCK rows, and at most MAX_ONLINE_BLOCKS blocks (each
#: pair of blocks is its own einsums in the program, so the count bounds compile time).
ONLINE_BLOCK = 256
MAX_ONLINE_BLOCKS = 8


def online_blocks(seq_len: int) -> list[tuple[int, int]]:
    """The blocks the online implementation cuts a sequence into: ONLINE_BLOCK rows, at most MAX_ONLINE_BLOCKS."""
    return _blocks(seq_len, ONLINE_BLOCK, MAX_ONLINE_BLOCKS)


def by_heads(q, kv: int):
    """q (B, T, H, D) laid out for einsums against keys and values (B, S, kv, D): (q, the scores' spec, the
    output's spec, the axes a (B, T, S) mask needs to broadcast over the scores). Plain multi-head attention
    (one query head per key head, as in the `small` preset) keeps 4-D layouts, scores (B, H, T, S) and output
    (B, H, T, D): without a size-1 group axis, XLA's CPU dots and reductions run faster (bench_eval's tail
    passes: 1.9 instead of 2.2 s). Grouped-query attention has scores (B, K, G, T, S) and output
    (B, K, G, T, D). `heads_last` puts the output back as (B, T, H, D)."""
    b, t, h, d = q.shape
    if h == kv:
        return q, "bthd,bshd->bhts", "bhts,bshd->bhtd", (1,)
    return q.reshape(b, t, kv, h // kv, d), "btkgd,bskd->bkgts", "bkgts,bskd->bkgtd", (1, 2)


def heads_last(out, shape):
    """An attention output (B, H, T, D) or (B, K, G, T, D) as `shape` (B, T, H, D)."""
    return jnp.moveaxis(out, -2, 1).reshape(shape)


def _online(q, k, v, segment_ids):
    """The einsum attention for inference (forward only), with the softmax computed online, block by block (flash
    attention's recurrence): each block of queries keeps its running row maximum, denominator and weighted sum of
    values while it meets the key blocks from its own (the diagonal) back to the first, and is divided by the
    denominator once at the end. No score matrix larger than a block pair is formed, and the blocks above the
    diagonal are skipped. Masked scores are set to the float32 minimum: a row meets its own key first, so its
    maximum is a real score and a masked key gets weight exp(min - max) = 0.

    Against `einsum` (a softmax over each row of a query block, normalised before the values are summed), the
    forward of the `small` preset at batch 8 x 1536 tokens took 10.5 instead of 15.5 CPU-seconds on 2 cores, of
    which attention 1.1 instead of 6.0; its backward is not measured to be faster, so training keeps `einsum`."""
    b, t, h, d = q.shape
    q, q_spec, o_spec, heads = by_heads(q, k.shape[2])
    lowest = jnp.finfo(jnp.float32).min
    blocks = online_blocks(t)
    outs = []
    for i, (lo, hi) in enumerate(blocks):
        top = total = acc = None  # running row maximum, denominator and weighted sum of values
        for klo, khi in reversed(blocks[: i + 1]):  # the diagonal block first
            scores = jnp.einsum(q_spec, q[:, lo:hi], k[:, klo:khi], preferred_element_type=jnp.float32) / math.sqrt(d)
            allowed = jnp.tril(jnp.ones((hi - lo, khi - klo), jnp.bool_)) if klo == lo else None
            if segment_ids is not None:
                same = jnp.expand_dims(segment_ids[:, lo:hi, None] == segment_ids[:, None, klo:khi], heads)
                allowed = same if allowed is None else allowed & same
            if allowed is not None:
                scores = jnp.where(allowed, scores, lowest)
            new_top = scores.max(axis=-1) if top is None else jnp.maximum(top, scores.max(axis=-1))
            weights = jnp.exp(scores - new_top[..., None])
            summed = jnp.einsum(o_spec, weights.astype(v.dtype), v[:, klo:khi], preferred_element_type=jnp.float32)
            if top is None:
                total, acc = weights.sum(axis=-1), summed
            else:
                rescale = jnp.exp(top - new_top)
                total = total * rescale + weights.sum(axis=-1)
                acc = acc * rescale[..., None] + summed
            top = new_top
        outs.append(acc / total[..., None])  # (B, H, q, D) or (B, K, G, q, D)
    out = outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=-2)
    return heads_last(out, (b, t, h, d)).astype(v.dtype)


def _cudnn(q, k, v, segment_ids):
    # cuDNN's fused kernel takes a dense boolean mask for document masking; it needs bf16/fp16 inputs.
    if segment_ids is None:
        return jax.nn.dot_product_attention(q, k, v, is_causal=True, implementation="cudnn")
    return jax.nn.dot_product_attention(q, k, v, mask=mask(segment_ids, q.shape[1]), implementation="cudnn")


def _splash(q, k, v, segment_ids):
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as sk
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_mask as sm

    b, t, h, d = q.shape
    groups = h // k.shape[2]
    if groups > 1:
        k, v = jnp.repeat(k, groups, axis=2), jnp.repeat(v, groups, axis=2)
    masks = sm.MultiHeadMask([sm.CausalMask((t, t)) for _ in range(h)])
    kernel = sk.make_splash_mha(masks, head_shards=1, q_seq_shards=1)
    qh, kh, vh = (jnp.swapaxes(x, 1, 2) for x in (q / math.sqrt(d), k, v))  # (B, H, T, D)
    if segment_ids is None:
        out = jax.vmap(kernel)(qh, kh, vh)
    else:
        out = jax.vmap(lambda a, b_, c, s: kernel(a, b_, c, segment_ids=sk.SegmentIds(s, s)))(qh, kh, vh, segment_ids)
    return jnp.swapaxes(out, 1, 2)


def select_implementation(requested: str, platform: str, dtype: str) -> str:
    """The implementation to use: `auto` picks per platform; a fused kernel that does not compile here (no
    cuDNN, no Pallas TPU support, an unsupported shape) falls back to XLA's own, with a warning."""
    impl = default_implementation(platform) if requested == "auto" else requested
    if impl in ("einsum", "xla"):
        return impl
    q = jnp.zeros((1, 256, 2, 128), jnp.dtype(dtype))
    seg = jnp.ones((1, 256), jnp.int32)
    try:
        jax.jit(lambda a, s: attention(a, a, a, s, impl)).lower(q, seg).compile()
    except Exception as e:  # the kernel's availability is only known by trying it
        from gecko_cli.console import log

        log.warning("attention %s is not available here (%s); using xla", impl, str(e).splitlines()[0][:120])
        return "xla"
    return impl

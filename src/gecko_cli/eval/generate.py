"""Text generation with a KV cache: batched over prompts (left-padded), a jitted prefill, then jitted chunks of
single-token decode steps; greedy or sampled; stops at stop sequences, </s> or a token limit.

The cached forward uses the model's own modules and parameters (norms, projections, rotary, MLP), with every
layer but the last scanned (stacked.py: a program compiles one layer body whatever the depth); only the attention
differs from training: queries attend to the cache slots at or before their own that hold real tokens.

A prompt is prefilled (`prefill`) with the blocked online attention of pretrain/attention.py, which skips the
blocks above the diagonal; decode steps (`forward`) attend to the cache. Only what is read is computed: a pass
that returns the logits of its last slot runs the last layer's queries, attention, output projection and MLP for
that slot alone (the other slots need only that layer's keys and values, for the cache), and a prefill that
only fills a cache stops at the last layer's keys and values. For the `small` preset that is 2.7M of the 3.2M
weights of one layer in eight, for every slot but one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gecko_cli.eval.stacked import Stacked
from gecko_cli.kernels import attention_cpu
from gecko_cli.pretrain.attention import attention, by_heads, heads_last
from gecko_cli.pretrain.model import apply_rope, dense, rope_tables


def _cached_attention(q, k, v, q_slots, valid):
    """q (B, T, H, D) at cache slots q_slots ((T,) for every row, or (B, T)); k, v (B, S, K, D); valid (B, S)
    marks real slots."""
    b, t, h, d = q.shape
    q, q_spec, o_spec, heads = by_heads(q, k.shape[2])
    scores = jnp.einsum(q_spec, q, k, preferred_element_type=jnp.float32) / math.sqrt(d)
    q_slots = jnp.broadcast_to(q_slots, (b, t))
    allowed = (jnp.arange(k.shape[1])[None, None, :] <= q_slots[:, :, None]) & valid[:, None, :]  # (B, T, S)
    scores = jnp.where(jnp.expand_dims(allowed, heads), scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    return heads_last(jnp.einsum(o_spec, probs, v), (b, t, h, d))


def _queries(block, h, cos, sin, dt):
    """A block's rotated queries for h, the output of its attention norm: the training model's own weights."""
    return apply_rope(dense(h, block.attn.q[...].astype(dt)), cos, sin)


def _keys_values(block, h, cos, sin, dt):
    """A block's rotated keys and its values for h, the output of its attention norm."""
    a = block.attn
    return apply_rope(dense(h, a.k[...].astype(dt)), cos, sin), dense(h, a.v[...].astype(dt))


def _block_output(block, x, attended, dt):
    """The rest of a block after attention: output projection and MLP, each added to the residual stream."""
    x = x + dense(attended, block.attn.o[...].astype(dt), contract=2)
    return x + block.mlp(block.mlp_norm(x), dt)


def _inputs(model, tokens, first, dt):
    """Embeddings (B, T, d), rotary tables and real-slot counts (B, T) of tokens (B, T; -1 marks left padding)
    whose real tokens continue each row at position first (B,)."""
    count = (tokens >= 0).astype(jnp.int32)
    positions = first[:, None] + jnp.cumsum(count, axis=1) - count
    cos, sin = rope_tables(positions, model.cfg.head_dim, model.cfg.rope_theta)
    return jnp.take(model.embed[...], jnp.maximum(tokens, 0), axis=0).astype(dt), cos, sin, count


def _written(cache, layer, new, start):
    """A cache (L, B, S, K, D) with new (B, T, K, D) written into layer `layer` (which may be traced: a scan's
    step) at slots start..start+T-1."""
    return jax.lax.dynamic_update_slice(cache, new[None].astype(cache.dtype), (layer, 0, start, 0, 0))


def _layer(cache, layer):
    """One layer (B, S, K, D) of a cache (L, B, S, K, D); `layer` may be traced (a scan's step)."""
    return jax.lax.dynamic_index_in_dim(cache, layer, axis=0, keepdims=False)


def _logits(model, x):
    """Float32 logits (B, T, V) of x (B, T, d), the last block's output."""
    h = model.norm(x)
    return jnp.einsum("btd,dv->btv", h, model.head_kernel(h.dtype), preferred_element_type=jnp.float32)


def _last_logits(model, x):
    """Float32 logits (B, V) of the last position of x (B, T, d)."""
    return _logits(model, x[:, -1:])[:, 0]


def _at(a, picks):
    """a (B, T, ...) at positions picks (B, K): (B, K, ...)."""
    return jnp.take_along_axis(a, picks.reshape(picks.shape + (1,) * (a.ndim - 2)), axis=1)


def forward(graphdef, dtype: str, params, cache: dict, tokens, start):
    """Run tokens (B, T) into cache slots start..start+T-1; returns (logits of the last slot (B, V), cache).

    `graphdef` and `params` are a `stacked.Stacked` model's. `cache` holds k and v per layer (L, B, S, K, D),
    `valid` (B, S) and `pos` (B,): each row's next position (its count of real tokens so far).
    """
    model = nnx.merge(graphdef, params)
    dt = jnp.dtype(dtype)
    slots = start + jnp.arange(tokens.shape[1])
    valid = jax.lax.dynamic_update_slice(cache["valid"], tokens >= 0, (0, start))
    x, cos, sin, real = _inputs(model, tokens, cache["pos"], dt)

    def layer(block, carry, i, last=False):
        x, ck, cv = carry
        h = block.attn_norm(x)
        k, v = _keys_values(block, h, cos, sin, dt)
        ck, cv = _written(ck, i, k, start), _written(cv, i, v, start)
        c, s, q_slots = cos, sin, slots
        if last:  # only the last slot's output is read
            x, h, c, s, q_slots = x[:, -1:], h[:, -1:], c[:, -1:], s[:, -1:], q_slots[-1:]
        out = _cached_attention(_queries(block, h, c, s, dt), _layer(ck, i).astype(dt), _layer(cv, i).astype(dt),
                                q_slots, valid)
        return (_block_output(block, x, out, dt), ck, cv), None

    carry, _ = model.scan_body(layer, (x, cache["k"], cache["v"]))
    (x, ck, cv), _ = layer(model.last, carry, model.last_index, last=True)
    logits = _last_logits(model, x)
    return logits, {"k": ck, "v": cv, "valid": valid, "pos": cache["pos"] + real.sum(axis=1)}


def prefill(graphdef, dtype: str, params, cache: dict, tokens, with_logits: bool = True):
    """`forward` from an empty cache at slot 0, for a whole prompt at once: tokens (B, T), left-padded with -1.
    The prompt attends to itself with the blocked online attention (pretrain/attention.py: the blocks above the
    diagonal are skipped, no T x T score matrix is formed), padding slots masked as a segment of their own.
    Returns (logits of the last slot (B, V), cache), or (None, cache) when not `with_logits`."""
    model = nnx.merge(graphdef, params)
    dt = jnp.dtype(dtype)
    t = tokens.shape[1]
    real = tokens >= 0
    valid = jax.lax.dynamic_update_slice(cache["valid"], real, (0, 0))
    x, cos, sin, count = _inputs(model, tokens, jnp.zeros_like(cache["pos"]), dt)
    segments = count  # 1 for the prompt, 0 for the padding before it

    def layer(block, carry, i):
        x, ck, cv = carry
        h = block.attn_norm(x)
        k, v = _keys_values(block, h, cos, sin, dt)
        out = attention(_queries(block, h, cos, sin, dt), k, v, segments, "online")
        return (_block_output(block, x, out, dt), _written(ck, i, k, 0), _written(cv, i, v, 0)), None

    (x, cache_k, cache_v), _ = model.scan_body(layer, (x, cache["k"], cache["v"]))
    block = model.last
    h = block.attn_norm(x)
    k, v = _keys_values(block, h, cos, sin, dt)
    n = model.last_index
    cache_k, cache_v = _written(cache_k, n, k, 0), _written(cache_v, n, v, 0)
    logits = None
    if with_logits:  # only the last slot's output is read
        x, h, cos, sin = x[:, -1:], h[:, -1:], cos[:, -1:], sin[:, -1:]
        out = _cached_attention(_queries(block, h, cos, sin, dt), k, v, jnp.asarray([t - 1]), real)
        logits = _last_logits(model, _block_output(block, x, out, dt))
    cache = {"k": cache_k, "v": cache_v, "valid": valid, "pos": cache["pos"] + count.sum(axis=1)}
    return logits, cache


def _prefix_and_tail_attention(q, pk, pv, prefix_valid, k, v, tail_allowed):
    """q (B, T, H, D) of tail tokens over two key sets at once: a prefix pk, pv (B, S, K, D) with prefix_valid
    (B, S), and the row's own k, v (B, R, K, D) with tail_allowed (B, T, R). One softmax over both, summed part
    by part, so the prefix is never joined to the tail. Every row has a real prefix key, so its maximum is real
    and masked keys (set to the float32 minimum) get weight 0."""
    b, t, h, d = q.shape
    q, q_spec, o_spec, heads = by_heads(q, k.shape[2])
    lowest = jnp.finfo(jnp.float32).min
    s1 = jnp.einsum(q_spec, q, pk, preferred_element_type=jnp.float32) / math.sqrt(d)
    s1 = jnp.where(jnp.expand_dims(prefix_valid[:, None], heads), s1, lowest)  # the same for every query
    s2 = jnp.einsum(q_spec, q, k, preferred_element_type=jnp.float32) / math.sqrt(d)
    s2 = jnp.where(jnp.expand_dims(tail_allowed, heads), s2, lowest)
    top = jnp.maximum(s1.max(axis=-1), s2.max(axis=-1))[..., None]
    w1, w2 = jnp.exp(s1 - top), jnp.exp(s2 - top)
    out = (jnp.einsum(o_spec, w1.astype(pv.dtype), pv, preferred_element_type=jnp.float32)
           + jnp.einsum(o_spec, w2.astype(v.dtype), v, preferred_element_type=jnp.float32))
    out = out / (w1.sum(axis=-1) + w2.sum(axis=-1))[..., None]  # (B, H, T, D) or (B, K, G, T, D)
    return heads_last(out, (b, t, h, d)).astype(v.dtype)


def tail_logits(graphdef, dtype: str, params, cache: dict, index, tokens, segments, offsets, picks):
    """Logits (B, P, V) at slots picks (B, P) of rows of packed tails: row r holds one or more tails that each
    continue the cached prefix `index[r]` of `cache` (k, v (L, G, S, K, D), valid (G, S), pos (G,)). tokens (B, T)
    with segments (B, T) (1, 2, ... per tail, 0 for padding) and offsets (B, T) (each token's place in its own
    tail). A tail token attends to its prefix and to the tokens of its own tail at or before it; its position is
    the prefix's length plus its offset. The cache is only read: each layer gathers its rows' prefix keys and
    values, and nothing is copied into or out of a cache."""
    model = nnx.merge(graphdef, params)
    dt = jnp.dtype(dtype)
    cos, sin = rope_tables(cache["pos"][index][:, None] + offsets, model.cfg.head_dim, model.cfg.rope_theta)
    x = jnp.take(model.embed[...], jnp.maximum(tokens, 0), axis=0).astype(dt)
    prefix_valid = cache["valid"][index]
    t = tokens.shape[1]
    allowed = (jnp.tril(jnp.ones((t, t), jnp.bool_))[None] & (segments[:, :, None] == segments[:, None, :])
               & (segments > 0)[:, None, :])  # (B, T, T): own tail, at or before; padding attends to the prefix

    def layer(block, x, i, last=False):
        h = block.attn_norm(x)
        k, v = _keys_values(block, h, cos, sin, dt)
        c, s, mask = cos, sin, allowed
        if last:  # only the picked slots' outputs are read
            x, h, c, s, mask = (_at(a, picks) for a in (x, h, c, s, mask))
        pk = cache["k"][i, index].astype(dt)  # (B, S, K, D): the rows' prefixes, in one gather
        pv = cache["v"][i, index].astype(dt)
        q = _queries(block, h, c, s, dt)
        if not last and attention_cpu.usable(q, k, v):  # the same attention, fused, on CPU
            out = attention_cpu.attention_after_prefix(q, pk, pv, prefix_valid, k, v, segments)
        else:
            out = _prefix_and_tail_attention(q, pk, pv, prefix_valid, k, v, mask)
        return _block_output(block, x, out, dt), None

    x, _ = model.scan_body(layer, x)
    x, _ = layer(model.last, x, model.last_index, last=True)
    return _logits(model, x)


def picked_hidden(model, tokens, positions, picks, *, impl: str, dtype):
    """The final, normed hidden states (B, K, d) at positions picks (B, K) of the rows tokens (B, T), for an
    `EvalModel`: every layer but the last runs on every position (attention `impl`), the last one only at the
    picks, over the keys and values of every position at or before each pick."""
    b, t = tokens.shape
    x = jnp.take(model.embed[...], tokens, axis=0).astype(dtype)
    cos, sin = rope_tables(positions, model.cfg.head_dim, model.cfg.rope_theta)
    x, _ = model.scan_body(lambda block, x, _: (block(x, cos, sin, None, impl, dtype), None), x)
    block = model.last
    h = block.attn_norm(x)
    k, v = _keys_values(block, h, cos, sin, dtype)

    q = _queries(block, _at(h, picks), _at(cos, picks), _at(sin, picks), dtype)
    out = _cached_attention(q, k, v, picks, jnp.ones((b, t), jnp.bool_))
    return model.norm(_block_output(block, _at(x, picks), out, dtype))


def _pick(logits, key, temperature: float):
    if temperature == 0:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    return jax.random.categorical(key, logits / temperature, axis=-1).astype(jnp.int32)


def _decode_chunk(graphdef, dtype: str, temperature: float, steps: int, params, cache, token, start, key):
    """`steps` decode steps from `token` (B,) at slot `start`: returns the tokens (B, steps), cache and last token."""

    def body(carry, i):
        cache, token, key = carry
        key, sub = jax.random.split(key)
        logits, cache = forward(graphdef, dtype, params, cache, token[:, None], start + i)
        nxt = _pick(logits, sub, temperature)
        return (cache, nxt, key), nxt

    (cache, token, key), out = jax.lax.scan(body, (cache, token, key), jnp.arange(steps))
    return out.T, cache, token, key


@dataclass
class Generator:
    """Generates continuations of prompts with a trained model."""

    model: Stacked
    tokenizer: object
    max_len: int
    eos_id: int = 2
    dtype: str = "float32"
    chunk: int = 32

    def __post_init__(self):
        cfg = self.model.cfg
        self.kv_heads, self.head_dim, self.n_layers = cfg.kv_heads, cfg.head_dim, cfg.n_layers
        self._prefill = jax.jit(partial(prefill, self.model.graphdef, self.dtype))
        self._chunks = {}

    def _chunk_fn(self, temperature: float):
        if temperature not in self._chunks:
            self._chunks[temperature] = jax.jit(partial(_decode_chunk, self.model.graphdef, self.dtype, temperature,
                                                        self.chunk), donate_argnums=(1,))
        return self._chunks[temperature]

    def generate(self, prompts: list[str], *, max_new_tokens: int, temperature: float = 0.0, seed: int = 0,
                 stop: tuple[str, ...] = ()) -> list[str]:
        """One completion per prompt (the text after the prompt, cut before the first stop sequence)."""
        ids = [self.tokenizer.encode(p).ids for p in prompts]
        width = max(len(x) for x in ids)
        bucket = -(-width // 64) * 64  # prompt lengths round up to multiples of 64: a few compilations
        room = (self.max_len - bucket) // self.chunk * self.chunk
        if room < 1:
            raise ValueError(f"a prompt of {width} tokens leaves no room in the model's window of {self.max_len}")
        steps = min(-(-max_new_tokens // self.chunk) * self.chunk, room)
        max_new_tokens = min(max_new_tokens, steps)
        total = bucket + steps
        b = len(prompts)
        tokens = np.full((b, bucket), -1, np.int32)
        for r, x in enumerate(ids):
            tokens[r, bucket - len(x):] = x  # left-padded: every row's prompt ends at the same slot
        shape = (self.n_layers, b, total, self.kv_heads, self.head_dim)
        cache = {"k": jnp.zeros(shape, self.dtype), "v": jnp.zeros(shape, self.dtype),
                 "valid": jnp.zeros((b, total), bool), "pos": jnp.zeros((b,), jnp.int32)}
        key = jax.random.key(seed)
        logits, cache = self._prefill(self.model.state, cache, jnp.asarray(tokens))
        key, sub = jax.random.split(key)
        token = _pick(logits, sub, temperature)
        out = [[int(t)] for t in np.asarray(token)]
        done = np.zeros(b, bool)
        fn, slot = self._chunk_fn(float(temperature)), bucket
        while slot < total - 1 and not done.all():
            new, cache, token, key = fn(self.model.state, cache, token, slot, key)
            for r, row in enumerate(np.asarray(new)):
                if not done[r]:
                    out[r].extend(int(t) for t in row)
                    done[r] = len(out[r]) >= max_new_tokens or self._text(ids[r], out[r], stop, max_new_tokens)[1]
            slot += self.chunk
        return [self._text(ids[r], o, stop, max_new_tokens)[0] for r, o in enumerate(out)]

    def _text(self, prompt: list[int], ids: list[int], stop, limit: int) -> tuple[str, bool]:
        """(the completion's text cut at </s> and the first stop sequence, whether it was cut)."""
        ids = ids[:limit]
        ended = self.eos_id in ids
        if ended:
            ids = ids[: ids.index(self.eos_id)]
        head = self.tokenizer.decode(prompt)  # decode the prompt with it, so a leading space survives
        text = self.tokenizer.decode(prompt + ids)[len(head):]
        cuts = [text.find(s) for s in stop if s in text]
        return (text[: min(cuts)] if cuts else text), ended or bool(cuts)

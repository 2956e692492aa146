"""Log-likelihoods of continuations given contexts, the way lm-evaluation-harness computes them.

The context is encoded alone and context + continuation together; the continuation's tokens are the tail of the
joint encoding (a trailing space of the context moves onto the continuation first). When every continuation of a
request is one token and the joint encodings all extend the context's, one forward pass over the context scores
them all; otherwise each continuation gets its own pass. Sequences are padded to a few length buckets (powers of
two, then multiples of 256) and a fixed batch size, with requests sorted by length, so the model compiles a
handful of times and pads little; a sequence longer than the model's window is cut from the left and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gecko_cli.eval.generate import forward


def _common_prefix(a: list[int], b: list[int], limit: int) -> int:
    n = 0
    while n < limit and a[n] == b[n]:
        n += 1
    return n


@dataclass
class Item:
    tokens: list[int]       # model input
    picks: list[int]        # positions whose next-token distribution is scored
    targets: list[int]      # the token scored at each pick
    owner: tuple[int, int]  # (request, continuation) it scores; continuation -1 = all of them at one position


@dataclass
class Scores:
    loglik: list[list[float]] = field(default_factory=list)
    truncated: int = 0      # requests cut from the left to fit the window


def _logprobs(graphdef, impl: str, dtype: str, params, tokens, picks, targets):
    model = nnx.merge(graphdef, params)
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    hidden = model(tokens, positions, None, impl=impl, dtype=jnp.dtype(dtype))  # (B, L, d)
    h = jnp.take_along_axis(hidden, picks[..., None], axis=1)  # (B, K, d)
    logits = jnp.einsum("bkd,dv->bkv", h, model.head_kernel(h.dtype), preferred_element_type=jnp.float32)
    logp = logits - jax.nn.logsumexp(logits, axis=-1, keepdims=True)
    return jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (B, K)


class Scorer:
    """Scores (context, continuations) requests with a trained model and its tokenizer."""

    def __init__(self, graphdef, params, tokenizer, max_len: int, *, batch_size: int = 8, impl: str = "einsum",
                 dtype: str = "float32", min_bucket: int = 64, bucket_step: int = 256):
        self.params, self.tok, self.max_len = params, tokenizer, max_len
        self.batch_size, self.min_bucket, self.bucket_step = batch_size, min_bucket, bucket_step
        self.fn = jax.jit(partial(_logprobs, graphdef, impl, dtype))
        self.graphdef, self.dtype = graphdef, dtype
        self.cached = jax.jit(partial(forward, graphdef, dtype))
        #: Fewest shared leading tokens for a batch to reuse one computation of them (few-shot prefixes).
        self.min_shared = 128

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def _items(self, index: int, context: str, continuations) -> tuple[list[Item], bool]:
        if context.endswith(" "):  # as the harness: the space belongs to the continuation
            n = len(context) - len(context.rstrip(" "))
            context, continuations = context[:-n], [context[-n:] + c for c in continuations]
        ctx = self.encode(context)
        tails = []
        for c in continuations:
            whole = self.encode(context + c)
            tails.append((whole[: len(ctx)] == ctx, whole[len(ctx):]))
        if all(prefix and len(t) == 1 for prefix, t in tails):
            items = [Item(ctx, [len(ctx) - 1] * len(tails), [t[0] for _, t in tails], (index, -1))]
        else:
            items = []
            for j, (_, t) in enumerate(tails):
                whole = self.encode(context + continuations[j])
                n = len(whole) - len(t)
                items.append(Item(whole[:-1], list(range(n - 1, len(whole) - 1)), list(t), (index, j)))
        truncated = False
        for it in items:
            cut = len(it.tokens) - self.max_len
            if cut > 0:
                truncated = True
                it.tokens = it.tokens[cut:]
                it.picks = [p - cut for p in it.picks]
                if min(it.picks) < 0:
                    raise ValueError("a continuation is longer than the model's window")
        return items, truncated

    def score(self, requests) -> Scores:
        """Log-likelihood of each continuation of each (context, continuations) request."""
        out = Scores(loglik=[[0.0] * len(conts) for _, conts in requests])
        items = []
        for i, (context, continuations) in enumerate(requests):
            its, cut = self._items(i, context, list(continuations))
            items += its
            out.truncated += cut
        items = self._score_shared(items, out)
        items.sort(key=lambda it: (self._picks(it), len(it.tokens)))  # batches of similar length pad little
        for start in range(0, len(items), self.batch_size):
            group = items[start:start + self.batch_size]
            for it, row in zip(group, self._run(group)):
                i, j = it.owner
                if j < 0:
                    out.loglik[i] = [float(x) for x in row[: len(it.targets)]]
                else:
                    out.loglik[i][j] = float(np.sum(row[: len(it.targets)]))
        return out

    def _score_shared(self, items: list[Item], out: Scores) -> list[Item]:
        """Score the one-pass requests that share a long prefix (the few-shot examples of a subject) with the
        prefix computed once per batch into a KV cache; return the items left for plain batches."""
        fast = sorted((it for it in items if it.owner[1] < 0), key=lambda it: it.tokens)
        left = [it for it in items if it.owner[1] >= 0]
        for start in range(0, len(fast), self.batch_size):
            group = fast[start:start + self.batch_size]
            shared = _common_prefix(group[0].tokens, group[-1].tokens, min(len(it.tokens) for it in group) - 1)
            if shared < self.min_shared:
                left += group
                continue
            for it, row in zip(group, self._run_shared(group, shared)):
                out.loglik[it.owner[0]] = [float(x) for x in row]
        return left

    def _run_shared(self, group: list[Item], shared: int) -> np.ndarray:
        pb = self._bucket(shared)
        rb = self._bucket(max(len(it.tokens) - shared for it in group))
        total, (layers, kv, hd) = pb + rb, self._kv_shape()
        cache = {"k": jnp.zeros((layers, 1, total, kv, hd), self.dtype), "v": jnp.zeros((layers, 1, total, kv, hd), self.dtype),
                 "valid": jnp.zeros((1, total), bool), "pos": jnp.zeros((1,), jnp.int32)}
        prefix = np.full((1, pb), -1, np.int32)
        prefix[0, pb - shared:] = group[0].tokens[:shared]  # left-padded: padding slots are masked out
        _, cache = self.cached(self.params, cache, prefix, 0)
        b = self.batch_size
        cache = {k: jnp.repeat(v, b, axis=1 if k in ("k", "v") else 0) for k, v in cache.items()}
        rest = np.full((b, rb), -1, np.int32)
        for r, it in enumerate(group):
            tail = it.tokens[shared:]
            rest[r, rb - len(tail):] = tail  # every row's context ends at the last slot
        logits, _ = self.cached(self.params, cache, rest, pb)
        logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
        return [logp[r, it.targets] for r, it in enumerate(group)]

    def _kv_shape(self) -> tuple[int, int, int]:
        cfg = nnx.merge(self.graphdef, self.params).cfg
        return cfg.n_layers, cfg.kv_heads, cfg.head_dim

    def _bucket(self, n: int) -> int:
        """Padded length: powers of two up to bucket_step, then multiples of it (few shapes, little padding)."""
        b = self.min_bucket
        while b < n and b < self.bucket_step:
            b *= 2
        if b < n:
            b = -(-n // self.bucket_step) * self.bucket_step
        return min(b, self.max_len)

    @staticmethod
    def _picks(it: Item) -> int:
        k = 1
        while k < len(it.picks):
            k *= 2
        return k

    def _run(self, group: list[Item]) -> np.ndarray:
        length = max(self._bucket(len(it.tokens)) for it in group)
        k = max(self._picks(it) for it in group)
        tokens = np.zeros((self.batch_size, length), np.int32)
        picks = np.zeros((self.batch_size, k), np.int32)
        targets = np.zeros((self.batch_size, k), np.int32)
        for r, it in enumerate(group):
            tokens[r, : len(it.tokens)] = it.tokens
            picks[r, : len(it.picks)] = it.picks
            targets[r, : len(it.targets)] = it.targets
        return np.asarray(self.fn(self.params, tokens, picks, targets))

"""Log-likelihoods of continuations given contexts, the way lm-evaluation-harness computes them.

The context is encoded alone and context + continuation together; the continuation's tokens are the tail of the
joint encoding (a trailing space of the context moves onto the continuation first). When every continuation of a
request is one token and the joint encodings all extend the context's, one forward pass over the context scores
them all; otherwise each continuation gets its own pass. Sequences are padded to length buckets (`Scorer._bucket`:
`steps_per_octave` lengths between each power of two and the next, so no more than 1/steps of a pass is padding
and the shapes, hence compilations, stay bounded whatever the prompts) and batches of a power-of-two number of
rows up to the batch size, with requests sorted by length; a sequence longer than the model's window is cut
from the left and counted. A pass holds at most 512 tokens per row of the batch size (`max_pass_tokens`): long
prompts go fewer to a pass, each padded to the longest of closer lengths. On the 80 questions of
benchmarks/bench_eval.py, 8 steps instead of powers of two up to 256 and then multiples of 256 pad 39,000 tokens
instead of 45,300 for 34,500 real ones; the cap on a pass's tokens brings the plain passes' padding from 30,464
to 29,312 tokens for 27,445 real ones (0.5 to 1 s less).

Requests that share most of their context (a subject's few-shot examples: MMLU's five dev questions come first
in every prompt of a subject) have that prefix computed once into a KV cache, and only their own tails run over
it: packed several to a row (one group's per row, each tail attending to its own tokens and the prefix), rows
batched across groups, each row reading its group's cache in place. On the bench's questions packing pads the
tails to 4,096 tokens (rows sized by `_tail_cap`; 4,864 with rows of at most 256, 5,728 unpacked) for 3,688
real ones. Attention is `online` (pretrain/attention.py): forward only, in blocks with the softmax computed
online, which at the lengths of few-shot prompts costs a fraction of the training einsum's time. The last layer
runs only at the scored positions (generate.py: the others need only its keys and values).

On 2 cores the plain passes ran at 2,700 (1,536-token rows) to 3,300 (512-token rows) tokens a second with the
`small` preset when XLA ran their attention. Their matmuls run at XLA's float32 matmul rate on this machine
(about 190 GFLOP/s); attention, with its keys and values, took 35 % of a pass at 8 x 416 tokens and 44 % at
8 x 1,536 (the same passes without it: 0.74 against 1.14 s, 2.69 against 4.78 s), at about half that rate: its
score blocks go through memory between the matmul, the softmax and the matmul after it. Sequence-major block
layouts, other block sizes and XLA's fast math were measured with no gain. On the CPU, attention is therefore a
fused kernel (kernels/attention_cpu.py) for the plain passes, the prefixes and the tails but the last layer's:
on the bench's questions the plain passes take 8.3-8.8 instead of 10.2-10.4 s and the tails 1.6-1.7 instead of
2.0-2.1 s (`GECKO_CPU_KERNELS=off` runs XLA's version instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gecko_cli.eval.generate import picked_hidden, prefill, tail_logits
from gecko_cli.eval.stacked import Stacked

_MIN_STEP = 16  # bucket lengths are multiples of 16 (vector width) at least


def _pow2(n: int) -> int:
    """The smallest power of two at least n (1 for n <= 1)."""
    return 1 << max(n - 1, 0).bit_length()


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
class TailRow:
    """One row of packed tails: tails (item, shared prefix length) of one group (window index), in order."""
    group: int
    tails: list[tuple[Item, int]] = field(default_factory=list)
    length: int = 0         # tokens of all its tails


@dataclass
class Scores:
    loglik: list[list[float]] = field(default_factory=list)
    truncated: int = 0      # requests cut from the left to fit the window


def _logprobs(graphdef, impl: str, dtype: str, params, tokens, picks, targets):
    model = nnx.merge(graphdef, params)
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    h = picked_hidden(model, tokens, positions, picks, impl=impl, dtype=jnp.dtype(dtype))  # (B, K, d)
    logits = jnp.einsum("bkd,dv->bkv", h, model.head_kernel(h.dtype), preferred_element_type=jnp.float32)
    logp = logits - jax.nn.logsumexp(logits, axis=-1, keepdims=True)
    return jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (B, K)


class Scorer:
    """Scores (context, continuations) requests with a trained model and its tokenizer."""

    def __init__(self, model: Stacked | None, tokenizer, max_len: int, *, batch_size: int = 8, impl: str = "online",
                 dtype: str = "float32", min_bucket: int = 64, steps_per_octave: int = 8,
                 max_pass_tokens: int | None = None):
        """`model`: the decoder in eval form (`stacked.stack`); None builds a scorer whose batching and bucketing
        can be used without a model."""
        graphdef = model.graphdef if model is not None else None
        self.model, self.params = model, model.state if model is not None else None
        self.tok, self.max_len = tokenizer, max_len
        self.batch_size, self.min_bucket, self.steps_per_octave = batch_size, min_bucket, steps_per_octave
        #: Padded tokens per plain pass, beyond which long sequences go fewer to a pass (halving the rows, down to
        #: one): each pass then pads to the longest of fewer, closer lengths.
        self.max_pass_tokens = max_pass_tokens or 512 * batch_size
        self.fn = jax.jit(partial(_logprobs, graphdef, impl, dtype))
        self.dtype = dtype
        self.cached = jax.jit(partial(prefill, graphdef, dtype, with_logits=False))
        self.tails = jax.jit(partial(tail_logits, graphdef, dtype))
        #: Fewest shared leading tokens for requests to reuse one computation of them (few-shot prefixes).
        self.min_shared = 128
        #: Smallest share of a group's mean length its prefix must be: a short shared prefix saves less than the
        #: cached path costs (its tails attend over the group's cached prefix as well as their own tokens).
        self.min_shared_fraction = 0.5
        #: Groups of requests whose prefix caches are held at once.
        self.prefix_window = 4 * batch_size
        #: Half the most tokens a row of packed tails may hold (`_tail_cap`; at least the longest tail).
        self.tail_row = 256

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def _texts(self, requests) -> list[str]:
        """Per request, the context and then the context joined to each continuation: the texts to encode. As
        in the harness, a context's trailing spaces belong to the continuations."""
        texts = []
        for context, continuations in requests:
            if context.endswith(" "):
                n = len(context) - len(context.rstrip(" "))
                context, continuations = context[:-n], [context[-n:] + c for c in continuations]
            texts.append(context)
            texts += [context + c for c in continuations]
        return texts

    def _items(self, index: int, ctx: list[int], wholes: list[list[int]]) -> tuple[list[Item], bool]:
        """The passes one request needs, from the encodings of its context and of context + each continuation
        (a continuation's tokens are the tail of the joint encoding after the context's length)."""
        tails = [(whole[: len(ctx)] == ctx, whole[len(ctx):]) for whole in wholes]
        if all(prefix and len(t) == 1 for prefix, t in tails):
            items = [Item(ctx, [len(ctx) - 1] * len(tails), [t[0] for _, t in tails], (index, -1))]
        else:
            items = []
            for j, ((_, t), whole) in enumerate(zip(tails, wholes)):
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
        # every text at once: the tokenizer encodes a batch on all cores
        ids = iter([e.ids for e in self.tok.encode_batch(self._texts(requests))])
        items = []
        for i, (_, continuations) in enumerate(requests):
            ctx = next(ids)
            its, cut = self._items(i, ctx, [next(ids) for _ in continuations])
            items += its
            out.truncated += cut
        items = self._score_shared(items, out)
        items.sort(key=lambda it: (self._picks(it), len(it.tokens)))  # batches of similar length pad little
        for group in self._plain_batches(items):
            for it, row in zip(group, self._run(group)):
                i, j = it.owner
                if j < 0:
                    out.loglik[i] = [float(x) for x in row[: len(it.targets)]]
                else:
                    out.loglik[i][j] = float(np.sum(row[: len(it.targets)]))
        return out

    def _plain_batches(self, items: list[Item]) -> list[list[Item]]:
        """Items (sorted by length) in batches of batch_size, or of half as many again and again while a batch
        would pad to more than max_pass_tokens."""
        batches, i = [], 0
        while i < len(items):
            b = self.batch_size
            while b > 1 and b * self._bucket(max(len(it.tokens) for it in items[i:i + b])) > self.max_pass_tokens:
                b //= 2
            batches.append(items[i:i + b])
            i += b
        return batches

    def _score_shared(self, items: list[Item], out: Scores) -> list[Item]:
        """Score the one-pass requests that share a long prefix with others (a subject's few-shot examples) from
        KV caches of those prefixes, each computed once; return the items left for plain batches.

        Prefixes padded to the same length are computed `batch_size` at a time, and the tails that follow them
        are batched across groups, each row reading its own group's cache, so that small groups do not leave
        batches mostly padding."""
        left = [it for it in items if it.owner[1] >= 0]
        by_length: dict[int, list[tuple[list[Item], int]]] = {}
        for group, shared in self._prefix_groups([it for it in items if it.owner[1] < 0]):
            mean = sum(len(it.tokens) for it in group) / len(group)
            if len(group) < 2 or shared < max(self.min_shared, self.min_shared_fraction * mean):
                left += group
            else:
                by_length.setdefault(self._bucket(shared), []).append((group, shared))
        for pb, groups in sorted(by_length.items()):
            for start in range(0, len(groups), self.prefix_window):
                window = groups[start:start + self.prefix_window]
                cache = self._prefix_caches([g[0].tokens[:shared] for g, shared in window], pb)
                rows = self._tail_rows(window)
                for b0 in range(0, len(rows), self.batch_size):
                    for (it, _), row in self._run_tails(cache, rows[b0:b0 + self.batch_size], pb):
                        out.loglik[it.owner[0]] = [float(x) for x in row]
        return left

    def _tail_rows(self, window: list[tuple[list[Item], int]], cap: int | None = None) -> list[TailRow]:
        """The tails of a window of groups packed into rows, first fit by decreasing length, each row holding
        tails of one group and at most `cap` tokens (default `_tail_cap`): short tails share a row instead of
        each padding one to the longest. Rows come sorted by length, so that a batch of them pads little."""
        cap = self._tail_cap(window) if cap is None else cap
        rows: list[TailRow] = []
        for gi, (group, shared) in enumerate(window):
            mine: list[TailRow] = []
            for it in sorted(group, key=lambda it: (-len(it.tokens), it.owner)):
                n = len(it.tokens) - shared
                row = next((r for r in mine if r.length + n <= cap), None)
                if row is None:
                    row = TailRow(gi)
                    mine.append(row)
                row.tails.append((it, shared))
                row.length += n
            rows += mine
        return sorted(rows, key=lambda r: (r.length, r.group))

    def _tail_cap(self, window: list[tuple[list[Item], int]]) -> int:
        """The tokens a row of the window's tails may hold: of the bucket lengths from the longest tail up to
        twice `tail_row`, the one whose rows, batched, cost the least (`_tail_cost`; the shortest of equals). On
        the bench's MMLU questions, 14 tails of 33 to 242 tokens fill 4 rows of 384 (1,536 slots) where rows of
        at most 256 tokens took 6, run as 8 (2,048 slots): the tail passes take 1.3-1.4 instead of 1.6-1.7 s."""
        longest = max(len(it.tokens) - shared for g, shared in window for it in g)
        caps = sorted({self._bucket(n) for n in range(longest, max(longest, 2 * self.tail_row) + 1, _MIN_STEP)})
        return min(caps, key=lambda cap: (self._tail_cost(self._tail_rows(window, cap)), cap))

    def _tail_slots(self, rows: list[TailRow]) -> tuple[int, int]:
        """(token slots, passes) of the passes over these rows (sorted by length, `batch_size` to a pass)."""
        chunks = [rows[i:i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        return sum(self._rows(len(c)) * self._bucket(max(r.length for r in c)) for c in chunks), len(chunks)

    def _tail_cost(self, rows: list[TailRow]) -> int:
        """The slots of the passes over these rows, and half a row of `tail_row` slots for each pass: a pass
        also costs its launch and its gathers of the rows' prefix caches, which weigh on small passes."""
        slots, passes = self._tail_slots(rows)
        return slots + passes * self.tail_row // 2

    def _prefix_groups(self, items: list[Item]) -> list[tuple[list[Item], int]]:
        """Items in runs that share a prefix, as (items, shared length), from the items sorted by their tokens: a
        run grows while the next item shares at least `min_shared` tokens, and at least half of what the run
        shares so far, with its first item. A run of one shares nothing."""
        groups: list[tuple[list[Item], int]] = []
        for it in sorted(items, key=lambda it: it.tokens):
            if groups:
                group, shared = groups[-1]
                n = _common_prefix(group[0].tokens, it.tokens, min(len(group[0].tokens), len(it.tokens)) - 1)
                if n >= self.min_shared and (len(group) == 1 or n >= shared // 2):
                    groups[-1] = (group + [it], n if len(group) == 1 else min(shared, n))
                    continue
            groups.append(([it], 0))
        return groups

    def _prefix_caches(self, prefixes: list[list[int]], pb: int) -> dict:
        """KV caches of the prefixes, each left-padded to `pb` slots: k, v (L, G, pb, K, D), valid (G, pb) and pos
        (G,), computed up to `batch_size` prefixes per pass (rows rounded up to a power of two)."""
        layers, kv, hd = self._kv_shape()
        parts = []
        for start in range(0, len(prefixes), self.batch_size):
            part = prefixes[start:start + self.batch_size]
            b = self._rows(len(part))
            tokens = np.full((b, pb), -1, np.int32)
            for r, prefix in enumerate(part):
                tokens[r, pb - len(prefix):] = prefix  # left-padded: padding slots are masked out
            empty = {"k": jnp.zeros((layers, b, pb, kv, hd), self.dtype),
                     "v": jnp.zeros((layers, b, pb, kv, hd), self.dtype),
                     "valid": jnp.zeros((b, pb), bool), "pos": jnp.zeros((b,), jnp.int32)}
            parts.append(self.cached(self.params, empty, tokens)[1])
        return {k: jnp.concatenate([p[k] for p in parts], axis=1 if k in ("k", "v") else 0) for k in parts[0]}

    def _run_tails(self, cache: dict, chunk: list[TailRow], pb: int) -> list[tuple[tuple[Item, int], np.ndarray]]:
        """Log-probabilities of each tail's targets after its last token, for rows of packed tails that each
        attend to their group's cached prefix (read in place, not copied per row): ((item, shared), scores)."""
        b, t = self._rows(len(chunk)), self._bucket(max(r.length for r in chunk))
        p = _pow2(max(len(r.tails) for r in chunk))
        index = np.zeros(b, np.int32)
        tokens = np.full((b, t), -1, np.int32)
        segments, offsets = np.zeros((b, t), np.int32), np.zeros((b, t), np.int32)
        picks = np.zeros((b, p), np.int32)
        for r, row in enumerate(chunk):
            index[r], at = row.group, 0
            for j, (it, shared) in enumerate(row.tails):
                tail = it.tokens[shared:]
                tokens[r, at:at + len(tail)] = tail
                segments[r, at:at + len(tail)] = j + 1
                offsets[r, at:at + len(tail)] = np.arange(len(tail))
                at += len(tail)
                picks[r, j] = at - 1
        logits = self.tails(self.params, cache, index, tokens, segments, offsets, picks)
        logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
        return [(tail, logp[r, j, tail[0].targets]) for r, row in enumerate(chunk) for j, tail in enumerate(row.tails)]

    def _kv_shape(self) -> tuple[int, int, int]:
        cfg = self.model.cfg
        return cfg.n_layers, cfg.kv_heads, cfg.head_dim

    def _bucket(self, n: int) -> int:
        """Padded length of n tokens: min_bucket, or above it the next of `steps_per_octave` even steps (multiples
        of 16) between the powers of two around n: 391 -> 416, 1452 -> 1536 at 8 steps."""
        if n <= self.min_bucket:
            return min(self.min_bucket, self.max_len)
        top = _pow2(n)
        step = max(top // (2 * self.steps_per_octave), _MIN_STEP)
        return min(-(-n // step) * step, self.max_len)

    def _rows(self, n: int) -> int:
        """Rows of a pass over n sequences: a power of two, at most batch_size (few shapes, few empty rows)."""
        return min(_pow2(n), self.batch_size)

    @staticmethod
    def _picks(it: Item) -> int:
        return _pow2(len(it.picks))

    def _run(self, group: list[Item]) -> np.ndarray:
        length = max(self._bucket(len(it.tokens)) for it in group)
        k = max(self._picks(it) for it in group)
        b = self._rows(len(group))
        tokens = np.zeros((b, length), np.int32)
        picks = np.zeros((b, k), np.int32)
        targets = np.zeros((b, k), np.int32)
        for r, it in enumerate(group):
            tokens[r, : len(it.tokens)] = it.tokens
            picks[r, : len(it.picks)] = it.picks
            targets[r, : len(it.targets)] = it.targets
        return np.asarray(self.fn(self.params, tokens, picks, targets))

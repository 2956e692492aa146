"""Log-likelihood scoring against the same computation done by transformers on the same weights."""

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from gecko_cli.eval.loglik import Item, Scorer
from gecko_cli.eval.stacked import stack
from hf_models import twin_models

MAX_LEN = 96


# heads of 16 (grouped and plain) run XLA's attention; heads of 64 the CPU kernel (kernels/attention_cpu.py)
@pytest.fixture(scope="module", params=[(2, 64, 4), (4, 64, 4), (1, 128, 2)], ids=["gqa", "mha", "kernel"])
def models(request, tokenizer_dir, tmp_path_factory):
    kv_heads, d_model, n_heads = request.param
    ref, graphdef, params = twin_models(tmp_path_factory.mktemp("hf"), max_len=MAX_LEN, seed=0, std=0.1,
                                        kv_heads=kv_heads, d_model=d_model, n_heads=n_heads)
    tok = Tokenizer.from_file(f"{tokenizer_dir}/tokenizer.json")
    return Scorer(stack(graphdef, params), tok, MAX_LEN, batch_size=4, min_bucket=16), ref, tok


def _harness(ref, tok, context, continuation):
    """lm-evaluation-harness's hf loglikelihood for one pair, written out."""
    if context.endswith(" "):
        context, continuation = context[:-1], " " + continuation
    ctx = tok.encode(context).ids
    whole = tok.encode(context + continuation).ids
    cont = whole[len(ctx):]
    inp = (ctx + cont)[-(MAX_LEN + 1):][:-1]
    with torch.no_grad():
        logp = torch.log_softmax(ref(torch.tensor([inp])).logits[0].double(), -1).numpy()
    return sum(logp[len(inp) - len(cont) + i, t] for i, t in enumerate(cont))


def test_matches_the_harness_computation(models):
    scorer, ref, tok = models
    requests = [
        ("다음 중 옳은 것은?\nA. 하나\nB. 둘\nC. 셋\nD. 넷\n정답：", (" A", " B", " C", " D")),
        ("Question: what is 2 + 2?\nAnswer:", (" A", " B", " C", " D")),
        ("def add(a, b):\n    return", (" a + b", " a - b\n", " 42")),
        ("The answer is ", ("yes", "no, it is not")),  # a trailing space moves onto the continuation
        ("long " * 200 + "end:", (" A", " B")),          # longer than the window: cut from the left
    ]
    got = scorer.score(requests)
    assert got.truncated == 1
    for (context, conts), row in zip(requests, got.loglik):
        want = [_harness(ref, tok, context, c) for c in conts]
        np.testing.assert_allclose(row, want, rtol=2e-5, atol=2e-5)


def test_a_shared_few_shot_prefix_is_computed_once_and_scores_the_same(models):
    scorer, ref, tok = models
    prefix = "The following are questions.\n\n" + "".join(f"Q{i}: 1 + {i}?\nAnswer: {i + 1}\n\n" for i in range(4))
    requests = [(prefix + f"Q: what is {q} times two?\nAnswer:", (" A", " B", " C", " D")) for q in range(6)]
    requests.append(("short and different:", (" A", " B", " C", " D")))
    plain = scorer.score(requests)
    calls = []
    scorer.min_shared, prefix_caches = 16, scorer._prefix_caches
    scorer._prefix_caches = lambda prefixes, pb: calls.append([len(p) for p in prefixes]) or prefix_caches(prefixes, pb)
    try:
        shared = scorer.score(requests)
    finally:
        scorer.min_shared, scorer._prefix_caches = 128, prefix_caches
    # the 6 questions (tails in 2 batches of 4) share one computation of their prefix
    assert len(calls) == 1 and len(calls[0]) == 1 and calls[0][0] >= 16
    np.testing.assert_allclose(shared.loglik, plain.loglik, rtol=1e-5, atol=1e-5)
    for (context, conts), row in zip(requests, shared.loglik):
        np.testing.assert_allclose(row, [_harness(ref, tok, context, c) for c in conts], rtol=2e-5, atol=2e-5)


def test_small_groups_share_tail_batches(models):
    # Three subjects of two questions each: three prefixes computed in one pass, and the six tails packed two to
    # a row (one subject's per row) in one batch across groups, each row reading its own subject's cache; scores
    # as computed whole.
    scorer, ref, tok = models
    subjects = [f"Subject {name}.\n\n" + "".join(f"{name} example {i}: {i} and {i}.\n" for i in range(5))
                for name in ("alpha", "beta", "gamma")]
    requests = [(p + f"Q{q}: which?\nAnswer:", (" A", " B", " C", " D")) for p in subjects for q in range(2)]
    plain = scorer.score(requests)
    calls, tails = [], []
    scorer.min_shared, prefix_caches, run_tails = 16, scorer._prefix_caches, scorer._run_tails
    scorer._prefix_caches = lambda prefixes, pb: calls.append(len(prefixes)) or prefix_caches(prefixes, pb)
    scorer._run_tails = lambda cache, rows, pb: tails.append({row.group for row in rows}) or run_tails(cache, rows, pb)
    try:
        shared = scorer.score(requests)
    finally:
        scorer.min_shared, scorer._prefix_caches, scorer._run_tails = 128, prefix_caches, run_tails
    assert calls == [3]
    assert tails == [{0, 1, 2}]
    np.testing.assert_allclose(shared.loglik, plain.loglik, rtol=1e-5, atol=1e-5)
    for (context, conts), row in zip(requests, shared.loglik):
        np.testing.assert_allclose(row, [_harness(ref, tok, context, c) for c in conts], rtol=2e-5, atol=2e-5)


def test_tails_are_packed_by_group_first_fit_decreasing():
    scorer = Scorer(None, None, 2048)
    scorer.tail_row = 100

    def group(lengths, shared=50):
        return [Item(list(range(shared + n)), [0], [0], (i, -1)) for i, n in enumerate(lengths)], shared

    window = [group([60, 30, 30, 20, 70]), group([40]), group([130, 10])]
    rows = scorer._tail_rows(window, cap=130)
    # rows hold at most 130 tokens; group 0: 70 + 60, then 30 + 30 + 20
    assert [(r.group, [len(it.tokens) - s for it, s in r.tails]) for r in rows] == [
        (2, [10]), (1, [40]), (0, [30, 30, 20]), (0, [70, 60]), (2, [130])]
    assert [r.length for r in rows] == [10, 40, 80, 130, 130]
    for r in rows:
        assert all(shared == window[r.group][1] and any(it is x for x in window[r.group][0]) for it, shared in r.tails)
    assert sorted(id(it) for r in rows for it, _ in r.tails) == sorted(id(it) for g, _ in window for it in g)


def test_the_row_size_of_tails_is_the_one_that_pads_least():
    scorer = Scorer(None, None, 2048, batch_size=8)
    lengths = [33, 36, 42, 42, 56, 60, 62, 91, 116, 134, 164, 191, 197, 242]  # an MMLU subject's tails
    window = [([Item(list(range(900 + n)), [0], [0], (i, -1)) for i, n in enumerate(lengths)], 900)]
    # rows of at most 256 tokens: 6 rows, run as 8 of 256 slots; of 384: 4 rows of 384 slots
    assert len(scorer._tail_rows(window, cap=256)) == 6
    assert scorer._tail_slots(scorer._tail_rows(window, cap=256)) == (8 * 256, 1)
    cap = scorer._tail_cap(window)
    rows = scorer._tail_rows(window)
    assert scorer._tail_slots(rows) == (4 * 384, 1)
    assert scorer._tail_cost(rows) == min(scorer._tail_cost(scorer._tail_rows(window, c)) for c in range(256, 513, 16))
    assert cap == 384 and all(r.length <= cap for r in rows)
    assert sorted(len(it.tokens) - 900 for r in rows for it, _ in r.tails) == lengths


def test_long_sequences_go_fewer_to_a_pass():
    scorer = Scorer(None, None, 2048, batch_size=8)
    assert scorer.max_pass_tokens == 4096
    items = [Item([0] * n, [n - 1], [0], (i, -1)) for i, n in enumerate([100] * 10 + [1400, 1450, 1500, 1520, 2000])]
    batches = scorer._plain_batches(items)
    assert [len(b) for b in batches] == [8, 2, 2, 2, 1]
    assert [it for b in batches for it in b] == items  # every item once, in order
    for b in batches:
        assert len(b) == 1 or scorer._rows(len(b)) * max(scorer._bucket(len(it.tokens)) for it in b) <= 4096
    # short sequences keep the full batch size
    assert [len(b) for b in Scorer(None, None, 2048, batch_size=8)._plain_batches(items[:10])] == [8, 2]


def test_buckets_pad_little_and_stay_few():
    scorer = Scorer(None, None, 2048, min_bucket=64, steps_per_octave=8)
    buckets = {n: scorer._bucket(n) for n in range(1, 2049)}
    for n, b in buckets.items():
        assert n <= b <= 2048 and b % 16 == 0
        assert b == 64 or b - n < max(n / 8, 16)  # at most one step (1/8 of an octave, 16 tokens at least)
    assert buckets[391] == 416 and buckets[1452] == 1536 and buckets[65] == 80
    # min_bucket, then 4 steps in (64, 128] (16 apart) and 8 in each octave above it: 1 + 4 + 8 * 4
    assert len(set(buckets.values())) == 37
    assert Scorer(None, None, 1000)._bucket(999) == 1000  # never past the window

"""KV-cache generation against transformers' greedy generation on the same weights."""

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from gecko_cli.eval.generate import Generator
from gecko_cli.eval.stacked import stack
from hf_models import twin_models


# heads of 16 (grouped and plain) prefill with XLA's attention; heads of 64 with the CPU kernel (left-padded batch)
@pytest.fixture(scope="module", params=[(2, 64, 4), (4, 64, 4), (1, 128, 2)], ids=["gqa", "mha", "kernel"])
def models(request, tokenizer_dir, tmp_path_factory):
    kv_heads, d_model, n_heads = request.param
    ref, graphdef, params = twin_models(tmp_path_factory.mktemp("hf"), max_len=256, seed=1, std=0.15,
                                        kv_heads=kv_heads, d_model=d_model, n_heads=n_heads)
    tok = Tokenizer.from_file(f"{tokenizer_dir}/tokenizer.json")
    return Generator(stack(graphdef, params), tok, max_len=256, chunk=8), ref, tok


PROMPTS = ["def fibonacci(n):\n    ", "대한민국의 수도는", "The quick brown fox jumps over the lazy dog and then"]


def _reference(ref, tok, prompt, n):
    ids = tok.encode(prompt).ids
    with torch.no_grad():
        out = ref.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=None)
    return out[0, len(ids):].tolist()


def test_greedy_matches_transformers_one_prompt_at_a_time_and_batched(models):
    gen, ref, tok = models
    want = [tok.decode(tok.encode(p).ids + _reference(ref, tok, p, 20))[len(tok.decode(tok.encode(p).ids)):]
            for p in PROMPTS]
    for p, w in zip(PROMPTS, want):
        assert gen.generate([p], max_new_tokens=20) == [w]
    assert gen.generate(PROMPTS, max_new_tokens=20) == want  # left-padded batch: the same texts


def test_stop_sequences_and_sampling(models):
    gen, _, _ = models
    full = gen.generate(PROMPTS[:1], max_new_tokens=40)[0]
    stop = full[3:6]
    cut = gen.generate(PROMPTS[:1], max_new_tokens=40, stop=(stop,))[0]
    assert cut == full[: full.find(stop)]
    a = gen.generate(PROMPTS, max_new_tokens=16, temperature=1.0, seed=3)
    b = gen.generate(PROMPTS, max_new_tokens=16, temperature=1.0, seed=3)
    c = gen.generate(PROMPTS, max_new_tokens=16, temperature=1.0, seed=4)
    assert a == b and a != c
    assert np.all([isinstance(x, str) for x in a])

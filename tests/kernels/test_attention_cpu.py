"""The fused CPU attention kernel against a written-out softmax and against XLA's online attention."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gecko_cli import kernels
from gecko_cli.kernels import attention_cpu
from gecko_cli.pretrain import attention as attn_mod


def _qkv(b, t, h, kv, d, seed=0):
    r = np.random.default_rng(seed)
    # scaled queries give peaked softmax rows, where a wrong maximum or a missed mask shows
    return (jnp.asarray(r.normal(size=(b, t, h, d)) * 2, jnp.float32),
            jnp.asarray(r.normal(size=(b, t, kv, d)), jnp.float32),
            jnp.asarray(r.normal(size=(b, t, kv, d)), jnp.float32))


def _reference(q, k, v, seg):
    """Per head in float64: repeated kv heads, an explicit causal (and segment) mask, a plain softmax."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    b, t, h, d = q.shape
    rep = h // k.shape[2]
    k, v = np.repeat(k, rep, axis=2), np.repeat(v, rep, axis=2)
    out = np.zeros_like(q)
    for bi in range(b):
        allowed = np.tril(np.ones((t, t), bool))
        if seg is not None:
            s = np.asarray(seg)[bi]
            allowed &= s[:, None] == s[None, :]
        for hi in range(h):
            scores = np.where(allowed, q[bi, :, hi] @ k[bi, :, hi].T / np.sqrt(d), -np.inf)
            p = np.exp(scores - scores.max(-1, keepdims=True))
            out[bi, :, hi] = (p / p.sum(-1, keepdims=True)) @ v[bi, :, hi]
    return out


def _kernel(q, k, v, seg):
    return jax.jit(attention_cpu.attention)(q, k, v, seg)


@pytest.fixture(autouse=True)
def _built():
    assert attention_cpu.load(), attention_cpu._loaded.get("why")


# lengths around the kernel's blocks (32 query rows, 128 keys, tiles of 64), heads plain and grouped, D 64 and 128
@pytest.mark.parametrize("b,t,h,kv,d", [(2, 5, 2, 2, 64), (1, 33, 4, 1, 64), (2, 130, 4, 2, 64),
                                         (1, 300, 2, 2, 128), (3, 64, 2, 2, 64)])
@pytest.mark.parametrize("segmented", [False, True])
def test_matches_a_written_out_softmax(b, t, h, kv, d, segmented):
    q, k, v = _qkv(b, t, h, kv, d, seed=t)
    seg = None
    if segmented:  # left padding (segment 0) before a prompt, and documents that start mid-block
        r = np.random.default_rng(t)
        seg = jnp.asarray(np.sort(r.integers(0, 3, size=(b, t)), axis=1), jnp.int32)
    np.testing.assert_allclose(_kernel(q, k, v, seg), _reference(q, k, v, seg), rtol=2e-5, atol=2e-5)


def test_agrees_with_xla_online_attention_at_eval_lengths():
    q, k, v = _qkv(2, 700, 8, 8, 64, seed=1)
    seg = jnp.asarray(np.repeat([[0] * 200 + [1] * 500], 2, axis=0), jnp.int32)  # a left-padded prompt
    for s in (None, seg):
        xla = jax.jit(attn_mod._online)(q, k, v, s)
        np.testing.assert_allclose(_kernel(q, k, v, s), xla, rtol=1e-5, atol=1e-5)


def test_tails_over_a_cached_prefix_match_the_xla_version():
    from gecko_cli.eval.generate import _prefix_and_tail_attention

    r = np.random.default_rng(5)
    b, s, t, h, kv, d = 3, 150, 70, 4, 2, 64
    q, k, v = _qkv(b, t, h, kv, d, seed=5)
    _, pk, pv = _qkv(b, s, h, kv, d, seed=6)
    prefix_valid = jnp.asarray(np.arange(s)[None] >= r.integers(0, 40, size=(b, 1)))  # left-padded prefixes
    segments = np.zeros((b, t), np.int32)  # packed tails 1, 2, 3, then padding
    for row, cuts in enumerate(([20, 50, 65], [70], [10, 30])):
        lo = 0
        for j, hi in enumerate(cuts):
            segments[row, lo:hi], lo = j + 1, hi
    segments = jnp.asarray(segments)
    allowed = (jnp.tril(jnp.ones((t, t), bool))[None] & (segments[:, :, None] == segments[:, None, :])
               & (segments > 0)[:, None, :])
    want = jax.jit(_prefix_and_tail_attention)(q, pk, pv, prefix_valid, k, v, allowed)
    got = jax.jit(attention_cpu.attention_after_prefix)(q, pk, pv, prefix_valid, k, v, segments)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_the_same_bits_whatever_the_number_of_threads(monkeypatch):
    q, k, v = _qkv(2, 200, 4, 2, 64, seed=2)
    outs = []
    for n in ("1", "2", "3"):
        monkeypatch.setenv("GECKO_KERNEL_THREADS", n)
        outs.append(np.asarray(_kernel(q, k, v, None)))
    assert all(np.array_equal(outs[0], o) for o in outs[1:])


def test_online_attention_uses_the_kernel_only_where_it_applies(monkeypatch):
    q, k, v = _qkv(1, 16, 2, 2, 64)
    assert attention_cpu.usable(q, k, v)
    assert not attention_cpu.usable(q[..., :32], k[..., :32], v[..., :32])  # head size 32
    assert not attention_cpu.usable(*(a.astype(jnp.bfloat16) for a in (q, k, v)))
    monkeypatch.setenv(kernels.SETTING, "off")
    assert not attention_cpu.usable(q, k, v)
    hlo = jax.jit(lambda q, k, v: attn_mod.attention(q, k, v, None, "online")).lower(q, k, v).as_text()
    assert attention_cpu.TARGET not in hlo
    monkeypatch.delenv(kernels.SETTING)
    hlo = jax.jit(lambda q, k, v: attn_mod.attention(q, k, v, None, "online")).lower(q, k, v).as_text()
    assert attention_cpu.TARGET in hlo


def test_a_build_failure_falls_back_to_xla(monkeypatch, tmp_path):
    monkeypatch.setattr(attention_cpu, "_loaded", {})
    monkeypatch.setenv("GECKO_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    q, k, v = _qkv(1, 16, 2, 2, 64)
    assert not attention_cpu.usable(q, k, v)
    assert "no-such-compiler" in attention_cpu._loaded["why"]
    np.testing.assert_allclose(attn_mod.attention(q, k, v, None, "online"), _reference(q, k, v, None),
                               rtol=2e-5, atol=2e-5)
    assert not os.listdir(tmp_path / os.listdir(tmp_path)[0])  # no half-written library left behind

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gecko_cli.pretrain import attention as attn_mod
from gecko_cli.pretrain import step as steplib
from gecko_cli.pretrain.attention import attention, mask
from gecko_cli.pretrain.model import Llama, apply_rope, rope_tables
from gecko_cli.pretrain.model_config import ModelConfig


def _qkv(b=2, t=12, h=4, k=2, d=8, seed=0):
    r = np.random.default_rng(seed)
    return (jnp.asarray(r.normal(size=(b, t, h, d)), jnp.float32), jnp.asarray(r.normal(size=(b, t, k, d)), jnp.float32),
            jnp.asarray(r.normal(size=(b, t, k, d)), jnp.float32))


def _reference(q, k, v, seg):
    """Attention written out per head, with repeated kv heads and an explicit causal/segment mask."""
    b, t, h, d = q.shape
    k, v = np.repeat(np.asarray(k), h // k.shape[2], axis=2), np.repeat(np.asarray(v), h // v.shape[2], axis=2)
    out = np.zeros((b, t, h, d))
    for bi in range(b):
        for hi in range(h):
            s = np.asarray(q)[bi, :, hi] @ k[bi, :, hi].T / np.sqrt(d)
            allowed = np.tril(np.ones((t, t), bool))
            if seg is not None:
                allowed &= np.asarray(seg)[bi][:, None] == np.asarray(seg)[bi][None, :]
            s = np.where(allowed, s, -np.inf)
            p = np.exp(s - s.max(-1, keepdims=True))
            out[bi, :, hi] = (p / p.sum(-1, keepdims=True)) @ v[bi, :, hi]
    return out


@pytest.mark.parametrize("impl", ["einsum", "xla", "online"])
@pytest.mark.parametrize("with_segments", [True, False])
def test_attention_matches_a_written_out_softmax(impl, with_segments):
    q, k, v = _qkv()
    seg = jnp.asarray([[1] * 5 + [2] * 4 + [3] * 3, [1] * 12]) if with_segments else None
    np.testing.assert_allclose(attention(q, k, v, seg, impl), _reference(q, k, v, seg), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("heads", [(4, 4), (4, 2), (4, 1)])
@pytest.mark.parametrize("with_segments", [True, False])
def test_online_attention_in_blocks_matches_a_written_out_softmax(monkeypatch, heads, with_segments):
    # Blocks of 4 rows: 3 query blocks meet 1 to 3 key blocks, and with documents a row of the third document
    # meets a whole key block of the first that it may not see (its weights there must be exactly zero).
    monkeypatch.setattr(attn_mod, "ONLINE_BLOCK", 4)
    assert attn_mod.online_blocks(12) == [(0, 4), (4, 8), (8, 12)]
    q, k, v = _qkv(h=heads[0], k=heads[1], seed=3)
    seg = jnp.asarray([[1] * 5 + [2] * 4 + [3] * 3, [1] * 2 + [2] * 10]) if with_segments else None
    got = jax.jit(lambda q, k, v, s: attention(q, k, v, s, "online"))(q, k, v, seg)
    np.testing.assert_allclose(got, _reference(q, k, v, seg), rtol=1e-5, atol=1e-5)
    # 11 rows: the last block has 3 (its diagonal block is 3 x 3)
    assert attn_mod.online_blocks(11) == [(0, 4), (4, 8), (8, 11)]
    q, k, v, seg = q[:, :11], k[:, :11], v[:, :11], None if seg is None else seg[:, :11]
    got = jax.jit(lambda q, k, v, s: attention(q, k, v, s, "online"))(q, k, v, seg)
    np.testing.assert_allclose(got, _reference(q, k, v, seg), rtol=1e-5, atol=1e-5)


def test_online_blocks_are_bounded_in_count():
    assert attn_mod.online_blocks(256) == [(0, 256)]
    assert attn_mod.online_blocks(1536) == [(lo, lo + 256) for lo in range(0, 1536, 256)]
    assert len(attn_mod.online_blocks(8192)) == attn_mod.MAX_ONLINE_BLOCKS
    assert attn_mod.online_blocks(1000) == [(0, 256), (256, 512), (512, 768), (768, 1000)]  # a shorter last block
    assert attn_mod.online_blocks(2100) == [(lo, min(lo + 512, 2100)) for lo in range(0, 2100, 512)]


def test_document_mask_isolates_documents():
    q, k, v = _qkv(b=1, t=10)
    seg = jnp.asarray([[1] * 4 + [2] * 6])
    base = attention(q, k, v, seg, "einsum")
    k2, v2 = k.at[:, :4].set(7.0), v.at[:, :4].set(-3.0)  # change the first document only
    other = attention(q, k2, v2, seg, "einsum")
    np.testing.assert_allclose(base[:, 4:], other[:, 4:], rtol=1e-6)
    assert not np.allclose(base[:, :4], other[:, :4])
    assert mask(None, 3).shape == (1, 1, 3, 3)


def test_rope_is_rotate_half_as_in_hf():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(1, 5, 2, 8)), jnp.float32)
    pos = jnp.arange(5)[None]
    cos, sin = rope_tables(pos, 8, 10000.0)
    got = np.asarray(apply_rope(x, cos, sin))
    inv = 1.0 / 10000 ** (np.arange(0, 8, 2) / 8)
    for t in range(5):
        for i in range(4):  # pair (i, i + 4) is rotated by angle t * inv[i]
            a, c, s = np.asarray(x)[0, t, :, i], np.cos(t * inv[i]), np.sin(t * inv[i])
            b = np.asarray(x)[0, t, :, i + 4]
            np.testing.assert_allclose(got[0, t, :, i], a * c - b * s, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(got[0, t, :, i + 4], b * c + a * s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[0, 0], np.asarray(x)[0, 0], rtol=1e-6)  # position 0 is not rotated


def test_targets_skip_padding_row_ends_and_document_starts():
    tokens = jnp.asarray([[1, 5, 6, 2, 1, 7, 0, 0]])
    seg = jnp.asarray([[1, 1, 1, 1, 2, 2, 0, 0]])
    lm = seg > 0
    tgt, w = steplib.targets(tokens, seg, lm)
    assert np.asarray(tgt)[0, :5].tolist() == [5, 6, 2, 1, 7]
    assert np.asarray(w)[0].tolist() == [1, 1, 1, 0, 1, 0, 0, 0]


def test_gqa_and_tied_model_shapes_and_param_count():
    cfg = ModelConfig(vocab_size=100, max_seq_len=32, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64,
                      tie_embeddings=True)
    model = Llama(cfg, nnx.Rngs(0))
    tokens = jnp.zeros((2, 16), jnp.int32)
    hidden = model(tokens, jnp.broadcast_to(jnp.arange(16), (2, 16)))
    assert model.logits(hidden).shape == (2, 16, 100)
    n = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert n == cfg.num_params()
    assert not hasattr(model, "head")


def test_segments_change_nothing_for_a_single_document():
    cfg = ModelConfig(vocab_size=64, max_seq_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64)
    model = Llama(cfg, nnx.Rngs(1))
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, 64, (2, 16)), jnp.int32)
    pos = jnp.broadcast_to(jnp.arange(16), (2, 16))
    a = model.logits(model(tokens, pos, jnp.ones((2, 16), jnp.int32)))
    b = model.logits(model(tokens, pos, None))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

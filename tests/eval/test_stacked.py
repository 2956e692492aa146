"""The eval form of a model (layers but the last stacked and scanned) against the training model's own forward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gecko_cli.eval.generate import forward, prefill
from gecko_cli.eval.loglik import _logprobs
from gecko_cli.eval.stacked import stack
from gecko_cli.pretrain.model import Llama
from gecko_cli.pretrain.model_config import ModelConfig

VOCAB = 97


@pytest.fixture(scope="module", params=[(1, False), (3, False), (3, True)], ids=["1-layer", "3-layers", "3-tied"])
def model(request):
    layers, tied = request.param
    cfg = ModelConfig(vocab_size=VOCAB, max_seq_len=64, d_model=32, n_layers=layers, n_heads=4, n_kv_heads=2,
                      d_ff=64, init_std=0.2, tie_embeddings=tied)
    return Llama(cfg, nnx.Rngs(layers))


def _reference(model, tokens):
    """Log-probabilities (B, T, V) of the training model's forward over tokens (B, T)."""
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    return np.asarray(jax.nn.log_softmax(model.logits(model(jnp.asarray(tokens), positions, impl="einsum")), -1))


def test_the_stack_holds_the_other_layers_in_order(model):
    st = stack(*nnx.split(model))
    em = nnx.merge(st.graphdef, st.state)
    n = model.cfg.n_layers - 1
    assert em.body.attn.q[...].shape == (n, *model.layers[0].attn.q[...].shape)
    for i in range(n):
        np.testing.assert_array_equal(em.body.mlp.down[...][i], model.layers[i].mlp.down[...])
    np.testing.assert_array_equal(em.last.attn.k[...], model.layers[-1].attn.k[...])
    np.testing.assert_array_equal(em.head_kernel(jnp.float32), model.head_kernel(jnp.float32))


def test_scores_match_the_training_forward(model):
    st = stack(*nnx.split(model))
    tokens = np.random.default_rng(0).integers(0, VOCAB, (2, 12)).astype(np.int32)
    picks = np.array([[11, 5], [7, 0]], np.int32)
    targets = np.array([[3, 50], [96, 0]], np.int32)
    got = jax.jit(lambda p, *a: _logprobs(st.graphdef, "online", "float32", p, *a))(st.state, tokens, picks, targets)
    ref = _reference(model, tokens)
    want = np.array([[ref[b, p, t] for p, t in zip(picks[b], targets[b])] for b in range(2)])
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


def test_prefill_and_decode_steps_match_the_training_forward(model):
    st = stack(*nnx.split(model))
    cfg = model.cfg
    tokens = np.random.default_rng(1).integers(0, VOCAB, (2, 11)).astype(np.int32)
    cache = {"k": jnp.zeros((cfg.n_layers, 2, 16, cfg.kv_heads, cfg.head_dim)),
             "v": jnp.zeros((cfg.n_layers, 2, 16, cfg.kv_heads, cfg.head_dim)),
             "valid": jnp.zeros((2, 16), bool), "pos": jnp.zeros((2,), jnp.int32)}
    logits, cache = prefill(st.graphdef, "float32", st.state, cache, jnp.asarray(tokens[:, :8]))
    np.testing.assert_allclose(jax.nn.log_softmax(logits, -1), _reference(model, tokens[:, :8])[:, -1], atol=1e-5)
    for t in range(8, 11):  # one token a step, into the cache the prefill wrote
        logits, cache = forward(st.graphdef, "float32", st.state, cache, jnp.asarray(tokens[:, t:t + 1]), t)
        np.testing.assert_allclose(jax.nn.log_softmax(logits, -1), _reference(model, tokens[:, :t + 1])[:, -1],
                                   atol=1e-5)
    assert int(cache["pos"][0]) == 11 and bool(cache["valid"][:, :11].all()) and not bool(cache["valid"][:, 11:].any())

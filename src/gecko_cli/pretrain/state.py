"""The train state (parameters and optimizer state as plain dicts of arrays), created directly sharded on the
mesh: parameter shardings come from each parameter's logical `axes` through mesh.RULES, and optimizer moments
take the sharding of the parameter they belong to."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from gecko_cli.pretrain.mesh import spec
from gecko_cli.pretrain.model import Llama
from gecko_cli.pretrain.model_config import ModelConfig


def abstract_model(cfg: ModelConfig, seed: int):
    """(graphdef, abstract nnx.State) of the model, without allocating it."""
    return nnx.split(nnx.eval_shape(lambda: Llama(cfg, nnx.Rngs(seed))))


def param_shardings(abstract_state, mesh) -> dict:
    """NamedSharding of every parameter, as a plain dict shaped like the parameters."""
    shardings = jax.tree.map(lambda v: NamedSharding(mesh, spec(v.axes)), abstract_state,
                             is_leaf=lambda x: isinstance(x, nnx.Variable))
    return nnx.to_pure_dict(shardings)


def _path_key(path) -> tuple:
    return tuple(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))) for k in path)


def state_shardings(abstract: dict, params: dict, mesh) -> dict:
    """Shardings of a whole train state: a leaf whose key path ends with a parameter's path and whose shape is
    the parameter's (Adam's moments) is sharded like it; anything else (step counts) is replicated."""
    by_path = {_path_key(p): s for p, s in jax.tree_util.tree_flatten_with_path(params)[0]}
    shapes = {_path_key(p): s.shape for p, s in jax.tree_util.tree_flatten_with_path(abstract["params"])[0]}
    replicated = NamedSharding(mesh, P())

    def pick(path, leaf):
        key = _path_key(path)
        for start in range(len(key)):
            tail = key[start:]
            if tail in by_path and shapes[tail] == leaf.shape:
                return by_path[tail]
        return replicated

    return jax.tree_util.tree_map_with_path(pick, abstract)


def _plan(cfg: ModelConfig, tx, mesh, seed: int):
    """(graphdef, abstract parameters (nnx.State), abstract state, shardings) of a train state
    {"params": ..., "opt": ...}."""
    graphdef, abstract_params = abstract_model(cfg, seed)

    def init():
        params = nnx.to_pure_dict(nnx.state(Llama(cfg, nnx.Rngs(seed))))
        return {"params": params, "opt": tx.init(params)}

    abstract = jax.eval_shape(init)
    return graphdef, abstract_params, abstract, state_shardings(abstract, param_shardings(abstract_params, mesh), mesh)


@functools.cache
def _initializer(shape: tuple[int, ...], sharding: NamedSharding, normal: bool):
    """A jitted (key, std) -> float32 array of `shape` made directly on `sharding`: N(0, std^2), or ones. Cached,
    so parameters of one shape and sharding (every layer's) share one compiled function."""
    if normal:
        return jax.jit(lambda key, std: jax.random.normal(key, shape, jnp.float32) * std, out_shardings=sharding)
    return jax.jit(lambda key, std: jnp.ones(shape, jnp.float32), out_shardings=sharding)


def init_params(abstract_params, shardings: dict, seed: int) -> dict:
    """The model's parameters, each made on its own devices by a small jitted function: the parameter at position
    i of the flattened tree is drawn with the key fold_in(key(seed), i), with the std the model gave it
    (`init_std`), or set to ones (the norms' scales).

    One jit over the whole model would compile a separate random-number kernel for every parameter, which took
    XLA's GPU compiler over 200 s for gecko-1b on an H200 (jax 0.11.2; stopped there); here there is one compile
    per distinct shape and sharding."""
    is_var = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
    flat = jax.tree_util.tree_flatten_with_path(abstract_params, is_leaf=is_var)[0]
    sharding_of = {_path_key(p): s for p, s in jax.tree_util.tree_flatten_with_path(shardings)[0]}
    base = jax.random.key(seed)
    values = {}
    for i, (path, var) in enumerate(flat):
        key = _path_key(path)
        std = var.init_std
        fn = _initializer(tuple(var.shape), sharding_of[key], std is not None)
        values[key] = fn(jax.random.fold_in(base, i), jnp.float32(std or 0.0))
    return jax.tree_util.tree_map_with_path(lambda p, _: values[_path_key(p)], shardings)


def create(cfg: ModelConfig, tx, mesh, seed: int):
    """A fresh train state, each array created on its devices.

    Returns:
        (graphdef, state, shardings): state is {"params": ..., "opt": ...}.
    """
    graphdef, abstract_params, _, shardings = _plan(cfg, tx, mesh, seed)
    with jax.set_mesh(mesh):
        params = init_params(abstract_params, shardings["params"], seed)
        opt = jax.jit(tx.init, out_shardings=shardings["opt"])(params)
    return graphdef, {"params": params, "opt": opt}, shardings


def abstract_state(cfg: ModelConfig, tx, mesh, seed: int):
    """(graphdef, abstract train state with shardings, shardings): restore targets, nothing allocated."""
    graphdef, _, abstract, shardings = _plan(cfg, tx, mesh, seed)
    targets = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)
    return graphdef, targets, shardings


def count_params(params: dict) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))

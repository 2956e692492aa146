"""The train state (parameters and optimizer state as plain dicts of arrays), created directly sharded on the
mesh: parameter shardings come from each parameter's logical `axes` through mesh.RULES, and optimizer moments
take the sharding of the parameter they belong to."""

from __future__ import annotations

import jax
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
    """(graphdef, init function, abstract state, shardings) of a train state {"params": ..., "opt": ...}."""
    graphdef, abstract_params = abstract_model(cfg, seed)

    def init():
        params = nnx.to_pure_dict(nnx.state(Llama(cfg, nnx.Rngs(seed))))
        return {"params": params, "opt": tx.init(params)}

    abstract = jax.eval_shape(init)
    return graphdef, init, abstract, state_shardings(abstract, param_shardings(abstract_params, mesh), mesh)


def create(cfg: ModelConfig, tx, mesh, seed: int):
    """A fresh train state, each array created on its devices.

    Returns:
        (graphdef, state, shardings): state is {"params": ..., "opt": ...}.
    """
    graphdef, init, _, shardings = _plan(cfg, tx, mesh, seed)
    with jax.set_mesh(mesh):
        state = jax.jit(init, out_shardings=shardings)()
    return graphdef, state, shardings


def abstract_state(cfg: ModelConfig, tx, mesh, seed: int):
    """(graphdef, abstract train state with shardings, shardings): restore targets, nothing allocated."""
    graphdef, _, abstract, shardings = _plan(cfg, tx, mesh, seed)
    targets = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)
    return graphdef, targets, shardings


def count_params(params: dict) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))

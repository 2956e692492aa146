"""The device mesh and the one table that maps logical axes of parameters and activations onto it.

Mesh axes are `data`, `fsdp` and `tensor`. `--mesh 64x4` means fsdp=64 x tensor=4 with data taking the rest of
the devices; `--mesh data=2,fsdp=32,tensor=4` names them; one size may be -1 (whatever divides the devices).
"""

from __future__ import annotations

import math

from gecko_cli.errors import ConfigError

AXES = ("data", "fsdp", "tensor")

#: Logical axis -> mesh axes. Weights' d_model ("embed") goes over fsdp, heads and FFN columns over tensor, the
#: batch over data x fsdp; activations' d_model stays whole (the fsdp all-gather brings each layer's weights).
RULES: dict[str, tuple[str, ...] | None] = {
    "batch": ("data", "fsdp"),
    "seq": None,
    "embed": ("fsdp",),
    "act_embed": None,
    "mlp": ("tensor",),
    "heads": ("tensor",),
    "kv_heads": ("tensor",),
    "head_dim": None,
    "vocab": ("tensor",),
    "act_vocab": ("tensor",),
    "layers": None,
    "norm": None,
}


def parse_mesh(text: str) -> dict[str, int]:
    """Parse --mesh: "FSDPxTENSOR" ("64x4", "8", "-1x2") or "data=2,fsdp=32,tensor=4" (axes left out are 1,
    except data, which is -1 unless given). At most one size is -1."""
    text = text.strip().lower()
    if "=" in text:
        sizes = {"data": -1, "fsdp": 1, "tensor": 1}
        given = set()
        for part in text.split(","):
            name, _, value = part.partition("=")
            name = name.strip()
            if name not in AXES or name in given:
                raise ConfigError(f"--mesh {text!r}: {name!r} is not a mesh axis or is given twice",
                                  hint="axes: data, fsdp, tensor, e.g. --mesh data=2,fsdp=32,tensor=4")
            given.add(name)
            sizes[name] = _size(text, value)
        if "data" not in given and -1 in (sizes["fsdp"], sizes["tensor"]):
            sizes["data"] = 1
    else:
        parts = text.split("x")
        if len(parts) > 2:
            raise ConfigError(f"--mesh {text!r}: expected FSDPxTENSOR such as 64x4, or data=..,fsdp=..,tensor=..")
        fsdp = _size(text, parts[0])
        tensor = _size(text, parts[1]) if len(parts) == 2 else 1
        sizes = {"data": 1 if -1 in (fsdp, tensor) else -1, "fsdp": fsdp, "tensor": tensor}
    if list(sizes.values()).count(-1) > 1:
        raise ConfigError(f"--mesh {text!r}: at most one axis may be -1")
    return sizes


def _size(text: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"--mesh {text!r}: {value!r} is not a whole number") from None
    if n == 0 or n < -1:
        raise ConfigError(f"--mesh {text!r}: sizes must be positive (or one -1), not {n}")
    return n


def resolve_mesh(sizes: dict[str, int], num_devices: int) -> dict[str, int]:
    """Fill the -1 axis and check that the mesh uses exactly `num_devices` devices."""
    known = math.prod(v for v in sizes.values() if v != -1)
    out = dict(sizes)
    shape = "x".join(f"{k}={v}" for k, v in sizes.items())
    if known > num_devices:
        raise ConfigError(f"mesh {shape} needs {'at least ' if -1 in sizes.values() else ''}{known} devices, but "
                          f"{num_devices} are available", hint="choose a smaller mesh, or run on more devices")
    if -1 in sizes.values():
        if num_devices % known:
            raise ConfigError(f"mesh {shape} does not divide the {num_devices} devices ({known} does not divide "
                              f"{num_devices})", hint="choose axis sizes whose product divides the device count")
        out[next(k for k, v in sizes.items() if v == -1)] = num_devices // known
    elif known != num_devices:
        raise ConfigError(f"mesh {shape} needs {known} devices, but {num_devices} are available",
                          hint=f"choose axis sizes whose product is {num_devices}, or leave one -1")
    return out


def make_mesh(sizes: dict[str, int]):
    """The jax Mesh (axis types Auto: GSPMD propagates shardings from the annotated arrays)."""
    import jax
    from jax.sharding import AxisType

    shape = tuple(sizes[a] for a in AXES)
    return jax.make_mesh(shape, AXES, axis_types=(AxisType.Auto,) * len(AXES))


def spec(names: tuple[str | None, ...]):
    """The PartitionSpec of an array whose dimensions have these logical names (unknown names are replicated)."""
    from jax.sharding import PartitionSpec as P

    out = []
    for name in names:
        axes = RULES.get(name) if name else None
        out.append(None if not axes else (axes[0] if len(axes) == 1 else tuple(axes)))
    return P(*out)


def constrain(x, names: tuple[str | None, ...]):
    """Pin an activation's sharding by logical names while tracing under a mesh (`jax.set_mesh`); a no-op when
    no mesh is set (single-device use such as evaluation)."""
    import jax

    mesh = jax.sharding.get_abstract_mesh()
    if mesh is None or mesh.empty:
        return x
    return jax.lax.with_sharding_constraint(x, spec(names))


def describe(sizes: dict[str, int]) -> str:
    return " x ".join(f"{k}={v}" for k, v in sizes.items())

"""Reading --total and --rule values."""

from __future__ import annotations

import dataclasses
import re

from gecko_cli.errors import ConfigError
from gecko_cli.units import parse_bytes

_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_COUNT_FACTORS = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parse_total(text: str | float, by: str) -> float:
    """`--total`: a size in bytes (2GB, 500MB) for --by bytes, a token count (200B, 1.5T, 300M) for --by tokens."""
    if not isinstance(text, str):
        return float(text)
    if by == "bytes":
        return float(parse_bytes(text, "--total"))
    m = _COUNT.match(text)
    if not m:
        raise ConfigError(f"--total: cannot read {text!r} as a number of tokens", hint="write it like 200B, 1.5T or 300M")
    return float(m.group(1)) * _COUNT_FACTORS[m.group(2).lower()]


def rules_config(cfg, items: list[str]):
    """The config with quality-rule thresholds set from `NAME=VALUE` items (`NAME=off` turns a rule off)."""
    fields = {f.name: f for f in dataclasses.fields(cfg.rules)}
    changes = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise ConfigError(f"--rule {item!r}: unknown rule setting {name!r}" if sep else f"--rule {item!r}: no '='",
                              hint=f"settings: {', '.join(sorted(fields))}; write NAME=VALUE or NAME=off")
        changes[name] = _value(name, value.strip(), getattr(cfg.rules, name))
    return dataclasses.replace(cfg, rules=dataclasses.replace(cfg.rules, **changes))


def _value(name: str, text: str, default):
    if text.lower() in ("off", "none"):
        return None
    try:
        return int(text) if isinstance(default, int) and not isinstance(default, bool) and "." not in text else float(text)
    except ValueError:
        raise ConfigError(f"--rule {name}={text}: not a number", hint="write a number, or off") from None

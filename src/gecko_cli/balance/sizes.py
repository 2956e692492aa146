"""Reading --total and --rule values."""

from __future__ import annotations

import dataclasses
import math
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
    value = float(m.group(1)) * _COUNT_FACTORS[m.group(2).lower()] if m else math.nan
    if not math.isfinite(value):
        raise ConfigError(f"--total: cannot read {text!r} as a number of tokens", hint="write it like 200B, 1.5T or 300M")
    return value


def rules_config(cfg, items: list[str]):
    """The config with quality-rule thresholds set from `NAME=VALUE` items (`NAME=off` turns a rule off)."""
    fields = {f.name for f in dataclasses.fields(cfg.rules)}
    changes = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise ConfigError(f"--rule {item!r}: unknown rule setting {name!r}" if sep else f"--rule {item!r}: no '='",
                              hint=f"settings: {', '.join(sorted(fields))}; write NAME=VALUE or NAME=off")
        changes[name] = value.strip()  # RulesConfig reads and checks the text ("0.3", "off")
    return dataclasses.replace(cfg, rules=dataclasses.replace(cfg.rules, **changes))

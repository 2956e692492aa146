"""Parsing of human-written quantities such as `256MB`."""

from __future__ import annotations

import math
import re

from gecko_cli.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
            "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_bytes(text: str | int, what: str = "size") -> int:
    """Parse `256MB`, `1.5G`, `64KiB` or a plain number of bytes.

    Args:
        text: the value as the user wrote it.
        what: the option name, for the error message.

    Returns:
        The size in bytes.
    """
    if isinstance(text, int):
        return text
    m = _SIZE.match(text)
    value = float(m.group(1)) * _FACTORS[(m.group(2) or "").lower().removesuffix("b")] if m else math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{what}: cannot read {text!r} as a size", hint="write it like 256MB, 2GB or 1048576")
    return int(value)


def format_bytes(n: float) -> str:
    """Format a byte count for people: 1.2 MB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgbt]?)\s*$", re.IGNORECASE)
_COUNT_FACTORS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "b": 2**30, "t": 2**40}


def parse_count(text: str | int, what: str) -> int:
    """Parse a token count such as `4M`: K, M and G/B are powers of two (4M = 4,194,304 = 512 rows of 8192),
    as batch sizes of language models are quoted.

    Args:
        text: the value as the user wrote it.
        what: the option name, for the error message.

    Returns:
        The count.
    """
    if isinstance(text, int):
        return text
    m = _COUNT.match(text)
    value = float(m.group(1)) * _COUNT_FACTORS[m.group(2).lower()] if m else math.nan
    if not value.is_integer():  # NaN and infinities are not integers either
        raise ConfigError(f"{what}: cannot read {text!r} as a whole count", hint="write it like 65536, 64K or 4M")
    if value < 1:
        raise ConfigError(f"{what} must be positive, not {text.strip()}", hint="write it like 65536, 64K or 4M")
    return int(value)

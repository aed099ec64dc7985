"""Link rates as `tc` writes them ("50mbit"), parsed to bits per second and printed back.

The lab shapes every peer's upload (and optionally download) with `tc`, and computes the
Kumar–Ross bound from the same figures, so one parser serves both: a rate is a number and a
decimal unit of *bits* per second (`bit`, `kbit`, `mbit`, `gbit`; tc(8) uses the same SI
prefixes), and "0", "none" or "unlimited" mean no limit (None). tc's byte units (`kbps`,
`mbps`: bytes per second there, bits per second almost everywhere else) are refused rather
than guessed, since a factor-8 mistake would make every efficiency figure wrong.
"""

from __future__ import annotations

import re

from bitswarm.errors import BitswarmError

__all__ = ["RateError", "bytes_per_second", "format_rate", "parse_rate", "tc_rate"]

_UNITS: dict[str, int] = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}
_UNLIMITED = frozenset({"0", "none", "unlimited", "inf"})
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z/]*)\s*$")


class RateError(BitswarmError):
    """A rate on the command line that cannot be read."""


def parse_rate(text: str) -> int | None:
    """'50mbit' -> 50_000_000 bits/s; '0', 'none', 'unlimited' -> None (no limit).

    A bare number is in bits per second. Fractions are allowed ('1.5mbit'); the result is
    rounded to whole bits per second and must be at least 8 (one byte a second).
    """
    lowered = text.strip().lower()
    if lowered in _UNLIMITED:
        return None
    match = _RATE.match(lowered)
    if match is None:
        raise RateError(f"not a rate: {text!r} (try 50mbit, 512kbit, or 0 for no limit)")
    number, unit = match.groups()
    if unit in ("kbps", "mbps", "gbps", "bps", "b/s", "kb/s", "mb/s", "gb/s"):
        raise RateError(
            f"ambiguous rate unit in {text!r}: write bits per second as kbit, mbit or gbit"
        )
    scale = _UNITS.get(unit or "bit")
    if scale is None:
        raise RateError(f"unknown rate unit {unit!r} in {text!r} (use bit, kbit, mbit, gbit)")
    bits = round(float(number) * scale)
    if bits == 0 and float(number) == 0:
        return None
    if bits < 8:
        raise RateError(f"rate {text!r} is below one byte per second")
    return bits


def format_rate(bits_per_second: int | None) -> str:
    """50_000_000 -> '50mbit', 1_500_000 -> '1.5mbit', None -> 'unlimited'."""
    if bits_per_second is None:
        return "unlimited"
    for unit, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits_per_second >= scale:
            value = bits_per_second / scale
            text = f"{value:.3f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{bits_per_second}bit"


def tc_rate(bits_per_second: int) -> str:
    """The rate as `tc` takes it, exactly: '50000000bit'."""
    if bits_per_second <= 0:
        raise ValueError(f"tc needs a positive rate, not {bits_per_second}")
    return f"{bits_per_second}bit"


def bytes_per_second(bits_per_second: int) -> float:
    return bits_per_second / 8.0

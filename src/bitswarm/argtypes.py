"""Argument types that refuse impossible values while the command line is parsed.

Each is an `argparse` `type=` callable: a bad value becomes a one-line usage error with
exit status 2, the same for every command (download, seed, stream, daemon, dht, tracker),
instead of a later check's exit 1 or a session that waits forever (`--max-peers 0`).
Shared by the CLI and the tracker server's own argument parser (they are different
layers, so the types live below both).
"""

from __future__ import annotations

import argparse
import math

__all__ = [
    "max_peers",
    "non_negative_int",
    "port_number",
    "port_or_any",
    "positive_float",
    "positive_int",
]


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def _port(text: str, *, zero: bool) -> int:
    value = _int(text, "a port number")
    low = 0 if zero else 1
    if not low <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range ({low}..65535)")
    return value


def port_number(text: str) -> int:
    """A TCP/UDP port 1..65535 (where 0, "any free port", means nothing useful)."""
    return _port(text, zero=False)


def port_or_any(text: str) -> int:
    """A port 1..65535, or 0 for any free port the kernel picks."""
    return _port(text, zero=True)


def max_peers(text: str) -> int:
    """A positive number of connections (0 would never connect to anyone)."""
    value = _int(text, "a number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} peers would never connect: give 1 or more")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    value = _int(text, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive: give 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of at least 0."""
    value = _int(text, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (seconds, say)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


port_number.__name__ = port_or_any.__name__ = "port"
max_peers.__name__ = "number of peers"
positive_int.__name__ = non_negative_int.__name__ = "whole number"
positive_float.__name__ = "number"

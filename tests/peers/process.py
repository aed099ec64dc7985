"""Moved to `bitswarm.lab.peers.process`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.process import (
    JsonLineFeed,
    LineHandler,
    ManagedProcess,
    ResourceUsage,
)

__all__ = [
    "JsonLineFeed",
    "LineHandler",
    "ManagedProcess",
    "ResourceUsage",
]

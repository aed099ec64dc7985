"""Moved to `bitswarm.lab.peers.logged_bitswarm`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.logged_bitswarm import (
    LoggedBitswarmPeer,
)

__all__ = [
    "LoggedBitswarmPeer",
]

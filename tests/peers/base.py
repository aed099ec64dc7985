"""Moved to `bitswarm.lab.peers.base`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.base import (
    Endpoint,
    HarnessError,
    Peer,
    PeerExitedError,
    PeerSpec,
    PeerStatus,
    PeerTimeoutError,
    Role,
)

__all__ = [
    "Endpoint",
    "HarnessError",
    "Peer",
    "PeerExitedError",
    "PeerSpec",
    "PeerStatus",
    "PeerTimeoutError",
    "Role",
]

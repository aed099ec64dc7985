"""Moved to `bitswarm.lab.peers.transfer`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.transfer import (
    PEER_CLASSES,
    TransferResult,
    run_transfer,
)

__all__ = [
    "PEER_CLASSES",
    "TransferResult",
    "run_transfer",
]

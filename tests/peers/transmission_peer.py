"""Moved to `bitswarm.lab.peers.transmission_peer`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.transmission_peer import (
    TorrentState,
    TransmissionPeer,
)

__all__ = [
    "TorrentState",
    "TransmissionPeer",
]

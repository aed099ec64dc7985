"""Moved to `bitswarm.lab.peers.netns`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.netns import (
    NAMESPACE_PREFIX,
    NetworkNamespace,
    free_port,
    netns_unavailable_reason,
    open_socket,
    sweep_stale_namespaces,
)

__all__ = [
    "NAMESPACE_PREFIX",
    "NetworkNamespace",
    "free_port",
    "netns_unavailable_reason",
    "open_socket",
    "sweep_stale_namespaces",
]

"""Moved to `bitswarm.lab.peers.http_rpc`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.http_rpc import (
    HttpReply,
    http_request,
    post_json,
)

__all__ = [
    "HttpReply",
    "http_request",
    "post_json",
]

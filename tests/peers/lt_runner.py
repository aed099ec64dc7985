"""Moved to `bitswarm.lab.peers.lt_runner`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

import sys

from bitswarm.lab.peers.lt_runner import (
    add_torrent,
    emit,
    main,
    make_settings,
    run,
    split_endpoint,
    status_fields,
)

__all__ = [
    "add_torrent",
    "emit",
    "main",
    "make_settings",
    "run",
    "split_endpoint",
    "status_fields",
]

if __name__ == "__main__":
    sys.exit(main())

"""`run`: start the tracker as the command line asked, in one process or several.

One process runs `app.serve` in its own event loop; with ``workers > 1`` a small
supervisor (workers.py) forks N such processes sharing the ports.

Workers and stores: with the in-memory store each swarm lives in one worker, and the
supervisor routes or forwards every request to it (workers.py, shard_store.py); with
``--store redis://...`` all workers, and trackers on other machines, share Redis.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import replace

from .app import load_whitelist, make_store, serve
from .config import ConfigError
from .logs import setup_logging
from .options import ServerOptions
from .workers import supervise

__all__ = ["run"]


def run(options: ServerOptions) -> int:
    """Run the tracker as the command line asked; returns the exit status."""
    if options.http is None and options.udp is None:
        raise ConfigError("nothing to serve: give --http, --udp or both")
    if options.workers < 1:
        raise ConfigError("--workers must be at least 1")
    setup_logging(options.log_level, options.log_file, pid=os.getpid())
    make_store(options.store, options.config)  # refuse a bad --store before binding
    if options.whitelist is not None:
        load_whitelist(options.whitelist)  # a bad list is an error at start, not at SIGHUP
    key = options.udp_key or secrets.token_bytes(32)
    if options.workers == 1:
        asyncio.run(serve(_with_key(options, key)))
        return 0
    return supervise(_with_key(options, key))


def _with_key(options: ServerOptions, key: bytes) -> ServerOptions:
    return replace(options, udp_key=key)

"""`run`: start the tracker as the command line asked, in one process or several.

One process runs `app.serve` in its own event loop; with ``workers > 1`` a small
supervisor (workers.py) forks N such processes sharing the ports.

Workers and stores: the in-memory store lives inside one process, so N workers on it
would be N separate trackers behind one port, and two clients of one torrent could land
on different workers and never see each other. `run` therefore refuses ``--workers N``
with the memory store unless ``--split-swarms`` says that is intended (benchmarks,
sharded set-ups); shared swarms need ``--store redis://...``.
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
    if options.workers > 1 and options.store == "memory" and not options.split_swarms:
        raise ConfigError(
            "--workers with the in-memory store would make each worker a separate tracker "
            "(peers on different workers never meet); use --store redis://HOST:PORT to share "
            "swarms, or add --split-swarms if that is really what you want"
        )
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

"""The tracker's command line: ``bitswarm tracker [flags]`` and ``python -m
bitswarm.tracker_server [flags]`` are the same program with the same flags, defined here.

With no address flags it serves both protocols on port 6969 of every interface, keeping
swarms in memory. Flags map one to one onto `TrackerConfig` and `ServerOptions`; the work
is done by `launch.run`. See docs/tracker.md. The general command line (`bitswarm.cli`)
adds these flags as its ``tracker`` command; the tracker server never imports it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..argtypes import non_negative_int, positive_float, positive_int
from .config import (
    DEFAULT_INTERVAL,
    DEFAULT_MAX_NUMWANT,
    DEFAULT_MAX_PEERS_PER_SWARM,
    DEFAULT_MAX_SWARMS,
    DEFAULT_MIN_INTERVAL,
    DEFAULT_PEER_TIMEOUT,
    ConfigError,
    TrackerConfig,
    parse_networks,
)
from .launch import run
from .options import ServerOptions, parse_endpoint

__all__ = ["cmd_tracker", "options_from_args", "register"]

_DEFAULT_PORT = 6969


def _endpoint(text: str) -> tuple[str, int]:
    try:
        return parse_endpoint(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tracker", help="run a BitTorrent tracker (HTTP and UDP)",
        description="Run a BitTorrent tracker: HTTP announce/scrape (BEP 3, 23, 7, 48) and "
                    "UDP (BEP 15, 41), with /metrics and /stats on the HTTP port.",
    )  # fmt: skip
    p.add_argument("--http", type=_endpoint, metavar="HOST:PORT",
                   help=f"serve HTTP here (default 0.0.0.0:{_DEFAULT_PORT} when neither "
                        "--http nor --udp is given)")  # fmt: skip
    p.add_argument(
        "--udp",
        type=_endpoint,
        metavar="HOST:PORT",
        help=f"serve UDP here (default 0.0.0.0:{_DEFAULT_PORT} likewise)",
    )
    p.add_argument("--store", default="memory",
                   metavar="memory|redis://...|redis+cluster://HOST:PORT[,HOST:PORT...]",
                   help="where swarms live: in this process (default), a Redis server "
                        "shared by several tracker processes, or a Redis Cluster (its "
                        "startup nodes; each swarm lives in one slot)")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="processes sharing the ports (SO_REUSEPORT); with the memory store "
                        "each swarm lives in the one that gets its announces")  # fmt: skip
    p.add_argument("--whitelist", type=Path, metavar="FILE",
                   help="private mode: track only the info-hashes in FILE (hex, one a line); "
                        "SIGHUP rereads it (default: track every torrent)")  # fmt: skip
    p.add_argument(
        "--interval",
        type=positive_int,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"announce interval sent to clients (default {DEFAULT_INTERVAL})",
    )
    p.add_argument(
        "--min-interval",
        type=positive_int,
        default=DEFAULT_MIN_INTERVAL,
        metavar="SECONDS",
        help=f"minimum announce interval (default {DEFAULT_MIN_INTERVAL})",
    )
    p.add_argument(
        "--peer-timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="drop a peer not heard from for this long "
        f"(default {DEFAULT_PEER_TIMEOUT} or twice --interval plus 5 min)",
    )
    p.add_argument(
        "--numwant",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="peers returned when a client does not say (default 50)",
    )
    p.add_argument(
        "--max-numwant",
        type=positive_int,
        default=DEFAULT_MAX_NUMWANT,
        metavar="N",
        help=f"hard cap on peers returned (default {DEFAULT_MAX_NUMWANT})",
    )
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="believe X-Forwarded-For and ip= from these addresses (repeatable; default: none)",
    )
    p.add_argument("--no-full-scrape", action="store_true", help="refuse /scrape without info_hash")
    p.add_argument("--max-swarms", type=positive_int, default=DEFAULT_MAX_SWARMS, metavar="N",
                   help="torrents tracked at most; an announce that would start one more "
                        f"gets a failure reason (default {DEFAULT_MAX_SWARMS})")  # fmt: skip
    p.add_argument("--max-peers-per-swarm", type=positive_int,
                   default=DEFAULT_MAX_PEERS_PER_SWARM, metavar="N",
                   help="peers stored per torrent at most; a newcomer to a full swarm "
                        "gets peers but is not stored "
                        f"(default {DEFAULT_MAX_PEERS_PER_SWARM})")  # fmt: skip
    p.add_argument("--rate-limit", type=float, default=0.0, metavar="PER_SECOND",
                   help="requests per second allowed from one address, 0 for no limit "
                        "(default 0); the burst is 10 seconds' worth")  # fmt: skip
    # SUPPRESS: `bitswarm --log-level debug tracker` (the general command line's global
    # option, given before the command) is not reset by this default.
    p.add_argument("--log-level", default=argparse.SUPPRESS,
                   choices=["debug", "info", "warning", "error"],
                   help="log this level and above (default: info)")  # fmt: skip
    p.set_defaults(handler=cmd_tracker)


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    """The `ServerOptions` that the parsed flags describe (ConfigError when they cannot work)."""
    http: tuple[str, int] | None = args.http
    udp: tuple[str, int] | None = args.udp
    if http is None and udp is None:
        http = udp = ("0.0.0.0", _DEFAULT_PORT)
    peer_timeout = args.peer_timeout
    if peer_timeout is None:
        peer_timeout = max(float(DEFAULT_PEER_TIMEOUT), 2.0 * args.interval + 300)
    numwant = min(50, args.max_numwant) if args.numwant is None else args.numwant
    config = TrackerConfig(
        interval=args.interval,
        min_interval=min(args.min_interval, args.interval),
        peer_timeout=peer_timeout,
        default_numwant=numwant,
        max_numwant=args.max_numwant,
        full_scrape=not args.no_full_scrape,
        trusted_proxies=parse_networks(args.trusted_proxy),
        rate_limit=args.rate_limit,
        rate_burst=int(args.rate_limit * 10),
        max_swarms=args.max_swarms,
        max_peers_per_swarm=args.max_peers_per_swarm,
    )
    key_hex = os.environ.get("BITSWARM_TRACKER_KEY", "")
    try:
        key = bytes.fromhex(key_hex) if key_hex else b""
    except ValueError:
        raise ConfigError("BITSWARM_TRACKER_KEY must be hex (32 to 128 digits)") from None
    return ServerOptions(
        http=http, udp=udp, store=args.store, workers=args.workers,
        whitelist=args.whitelist, config=config,
        log_level=getattr(args, "log_level", None) or "info", udp_key=key,
        log_file=getattr(args, "log_file", None),
    )  # fmt: skip


def cmd_tracker(args: argparse.Namespace) -> int:
    return run(options_from_args(args))

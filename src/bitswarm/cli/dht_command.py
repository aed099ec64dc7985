"""`bitswarm dht`: run a standalone DHT node and show its state.

    bitswarm dht --port P [--bind ADDR] [--bind6 ADDR] [--bootstrap HOST:PORT ...]
                 [--state FILE] [--interval S] [--read-only] [--json]

The node prints its id, good/questionable/bad nodes, buckets and traffic counters every
`--interval` seconds and whenever it gets SIGUSR1; SIGINT or SIGTERM stop it (saving the
routing table to `--state`). ``--bootstrap default`` adds the routers real clients use;
nothing is contacted unless asked. ``--json`` prints one JSON object per line instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import cast

from ..aio.dht import DhtService
from ..argtypes import port_or_any, positive_float
from ..dht import DhtConfig, DhtStatus, parse_bootstrap
from ..dht.krpc import Addr
from ..errors import BitswarmError
from . import events
from .render import format_size

__all__ = ["cmd_dht", "format_status", "register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dht", help="run a standalone DHT node (BEP 5) and print its state",
        description="Run a DHT node: it joins through --bootstrap nodes (or the nodes saved "
                    "in --state), answers other nodes, and prints its routing table "
                    "periodically and on SIGUSR1.",
    )  # fmt: skip
    p.add_argument(
        "--port", type=port_or_any, default=6881, help="UDP port (default 6881; 0 = any)"
    )
    p.add_argument(
        "--bind",
        default="0.0.0.0",
        metavar="ADDR",
        help="address to listen on (default 0.0.0.0; an IPv6 address runs an IPv6-only node)",
    )
    p.add_argument(
        "--bind6",
        default=None,
        metavar="ADDR",
        help="also run an IPv6 node on this address, same port and id (BEP 32) "
        "(default: IPv4 only)",
    )
    p.add_argument(
        "--bootstrap",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a node to join through (repeatable); 'default' = the public routers",
    )
    p.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="FILE",
        help="load the node id and routing table from FILE, save them on exit "
        "(default: a fresh id, nothing saved)",
    )
    p.add_argument(
        "--interval",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="seconds between status prints (default 30)",
    )
    p.add_argument(
        "--read-only", action="store_true", help="BEP 43 read-only node: ask, never answer"
    )
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.set_defaults(handler=cmd_dht)


def cmd_dht(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise BitswarmError("--interval must be positive")
    bootstrap = parse_bootstrap(args.bootstrap)
    config = DhtConfig(read_only=args.read_only)
    return asyncio.run(_run(args, config, bootstrap))


async def _run(args: argparse.Namespace, config: DhtConfig, bootstrap: list[Addr]) -> int:
    loop = asyncio.get_running_loop()
    stop, show = asyncio.Event(), asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, show.set)
    service = DhtService(config, state_path=args.state)
    await service.start(args.bind, args.port, bootstrap, host6=args.bind6)
    try:
        _emit(args, {"event": "listening", "node_id": service.node_id.hex(),
                     "addresses": [_addr_text(a) for a in service.addresses]},
              f"DHT node {service.node_id.hex()} listening on "
              + ", ".join(_addr_text(a) for a in service.addresses))  # fmt: skip
        joined: asyncio.Task[int] | None = asyncio.ensure_future(service.bootstrapped())
        next_print = loop.time()
        while not stop.is_set():
            if joined is not None and joined.done():
                _emit(
                    args,
                    {"event": "bootstrapped", "good_nodes": joined.result()},
                    f"bootstrap done: {joined.result()} good nodes",
                )
                joined = None
            if show.is_set() or loop.time() >= next_print:
                show.clear()
                _print_status(args, service)
                next_print = loop.time() + args.interval
            waiters: list[asyncio.Future[object]] = [
                asyncio.ensure_future(e.wait()) for e in (stop, show)
            ]
            if joined is not None:
                waiters.append(cast("asyncio.Future[object]", joined))
            await asyncio.wait(
                waiters,
                timeout=max(0.0, next_print - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for w in waiters[:2]:
                w.cancel()
        _print_status(args, service)
    finally:
        await service.aclose()
    return 0


def _addr_text(addr: Addr) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _emit(args: argparse.Namespace, record: dict[str, object], text: str) -> None:
    if args.json:  # docs/json-events.md
        fields = {k: v for k, v in record.items() if k != "event"}
        print(json.dumps(events.event(str(record["event"]), **fields)), flush=True)
    elif not args.quiet or record["event"] == "listening":
        print(text, flush=True)


def _print_status(args: argparse.Namespace, service: DhtService) -> None:
    for addr, status in service.status():
        _emit(
            args,
            {"event": "status", "address": _addr_text(addr), **status.as_json()},
            format_status(addr, status),
        )


def format_status(addr: Addr, status: DhtStatus) -> str:
    """Three lines for a person: the node, its buckets, its traffic."""
    c = status.counters
    mode = " read-only" if status.read_only else ""
    head = (
        f"{time.strftime('%H:%M:%S')} node {status.node_id.hex()} IPv{status.family}{mode} "
        f"{_addr_text(addr)}: {status.good} good, {status.questionable} questionable, "
        f"{status.bad} bad; {status.torrents} torrents ({status.stored_peers} peers "
        f"stored); {status.lookups} lookups, {status.pending} queries pending"
    )
    buckets = " ".join(
        f"{b.depth}:{b.good}/{b.questionable}/{b.bad}" + (f"+{b.replacements}" if b.replacements
                                                           else "")
        for b in status.buckets
    )  # fmt: skip
    traffic = (
        f"  traffic: in {c['datagrams_in']} ({format_size(c['bytes_in'])}), "
        f"out {c['datagrams_out']} ({format_size(c['bytes_out'])}); queries "
        f"{c['queries_in']}, malformed {c['malformed']}, oversized {c['oversized']}, "
        f"rate-limited {c['rate_limited']}, unmatched {c['unmatched']}, "
        f"timeouts {c['timeouts']}, bad tokens {c['bad_tokens']}"
    )
    return f"{head}\n  buckets (depth:good/questionable/bad+cached): {buckets}\n{traffic}"

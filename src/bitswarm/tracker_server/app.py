"""Build and run one tracker process: sockets, store, front-ends, signals, housekeeping.

`serve` runs one tracker in the current event loop until stopped: it opens the store,
binds the HTTP and UDP sockets (with SO_REUSEPORT when several workers share them),
starts both front-ends, prints one ``listening`` JSON line on stdout, then sweeps the
store every few seconds, rereads the whitelist on SIGHUP and stops on SIGTERM/SIGINT.

What the command line calls is `launch.run`: one such process, or a supervisor
(workers.py) that forks N of them sharing the ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..aio.fdlimit import AcceptErrors, raise_open_file_limit
from ..readlimit import MAX_LIST_FILE, InputTooLarge, read_limited
from .config import ConfigError, TrackerConfig
from .conn_ids import ConnectionIds
from .http_frontend import HttpFrontend
from .memory_store import MemorySwarmStore
from .metrics import Snapshot, merge
from .options import ServerOptions
from .service import TrackerService
from .shard_store import ShardedStore, ShardSetup
from .store import SwarmStore
from .udp_frontend import UdpFrontend
from .whitelist import Whitelist, parse_whitelist

__all__ = [
    "ReadyCallback",
    "bind_socket",
    "load_whitelist",
    "make_store",
    "print_ready",
    "serve",
]

log = logging.getLogger("bitswarm.tracker")
_TICK = 1.0  # workers publish their counters this often
_HOUSEKEEPING_TICKS = 5  # and sweep the store every this many ticks


def bind_socket(endpoint: tuple[str, int], kind: int, *, reuse_port: bool) -> socket.socket:
    """A bound (and for TCP, listening) socket; IPv6 hosts get an IPv6 socket."""
    host, port = endpoint
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if kind == socket.SOCK_DGRAM:
            with contextlib.suppress(OSError):  # a bigger buffer rides out bursts
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def make_store(url: str, config: TrackerConfig) -> SwarmStore:
    """``memory``, ``redis://...`` / ``rediss://...`` / ``unix://...`` (one Redis), or
    ``redis+cluster://host:port,...`` / ``rediss+cluster://...`` (a Redis Cluster).

    Raises:
        ConfigError: any other store, or a redis URL without redis-py installed (the
            ``bitswarm[redis]`` extra).
    """
    if url == "memory":
        return MemorySwarmStore(config, random.Random())
    cluster = url.startswith(("redis+cluster://", "rediss+cluster://"))
    if cluster or url.startswith(("redis://", "rediss://", "unix://")):
        try:  # imported only when used: a fast start, and redis-py is an extra
            from .redis_cluster_store import RedisClusterSwarmStore
            from .redis_store import RedisSwarmStore
        except ModuleNotFoundError as exc:
            if exc.name != "redis" and not (exc.name or "").startswith("redis."):
                raise
            raise ConfigError(
                f"--store {url!r} needs redis-py: pip install 'bitswarm[redis]'"
            ) from None
        return RedisClusterSwarmStore(url, config) if cluster else RedisSwarmStore(url, config)
    raise ConfigError(
        f"--store {url!r}: expected 'memory', a redis:// URL or redis+cluster://host:port,..."
    )


def load_whitelist(path: Path) -> frozenset[bytes]:
    """Read and parse a whitelist file (ConfigError / OSError on failure)."""
    try:
        raw = read_limited(path, MAX_LIST_FILE, what="whitelist")
    except InputTooLarge as exc:
        raise ConfigError(str(exc)) from None
    return parse_whitelist(raw.decode("utf-8", errors="replace"), source=str(path))


class _MetricsShare:
    """With workers: each writes its counters to a shared folder; /metrics merges them."""

    def __init__(self, folder: Path | None, worker: int, own: Callable[[], Snapshot]) -> None:
        self.folder, self.worker, self.own = folder, worker, own

    def write(self) -> None:
        if self.folder is None:
            return
        path = self.folder / f"worker-{self.worker}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.own()))
        tmp.replace(path)

    def merged(self) -> Snapshot:
        if self.folder is None:
            return self.own()
        snaps = [self.own()]
        for path in self.folder.glob("worker-*.json"):
            if path.name != f"worker-{self.worker}.json":
                with contextlib.suppress(OSError, ValueError):
                    snaps.append(json.loads(path.read_text()))
        return merge(snaps)


ReadyCallback = Callable[[int | None, int | None], None]


async def serve(
    options: ServerOptions, *, worker: int = 0, metrics_dir: Path | None = None,
    on_ready: ReadyCallback | None = None, shard: ShardSetup | None = None,
) -> None:  # fmt: skip
    """Run one tracker process until SIGTERM or SIGINT (see the module docstring).

    `shard`: this worker's part of ``--workers N`` on the memory store (its swarms, its
    UDP socket in the routed reuseport group, the links to the other workers).
    """
    loop = asyncio.get_running_loop()
    raise_open_file_limit()
    AcceptErrors(loop).install(loop)
    config = options.config
    whitelist = Whitelist()
    if options.whitelist is not None:
        whitelist.replace(load_whitelist(options.whitelist))
    store: SwarmStore = make_store(options.store, config)
    clock = time.time if store.wall_clock else loop.time
    if shard is not None and isinstance(store, MemorySwarmStore):
        store = ShardedStore(store, shard, clock)
        await store.start()
    service = TrackerService(config, store, clock=clock, whitelist=whitelist)
    share = _MetricsShare(metrics_dir, worker, service.metrics.snapshot)
    reuse = options.workers > 1
    http = udp = None
    stop = asyncio.Event()
    try:
        if options.http is not None:
            http = HttpFrontend(
                service, snapshot=share.merged,
                gauges=lambda: {"bitswarm_tracker_workers": float(options.workers)},
            )  # fmt: skip
            await http.start(bind_socket(options.http, socket.SOCK_STREAM, reuse_port=reuse))
        if options.udp is not None:
            udp = UdpFrontend(service, ConnectionIds(options.udp_key or secrets.token_bytes(32)))
            sock = shard.udp if shard is not None and shard.udp is not None else None
            await udp.start(sock or bind_socket(options.udp, socket.SOCK_DGRAM, reuse_port=reuse))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        path = options.whitelist
        loop.add_signal_handler(signal.SIGHUP, lambda: _reload(path, whitelist))
        if on_ready is None:
            print_ready(options, http_port=_port(http), udp_port=_port(udp))
        else:
            on_ready(_port(http), _port(udp))
        log.info("tracker started", extra={"store": _store_name(options.store), "worker": worker})
        ticks = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _TICK)
            ticks += 1
            if ticks % _HOUSEKEEPING_TICKS == 0:
                await service.housekeeping()
            with contextlib.suppress(OSError):
                share.write()
    finally:
        for front in (http, udp):
            if front is not None:
                await front.stop()
        await store.close()
        log.info("tracker stopped", extra={"worker": worker})


def _port(front: HttpFrontend | UdpFrontend | None) -> int | None:
    if front is None:
        return None
    sock = front.bound_socket()
    return int(sock.getsockname()[1]) if sock is not None else None


def _store_name(url: str) -> str:
    """The store URL without credentials (``redis://user:pw@host`` -> ``redis://host``)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else url


def _reload(path: Path | None, whitelist: Whitelist) -> None:
    if path is None:
        log.info("SIGHUP: no whitelist to reload")
        return
    try:
        hashes = load_whitelist(path)
    except (OSError, ConfigError) as exc:
        log.error("whitelist reload failed; keeping the old list", extra={"error": str(exc)})
        return
    whitelist.replace(hashes)
    log.info("whitelist reloaded", extra={"info_hashes": len(hashes)})


def print_ready(options: ServerOptions, *, http_port: int | None, udp_port: int | None) -> None:
    """The one line on stdout that says where the tracker listens (tests and scripts read it)."""
    # The form of the general command line's --json lines (docs/json-events.md, schema 1).
    line: dict[str, object] = {"event": "listening", "schema": 1, "time": round(time.time(), 3),
                               "workers": options.workers,
                               "store": _store_name(options.store)}  # fmt: skip
    if options.http is not None and http_port is not None:
        line["http"] = f"http://{_hostport(options.http[0], http_port)}/announce"
    if options.udp is not None and udp_port is not None:
        line["udp"] = f"udp://{_hostport(options.udp[0], udp_port)}/announce"
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

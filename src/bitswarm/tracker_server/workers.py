"""``--workers N``: a supervisor that forks N tracker processes sharing the ports.

Python runs one thread of Python code at a time, so a tracker uses more than one core
by running more than one process. Each worker binds its own HTTP socket to the same
address with SO_REUSEPORT and the kernel spreads connections over them; each worker has
its own event loop. They share the UDP connection-id key (forked after it was made), a
folder where they leave their counters for /metrics, and the swarms:

* with ``--store redis://``, in Redis; each worker binds its own UDP socket too;
* with the in-memory store, each swarm lives in one worker (shard_store.py). The
  supervisor binds the N UDP sockets itself, in order, with the reuseport program that
  sends each announce to the worker owning its info-hash (reuseport.py), and one Unix
  socket per worker for the others' forwarded requests; worker i gets socket i of each.
  The supervisor keeps them open, so a restarted worker takes over the same sockets.

The supervisor holds no event loop (forking with one is unsafe). It fixes the ports
first (port 0 becomes a real port, so every worker binds the same one), forks the
workers, waits until each says it listens, prints the one ``listening`` line, forwards
SIGTERM, SIGINT and SIGHUP, and restarts a worker that dies unexpectedly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import selectors
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .app import print_ready, serve
from .logs import setup_logging
from .options import ServerOptions
from .reuseport import bind_group
from .shard_store import ShardSetup

__all__ = ["supervise"]

log = logging.getLogger("bitswarm.tracker.workers")
_READY_TIMEOUT = 15.0
_RESTART_DELAY = 1.0


def _reserve(endpoint: tuple[str, int] | None, kind: int) -> tuple[tuple[str, int] | None,
                                                                 socket.socket | None]:  # fmt: skip
    """Turn port 0 into a free port; the bound (not listening) socket holds it meanwhile."""
    if endpoint is None or endpoint[1] != 0:
        return endpoint, None
    family = socket.AF_INET6 if ":" in endpoint[0] else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(endpoint)
    return (endpoint[0], int(sock.getsockname()[1])), sock


def _worker_main(options: ServerOptions, index: int, metrics_dir: Path, ready_fd: int,
                 shard: ShardSetup | None) -> int:  # fmt: skip
    """In the forked child: run one tracker; report readiness with one byte."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    setup_logging(options.log_level, options.log_file, pid=os.getpid(), worker=index)

    def ready(_http: int | None, _udp: int | None) -> None:
        os.write(ready_fd, b"r")

    try:
        asyncio.run(serve(options, worker=index, metrics_dir=metrics_dir, on_ready=ready,
                          shard=shard))  # fmt: skip
    except Exception:
        log.exception("worker failed", extra={"worker": index})
        return 1
    return 0


def supervise(options: ServerOptions) -> int:
    """Run `options.workers` tracker processes until SIGTERM/SIGINT; the exit status."""
    sharded = options.store == "memory"
    metrics_dir = Path(tempfile.mkdtemp(prefix="bitswarm-tracker-"))
    http, http_hold = _reserve(options.http, socket.SOCK_STREAM)
    udp_socks: list[socket.socket] = []
    links: list[socket.socket] = []
    udp_hold = None
    if sharded:
        links = [_listen_unix(metrics_dir / f"shard-{i}.sock") for i in range(options.workers)]
        udp = None
        if options.udp is not None:
            udp_socks, _routed = bind_group(options.udp, options.workers)
            udp = (options.udp[0], int(udp_socks[0].getsockname()[1]))
    else:
        udp, udp_hold = _reserve(options.udp, socket.SOCK_DGRAM)
    options = replace(options, http=http, udp=udp)
    paths = tuple(str(metrics_dir / f"shard-{i}.sock") for i in range(options.workers))
    read_fd, write_fd = os.pipe()
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read_fd)
                for hold in (http_hold, udp_hold):
                    if hold is not None:
                        hold.close()
                shard = None
                if sharded:
                    for i, sock in [*enumerate(udp_socks), *enumerate(links)]:
                        if i != index:
                            sock.close()  # this process's copy only; the others keep theirs
                    shard = ShardSetup(index, options.workers, links[index], paths,
                                       udp_socks[index] if udp_socks else None)  # fmt: skip
                code = _worker_main(options, index, metrics_dir, write_fd, shard)
            finally:
                os._exit(code)
        children[pid] = index

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            signum = signal.SIGTERM
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        for index in range(options.workers):
            spawn(index)
        if not _wait_ready(read_fd, options.workers):
            stopping = True
            forward(signal.SIGTERM, None)
            log.error("workers did not start in time")
        else:
            for hold in (http_hold, udp_hold):
                if hold is not None:
                    hold.close()  # the workers hold the ports now
            print_ready(options, http_port=http[1] if http else None,
                        udp_port=udp[1] if udp else None)  # fmt: skip
        status = 0
        while children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            index = children.pop(pid, -1)
            code = os.waitstatus_to_exitcode(wait_status)
            if stopping:
                continue
            log.error("worker died; restarting it", extra={"worker": index, "status": code})
            status = 1
            time.sleep(_RESTART_DELAY)
            if not stopping:
                spawn(index)
        return 0 if stopping and status == 0 else status
    finally:
        for hold in (http_hold, udp_hold, *udp_socks, *links):
            if hold is not None:
                hold.close()
        os.close(read_fd)
        os.close(write_fd)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _listen_unix(path: Path) -> socket.socket:
    """A listening Unix stream socket at `path` (a worker's link, shard_store.py)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _wait_ready(read_fd: int, count: int) -> bool:
    """Read one byte per worker from the pipe within `_READY_TIMEOUT` seconds."""
    deadline = time.monotonic() + _READY_TIMEOUT
    got = 0
    with selectors.DefaultSelector() as sel:
        sel.register(read_fd, selectors.EVENT_READ)
        while got < count:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return False
            got += len(os.read(read_fd, count - got))
    return True

"""`bitswarm demo`: a whole swarm on loopback — one seeder, several downloaders, live.

It generates a file, starts bitswarm's own tracker, makes a torrent that announces to it,
starts a seeding session and N downloading sessions in this process (each on its own
port; they find each other through the tracker), shows every peer's progress, and at the
end checks that every downloader's copy is byte-identical to the original.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import signal
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from ..errors import BitswarmError
from ..metainfo import parse_torrent
from ..session import Session, SessionConfig, TorrentRuntime
from ..session.config import DEFAULT_PORT
from ..version import __version__
from . import events
from .live import format_eta
from .options import port_number
from .render import format_size, parse_size

__all__ = ["register"]

DEMO_TIMEOUT = 600.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run a local swarm on loopback: one seeder, several downloaders",
        description="Run a complete swarm on this machine and watch it share a generated file.",
    )
    p.add_argument("--leechers", type=int, default=4, help="downloaders (default 4)")
    p.add_argument(
        "--size",
        type=parse_size,
        default=parse_size("32MiB"),
        help="size of the generated file (default 32MiB)",
    )
    p.add_argument(
        "--piece-size",
        type=parse_size,
        default=parse_size("256KiB"),
        metavar="SIZE",
        help="piece size of the demo torrent (default 256KiB)",
    )
    p.add_argument("--hybrid", action="store_true", help="use a hybrid v1+v2 torrent")
    p.add_argument(
        "--seed-limit",
        type=parse_size,
        default=parse_size("8MiB"),
        metavar="RATE",
        help="the seeder's upload limit per second, so that the downloaders must "
        "share with each other (default 8MiB; 0 = unlimited)",
    )
    p.add_argument(
        "--port",
        type=port_number,
        default=None,
        help="the seeder's port; one that is taken is an error (default 6881, or the next free)",
    )
    p.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address every peer and the tracker listen on (default 127.0.0.1)",
    )
    p.add_argument(
        "--tracker",
        action="append",
        default=[],
        metavar="URL",
        help="announce to this tracker too (default: only the demo's own)",
    )
    p.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to put the files (default: a temporary folder, removed after)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON events instead of a table: `peer` lines, then `summary` (docs/json-events.md)",
    )
    p.set_defaults(handler=cmd_demo)


def make_payload(folder: Path, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bitswarm-demo.bin"
    rng = random.Random(0xB175)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 4 * 2**20)
            f.write(rng.randbytes(n))
            left -= n
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    if args.leechers < 1:
        raise BitswarmError("--leechers must be at least 1")
    if args.dir is not None:
        return asyncio.run(_demo(args, args.dir))
    tmp = Path(tempfile.mkdtemp(prefix="bitswarm-demo-"))
    try:
        return asyncio.run(_demo(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _demo(args: argparse.Namespace, root: Path) -> int:
    from ..create import create_torrent

    console = Console(stderr=True, highlight=False, quiet=args.json or args.quiet)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []

    def on_signal(number: int) -> None:
        stopped_by.append(number)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    seed_dir = root / "seeder"
    payload = make_payload(seed_dir, args.size)
    from ..tracker_server.embedded import EmbeddedTracker  # not imported by `download`

    tracker = EmbeddedTracker()
    url = await tracker.start(args.bind)
    data = create_torrent(
        payload,
        piece_length=args.piece_size,
        version="hybrid" if args.hybrid else "v1",
        trackers=[[url], *([t] for t in args.tracker)],
    )
    (root / "bitswarm-demo.torrent").write_bytes(data)
    meta = parse_torrent(data)
    want = hashlib.sha256(payload.read_bytes()).hexdigest()
    if args.json:
        events.emit("start", command="demo", version=__version__, pid=os.getpid(),
                    tracker=url, info_hash=meta.info.info_hashes.wire.hex())  # fmt: skip
    console.print(
        f"demo: {format_size(args.size)} file, {meta.info.num_pieces} pieces, "
        f"info-hash {meta.info.info_hashes.wire.hex()}, tracker {url}, in {root}"
    )

    sessions: list[Session] = []
    runtimes: list[tuple[str, TorrentRuntime]] = []
    try:
        seeder = Session(
            SessionConfig(
                listen_host=args.bind,
                listen_port=args.port or DEFAULT_PORT,
                find_free_port=args.port is None,
                upload_limit=args.seed_limit,
            )
        )
        await seeder.start()
        sessions.append(seeder)
        runtimes.append(("seeder", await seeder.add(meta, seed_dir)))
        for i in range(args.leechers):
            s = Session(SessionConfig(listen_host=args.bind, listen_port=seeder.listen_port + 1))
            await s.start()
            sessions.append(s)
            runtimes.append((f"leecher-{i + 1}", await s.add(meta, root / f"leecher-{i + 1}")))
        started = time.monotonic()
        await _watch(runtimes, console, args.json, started, stop)
        elapsed = time.monotonic() - started
        if stop.is_set():  # SIGTERM: a clean stop is a success; Ctrl-C: 130
            console.print("demo stopped")
            return 130 if stopped_by[:1] == [signal.SIGINT] else 0
        bad = [
            name
            for name, rt in runtimes[1:]
            if hashlib.sha256((rt.save_path / meta.info.name).read_bytes()).hexdigest() != want
        ]
        seeder_up = runtimes[0][1].core.uploaded if runtimes[0][1].core else 0
        peers_up = sum(rt.core.uploaded for _, rt in runtimes[1:] if rt.core)
    finally:
        for s in sessions:
            await s.close()
        await tracker.close()
    if bad:
        raise BitswarmError(f"copies differ from the original: {', '.join(bad)}")
    total = args.size * args.leechers
    if args.json:
        events.emit("summary", leechers=args.leechers, size=args.size,
                    seconds=round(elapsed, 3), identical=True, sha256=want,
                    seeder_uploaded=seeder_up, peers_uploaded=peers_up)  # fmt: skip
    console.print(
        f"done: {args.leechers} downloaders got {format_size(args.size)} each in {elapsed:.1f} s "
        f"({format_size(total / max(elapsed, 1e-9))}/s in all); every copy is byte-identical "
        f"(sha256 {want[:16]}…). The seeder uploaded {format_size(seeder_up)}, the downloaders "
        f"{format_size(peers_up)} to each other."
    )
    return 0


async def _watch(
    runtimes: list[tuple[str, TorrentRuntime]],
    console: Console,
    json_lines: bool,
    started: float,
    stop: asyncio.Event,
) -> None:
    def table() -> Table:
        t = Table(box=None, pad_edge=False)
        for col in ("Peer", "Progress", "", "Down", "Up", "Peers", "ETA"):
            t.add_column(col, justify="right" if col not in ("Peer", "") else "left")
        for name, rt in runtimes:
            st = rt.status()
            t.add_row(
                name,
                f"{st.progress * 100:5.1f}%",
                ProgressBar(total=1.0, completed=st.progress, width=30),
                f"{format_size(st.download_rate)}/s",
                f"{format_size(st.upload_rate)}/s",
                str(st.peers),
                format_eta(st.eta),
            )
        return t

    live = (
        Live(table(), console=console, refresh_per_second=4)
        if (not json_lines and console.is_terminal)
        else None
    )
    if live is not None and not console.quiet:
        live.__enter__()
    else:
        live = None
    try:
        last_print = 0.0
        while True:
            now = time.monotonic()
            if now - started > DEMO_TIMEOUT:
                raise BitswarmError(f"the swarm did not finish within {DEMO_TIMEOUT:.0f} s")
            for name, rt in runtimes:
                if rt.error:
                    raise BitswarmError(f"{name}: {rt.error}")
            done = all(rt.completed.is_set() for _, rt in runtimes)
            if live is not None:
                live.update(table())
            elif now - last_print >= (1.0 if json_lines else 2.0) or done:
                last_print = now
                if json_lines:
                    for name, rt in runtimes:
                        events.emit("peer", peer=name, **rt.status().to_json())
                else:
                    console.print(
                        "  ".join(
                            f"{name} {rt.status().progress * 100:.0f}%" for name, rt in runtimes
                        )
                    )
            if done or stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
    finally:
        if live is not None:
            live.update(table())
            live.__exit__(None, None, None)

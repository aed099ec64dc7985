"""`bitswarm download` and `bitswarm seed`: run the engine with live progress."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..dht.config import parse_bootstrap
from ..errors import BitswarmError, MagnetError
from ..magnet import Magnet, parse_magnet
from ..metainfo import Metainfo
from ..metainfo.encode import torrent_file_bytes
from ..session import Session, SessionConfig, TorrentRuntime, TorrentState
from . import demo_command, render, selection
from .live import LiveView
from .selection import Choice
from .settings import apply_config
from .torrent_commands import load_torrent

__all__ = ["parse_peer", "register"]


def parse_peer(text: str) -> tuple[str, int]:
    """HOST:PORT or [IPv6]:PORT."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


parse_peer.__name__ = "HOST:PORT"


def parse_duration(text: str) -> float:
    """Seconds, or with a unit: 90s, 30m, 2h."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    if t and t[-1] in units:
        return float(t[:-1]) * units[t[-1]]
    return float(t)


parse_duration.__name__ = "duration"


def add_network_options(p: argparse.ArgumentParser) -> None:
    # Defaults of None are filled from the config file (cli/settings.py `apply_config`).
    p.set_defaults(configure=apply_config)
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="read settings from FILE (default: $XDG_CONFIG_HOME/bitswarm/config.toml "
        "if it exists; see `bitswarm config`)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="listening port (default: peer_port from the config file, else 6881, "
        "or the next free one)",
    )
    p.add_argument(
        "--bind",
        default=None,
        metavar="ADDR",
        help="listening address (default: listen_host from the config file, else every interface)",
    )
    p.add_argument(
        "--peer",
        action="append",
        default=[],
        type=parse_peer,
        metavar="HOST:PORT",
        help="connect to this peer; repeat for more (default: none)",
    )
    p.add_argument(
        "--tracker",
        action="append",
        default=[],
        metavar="URL",
        help="announce to this tracker too; repeat for more (default: only the torrent's)",
    )
    p.add_argument(
        "--max-peers",
        type=int,
        default=None,
        help="connections per torrent (default: peer_limit_per_torrent, else 50)",
    )
    p.add_argument(
        "--upload-limit",
        type=render.parse_size,
        default=None,
        metavar="RATE",
        help="upload at most RATE bytes/s, e.g. 2MiB; 0 = unlimited (default: "
        "speed_limit_up when speed_limit_up_enabled, else unlimited)",
    )
    p.add_argument(
        "--download-limit",
        type=render.parse_size,
        default=None,
        metavar="RATE",
        help="download at most RATE bytes/s; 0 = unlimited (default: speed_limit_down "
        "when speed_limit_down_enabled, else unlimited)",
    )
    p.add_argument(
        "--dht-port",
        type=int,
        default=None,
        metavar="P",
        help="join the DHT (BEP 5) from UDP port P (0: any free port); never used for "
        "private torrents (default: off, or cli.dht_port when dht_enabled is set)",
    )
    p.add_argument(
        "--no-dht",
        action="store_true",
        help="stay off the DHT even when the config file enables it",
    )
    p.add_argument(
        "--dht-bootstrap",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a DHT node to join through; repeat for more; 'default' for the "
        "public routers real clients use (default: dht_bootstrap from the config file "
        "when the DHT is on through it, else none)",
    )
    p.add_argument(
        "--lsd",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="find peers on the local network by multicast (BEP 14; never for private "
        "torrents) (default: lsd_enabled, else off, so that nothing is sent to the LAN "
        "unasked)",
    )
    p.add_argument(
        "--direct-io",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write downloaded pieces with O_DIRECT, past the OS page cache "
        "(less CPU and no dirty memory; files the system cannot write that "
        "way are written normally) (default: cli.direct_io, else off)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON status line per second instead of a progress bar",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show per-file progress")


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """What to download and in which order (read back by `_selection`)."""
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="N,M-K",
        help="download only these files, numbered from 1 as `bitswarm info` shows them "
        "(e.g. 1,3-5); overrides a magnet link's so=",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="do not download files whose path matches this glob (e.g. '*.nfo' or "
        "'Extras/*'); repeat for more; with --select: the selected files minus these",
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="fetch pieces in order (for a player or a slow disk) instead of rarest first",
    )
    p.add_argument(
        "--first-last",
        action="store_true",
        help="fetch the first and last piece of each chosen file first (for previews)",
    )


def _selection(meta: Metainfo, source: Metainfo | Magnet, args: argparse.Namespace) -> Choice:
    """`Session.add`'s file choice and piece order from the options above."""
    so = source.select_only if isinstance(source, Magnet) and source.select_only else None
    return Choice(
        selection.file_priorities(meta, select=args.select, exclude=args.exclude, select_only=so),
        sequential=args.sequential,
        first_last=args.first_last,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "download",
        help="download a torrent, then seed it",
        description="Download a torrent with live progress, then seed it.",
    )
    p.add_argument("source", help="a .torrent file or a magnet: link")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="download folder (default: download_dir from the config file, else the "
        "current folder)",
    )
    p.add_argument(
        "--metadata-timeout",
        type=parse_duration,
        default=None,
        metavar="T",
        help="for a magnet link: give up if no peer sent the metadata within T "
        "(default: wait until stopped)",
    )
    p.add_argument(
        "--save-torrent",
        type=Path,
        default=None,
        metavar="FILE",
        help="for a magnet link: also write the fetched torrent to FILE (default: not written)",
    )
    seeding = p.add_mutually_exclusive_group()
    seeding.add_argument(
        "--seed-ratio",
        type=float,
        default=None,
        metavar="R",
        help="after downloading, seed until uploaded/size reaches R (default: "
        "seed_ratio_limit when seed_ratio_limited, from the config file, else 1.0)",
    )
    seeding.add_argument(
        "--seed-time",
        type=parse_duration,
        default=None,
        metavar="T",
        help="after downloading, seed for T (e.g. 90s, 30m, 2h) (default: seed to the ratio)",
    )
    seeding.add_argument(
        "--no-seed", action="store_true", help="exit as soon as every piece is verified"
    )
    add_selection_options(p)
    add_network_options(p)
    p.set_defaults(handler=cmd_download)

    p = sub.add_parser(
        "seed",
        help="seed a torrent from data on disk",
        description="Verify data on disk against a torrent and seed it.",
    )
    p.add_argument("torrent", type=Path, help="the .torrent file")
    p.add_argument(
        "data",
        type=Path,
        metavar="DATA_PATH",
        help="the torrent's file or folder, or the folder that holds it",
    )
    add_network_options(p)
    p.set_defaults(handler=cmd_seed)

    demo_command.register(sub)


def state_dir() -> Path:
    """bitswarm's own state (resume data, the DHT routing table): $XDG_STATE_HOME/bitswarm."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = base / "bitswarm"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resume_path_for(meta: Metainfo, save_path: Path) -> Path:
    """Where fast-resume data lives: keyed by info-hash and download folder."""
    folder = hashlib.sha1(str(save_path.resolve()).encode()).hexdigest()[:12]
    path = state_dir() / "resume" / f"{meta.info.info_hashes.wire.hex()}-{folder}.resume"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def session_config(args: argparse.Namespace) -> SessionConfig:
    if not hasattr(args, "settings"):  # parsed without `main`: the config file fills in
        apply_config(args)
    dht_state = None
    if args.dht_port is not None:
        dht_state = state_dir() / "dht.state"
    bootstrap = tuple(parse_bootstrap(args.dht_bootstrap))  # DhtConfigError: one line
    if bootstrap and args.dht_port is None:
        raise BitswarmError("--dht-bootstrap needs --dht-port (the DHT is off without it)")
    return SessionConfig(
        dht_port=args.dht_port,
        dht_bootstrap=bootstrap,
        dht_state=dht_state,
        listen_host=args.bind,
        listen_port=args.port,
        max_peers=args.max_peers,
        max_connections=args.max_connections,
        upload_limit=args.upload_limit,
        download_limit=args.download_limit,
        lsd=bool(args.lsd),
        direct_io=bool(args.direct_io),
    )


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run `main(stop)` on a fresh loop; SIGINT/SIGTERM set `stop` for a clean shutdown."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


async def wait_any(events: list[asyncio.Event], seconds: float) -> None:
    """Return when any of `events` is set, or after `seconds`."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def _load(source: str) -> Metainfo | Magnet:
    if source.startswith("magnet:"):
        try:
            return parse_magnet(source)
        except MagnetError as exc:
            raise MagnetError(f"bad magnet link: {exc}") from None
    return load_torrent(Path(source))


async def _metainfo_of(
    session: Session, source: Metainfo | Magnet, args: argparse.Namespace, stop: asyncio.Event
) -> Metainfo | None:
    """The torrent itself, or for a magnet link the metadata fetched from peers (BEP 9);
    None when stopped first."""
    if isinstance(source, Metainfo):
        return source
    name = source.display_name or source.info_hashes.wire.hex()
    _note(args, f"fetching the metadata of {name} from peers")
    fetch = asyncio.ensure_future(
        session.fetch_metadata(
            source, peers=args.peer, trackers=args.tracker, give_up_after=args.metadata_timeout
        )
    )
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([fetch, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not fetch.done():
        fetch.cancel()
        return None
    meta = fetch.result()
    _note(args, f"metadata verified: {meta.info.name}, {meta.info.num_pieces} pieces")
    if args.save_torrent is not None:
        args.save_torrent.write_bytes(torrent_file_bytes(meta))
    return meta


def _note(args: argparse.Namespace, message: str) -> None:
    if args.json:
        print(json.dumps({"event": "note", "message": message}), flush=True)
    else:
        print(message, file=sys.stderr, flush=True)


def cmd_download(args: argparse.Namespace) -> int:
    source = _load(args.source)
    if isinstance(source, Magnet) and not (
        source.trackers
        or source.peers
        or args.peer
        or args.tracker
        or args.lsd
        or args.dht_port is not None
    ):
        raise BitswarmError(
            "this magnet link names no tracker and no peer: add --dht-port 0 to search the "
            "DHT, or --tracker URL, or --peer HOST:PORT"
        )
    if isinstance(source, Metainfo):
        _selection(source, source, args)  # a bad --select fails before anything starts
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    ratio = (
        args.seed_ratio
        if args.seed_ratio is not None
        else (None if args.seed_time is not None or args.no_seed else 1.0)
    )

    async def main(stop: asyncio.Event) -> int:
        async with Session(session_config(args)) as session:
            meta = await _metainfo_of(session, source, args, stop)
            if meta is None:
                return 130
            extra = list(source.peers) if isinstance(source, Magnet) else []
            rt = await session.add(
                meta,
                out,
                peers=[*args.peer, *extra],
                trackers=args.tracker,
                resume_path=resume_path_for(meta, out),
                **_selection(meta, source, args).add_options(),
            )
            view = LiveView(rt, json_lines=args.json, verbose=args.verbose)
            code = await _download_loop(rt, view, stop, args, ratio)
            view.close()
            return code

    return run_until_signal(main)


async def _download_loop(
    rt: TorrentRuntime,
    view: LiveView,
    stop: asyncio.Event,
    args: argparse.Namespace,
    ratio: float | None,
) -> int:
    seeding_since: float | None = None
    size = max(1, rt.meta.info.total_length)
    while not stop.is_set():
        view.update()
        if rt.state is TorrentState.ERROR:
            view.close()
            raise BitswarmError(f"download failed: {rt.error}")
        if rt.completed.is_set():
            if seeding_since is None:
                seeding_since = time.monotonic()
                view.note(f"download complete: {rt.meta.info.name}, every piece verified")
            if args.no_seed:
                return 0
            if args.seed_time is not None and time.monotonic() - seeding_since >= args.seed_time:
                return 0
            if ratio is not None and rt.core is not None and rt.core.uploaded / size >= ratio:
                return 0
        await wait_any([stop] if rt.completed.is_set() else [stop, rt.completed], 1.0)
    view.note("stopping: resume data saved")
    return 0 if rt.completed.is_set() else 130


def locate_data(meta: Metainfo, data: Path) -> Path:
    """The download folder for DATA_PATH: its parent if it *is* the torrent's content."""
    if not data.exists():
        raise BitswarmError(f"no such file or folder: {data}")
    if data.name == meta.info.name and (data.is_file() == meta.info.single_file):
        return data.parent
    return data


def cmd_seed(args: argparse.Namespace) -> int:
    meta = load_torrent(args.torrent)
    save_path = locate_data(meta, args.data)

    async def main(stop: asyncio.Event) -> int:
        async with Session(session_config(args)) as session:
            rt = await session.add(
                meta,
                save_path,
                peers=args.peer,
                trackers=args.tracker,
                resume_path=resume_path_for(meta, save_path),
            )
            if rt.core is None or rt.core.have.none():
                raise BitswarmError(
                    f"no data of {meta.info.name!r} found under {save_path} "
                    "(not one piece matches the torrent)"
                )
            if not rt.core.is_seed:
                print(
                    f"bitswarm: warning: only {rt.core.have.count()} of "
                    f"{meta.info.num_pieces} pieces are present; seeding those",
                    file=sys.stderr,
                )
            view = LiveView(rt, json_lines=args.json, verbose=args.verbose)
            view.note(f"seeding {meta.info.name} on port {session.listen_port}")
            while not stop.is_set():
                view.update()
                if rt.state is TorrentState.ERROR:
                    view.close()
                    raise BitswarmError(f"seeding failed: {rt.error}")
                await wait_any([stop], 1.0)
            view.close()
            return 0

    return run_until_signal(main)

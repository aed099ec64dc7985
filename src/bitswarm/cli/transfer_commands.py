"""`bitswarm download` and `bitswarm seed`: run the engine with live progress.

`download` takes several torrents and runs them in one `Session` (one listening port,
one DHT node): each is a `Job` (jobs.py) with its own line on the display (live.py); the
run ends when every job is over, with a summary and an exit status (summary.py).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..dht.config import parse_bootstrap
from ..errors import BitswarmError
from ..magnet import Magnet
from ..metainfo import Metainfo
from ..metainfo.encode import torrent_file_bytes
from ..session import Session, SessionConfig, TorrentRuntime, TorrentState
from ..session.config import DEFAULT_PORT, TRANSPORTS
from ..session.torrent import build_layout
from ..version import __version__
from ..wire.mse import Encryption, parse_encryption
from . import demo_command, events, render, selection
from .jobs import Job, JobState, SeedPolicy
from .live import LiveView
from .options import max_peers, port_or_any
from .selection import Choice
from .settings import apply_config
from .sources import Source, load_sources
from .summary import emit_summary, exit_code, print_summary
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


ENCRYPTION_CHOICES = tuple(level.value for level in Encryption)


def positive_seconds(text: str) -> float:
    """A number of seconds above 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be above 0 seconds: {text!r}")
    return value


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
        type=port_or_any,
        default=None,
        help=f"listening port; 0 for any free port; a --port that is taken is an error "
        f"(default: peer_port from the config file, else {DEFAULT_PORT}; either falls "
        f"back to the next free one)",
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
        type=max_peers,
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
        type=port_or_any,
        default=None,
        metavar="P",
        help="join the DHT (BEP 5) from UDP port P (0: any free port); never used for "
        "private torrents (default: off; when dht_enabled is set, cli.dht_port, else the "
        "peer port, whose UDP socket the DHT shares with uTP)",
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
        "--encryption",
        choices=ENCRYPTION_CHOICES,
        default=None,
        help="MSE/PE encryption of peer connections: disabled (plaintext only), allowed "
        "(plaintext first, accept both), preferred (encrypted first, plaintext when a peer "
        "cannot), required (RC4 only, both ways) (default: encryption, else preferred)",
    )
    p.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=None,
        help="how peers are dialled and accepted: tcp, utp (BEP 29, over UDP on the peer "
        "port) or both (uTP and TCP raced, the first to connect kept) (default: transport "
        "from the config file, else both)",
    )
    p.add_argument(
        "--direct-io",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write downloaded pieces with O_DIRECT, past the OS page cache "
        "(less CPU and no dirty memory; files the system cannot write that "
        "way are written normally); --no-direct-io writes through the page cache "
        "(default: cli.direct_io, else on)",
    )
    p.add_argument(
        "--resume-save-interval",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="save resume data at most this often while pieces arrive (a crash loses at "
        "most this much to a recheck) (default: cli.resume_save_interval, else 30)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON events on stdout, one a line, instead of a progress display "
        "(docs/json-events.md)",
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
        "(e.g. 1,3-5), the same numbers in each torrent; overrides a magnet link's so= "
        "(default: every file, or the magnet link's so=)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="do not download files whose path matches this glob (e.g. '*.nfo' or "
        "'Extras/*'); repeat for more; with --select: the selected files minus these; "
        "with several torrents it need not match in each (default: none)",
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
    sources = getattr(args, "source", None)
    several = isinstance(sources, list) and len(sources) > 1  # the same options for each
    priorities = selection.file_priorities(
        meta, select=args.select, exclude=args.exclude, select_only=so,
        exclude_must_match=not several,
    )  # fmt: skip
    return Choice(
        priorities,
        sequential=args.sequential,
        first_last=args.first_last,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "download",
        help="download a torrent, then seed it; several at once in one session",
        description="Download one or more torrents in one session (one port, one DHT node) "
        "with live progress, then seed each until its seed condition holds. Exit status: "
        "0 when every torrent is done (or on SIGTERM, resume data saved), 1 when one "
        "failed, 130 on Ctrl-C.",
    )
    p.add_argument(
        "source",
        nargs="+",
        metavar="SOURCE",
        help="a .torrent file, a magnet: link, an http(s):// URL of a .torrent, or - "
        "(a .torrent on stdin); several for several torrents",
    )
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
    """The session the network options describe. Only a --port given on the command line
    is the person's own (taken: an error); the default and a peer_port from the config
    file or the environment fall back to the next free one (`apply_config` says which)."""
    if not hasattr(args, "settings"):  # parsed without `main`: the config file fills in
        apply_config(args)
    dht_state = None
    if args.dht_port is not None:
        dht_state = state_dir() / "dht.state"
    bootstrap = tuple(parse_bootstrap(args.dht_bootstrap))  # DhtConfigError: one line
    if bootstrap and args.dht_port is None:
        raise BitswarmError("--dht-bootstrap needs --dht-port (the DHT is off without it)")
    return SessionConfig(
        dht_port=args.dht_port,  # the peer port by default (apply_config): one UDP socket
        dht_bootstrap=bootstrap,
        dht_state=dht_state,
        listen_host=args.bind,
        listen_port=DEFAULT_PORT if args.port is None else args.port,
        find_free_port=not args.port_explicit,
        max_peers=args.max_peers,
        max_connections=args.max_connections,
        max_peers_per_ip=getattr(args, "max_peers_per_ip", 1),
        upload_limit=args.upload_limit,
        download_limit=args.download_limit,
        lsd=bool(args.lsd),
        direct_io=True if args.direct_io is None else bool(args.direct_io),
        encryption=parse_encryption(args.encryption or "preferred"),
        resume_save_interval=float(getattr(args, "resume_save_interval", None) or 30.0),
        transport=args.transport,
    )


class StopEvent(asyncio.Event):
    """Set by SIGINT or SIGTERM; `signal` says which (the exit status depends on it)."""

    signal: int | None = None


def run_until_signal(main: Callable[[StopEvent], Awaitable[int]]) -> int:
    """Run `main(stop)` on a fresh loop; SIGINT/SIGTERM set `stop` for a clean shutdown."""

    async def runner() -> int:
        stop = StopEvent()
        loop = asyncio.get_running_loop()

        def on_signal(number: int) -> None:
            stop.signal = stop.signal or number
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
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


def _seed_policy(args: argparse.Namespace) -> SeedPolicy:
    if args.no_seed:
        return SeedPolicy(ratio=None, seconds=None)
    if args.seed_time is not None:
        return SeedPolicy(ratio=args.seed_ratio, seconds=args.seed_time)
    return SeedPolicy(ratio=1.0 if args.seed_ratio is None else args.seed_ratio)


def _check_sources(sources: list[Source], args: argparse.Namespace) -> None:
    magnets = [s for s in sources if isinstance(s.torrent, Magnet)]
    finds_peers = args.peer or args.tracker or args.lsd or args.dht_port is not None
    for source in magnets:
        m = source.torrent
        assert isinstance(m, Magnet)
        if not (m.trackers or m.peers or finds_peers):
            raise BitswarmError(
                "this magnet link names no tracker and no peer: add --dht-port 0 to search "
                "the DHT, or --tracker URL, or --peer HOST:PORT"
            )
    for source in sources:
        if isinstance(source.torrent, Metainfo):  # a bad --select fails before anything starts
            _selection(source.torrent, source.torrent, args)
    if args.save_torrent is not None and len(magnets) > 1:
        raise BitswarmError("--save-torrent FILE keeps the metadata of one magnet link, not "
                            f"of {len(magnets)}")  # fmt: skip


def cmd_download(args: argparse.Namespace) -> int:
    """Download every SOURCE in one session (see `register` for the exit status)."""
    out: Path = args.output
    policy = _seed_policy(args)

    async def main(stop: StopEvent) -> int:
        sources = await load_sources(args.source)
        _check_sources(sources, args)
        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
        async with Session(session_config(args)) as session:
            return await _run_download(session, sources, args, policy, stop)

    return run_until_signal(main)


async def _run_download(
    session: Session,
    sources: list[Source],
    args: argparse.Namespace,
    policy: SeedPolicy,
    stop: StopEvent,
) -> int:
    started = time.monotonic()
    jobs = [Job(source) for source in sources]
    if args.json:
        events.emit("start", command="download", version=__version__, pid=os.getpid(),
                    port=session.listen_port, torrents=[j.info_hash for j in jobs])  # fmt: skip
    view = LiveView(jobs, port=session.listen_port, json_lines=args.json,
                    verbose=args.verbose, quiet=args.quiet)  # fmt: skip

    async def fetch(job: Job) -> Metainfo:
        meta = await _fetch_metadata(session, job, args, view)
        if args.json:
            info = meta.info
            events.emit("metadata", name=info.name, info_hash=job.info_hash,
                        num_pieces=info.num_pieces, total_bytes=info.total_length)  # fmt: skip
        return meta

    async def add(job: Job) -> TorrentRuntime:
        meta, source = job.meta, job.source.torrent
        assert meta is not None
        extra = list(source.peers) if isinstance(source, Magnet) else []
        return await session.add(
            meta,
            args.output,
            peers=[*args.peer, *extra],
            trackers=args.tracker,
            resume_path=resume_path_for(meta, args.output),
            **_selection(meta, source, args).add_options(),  # a magnet's: once it has its metadata
        )

    for job in jobs:
        job.task = asyncio.ensure_future(job.prepare(add, fetch))
    shown = 0.0
    try:
        while not stop.is_set() and not all(job.over for job in jobs):
            # Four looks a second (peers come and go quickly; the summary reports the
            # most at once), one display update or status event a second.
            await _advance(session, jobs, policy, view, args)
            if time.monotonic() - shown >= 1.0:
                shown = time.monotonic()
                view.update()
            if all(job.over for job in jobs):
                break
            completions = [j.rt.completed for j in jobs if j.rt is not None and not j.over
                           and j.completed_at is None]  # fmt: skip
            await wait_any([stop, *completions], 0.25)
    finally:
        for job in jobs:
            if job.task is not None and not job.task.done():
                job.task.cancel()
        for job in jobs:
            job.status()  # the last figures, kept for the summary
            job.stop()
        code = exit_code(jobs, stop.signal)
        if stop.is_set():
            view.note("stopping: resume data saved")
        view.close()
        _report_failures(jobs, args)
        _end(jobs, started, code, args, view)
    return code


async def _advance(
    session: Session, jobs: list[Job], policy: SeedPolicy, view: LiveView, args: argparse.Namespace
) -> None:
    """Move every job on; a job that is over leaves the session (it stops uploading)."""
    now = time.monotonic()
    for job in jobs:
        was_over = job.over
        for change in job.advance(policy, now):
            if change == "completed":
                view.note(f"download complete: {job.name}, every piece verified")
                if args.json:
                    events.emit("completed", name=job.name, info_hash=job.info_hash,
                                total_bytes=job.last.wanted_bytes if job.last else 0,
                                seconds=round(job.seconds(now), 3))  # fmt: skip
        if job.over and not was_over:
            if args.json:
                view.emit_status(job)  # its last figures, however short the download
                events.emit("finished", name=job.name, info_hash=job.info_hash,
                            reason=job.reason or job.state.value)  # fmt: skip
            if job.rt is not None and job.rt.info_hash in session.torrents:
                await session.remove(job.rt)  # saves its resume data


def _report_failures(jobs: list[Job], args: argparse.Namespace) -> None:
    """Each failed torrent: an ``error`` event, or one line on stderr."""
    for job in jobs:
        if job.state is JobState.FAILED:
            if args.json:
                events.emit("error", error=job.error or "failed", name=job.name,
                            info_hash=job.info_hash)  # fmt: skip
            print(f"bitswarm: error: {job.name}: download failed: {job.error}", file=sys.stderr)


def _end(
    jobs: list[Job], started: float, code: int, args: argparse.Namespace, view: LiveView,
    *, seeding: bool = False,
) -> None:  # fmt: skip
    if args.json:
        emit_summary(jobs, started, code)
    elif not args.quiet:
        print_summary(jobs, started, code, console=view.console, seeding=seeding)


async def _fetch_metadata(
    session: Session, job: Job, args: argparse.Namespace, view: LiveView
) -> Metainfo:
    """A magnet link's torrent, its metadata fetched from peers (BEP 9)."""
    magnet = job.source.torrent
    assert isinstance(magnet, Magnet)
    view.note(f"fetching the metadata of {job.name} from peers")
    meta = await session.fetch_metadata(
        magnet, peers=args.peer, trackers=args.tracker, give_up_after=args.metadata_timeout
    )
    view.note(f"metadata verified: {meta.info.name}, {meta.info.num_pieces} pieces")
    if args.save_torrent is not None:
        args.save_torrent.write_bytes(torrent_file_bytes(meta))
    return meta


def locate_data(meta: Metainfo, data: Path) -> Path:
    """The download folder for DATA_PATH: its parent if it *is* the torrent's content."""
    if not data.exists():
        raise BitswarmError(f"no such file or folder: {data}")
    if data.name == meta.info.name and (data.is_file() == meta.info.single_file):
        return data.parent
    return data


def require_data(meta: Metainfo, save_path: Path) -> None:
    """Refuse, before anything is opened, a folder that holds none of the torrent's files:
    seeding it would create the files empty (and their folders) and seed nothing."""
    layout = build_layout(meta)
    files = [f for f in layout.files if not f.is_pad and f.length]
    if files and not any(save_path.joinpath(*f.path).is_file() for f in files):
        raise BitswarmError(
            f"no data of {meta.info.name!r} under {save_path}: none of its {len(files)} "
            f"file{'s' if len(files) != 1 else ''} is there (nothing was created)"
        )


def cmd_seed(args: argparse.Namespace) -> int:
    meta = load_torrent(args.torrent)
    save_path = locate_data(meta, args.data)
    require_data(meta, save_path)

    async def main(stop: StopEvent) -> int:
        started = time.monotonic()
        async with Session(session_config(args)) as session:
            if args.json:
                events.emit("start", command="seed", version=__version__, pid=os.getpid(),
                            port=session.listen_port,
                            torrents=[meta.info.info_hashes.wire.hex()])  # fmt: skip
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
            job = Job(Source(str(args.torrent), meta))
            job.added(rt)
            job.state = JobState.SEEDING
            view = LiveView([job], port=session.listen_port, json_lines=args.json,
                            verbose=args.verbose, quiet=args.quiet)  # fmt: skip
            view.note(f"seeding {meta.info.name} on port {session.listen_port}")
            try:
                while not stop.is_set():
                    view.update()
                    if rt.state is TorrentState.ERROR:
                        job.fail(rt.error or "the torrent stopped on an error")
                        break
                    await wait_any([stop], 1.0)
            finally:
                job.status()
                job.stop()
                code = 1 if job.state is JobState.FAILED else 0
                view.close()
                if job.state is JobState.FAILED:
                    if args.json:
                        events.emit("error", error=job.error or "failed", name=job.name,
                                    info_hash=job.info_hash)  # fmt: skip
                    print(f"bitswarm: error: seeding failed: {job.error}", file=sys.stderr)
                _end([job], started, code, args, view, seeding=True)
            return code

    return run_until_signal(main)

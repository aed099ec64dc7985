"""`bitswarm stream`: serve one file of a torrent over HTTP while it downloads.

The URL is the first line of stdout (with `--json`, the first object is
`{"event": "serving", "url": URL}`), so a script can hand it to a player at once. Files
are numbered from 1 in the torrent's order, pad files (BEP 47) left out, as `info` shows
them; the default is the largest. The chosen file is downloaded first (priority 7), the
rest of the torrent after it (priority 1); each HTTP request reads through its own
`FileReader`, whose deadlines steer the picker (swarm/deadlines.py). The command runs
until SIGINT or SIGTERM and then exits 0, resume data saved.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..argtypes import positive_float, positive_int
from ..errors import BitswarmError
from ..magnet import Magnet, parse_magnet
from ..metainfo import Metainfo
from ..session import Session, TorrentState
from ..session.stream import FileReader
from ..streaming.http import StreamServer
from . import events
from .jobs import Job, JobState
from .live import LiveView
from .sources import Source
from .torrent_commands import load_torrent
from .transfer_commands import (
    add_network_options,
    resume_path_for,
    run_until_signal,
    session_config,
    wait_any,
)

__all__ = ["content_files", "parse_http", "register"]

CHOSEN_PRIORITY = 7
REST_PRIORITY = 1


def parse_http(text: str) -> tuple[str, int]:
    """HOST:PORT (PORT 0: any free port), [IPv6]:PORT."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


parse_http.__name__ = "HOST:PORT"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "stream",
        help="serve a file of a torrent over HTTP while it downloads",
        description="Serve one file of a torrent over HTTP (with Range requests, so "
        "players can seek) while it downloads; the pieces a player reads next are "
        "fetched first. Prints the URL as the first line, then runs until Ctrl-C.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="TORRENT_OR_MAGNET", help="a .torrent file or a magnet: link")
    p.add_argument(
        "--file",
        type=positive_int,
        default=None,
        metavar="N",
        help="the file to serve, numbered from 1 as `bitswarm info` shows them "
        "(default: the largest)",
    )
    p.add_argument(
        "--http",
        type=parse_http,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="where to serve it (default 127.0.0.1:0, a free port: the URL says which)",
    )
    p.add_argument(
        "-o", "--output", type=Path, default=Path("."), help="download folder (default: .)"
    )
    p.add_argument(
        "--metadata-timeout",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="for a magnet link, give up fetching the metadata after this long (default 300)",
    )
    add_network_options(p)
    p.set_defaults(handler=cmd_stream, save_torrent=None)
    p.epilog = (
        "examples:\n  bitswarm stream movie.torrent\n"
        "  bitswarm stream movie.torrent --file 2 --http 0.0.0.0:8080\n"
        "  bitswarm stream 'magnet:?xt=urn:btih:...' --dht-port 0"
    )


def content_files(meta: Metainfo) -> list[tuple[int, str, int]]:
    """(entry in `info.files`, path, length) of the files people see, numbered from 1 in
    this order (pad files left out)."""
    return [
        (entry, "/".join(f.path), f.length)
        for entry, f in enumerate(meta.info.files)
        if not f.is_pad
    ]


def choose_file(meta: Metainfo, number: int | None) -> int:
    """The entry in `info.files` of file `number` (from 1), or of the largest file."""
    files = content_files(meta)
    if number is None:
        return max(files, key=lambda f: f[2])[0]
    if not 1 <= number <= len(files):
        raise BitswarmError(
            f"--file {number}: {meta.info.name} has {len(files)} file"
            f"{'s' if len(files) != 1 else ''} (numbered from 1, as `bitswarm info` shows)"
        )
    return files[number - 1][0]


def _load(text: str) -> Metainfo | Magnet:
    if text.startswith("magnet:"):
        return parse_magnet(text)
    return load_torrent(Path(text))


def cmd_stream(args: argparse.Namespace) -> int:
    source = _load(args.source)
    if (
        isinstance(source, Magnet)
        and not (source.trackers or source.peers or args.peer or args.tracker or args.lsd)
        and args.dht_port is None
    ):
        raise BitswarmError(
            "this magnet link names no tracker and no peer: add --dht-port 0 to search the "
            "DHT, or --tracker URL, or --peer HOST:PORT"
        )
    if isinstance(source, Metainfo):
        choose_file(source, args.file)  # a bad --file fails before any port is opened
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)

    async def main(stop: asyncio.Event) -> int:
        async with Session(session_config(args)) as session:
            meta = await _metadata(session, source, args, stop)
            if meta is None:
                return 0
            entry = choose_file(meta, args.file)
            priorities = [
                0 if f.is_pad else (CHOSEN_PRIORITY if i == entry else REST_PRIORITY)
                for i, f in enumerate(meta.info.files)
            ]
            extra = list(source.peers) if isinstance(source, Magnet) else []
            rt = await session.add(
                meta,
                out,
                peers=[*args.peer, *extra],
                trackers=args.tracker,
                resume_path=resume_path_for(meta, out),
                file_priorities=priorities,
            )
            name = meta.info.files[entry].path[-1]
            server = StreamServer(
                lambda: FileReader(rt, entry), name=name, size=meta.info.files[entry].length
            )
            host, port = args.http
            try:
                url = await server.start(host, port)
            except OSError as exc:
                raise BitswarmError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
            if args.json:
                events.emit("serving", url=url)
            else:
                print(url, flush=True)
            job = Job(Source(text=str(args.source), torrent=meta))
            job.rt, job.state = rt, JobState.DOWNLOADING
            view = LiveView(
                [job],
                port=session.listen_port,
                json_lines=args.json,
                verbose=args.verbose,
                quiet=bool(getattr(args, "quiet", False)),
            )
            try:
                while not stop.is_set():
                    if rt.completed.is_set() and job.state is JobState.DOWNLOADING:
                        job.state = JobState.SEEDING
                    view.update()
                    if rt.state is TorrentState.ERROR:
                        job.state, job.error = JobState.FAILED, rt.error
                        raise BitswarmError(f"download failed: {rt.error}")
                    await wait_any([stop], 1.0)
                job.state = JobState.STOPPED
            finally:
                job.status()
                view.close()
                await server.close()
            return 0

    return run_until_signal(main)


async def _metadata(
    session: Session, source: Metainfo | Magnet, args: argparse.Namespace, stop: asyncio.Event
) -> Metainfo | None:
    """The torrent, or a magnet's metadata from peers (BEP 9); None when stopped first."""
    if isinstance(source, Metainfo):
        return source
    name = source.display_name or source.info_hashes.wire.hex()
    print(f"fetching the metadata of {name} from peers", file=sys.stderr, flush=True)
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
    return fetch.result()

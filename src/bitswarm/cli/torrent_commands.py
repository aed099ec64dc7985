"""`bitswarm create`, `bitswarm info` and `bitswarm magnet`: making and reading torrents."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import BitswarmError, MagnetError
from ..magnet import Magnet, parse_magnet
from ..metainfo import Metainfo, parse_torrent
from ..readlimit import MAX_TORRENT_FILE, read_limited
from . import events, render

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "create",
        help="make a .torrent from a file or folder",
        description="Make a .torrent from a file or folder, hashing on all cores.",
    )
    p.add_argument("path", type=Path, help="the file or folder to share")
    p.add_argument(
        "-t",
        "--tracker",
        action="append",
        default=[],
        metavar="URL",
        help="announce URL; repeat for more; separate URLs with commas for one tier "
        "(default: none, a trackerless torrent for the DHT)",
    )
    p.add_argument(
        "--piece-size",
        type=render.parse_size,
        default=None,
        metavar="SIZE",
        help="piece size, e.g. 256KiB or 1MiB (default: chosen from the total size)",
    )
    version = p.add_mutually_exclusive_group()
    version.add_argument(
        "--v2",
        dest="version",
        action="store_const",
        const="v2",
        help="a v2-only torrent (BEP 52): SHA-256 merkle hashes only; v1-only clients "
        "cannot join it (use --hybrid for both)",
    )
    version.add_argument(
        "--hybrid",
        dest="version",
        action="store_const",
        const="hybrid",
        help="a hybrid v1+v2 torrent (BEP 52 with BEP 47 padding)",
    )
    p.set_defaults(version="v1")
    p.add_argument("--private", action="store_true", help="set the private flag (BEP 27)")
    p.add_argument(
        "-w",
        "--web-seed",
        action="append",
        default=[],
        metavar="URL",
        help="web seed URL (BEP 19); repeat for more (default: none)",
    )
    p.add_argument("-c", "--comment", default=None, help="a comment in the torrent (default: none)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="where to write the torrent (default: NAME.torrent here)",
    )
    p.add_argument("-f", "--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print a `created` JSON event")
    p.set_defaults(handler=cmd_create)

    p = sub.add_parser(
        "info",
        help="show what a .torrent or magnet link holds",
        description="Show the name, info-hashes, files and trackers of a torrent or magnet link.",
    )
    p.add_argument("source", help="a .torrent file or a magnet: link")
    p.add_argument(
        "--json", action="store_true", help="print one JSON event (`torrent` or `magnet`)"
    )
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser(
        "magnet",
        help="print the magnet link of a .torrent",
        description="Print the magnet link of a .torrent (with its trackers and web seeds).",
    )
    p.add_argument("torrent", type=Path, help="the .torrent file")
    p.add_argument("--json", action="store_true", help="print a `magnet` JSON event")
    p.set_defaults(handler=cmd_magnet)


def load_torrent(path: Path) -> Metainfo:
    """Read and parse a .torrent file, reading no more than `MAX_TORRENT_FILE` bytes
    (a device or a pipe has no size to check first: `readlimit`)."""
    data = read_limited(path, MAX_TORRENT_FILE, what=".torrent file")
    try:
        return parse_torrent(data)
    except BitswarmError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def cmd_create(args: argparse.Namespace) -> int:
    from ..create import create_torrent

    source: Path = args.path
    if not source.exists():
        raise BitswarmError(f"no such file or folder: {source}")
    out: Path = args.output or Path(f"{source.resolve().name}.torrent")
    if out.exists() and not args.force:
        raise BitswarmError(f"{out} exists; use --force to overwrite it")
    tiers = [[u.strip() for u in t.split(",") if u.strip()] for t in args.tracker]
    quiet = args.quiet or args.json
    with render.ByteProgress(f"hashing {source.name}", quiet=quiet) as progress:
        data = create_torrent(
            source,
            trackers=[t for t in tiers if t],
            piece_length=args.piece_size,
            version=args.version,
            private=args.private,
            web_seeds=args.web_seed,
            comment=args.comment,
            progress=progress.update,
        )
    out.write_bytes(data)
    meta = parse_torrent(data)
    if args.json:
        events.emit("created", path=str(out), **render.torrent_json(meta))
        return 0
    print(f"wrote {out}")
    render.print_torrent(meta, console=render.console())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    source: str = args.source
    if source.startswith("magnet:"):
        try:
            magnet = parse_magnet(source)
        except MagnetError as exc:
            raise MagnetError(f"bad magnet link: {exc}") from None
        if args.json:
            events.emit("magnet", **render.magnet_json(magnet))
        else:
            render.print_magnet(magnet, console=render.console())
        return 0
    meta = load_torrent(Path(source))
    if args.json:
        events.emit("torrent", **render.torrent_json(meta))
    else:
        render.print_torrent(meta, console=render.console())
    return 0


def cmd_magnet(args: argparse.Namespace) -> int:
    meta = load_torrent(args.torrent)
    magnet = Magnet.from_metainfo(meta)
    if args.json:
        events.emit("magnet", uri=magnet.to_uri(), **render.magnet_json(magnet))
        return 0
    print(magnet.to_uri())
    return 0

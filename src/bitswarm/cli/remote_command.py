"""`bitswarm remote`: drive a running daemon -- bitswarm's or Transmission's -- over its RPC.

Subcommands: list, add, start, stop, verify, reannounce, remove, info, files, set. Each
takes `--json` (one JSON document on stdout instead of text) and the connection options
(`--url`, `--rpc`, `--auth`, `--timeout`), which may also come before the subcommand.
Torrents are named by id, by info-hash, or by a unique prefix of 6 or more hex digits of
it; `all` names every torrent. The daemon is reached through `RpcClient`
(remote_client.py); tables and JSON come from remote_tables.py.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import BitswarmError
from ..readlimit import MAX_TORRENT_FILE, read_limited
from . import remote_set, remote_tables
from .remote_client import DEFAULT_URL, RemoteError, RpcClient, resolve_endpoint

__all__ = ["register"]

MIN_PREFIX = 6  # hex digits of an info-hash that may name a torrent
DEFAULT_SPEED_BYTES = 1000  # Transmission's daemon counts rates in kB of 1000 bytes


def _connection_options(p: argparse.ArgumentParser, *, sub: bool) -> None:
    # On a subcommand the defaults are SUPPRESSed, so that an option given before the
    # subcommand is not overwritten by the subcommand's default.
    default: Any = argparse.SUPPRESS if sub else None
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--url",
        default=default,
        metavar="URL",
        help=f"the daemon's RPC URL (default: $BITSWARM_RPC_URL or {DEFAULT_URL})",
    )
    where.add_argument(
        "--rpc",
        default=default,
        metavar="HOST:PORT",
        help="the daemon's RPC address (default: as --url)",
    )
    p.add_argument(
        "--auth",
        default=default,
        metavar="USER:PASS",
        help="log in (default: $BITSWARM_RPC_USERNAME and $BITSWARM_RPC_PASSWORD)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS if sub else 30.0,
        metavar="S",
        help="seconds to wait for each reply (default: 30)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if sub else False,
        help="print JSON instead of text",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    remote = sub.add_parser(
        "remote",
        help="drive a running daemon (bitswarm's or transmission-daemon) over its RPC",
        description="Drive a running bitswarm or Transmission daemon over the Transmission "
        "RPC. Torrents are named by id, info-hash, or 6+ hex digits of it; `all` names "
        "every torrent. Files are numbered from 1.",
    )
    _connection_options(remote, sub=False)
    cmds = remote.add_subparsers(dest="remote_command", metavar="SUBCOMMAND")
    cmds.required = True

    def command(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        p = cmds.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        _connection_options(p, sub=True)
        p.set_defaults(handler=handler)
        return p

    command("list", "list the torrents with their progress and rates", cmd_list)
    p = command("add", "add torrents from .torrent files, magnet links or URLs", cmd_add)
    p.add_argument("sources", nargs="+", metavar="SOURCE", help=".torrent file, magnet or URL")
    p.add_argument(
        "--download-dir",
        metavar="DIR",
        help="where the daemon puts the data (default: its download_dir)",
    )
    p.add_argument("--paused", action="store_true", help="add without starting")
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="L",
        help="a label; repeat for more (default: none)",
    )
    for name, verb in (
        ("start", "start"),
        ("stop", "stop"),
        ("verify", "hash-check the data of"),
        ("reannounce", "ask the trackers for more peers for"),
    ):
        p = command(name, f"{verb} torrents", _action(name))
        p.add_argument("ids", nargs="+", metavar="ID", help="id, info-hash or all")
    p = command("remove", "remove torrents (and their data with --delete-data)", cmd_remove)
    p.add_argument("ids", nargs="+", metavar="ID", help="id, info-hash or all")
    p.add_argument("--delete-data", action="store_true", help="delete the downloaded files too")
    p = command("info", "show the details of a torrent", cmd_info)
    p.add_argument("id", metavar="ID", help="id or info-hash")
    p = command("files", "list a torrent's files (numbered from 1)", cmd_files)
    p.add_argument("id", metavar="ID", help="id or info-hash")
    _register_set(command("set", "change torrents' limits, files, labels, location", cmd_set))


def _register_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="ID", help="id, info-hash or all")
    p.add_argument(
        "--download-limit",
        type=remote_set.parse_rate,
        metavar="RATE",
        help="bytes/s, e.g. 2MiB; 0 or unlimited lifts it (default: unchanged)",
    )
    p.add_argument(
        "--upload-limit",
        type=remote_set.parse_rate,
        metavar="RATE",
        help="likewise, for uploads (default: unchanged)",
    )
    p.add_argument("--no-limits", action="store_true", help="lift both rate limits")
    p.add_argument(
        "--priority",
        action="append",
        default=[],
        metavar="N=LEVEL",
        help="file N (or N,M,A-B) at high, normal, low or skip; repeat for more "
        "(default: unchanged)",
    )
    p.add_argument(
        "--get",
        action="append",
        default=[],
        metavar="N,..",
        help="download these files (default: unchanged)",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="N,..",
        help="skip these files (default: unchanged)",
    )
    p.add_argument(
        "--label",
        action="append",
        default=None,
        metavar="L",
        help='labels ("" for none) (default: unchanged)',
    )
    p.add_argument(
        "--location", metavar="DIR", help="where the data is (see --move) (default: unchanged)"
    )
    p.add_argument("--move", action="store_true", help="with --location: move the data there")
    p.add_argument(
        "--ratio",
        type=remote_set.parse_ratio,
        metavar="R",
        help="seed ratio, global, unlimited (default: unchanged)",
    )


# ---------------------------------------------------------------------------- helpers


def _client(args: argparse.Namespace) -> RpcClient:
    endpoint = resolve_endpoint(url=args.url, rpc=args.rpc, auth=args.auth, environ=os.environ)
    return RpcClient(endpoint, timeout=args.timeout)


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _width() -> int | None:
    """Columns to fit in: the terminal's, or $COLUMNS; None (never cut) into a pipe."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return None
    return shutil.get_terminal_size().columns


def _get(client: RpcClient, fields: list[str], ids: list[int] | None) -> list[dict[str, Any]]:
    arguments: dict[str, Any] = {"fields": fields}
    if ids is not None:
        arguments["ids"] = ids
    torrents = client.call("torrent-get", arguments).get("torrents")
    if not isinstance(torrents, list):
        raise RemoteError("torrent-get: the daemon's reply has no torrents list")
    return [t for t in torrents if isinstance(t, dict)]


def resolve_ids(client: RpcClient, words: list[str]) -> list[int]:
    """Ids of the torrents named by `words` (ids, info-hashes or prefixes, or `all`)."""
    known = _get(client, ["id", "hashString"], None)
    if words == ["all"]:
        return sorted(int(t["id"]) for t in known)
    if "all" in words:
        raise BitswarmError("`all` names every torrent: give it alone")
    ids = {int(t["id"]) for t in known}
    found: list[int] = []
    for word in words:
        w = word.strip().lower()
        if w.isdigit() and int(w) in ids:
            match = [int(w)]
        elif len(w) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in w):
            match = [int(t["id"]) for t in known if str(t["hashString"]).startswith(w)]
            if len(match) > 1:
                raise BitswarmError(f"{word} starts {len(match)} info-hashes: give more of it")
        elif w.isdigit():
            match = []
        else:
            raise BitswarmError(
                f"not a torrent id or info-hash: {word!r} "
                f"(a number, or {MIN_PREFIX} or more hex digits of the info-hash)"
            )
        if not match:
            raise BitswarmError(f"no torrent {word} in the daemon at {client.endpoint.url}")
        found.extend(i for i in match if i not in found)
    return found


def _one(client: RpcClient, word: str, fields: list[str]) -> dict[str, Any]:
    if word == "all":
        raise BitswarmError("name one torrent, not all")
    torrents = _get(client, fields, resolve_ids(client, [word]))
    if not torrents:
        raise BitswarmError(f"torrent {word} went away")
    return torrents[0]


def _speed_bytes(client: RpcClient) -> int:
    """Bytes in the daemon's rate "KB" (session-get units; 1000 when it does not say)."""
    units = client.call("session-get", {"fields": ["units"]}).get("units")
    value = units.get("speed-bytes") if isinstance(units, dict) else None
    return value if isinstance(value, int) and value > 0 else DEFAULT_SPEED_BYTES


def _ids_text(ids: list[int]) -> str:
    return f"torrent {ids[0]}" if len(ids) == 1 else "torrents " + ", ".join(map(str, ids))


# ---------------------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    torrents = _get(_client(args), remote_tables.LIST_FIELDS, None)
    if args.json:
        _print_json([remote_tables.torrent_json(t) for t in torrents])
    else:
        print("\n".join(remote_tables.list_lines(torrents, _width())))
    return 0


def _add_arguments(source: str) -> dict[str, Any]:
    if source.startswith("magnet:") or source.lower().startswith(("http://", "https://")):
        return {"filename": source}
    path = Path(source)
    # FileNotFoundError: main() says "no such file"
    data = read_limited(path, MAX_TORRENT_FILE, what=".torrent file")
    return {"metainfo": base64.b64encode(data).decode("ascii")}


def cmd_add(args: argparse.Namespace) -> int:
    client = _client(args)
    results = []
    requests = [(source, _add_arguments(source)) for source in args.sources]
    for source, arguments in requests:
        if args.download_dir is not None:
            arguments["download-dir"] = args.download_dir
        if args.paused:
            arguments["paused"] = True
        if args.label:
            arguments["labels"] = args.label
        reply = client.call("torrent-add", arguments)
        duplicate = "torrent-duplicate" in reply
        entry = reply.get("torrent-added") or reply.get("torrent-duplicate")
        if not isinstance(entry, dict) or "id" not in entry:
            raise RemoteError(f"torrent-add: the daemon's reply names no torrent for {source}")
        if args.label and not duplicate:  # Transmission 3.00 ignores labels in torrent-add
            client.call("torrent-set", {"ids": [entry["id"]], "labels": args.label})
        results.append(
            {
                "source": source,
                "id": entry["id"],
                "hash": entry.get("hashString"),
                "name": entry.get("name"),
                "duplicate": duplicate,
            }
        )
        if not args.json:
            what = "already there" if duplicate else "added"
            print(f"{what}: {entry['id']} {entry.get('name', '')} ({entry.get('hashString')})")
    if args.json:
        _print_json({"added": results})
    return 0


def _action(name: str) -> Any:
    method = f"torrent-{name}"
    past = {"start": "started", "stop": "stopped", "verify": "verifying"}.get(name, "reannounced")

    def handler(args: argparse.Namespace) -> int:
        client = _client(args)
        ids = resolve_ids(client, args.ids)
        if ids:
            client.call(method, {"ids": ids})
        _report(args, name, ids, f"{past} {_ids_text(ids)}" if ids else "no torrents")
        return 0

    handler.__name__ = f"cmd_{name}"
    return handler


def _report(args: argparse.Namespace, action: str, ids: list[int], text: str) -> None:
    if args.json:
        _print_json({"action": action, "ids": ids})
    else:
        print(text)


def cmd_remove(args: argparse.Namespace) -> int:
    client = _client(args)
    ids = resolve_ids(client, args.ids)
    if ids:
        client.call("torrent-remove", {"ids": ids, "delete-local-data": args.delete_data})
    with_data = " and their data" if args.delete_data and len(ids) > 1 else ""
    with_data = with_data or (" and its data" if args.delete_data else "")
    _report(args, "remove", ids, f"removed {_ids_text(ids)}{with_data}" if ids else "no torrents")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    client = _client(args)
    torrent = _one(client, args.id, remote_tables.INFO_FIELDS)
    speed_bytes = _speed_bytes(client)
    if args.json:
        _print_json(remote_tables.info_json(torrent, speed_bytes))
    else:
        print("\n".join(remote_tables.info_lines(torrent, speed_bytes)))
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    torrent = _one(_client(args), args.id, remote_tables.FILE_FIELDS)
    if args.json:
        _print_json(remote_tables.files_json(torrent))
    else:
        print("\n".join(remote_tables.files_lines(torrent, _width())))
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    if args.no_limits and (args.download_limit is not None or args.upload_limit is not None):
        raise BitswarmError("--no-limits lifts both limits: give it without a limit")
    if args.move and args.location is None:
        raise BitswarmError("--move goes with --location DIR")
    changes = remote_set.file_changes(args.priority, args.get, args.skip)
    client = _client(args)
    ids = resolve_ids(client, args.ids)
    common: dict[str, Any] = {}
    if args.download_limit is not None or args.upload_limit is not None or args.no_limits:
        common.update(
            remote_set.limit_arguments(
                args.download_limit, args.upload_limit, args.no_limits, _speed_bytes(client)
            )
        )
    if args.label is not None:
        common["labels"] = [label for label in args.label if label]
    if args.ratio is not None:
        mode, limit = args.ratio
        common["seedRatioMode"] = mode
        if limit is not None:
            common["seedRatioLimit"] = limit
    if not (common or changes or args.location is not None):
        raise BitswarmError("nothing to set: give an option (see bitswarm remote set -h)")
    per_torrent: dict[int, dict[str, Any]] = {i: dict(common) for i in ids}
    if ids and changes:  # file numbers are checked against each torrent's own files first
        for t in _get(client, ["id", "files"], ids):
            count = len(t.get("files") or [])
            per_torrent[int(t["id"])].update(
                remote_set.file_arguments(changes, count, f"torrent {t['id']}")
            )
    if ids and changes:
        for tid, arguments in per_torrent.items():
            client.call("torrent-set", {"ids": [tid], **arguments})
    elif ids and common:  # the same arguments for all: one call
        client.call("torrent-set", {"ids": ids, **common})
    if ids and args.location is not None:
        client.call(
            "torrent-set-location", {"ids": ids, "location": args.location, "move": args.move}
        )
    if args.json:
        sent = {str(tid): arguments for tid, arguments in per_torrent.items()}
        _print_json({"action": "set", "ids": ids, "arguments": sent, "location": args.location})
    else:
        print(f"updated {_ids_text(ids)}" if ids else "no torrents")
    return 0

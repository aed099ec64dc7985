"""The `--json` output of every command: one JSON object per line, from a versioned set.

Scripts read bitswarm's stdout line by line, so with ``--json`` nothing but these objects
goes there (prose, warnings and logs go to stderr). Every object has

* ``event``: what the line is, one of `EVENTS` (a script ignores events it does not know);
* ``schema``: `SCHEMA_VERSION`, raised only when a field changes meaning or goes away
  (adding an event or a field is not a change a script needs to be told about);
* ``time``: seconds since the epoch, when the line was written.

`EVENTS` names each event's required fields and their JSON types; docs/json-events.md
describes them for people, and the tests validate every line the commands print against
`EVENTS` with `validate`. The ``remote`` command prints the daemon's own JSON and is not
part of this set; ``bitswarm tracker`` prints its ``listening`` line in the same form.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

__all__ = ["COMMAND_EVENTS", "EVENTS", "SCHEMA_VERSION", "emit", "event", "validate"]

SCHEMA_VERSION = 1

# JSON types as Python types; a tuple means any of them (None: JSON null).
_NUM = (int, float)
_STR_OR_NULL = (str, type(None))
_STATUS: dict[str, Any] = {
    "name": str,
    "info_hash": str,
    "state": str,
    "progress": _NUM,
    "total_bytes": int,
    "done_bytes": int,
    "pieces_done": int,
    "num_pieces": int,
    "download_rate": _NUM,
    "upload_rate": _NUM,
    "downloaded": int,
    "uploaded": int,
    "ratio": _NUM,
    "peers": int,
    "seeds": int,
    "utp_peers": int,
    "eta": (*_NUM, type(None)),
    "error": _STR_OR_NULL,
    "tracker_message": _STR_OR_NULL,
    "handshake_failures": int,
    "hint": _STR_OR_NULL,
}

EVENTS: dict[str, dict[str, Any]] = {
    # the first line of a long-running command: who speaks and where it listens
    "start": {"command": str, "version": str, "pid": int},
    # `stream`: its first line, where the file is served over HTTP
    "serving": {"url": str},
    # one torrent's progress, once a second (download, seed); `port`: our listening port
    "status": {**_STATUS, "port": int},
    # a magnet link's metadata arrived and was verified (BEP 9)
    "metadata": {"name": str, "info_hash": str, "num_pieces": int, "total_bytes": int},
    # every piece of one torrent is verified
    "completed": {"name": str, "info_hash": str, "total_bytes": int, "seconds": _NUM},
    # one torrent stopped: `reason` is done, seed-ratio, seed-time, stopped or failed
    "finished": {"name": str, "info_hash": str, "reason": str},
    # something went wrong; `info_hash`/`name` say which torrent when it is one torrent's
    "error": {"error": str},
    # a remark for a person, in words (fetching metadata, saving resume data, ...)
    "note": {"message": str},
    # the end of a run: every torrent, the totals and the exit status
    "summary": {
        "torrents": list,
        "succeeded": int,
        "total_bytes": int,
        "downloaded": int,
        "uploaded": int,
        "seconds": _NUM,
        "exit_code": int,
    },
    # `info` and `create`: what a torrent holds (render.torrent_json's fields)
    "torrent": {"name": str, "num_pieces": int, "total_length": int, "files": list},
    # `info` of a magnet link, and `magnet`: the link's parts
    "magnet": {"trackers": list},
    # `create`: where the .torrent was written
    "created": {"path": str, "name": str},
    # demo: one simulated peer's progress (status fields plus `peer`)
    "peer": {"peer": str, "name": str, "progress": _NUM, "state": str},
    # dht: the node listens / joined the network; tracker: where it serves
    "listening": {},
    "bootstrapped": {"good_nodes": int},
    # `config`: the settings download and seed use; `settings` maps each key to its
    # ``{"value", "source"}``, `config_file` is the file read (null: none)
    "config": {"config_file": _STR_OR_NULL, "settings": dict},
    # `resume list`: one resume file; `state` is present, gone, unknown or unreadable
    "resume": {"file": str, "state": str, "pieces": int, "num_pieces": int},
    # `resume clean`: one stale resume file removed (or, with `dry_run`, that would be)
    "resume_removed": {"file": str, "state": str, "dry_run": bool},
}

# Where one command's event has other fields than `EVENTS` says (its `status` is a DHT
# node's routing table, not a torrent's progress).
COMMAND_EVENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("dht", "status"): {"address": str, "node_id": str, "good": int, "buckets": list},
    ("dht", "listening"): {"node_id": str, "addresses": list},
    ("tracker", "listening"): {"workers": int, "store": str},
    ("demo", "start"): {"command": str, "tracker": str, "info_hash": str},
    ("demo", "summary"): {"leechers": int, "size": int, "seconds": _NUM, "identical": bool},
}


def event(kind: str, /, **fields: Any) -> dict[str, Any]:
    """The object for one line: `event`, `schema` and `time` first, then `fields`."""
    if kind not in EVENTS:
        raise ValueError(f"not a documented event: {kind!r}")
    return {"event": kind, "schema": SCHEMA_VERSION, "time": round(time.time(), 3), **fields}


def emit(kind: str, /, **fields: Any) -> None:
    """Write one event line to stdout and flush it (scripts read lines as they come)."""
    sys.stdout.write(json.dumps(event(kind, **fields), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def validate(record: object, command: str | None = None) -> list[str]:
    """What is wrong with one decoded line of `command` (empty when it follows the schema)."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    problems: list[str] = []
    name = record.get("event")
    if name not in EVENTS:
        return [f"unknown event {name!r}"]
    if record.get("schema") != SCHEMA_VERSION:
        problems.append(f"schema is {record.get('schema')!r}, not {SCHEMA_VERSION}")
    if not isinstance(record.get("time"), _NUM) or isinstance(record.get("time"), bool):
        problems.append("time is not a number")
    fields = COMMAND_EVENTS.get((command or "", name), EVENTS[name])
    for key, kind in fields.items():
        if key not in record:
            problems.append(f"{name}: no {key!r}")
        elif (isinstance(record[key], bool) and kind is not bool) or not isinstance(
            record[key], kind
        ):
            problems.append(f"{name}: {key!r} is {type(record[key]).__name__}")
    return problems

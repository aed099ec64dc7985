"""What `bitswarm remote` shows: Transmission torrent objects as tables and as JSON (pure).

The input is what `torrent-get` returns (Transmission's camelCase fields, legacy protocol);
the JSON output is bitswarm's own snake_case shape, the same whichever daemon answered.
Sizes are bytes, rates bytes/s, times Unix seconds. Files are numbered from 1, as aria2
and `bitswarm info` number them; the RPC counts from 0.

The list table copies `transmission-remote -l` (ID, Done, Have, ETA, Down, Up, Ratio,
Status, Name) in 80 columns: the fixed columns take 63, the name the rest.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from .render import format_size

__all__ = [
    "FILE_FIELDS",
    "INFO_FIELDS",
    "LIST_FIELDS",
    "PRIORITY_NAMES",
    "files_json",
    "files_lines",
    "info_json",
    "info_lines",
    "list_lines",
    "short_size",
    "torrent_json",
]

LIST_FIELDS = [
    "id",
    "name",
    "hashString",
    "status",
    "error",
    "errorString",
    "percentDone",
    "metadataPercentComplete",
    "sizeWhenDone",
    "leftUntilDone",
    "totalSize",
    "eta",
    "rateDownload",
    "rateUpload",
    "uploadRatio",
    "peersConnected",
    "peersSendingToUs",
    "peersGettingFromUs",
    "isFinished",
    "downloadDir",
    "labels",
]
INFO_FIELDS = [
    *LIST_FIELDS,
    "haveValid",
    "haveUnchecked",
    "downloadedEver",
    "uploadedEver",
    "corruptEver",
    "downloadLimit",
    "downloadLimited",
    "uploadLimit",
    "uploadLimited",
    "seedRatioLimit",
    "seedRatioMode",
    "pieceCount",
    "pieceSize",
    "isPrivate",
    "comment",
    "creator",
    "dateCreated",
    "addedDate",
    "doneDate",
    "magnetLink",
    "recheckProgress",
    "trackerStats",
]
FILE_FIELDS = ["id", "name", "hashString", "files", "fileStats"]

# torrent-get `status` (spec 3.3) -> bitswarm's activity names (daemon/model.py Activity)
STATES = {
    0: "stopped",
    1: "check_wait",
    2: "checking",
    3: "download_wait",
    4: "downloading",
    5: "seed_wait",
    6: "seeding",
}
PRIORITY_NAMES = {-1: "low", 0: "normal", 1: "high"}  # Transmission's tr_priority_t
LOCAL_ERROR = 3  # torrent-get `error`: 1 tracker warning, 2 tracker error, 3 local error
_RATIO_MODES = {0: "global", 1: "torrent", 2: "unlimited"}


def short_size(n: float) -> str:
    """At most 8 characters: "999 B", "1.23 KiB", "12.3 MiB", "123 GiB"."""
    if n < 1024:
        return f"{max(n, 0):.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024
        if n < 1000 or unit == "PiB":
            digits = 2 if n < 10 else 1 if n < 100 else 0
            return f"{n:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def _eta(t: dict[str, Any]) -> str:
    if t.get("leftUntilDone", 1) == 0 and t.get("metadataPercentComplete", 1) >= 1:
        return "Done"
    seconds = int(t.get("eta", -1))
    if seconds < 0:
        return "-"
    for size, unit, small, small_unit in ((86400, "d", 3600, "h"), (3600, "h", 60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} {seconds % size // small}{small_unit}"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds}s"


def _ratio(value: float) -> str:
    if value == -2:
        return "Inf"
    if value < 0:
        return "None"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _rate(value: float) -> str:
    return short_size(value) if value >= 1 else "-"


def _status(t: dict[str, Any]) -> str:
    """The Status column, in transmission-remote's words."""
    status = int(t.get("status", 0))
    if status == 0:
        if t.get("error") == LOCAL_ERROR:
            return "Error"
        return "Finished" if t.get("isFinished") else "Stopped"
    if status in (4, 6):
        sending, getting = t.get("peersSendingToUs", 0), t.get("peersGettingFromUs", 0)
        if status == 4 and t.get("metadataPercentComplete", 1) < 1:
            return "Metadata"
        if sending and getting:
            return "Up & Down"
        if sending:
            return "Downloading"
        if getting:
            return "Uploading" if float(t.get("percentDone", 0)) < 1 else "Seeding"
        return "Idle"
    return {1: "Will Verify", 2: "Verifying", 3: "Queued", 5: "Queued"}.get(status, "?")


def _have(t: dict[str, Any]) -> int:
    return max(int(t.get("sizeWhenDone", 0)) - int(t.get("leftUntilDone", 0)), 0)


def _fit(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def list_lines(torrents: Sequence[dict[str, Any]], width: int | None) -> list[str]:
    """The list table and its Sum line; names cut to fit `width` columns (None: never)."""
    id_width = max([4, *(len(str(t.get("id", ""))) + 1 for t in torrents)])
    head = f"{'ID':>{id_width}} {'Done':>4} {'Have':>8} {'ETA':>7} {'Down':>8} {'Up':>8}"
    head += f" {'Ratio':>5} {'Status':<11} "
    name_width = None if width is None else max(width - len(head), 8)
    lines = [head + "Name"]
    for t in sorted(torrents, key=lambda t: int(t.get("id", 0))):
        mark = "*" if t.get("error") else " "
        done = int(float(t.get("percentDone", 0)) * 100)
        lines.append(
            f"{str(t.get('id')) + mark:>{id_width}} {done:>3}% {short_size(_have(t)):>8}"
            f" {_eta(t):>7} {_rate(t.get('rateDownload', 0)):>8}"
            f" {_rate(t.get('rateUpload', 0)):>8} {_ratio(t.get('uploadRatio', -1)):>5}"
            f" {_status(t):<11} {_fit(str(t.get('name', '')), name_width)}"
        )
    have = sum(_have(t) for t in torrents)
    down = sum(float(t.get("rateDownload", 0)) for t in torrents)
    up = sum(float(t.get("rateUpload", 0)) for t in torrents)
    lines.append(
        f"{'Sum:':<{id_width}} {'':>4} {short_size(have):>8} {'':>7}"
        f" {_rate(down):>8} {_rate(up):>8}"
    )
    return lines


def _state(t: dict[str, Any]) -> str:
    if int(t.get("status", 0)) == 0 and t.get("error") == LOCAL_ERROR:
        return "error"
    if int(t.get("status", 0)) == 4 and t.get("metadataPercentComplete", 1) < 1:
        return "metadata"
    return STATES.get(int(t.get("status", 0)), "unknown")


def torrent_json(t: dict[str, Any]) -> dict[str, Any]:
    """One row of `list --json`."""
    eta = int(t.get("eta", -1))
    ratio = float(t.get("uploadRatio", -1))
    return {
        "id": t.get("id"),
        "hash": t.get("hashString"),
        "name": t.get("name"),
        "state": _state(t),
        "error": t.get("errorString") or None,
        "progress": float(t.get("percentDone", 0)),
        "have": _have(t),
        "size": int(t.get("sizeWhenDone", 0)),
        "total_size": int(t.get("totalSize", 0)),
        "left": int(t.get("leftUntilDone", 0)),
        "eta": eta if eta >= 0 else None,
        "download_rate": t.get("rateDownload", 0),
        "upload_rate": t.get("rateUpload", 0),
        "ratio": ratio if ratio >= 0 else None,  # -1 none yet, -2 infinite
        "peers": t.get("peersConnected", 0),
        "location": t.get("downloadDir"),
        "labels": list(t.get("labels") or []),
    }


def _limit(t: dict[str, Any], key: str, speed_bytes: int) -> int | None:
    """A torrent's own rate limit in bytes/s, None when it has none."""
    if not t.get(f"{key}Limited"):
        return None
    return int(t.get(f"{key}Limit", 0)) * speed_bytes


def info_json(t: dict[str, Any], speed_bytes: int) -> dict[str, Any]:
    """`info --json`: a list row and the details. `speed_bytes`: bytes in the daemon's KB."""
    mode = int(t.get("seedRatioMode", 0))
    return {
        **torrent_json(t),
        "verified": t.get("haveValid", 0),
        "unverified": t.get("haveUnchecked", 0),
        "downloaded_ever": t.get("downloadedEver", 0),
        "uploaded_ever": t.get("uploadedEver", 0),
        "corrupt_ever": t.get("corruptEver", 0),
        "peers_sending": t.get("peersSendingToUs", 0),
        "peers_receiving": t.get("peersGettingFromUs", 0),
        "download_limit": _limit(t, "download", speed_bytes),
        "upload_limit": _limit(t, "upload", speed_bytes),
        "seed_ratio_mode": _RATIO_MODES.get(mode, str(mode)),
        "seed_ratio_limit": t.get("seedRatioLimit"),
        "pieces": t.get("pieceCount"),
        "piece_size": t.get("pieceSize"),
        "private": bool(t.get("isPrivate")),
        "comment": t.get("comment") or "",
        "creator": t.get("creator") or "",
        "created": t.get("dateCreated") or None,
        "added": t.get("addedDate") or None,
        "completed": t.get("doneDate") or None,
        "magnet": t.get("magnetLink") or None,
        "trackers": [
            {
                "url": s.get("announce"),
                "tier": s.get("tier"),
                "seeders": s.get("seederCount", -1),
                "leechers": s.get("leecherCount", -1),
                "last_result": s.get("lastAnnounceResult") or "",
            }
            for s in t.get("trackerStats") or []
        ],
    }


def _date(ts: Any) -> str:
    if not ts:
        return "never"
    return _dt.datetime.fromtimestamp(int(ts), _dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _per_s(limit: int | None) -> str:
    return "unlimited" if limit is None else f"{format_size(limit)}/s"


def info_lines(t: dict[str, Any], speed_bytes: int) -> list[str]:
    """`info`: one labelled line per fact, trackers indented under their heading."""
    j = info_json(t, speed_bytes)
    ratio = "none" if j["ratio"] is None else _ratio(t.get("uploadRatio", -1))
    seed = j["seed_ratio_mode"]
    if seed == "torrent":
        seed = f"{float(j['seed_ratio_limit'] or 0):.2f}"
    rows = [
        ("Name", j["name"]),
        ("ID", str(j["id"])),
        ("Hash", j["hash"]),
        ("State", _status(t) + ("" if _status(t).lower() == j["state"] else f" ({j['state']})")),
        ("Location", j["location"]),
        ("Labels", ", ".join(j["labels"]) or "none"),
        (
            "Progress",
            f"{j['progress'] * 100:.1f}% ({format_size(j['have'])} of "
            f"{format_size(j['size'])} wanted; {format_size(j['verified'])} verified)",
        ),
        ("Total size", format_size(j["total_size"])),
        ("ETA", _eta(t)),
        ("Rates", f"down {_per_s(int(j['download_rate']))}, up {_per_s(int(j['upload_rate']))}"),
        ("Limits", f"down {_per_s(j['download_limit'])}, up {_per_s(j['upload_limit'])}"),
        (
            "Transferred",
            f"down {format_size(j['downloaded_ever'])}, up {format_size(j['uploaded_ever'])},"
            f" ratio {ratio}, corrupt {format_size(j['corrupt_ever'])}",
        ),
        ("Seed ratio", seed),
        (
            "Peers",
            f"{j['peers']} connected, {j['peers_sending']} sending to us, "
            f"{j['peers_receiving']} receiving from us",
        ),
        ("Pieces", f"{j['pieces']} x {format_size(j['piece_size'] or 0)}"),
        ("Private", "yes" if j["private"] else "no"),
        ("Added", _date(j["added"])),
        ("Completed", _date(j["completed"])),
    ]
    if j["error"]:
        kind = {1: "Tracker warn", 2: "Tracker err"}.get(int(t.get("error") or 0), "Error")
        rows.append((kind, j["error"]))
    rows += [(k, v) for k, v in (("Comment", j["comment"]), ("Creator", j["creator"])) if v]
    if j["magnet"]:
        rows.append(("Magnet", j["magnet"]))
    lines = [f"{label + ':':<13}{value}" for label, value in rows]
    lines.append("Trackers:" + ("" if j["trackers"] else " none"))
    for tr in j["trackers"]:
        seen = (
            f"{tr['seeders']} seeders, {tr['leechers']} leechers"
            if tr["seeders"] >= 0
            else "no scrape yet"
        )
        result = f"; {tr['last_result']}" if tr["last_result"] else ""
        lines.append(f"  tier {tr['tier']}: {tr['url']} ({seen}{result})")
    return lines


def files_json(t: dict[str, Any]) -> dict[str, Any]:
    """`files --json`: the torrent's id, hash and name, and its files numbered from 1."""
    stats = t.get("fileStats") or []
    files = []
    for i, f in enumerate(t.get("files") or []):
        st = stats[i] if i < len(stats) else {}
        length = int(f.get("length", 0))
        done = int(st.get("bytesCompleted", f.get("bytesCompleted", 0)))
        files.append(
            {
                "number": i + 1,
                "name": f.get("name"),
                "length": length,
                "completed": done,
                "progress": done / length if length else 1.0,
                "priority": PRIORITY_NAMES.get(int(st.get("priority", 0)), "normal"),
                "wanted": bool(st.get("wanted", True)),
            }
        )
    return {"id": t.get("id"), "hash": t.get("hashString"), "name": t.get("name"), "files": files}


def files_lines(t: dict[str, Any], width: int | None) -> list[str]:
    """`files`: #, Done, Priority, Get, Size, Name; a torrent without metadata has none."""
    j = files_json(t)
    num_width = max(3, len(str(len(j["files"]))))
    head = f"{'#':>{num_width}} {'Done':>4} {'Priority':<8} {'Get':<3} {'Size':>8} "
    name_width = None if width is None else max(width - len(head), 8)
    lines = [f"{j['name']} ({len(j['files'])} files)", head + "Name"]
    lines += [
        f"{f['number']:>{num_width}} {int(f['progress'] * 100):>3}% {f['priority']:<8}"
        f" {'yes' if f['wanted'] else 'no':<3} {short_size(f['length']):>8}"
        f" {_fit(f['name'], name_width)}"
        for f in j["files"]
    ]
    return lines

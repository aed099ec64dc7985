"""`bitswarm resume list` and `bitswarm resume clean`: the fast-resume files of the CLI.

`download` and `seed` keep one resume file per torrent and download folder in
``$XDG_STATE_HOME/bitswarm/resume/`` (transfer_commands.py `resume_path_for`), and nothing
ever removed them. `list` shows each: the torrent's name and info-hash, where its data is,
how many pieces were verified, when it was saved, and a state:

* ``present``: the data (the folder's entry named after the torrent) exists;
* ``gone``: it does not: the data was moved or deleted, the file is stale;
* ``unknown``: a file written before the data's path was recorded (issue 12);
* ``unreadable``: not a bitswarm resume file at all (truncated, another program's).

`clean` removes the ``gone`` and ``unreadable`` ones (``--dry-run``: only says which);
``unknown`` files are kept, since nothing says whether their data is still in use.
With ``--json``, each file is one `resume` (list) or `resume_removed` (clean) event
(events.py, docs/json-events.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..readlimit import InputTooLarge, read_limited
from ..storage.resume import ResumeError, read_resume
from . import events
from .transfer_commands import state_dir

__all__ = ["ResumeEntry", "register", "scan"]

MAX_RESUME_FILE = 64 * 2**20  # as storage/resume.py: larger is not a resume file
STALE = frozenset({"gone", "unreadable"})


@dataclass(frozen=True, slots=True)
class ResumeEntry:
    """One resume file and what it says."""

    file: Path
    state: str  # present, gone, unknown, unreadable
    info_hash: str = ""
    name: str = ""
    data: str = ""  # save path / name, "" when not recorded
    pieces: int = 0  # verified
    num_pieces: int = 0
    saved_at: int = 0
    problem: str = ""  # why unreadable

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "state": self.state,
            "info_hash": self.info_hash or None,
            "name": self.name or None,
            "data": self.data or None,
            "pieces": self.pieces,
            "num_pieces": self.num_pieces,
            "saved_at": self.saved_at or None,
            "problem": self.problem or None,
        }


def resume_folder() -> Path:
    return state_dir() / "resume"


def scan(folder: Path) -> list[ResumeEntry]:
    """Every ``*.resume`` file in `folder`, read (never changed), by name."""
    if not folder.is_dir():
        return []
    return [_entry(path) for path in sorted(folder.glob("*.resume")) if path.is_file()]


def _entry(path: Path) -> ResumeEntry:
    try:
        data = read_resume(read_limited(path, MAX_RESUME_FILE, what="resume file"))
    except (OSError, ResumeError, InputTooLarge) as exc:
        return ResumeEntry(path, "unreadable", problem=str(exc))
    have = sum(bin(byte).count("1") for byte in data.have)
    located = str(Path(data.save_path) / data.name) if data.save_path and data.name else ""
    state = "unknown" if not located else "present" if Path(located).exists() else "gone"
    return ResumeEntry(
        path,
        state,
        info_hash=data.info_hash.hex(),
        name=data.name,
        data=located,
        pieces=have,
        num_pieces=data.num_pieces,
        saved_at=data.saved_at,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "resume",
        help="list or clean the resume files of download and seed",
        description="The fast-resume files download and seed keep in "
        "$XDG_STATE_HOME/bitswarm/resume (one per torrent and download folder).",
    )
    actions = p.add_subparsers(dest="resume_action", metavar="ACTION")
    actions.required = True
    q = actions.add_parser(
        "list",
        help="show every resume file: torrent, data path, pieces, saved time, state",
        description="Show every resume file: the torrent's name and info-hash, where its "
        "data is, the pieces verified, when it was saved, and whether the data is still "
        "there (present, gone, unknown for files of older versions, unreadable).",
    )
    q.add_argument("--json", action="store_true", help="print one `resume` JSON event per file")
    q.set_defaults(handler=cmd_list)
    q = actions.add_parser(
        "clean",
        help="remove the resume files whose data is gone (and unreadable ones)",
        description="Remove the resume files whose data is gone, and files that are "
        "not resume files at all; files of older versions, which do not say where their "
        "data is, are kept.",
    )
    q.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    q.add_argument(
        "--json", action="store_true", help="print one `resume_removed` JSON event per file"
    )
    q.set_defaults(handler=cmd_clean)


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"


def cmd_list(args: argparse.Namespace) -> int:
    entries = scan(resume_folder())
    if args.json:
        for e in entries:
            events.emit("resume", **e.to_json())
        return 0
    if not entries:
        print(f"no resume files in {resume_folder()}")
        return 0
    rows = [
        (
            e.name or e.file.name,
            e.info_hash[:16] or "-",
            f"{e.pieces}/{e.num_pieces}" if e.num_pieces else "-",
            _when(e.saved_at),
            e.state,
            e.data or e.problem or "-",
        )
        for e in entries
    ]
    header = ("NAME", "INFO-HASH", "PIECES", "SAVED", "STATE", "DATA")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:5])]
        print("  ".join([*cells, row[5]]))
    sys.stdout.flush()
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    entries = [e for e in scan(resume_folder()) if e.state in STALE]
    for e in entries:
        if not args.dry_run:
            e.file.unlink(missing_ok=True)
        if args.json:
            events.emit("resume_removed", dry_run=args.dry_run, **e.to_json())
        else:
            verb = "would remove" if args.dry_run else "removed"
            why = f"data gone: {e.data}" if e.state == "gone" else f"unreadable: {e.problem}"
            print(f"{verb} {e.file.name} ({e.name or 'unknown torrent'}; {why})")
    if not args.json and not entries:
        print("no stale resume files")
    return 0

"""The life `bitswarm remote` leads a torrent through, against any Transmission-RPC daemon.

`run_life` adds a torrent paused, lists it, shows its files, checks it, changes file
priorities, limits, labels and the seed ratio, moves its data, starts, stops and removes it
with its data; every change is checked in the daemon's own `torrent-get` reply, not in the
CLI's output. test_remote_life.py runs it against transmission-daemon,
test_remote_bitswarm.py against `bitswarm daemon`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bitswarm.cli.main import main
from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent

from .remote_daemons import RunningDaemon, wait_for

__all__ = ["FILES", "LONG_NAME", "Remote", "make_torrent", "run_life"]

LONG_NAME = "a folder whose name is far too long for one line of an eighty column terminal"
FILES = {"big.bin": 70_000, "docs/readme.txt": 5_000, "docs/deep/one": 1}


class Remote:
    """Runs `bitswarm remote` in this process against one daemon, output captured."""

    def __init__(self, daemon: RunningDaemon, capsys: pytest.CaptureFixture[str]) -> None:
        self.daemon = daemon
        self.capsys = capsys

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        auth = (
            ["--auth", f"{self.daemon.username}:{self.daemon.password}"]
            if self.daemon.username is not None
            else []
        )
        rc = main(["remote", "--url", self.daemon.url, *auth, *argv])
        out, err = self.capsys.readouterr()
        return rc, out, err

    def ok(self, *argv: str) -> str:
        rc, out, err = self.run(*argv)
        assert rc == 0, err
        assert err == ""
        return out

    def json(self, *argv: str) -> Any:
        return json.loads(self.ok(*argv, "--json"))


def make_torrent(parent: Path) -> tuple[Path, Path]:
    """Content under `parent`/LONG_NAME and its .torrent (16 KiB pieces)."""
    folder = parent / LONG_NAME
    for i, (rel, size) in enumerate(FILES.items()):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([i + 1]) * size)
    torrent = parent.parent / "content.torrent"
    torrent.write_bytes(
        create_torrent(folder, trackers=[["http://127.0.0.1:1/announce"]], piece_length=16384)
    )
    return folder, torrent


def _status(daemon: RunningDaemon, tid: int) -> int:
    status: int = daemon.torrent(tid, "status")["status"]
    return status


def run_life(daemon: RunningDaemon, remote: Remote, tmp_path: Path, speed_bytes: int) -> None:
    """Add paused, list, files, verify, set priorities/limits/labels/ratio, move, stop,
    start, remove with data; each step checked in the daemon's own reply."""
    data_parent = tmp_path / "data"
    folder, torrent = make_torrent(data_parent)
    info_hash = parse_torrent(torrent.read_bytes()).info.info_hashes.hex_v1
    assert info_hash is not None

    added = remote.json(
        "add", str(torrent), "--paused", "--label", "tv", "--download-dir", str(data_parent)
    )["added"]
    assert [(a["hash"], a["duplicate"]) for a in added] == [(info_hash, False)]
    tid = added[0]["id"]
    seen = daemon.torrent(tid, "hashString", "labels", "downloadDir", "status")
    assert seen == {
        "hashString": info_hash,
        "labels": ["tv"],
        "downloadDir": str(data_parent),
        "status": seen["status"],
    }
    again = remote.json("add", str(torrent))["added"]
    assert again[0]["duplicate"] and again[0]["id"] == tid

    # the data is there already: a hash check finds it all
    wait_for(lambda: _status(daemon, tid) not in (1, 2), "the check on add to end")
    remote.ok("verify", info_hash[:8])
    wait_for(
        lambda: daemon.torrent(tid, "status", "percentDone") == {"status": 0, "percentDone": 1},
        "the check to find every piece",
    )

    rows = remote.json("list")
    assert [(r["id"], r["hash"], r["state"], r["progress"]) for r in rows] == [
        (tid, info_hash, "stopped", 1.0)
    ]
    assert rows[0]["labels"] == ["tv"] and rows[0]["size"] == sum(FILES.values())
    table = remote.ok("list").splitlines()
    assert table[0].split() == [
        "ID",
        "Done",
        "Have",
        "ETA",
        "Down",
        "Up",
        "Ratio",
        "Status",
        "Name",
    ]
    assert table[1].split()[:3] == [str(tid), "100%", "73.2"]  # 75,001 bytes
    assert table[-1].startswith("Sum:")
    assert all(len(line) <= 80 for line in table)  # COLUMNS=80: the long name is cut
    assert table[1].endswith("…") and LONG_NAME[:10] in table[1]

    files = remote.json("files", str(tid))["files"]
    names = {f"{LONG_NAME}/{rel}": size for rel, size in FILES.items()}
    assert {f["name"]: f["length"] for f in files} == names
    assert [f["number"] for f in files] == list(range(1, len(files) + 1))
    assert all(f["progress"] == 1.0 and f["wanted"] for f in files)
    number = {f["name"]: f["number"] for f in files}
    readme, one = number[f"{LONG_NAME}/docs/readme.txt"], number[f"{LONG_NAME}/docs/deep/one"]
    lines = remote.ok("files", str(tid)).splitlines()
    assert lines[1].split() == ["#", "Done", "Priority", "Get", "Size", "Name"]
    assert len(lines) == 2 + len(FILES)

    remote.ok(
        "set", info_hash, "--priority", f"{readme}=high", "--skip", str(one),
        "--download-limit", "2MiB", "--upload-limit", "100kB", "--ratio", "1.5",
        "--label", "tv", "--label", "hd",
    )  # fmt: skip
    seen = daemon.torrent(
        tid, "priorities", "wanted", "downloadLimit", "downloadLimited", "uploadLimit",
        "uploadLimited", "seedRatioLimit", "seedRatioMode", "labels",
    )  # fmt: skip
    assert seen["priorities"][readme - 1] == 1 and seen["priorities"][one - 1] == 0
    assert [bool(w) for w in seen["wanted"]] == [n != one for n in range(1, len(FILES) + 1)]
    assert (seen["downloadLimited"], seen["downloadLimit"]) == (True, round(2**21 / speed_bytes))
    assert (seen["uploadLimited"], seen["uploadLimit"]) == (True, round(10**5 / speed_bytes))
    assert (seen["seedRatioMode"], seen["seedRatioLimit"]) == (1, 1.5)
    assert sorted(seen["labels"]) == ["hd", "tv"]
    info = remote.json("info", str(tid))
    assert info["download_limit"] == round(2**21 / speed_bytes) * speed_bytes
    assert (info["hash"], info["state"], sorted(info["labels"])) == (
        info_hash,
        "stopped",
        ["hd", "tv"],
    )
    shown = {f["number"]: f for f in remote.json("files", str(tid))["files"]}
    assert (shown[readme]["priority"], shown[one]["wanted"]) == ("high", False)
    assert "Limits:" in remote.ok("info", str(tid))

    remote.ok("set", str(tid), "--no-limits", "--get", str(one))
    seen = daemon.torrent(tid, "downloadLimited", "uploadLimited", "wanted")
    assert not seen["downloadLimited"] and not seen["uploadLimited"] and all(seen["wanted"])

    moved = tmp_path / "moved"
    moved.mkdir()
    remote.ok("set", str(tid), "--location", str(moved), "--move")
    wait_for(
        lambda: (
            daemon.torrent(tid, "downloadDir")["downloadDir"] == str(moved)
            and (moved / LONG_NAME / "big.bin").is_file()
            and not folder.exists()
        ),
        "the data to move",
    )

    remote.ok("start", str(tid))
    wait_for(lambda: _status(daemon, tid) in (5, 6), "the torrent to seed")
    assert remote.json("stop", "all") == {"action": "stop", "ids": [tid]}
    wait_for(lambda: _status(daemon, tid) == 0, "the torrent to stop")

    assert remote.ok("remove", str(tid), "--delete-data").startswith("removed torrent")
    wait_for(
        lambda: not daemon.raw("torrent-get", {"fields": ["id"]})["torrents"],
        "the torrent to go",
    )
    wait_for(lambda: not any(p.is_file() for p in moved.rglob("*")), "the data to go")
    assert remote.json("list") == []

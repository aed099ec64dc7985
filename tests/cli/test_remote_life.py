"""`bitswarm remote` drives a real daemon through a torrent's whole life.

The daemon is Debian's transmission-daemon 3.00 (nobody here wrote it): every change the
CLI makes is checked in the daemon's own `torrent-get` reply, not in the CLI's output.
The same life runs against `bitswarm daemon` in test_remote_bitswarm.py.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bitswarm.cli.main import main
from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from tests.interop.tools import require_program

from .remote_daemons import RunningDaemon, free_port, transmission_daemon, wait_for

pytestmark = pytest.mark.interop

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


@pytest.fixture
def transmission(tmp_path: Path) -> Iterator[RunningDaemon]:
    with transmission_daemon(tmp_path / "daemon") as daemon:
        yield daemon


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


def test_life_against_transmission(
    transmission: RunningDaemon,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    speed_bytes = transmission.raw("session-get", {"fields": ["units"]})["units"]["speed-bytes"]
    run_life(transmission, Remote(transmission, capsys), tmp_path, speed_bytes)


class _TorrentServer(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-bittorrent")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_add_by_magnet_and_url_and_errors(
    transmission: RunningDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    remote = Remote(transmission, capsys)
    _, torrent = make_torrent(tmp_path / "data")
    meta = parse_torrent(torrent.read_bytes())
    magnet = remote.ok("add", "--paused", f"magnet:?xt=urn:btih:{'ab' * 20}&dn=by%20magnet")
    assert magnet.startswith("added: ")
    handler = type("Handler", (_TorrentServer,), {"body": torrent.read_bytes()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/x.torrent"
        remote.ok("add", url, "--paused")
    finally:
        server.shutdown()
        server.server_close()
    rows = {r["hash"]: r for r in remote.json("list")}
    assert set(rows) == {"ab" * 20, meta.info.info_hashes.hex_v1}
    assert rows["ab" * 20]["state"] == "stopped"

    # errors: one line each, exit status 1, nothing on stdout
    bad = tmp_path / "bad.torrent"
    bad.write_bytes(b"not bencoded at all")
    for argv, message in (
        (["add", str(bad)], "torrent-add: "),
        (["add", str(tmp_path / "missing.torrent")], "no such file or folder"),
        (["info", "999"], "no torrent 999"),
        (["start", "zz"], "not a torrent id or info-hash"),
        (["stop", "1", "all"], "`all` names every torrent"),
        (["set", "1", "--priority", "9=high"], "there is no file 9"),
        (["set", "1"], "nothing to set"),
    ):
        rc, out, err = remote.run(*argv)
        assert (rc, out) == (1, ""), argv
        assert err.count("\n") == 1 and message in err, (argv, err)
    two = [r["id"] for r in rows.values()]
    assert remote.json("remove", "all") == {"action": "remove", "ids": sorted(two)}
    assert remote.json("list") == []


def test_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "s3cret-Pa55"
    with transmission_daemon(tmp_path, username="alice", password=password) as daemon:
        url = daemon.url
        monkeypatch.delenv("BITSWARM_RPC_USERNAME", raising=False)
        monkeypatch.delenv("BITSWARM_RPC_PASSWORD", raising=False)
        for auth in ([], ["--auth", "alice:wrong-pass"], ["--auth", f"bob:{password}"]):
            capsys.readouterr()
            assert main(["remote", "--url", url, *auth, "list"]) == 1
            out, err = capsys.readouterr()
            assert out == "" and err.count("\n") == 1 and "authentication failed" in err
            assert password not in err and "wrong-pass" not in err
        capsys.readouterr()
        assert main(["remote", "list", "--url", url, "--auth", f"alice:{password}"]) == 0
        assert capsys.readouterr().out.startswith("  ID Done")
        with_userinfo = url.replace("http://", f"http://alice:{password}@")
        assert main(["remote", "--url", with_userinfo, "list", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
        monkeypatch.setenv("BITSWARM_RPC_USERNAME", "alice")
        monkeypatch.setenv("BITSWARM_RPC_PASSWORD", password)
        monkeypatch.setenv("BITSWARM_RPC_URL", url)
        assert main(["remote", "list", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []


def test_unreachable_daemon_is_one_line(tmp_path: Path) -> None:
    """As a person runs it: a process, one line on stderr, exit status 1, no traceback."""
    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "bitswarm.cli.main", "remote", "--rpc", f"127.0.0.1:{port}", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"bitswarm: error: cannot reach the daemon at "
        f"http://127.0.0.1:{port}/transmission/rpc: connection refused\n"
    )


def test_transmission_remote_agrees(
    transmission: RunningDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Cross-checked with Transmission's own client: each sees what the other added."""
    program = require_program("transmission-remote")
    remote = Remote(transmission, capsys)
    _, torrent = make_torrent(tmp_path / "data")
    ours = remote.json("add", str(torrent), "--paused")["added"][0]
    port = transmission.url.split(":")[2].split("/")[0]
    details = subprocess.run(
        [program, port, "-t", str(ours["id"]), "-i"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert f"Hash: {ours['hash']}" in details and f"Name: {LONG_NAME}" in details
    magnet = f"magnet:?xt=urn:btih:{'cd' * 20}&dn=theirs"
    subprocess.run(
        [program, port, "--start-paused", "-a", magnet], capture_output=True, timeout=30, check=True
    )
    assert {r["hash"]: r["name"] for r in remote.json("list")} == {
        ours["hash"]: LONG_NAME,
        "cd" * 20: "theirs",
    }

"""`bitswarm remote` against Debian's transmission-daemon 3.00 (nobody here wrote it):
a torrent's whole life (remote_life.py), adding by magnet and URL, one-line errors, Basic
auth, an unreachable daemon, and a cross-check with Transmission's own transmission-remote.
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
from bitswarm.metainfo import parse_torrent
from tests.interop.tools import require_program

from .remote_daemons import RunningDaemon, free_port, transmission_daemon
from .remote_life import LONG_NAME, Remote, make_torrent, run_life

pytestmark = pytest.mark.interop


@pytest.fixture
def transmission(tmp_path: Path) -> Iterator[RunningDaemon]:
    with transmission_daemon(tmp_path / "daemon") as daemon:
        yield daemon


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

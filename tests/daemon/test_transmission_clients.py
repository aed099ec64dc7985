"""Real Transmission clients against a real daemon: Debian's transmission-remote 3.00
through a torrent's whole life (downloaded from a libtorrent seeder), the
`transmission-rpc` library (PyPI), raw JSON-RPC 2.0 over HTTP, and Transmission's own web
client in a headless Chromium. With CI=true a missing program fails, never skips."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bitswarm.create import create_torrent
from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.model import Activity, TorrentView
from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import free_port
from tests.interop.tools import missing, require_module, require_program, run

from .conftest import RunningDaemon
from .helpers import Swarm, wait_until

FILES = {"a.bin": 300_000, "b.bin": 200_000, "c.txt": 5_000}


def make_content(parent: Path, name: str = "payload") -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    for i, (file, size) in enumerate(FILES.items()):
        (folder / file).write_bytes(bytes((i * 7 + n) % 251 for n in range(size)))
    return folder


def only_view(daemon: RunningDaemon) -> TorrentView:
    views: list[TorrentView] = daemon.call(lambda m: m.torrents())
    assert len(views) == 1, views
    return views[0]


def remote(daemon: RunningDaemon, *args: str) -> str:
    program = require_program("transmission-remote")
    done = run([program, f"127.0.0.1:{daemon.rpc_port}", *args], timeout=60)
    assert done.returncode == 0, f"transmission-remote {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.interop
@pytest.mark.timeout(180)  # a download from libtorrent under a loaded 2-core machine
def test_transmission_remote_whole_life(daemon: RunningDaemon, tmp_path: Path) -> None:
    require_program("transmission-remote")
    require_module("libtorrent")
    content = make_content(tmp_path / "seed")
    with Swarm() as swarm:
        raw = create_torrent(
            content, piece_length=32 * 1024, version="v1", trackers=[[swarm.tracker_url]]
        )
        torrent = tmp_path / "payload.torrent"
        torrent.write_bytes(raw)
        spec = PeerSpec(
            Role.SEED,
            torrent,
            tmp_path / "seed",
            tmp_path / "lt-work",
            Endpoint("127.0.0.1", free_port("127.0.0.1")),
            tracker=swarm.tracker_url,
        )
        with LibtorrentPeer(spec):
            assert "success" in remote(daemon, "-a", str(torrent))
            tid = only_view(daemon).id

            def listed() -> str:
                return remote(daemon, "-l")

            wait_until(lambda: "100%" in listed(), 120, "transmission-remote -l to show 100%")
        table = listed()
        assert re.search(rf"^\s*{tid}\s+100%.*payload\s*$", table, re.M), table
        downloaded = daemon.download_dir / "payload"
        for file, size in FILES.items():
            assert (downloaded / file).read_bytes() == (content / file).read_bytes(), file
            assert (downloaded / file).stat().st_size == size

        files_out = remote(daemon, "-t", str(tid), "-f")
        assert "payload/b.bin" in files_out
        remote(daemon, "-t", str(tid), "--no-get", "1")
        priorities = daemon.call(lambda m: [f.priority for f in m.files(tid)])
        assert priorities[1] == 0 and priorities[0] > 0
        remote(daemon, "-t", str(tid), "--get", "1", "-ph", "2")
        priorities = daemon.call(lambda m: [f.priority for f in m.files(tid)])
        assert priorities[1] > 0 and priorities[2] == 7
        assert re.search(r"^\s*2:.*High\s+Yes", remote(daemon, "-t", str(tid), "-f"), re.M)

        remote(daemon, "-t", str(tid), "-d", "150")
        options = only_view(daemon).options
        assert options.download_limit == 150_000 and options.download_limited
        assert "150 kB/s" in remote(daemon, "-t", str(tid), "-i")

        remote(daemon, "-t", str(tid), "--stop")
        wait_until(lambda: only_view(daemon).activity is Activity.STOPPED, 30, "stopped")
        assert re.search(rf"^\s*{tid}\s.*Stopped", listed(), re.M)
        remote(daemon, "-t", str(tid), "--start")
        wait_until(lambda: only_view(daemon).activity is not Activity.STOPPED, 30, "started")
        wait_until(lambda: "Seeding" in listed() or "Idle" in listed(), 60, "seeding again")

        remote(daemon, "-t", str(tid), "--remove-and-delete")
        wait_until(lambda: not daemon.call(lambda m: m.torrents()), 30, "the torrent removed")
        wait_until(lambda: not downloaded.exists(), 30, "its data deleted")
        assert content.exists()  # the seeder's copy is not ours to delete


@pytest.mark.interop
def test_transmission_rpc_library(daemon: RunningDaemon, tmp_path: Path) -> None:
    transmission_rpc = require_module("transmission_rpc")
    raw = create_torrent(make_content(tmp_path), piece_length=32 * 1024, version="v1")
    client = transmission_rpc.Client(host="127.0.0.1", port=daemon.rpc_port, timeout=30)
    session = client.get_session()
    assert session.rpc_version == 17 and session.download_dir == str(daemon.download_dir)
    assert session.version.startswith("4.0.6 (bitswarm ")
    added = client.add_torrent(raw, paused=True, labels=["linux"])
    torrent = client.get_torrent(added.id)
    assert torrent.name == "payload" and torrent.status == "stopped"
    assert torrent.total_size == sum(FILES.values()) and torrent.labels == ["linux"]
    assert [f.name for f in torrent.get_files()] == [f"payload/{n}" for n in FILES]
    dup = client.add_torrent(raw)
    assert dup.id == added.id and len(client.get_torrents()) == 1

    client.change_torrent(
        added.id, upload_limit=40, upload_limited=True, files_unwanted=[0], priority_high=[2]
    )
    torrent = client.get_torrent(added.id)
    assert torrent.upload_limit == 40 and torrent.upload_limited
    assert [f.selected for f in torrent.get_files()] == [False, True, True]
    assert [f.priority.value for f in torrent.get_files()][2] == 1  # high

    client.start_torrent(added.id)
    wait_until(lambda: client.get_torrent(added.id).status != "stopped", 30, "started")
    client.stop_torrent(added.id)
    wait_until(lambda: client.get_torrent(added.id).status == "stopped", 30, "stopped")
    stats = client.session_stats()
    assert stats.torrent_count == 1
    client.remove_torrent(added.id, delete_data=True)
    wait_until(lambda: not client.get_torrents(), 30, "removed")


def rpc(method: str, params: dict[str, Any], request_id: Any = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 request; without `request_id`, a notification."""
    out = {"jsonrpc": "2.0", "method": method, "params": params}
    if request_id is not None:
        out["id"] = request_id
    return out


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> aiohttp.ClientResponse:
    """POST with Transmission's session-id handshake (one 409, then the real request)."""
    r = await http.post(url, json=body)
    if r.status == 409:
        session_id = r.headers["X-Transmission-Session-Id"]
        assert r.headers["X-Transmission-Rpc-Version"] == "6.0.0"
        http.headers["X-Transmission-Session-Id"] = session_id
        r = await http.post(url, json=body)
    return r


def test_raw_jsonrpc(daemon: RunningDaemon, tmp_path: Path) -> None:
    raw = create_torrent(make_content(tmp_path), piece_length=32 * 1024, version="v1")

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            url = daemon.rpc_url
            r = await _post(
                http,
                url,
                {
                    "jsonrpc": "2.0",
                    "method": "torrent_add",
                    "params": {"metainfo": base64.b64encode(raw).decode(), "paused": True},
                    "id": 1,
                },
            )
            added = (await r.json())["result"]["torrent_added"]
            fields = ["id", "labels", "total_size", "wanted"]
            batch = [
                rpc("torrent_set", {"ids": [added["id"]], "labels": ["b"]}),  # a notification
                rpc("torrent_get", {"fields": fields}, "g"),
                rpc("session_get", {"fields": ["rpc_version_semver"]}, 3),
                rpc("nonsense", {}, 4),
            ]
            r = await _post(http, url, batch)
            assert r.status == 200
            answers = await r.json()
            assert [a["id"] for a in answers] == ["g", 3, 4]
            (t,) = answers[0]["result"]["torrents"]
            assert t == {
                "id": added["id"],
                "labels": ["b"],
                "total_size": sum(FILES.values()),
                "wanted": [True] * 3,
            }
            assert answers[1]["result"] == {"rpc_version_semver": "6.0.0"}
            assert answers[2]["error"]["code"] == -32601
            r = await _post(
                http,
                url,
                {"jsonrpc": "2.0", "method": "torrent_remove", "params": {"ids": [added["id"]]}},
            )
            assert r.status == 204 and await r.read() == b""
            too_big = [{"jsonrpc": "2.0", "method": "session_stats", "id": i} for i in range(101)]
            r = await _post(http, url, too_big)
            assert (await r.json())["error"]["code"] == -32600
            r = await http.post(url, data=b'{"jsonrpc": "2.0", "method": ')
            assert r.status == 200 and (await r.json())["error"]["code"] == -32700

    asyncio.run(main())
    assert not daemon.call(lambda m: m.torrents())


def chromium() -> str:
    path = "/usr/bin/chromium"
    if not os.path.exists(path):
        missing("program chromium is not installed (Debian package chromium)")
    return path


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_transmission_web_client_in_chromium(daemon: RunningDaemon, tmp_path: Path) -> None:
    executable = chromium()
    sync_api = require_module("playwright.sync_api")
    if not os.path.isfile("/usr/share/transmission/web/index.html"):
        missing("Transmission's web client is not installed (Debian package transmission-common)")
    raw = create_torrent(make_content(tmp_path, "web-client-payload"), version="v1")

    async def add(m: TorrentManager) -> None:
        from bitswarm.daemon.api import AddRequest

        await m.add(AddRequest(torrent=raw, paused=True))

    daemon.call(add)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{daemon.url}/transmission/web/")
            page.wait_for_selector("text=web-client-payload", timeout=30_000)
            page.screenshot(path=str(tmp_path / "transmission-web.png"), full_page=True)
            assert errors == []
            assert "Connection Failed" not in page.content()
        finally:
            browser.close()
    assert (tmp_path / "transmission-web.png").stat().st_size > 0


def test_rpc_with_a_trailing_slash_still_needs_the_session_id(daemon: RunningDaemon) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            body = {"method": "torrent-remove", "arguments": {"delete-local-data": True}}
            async with http.post(f"{daemon.rpc_url}/", json=body) as r:
                assert r.status == 409
                assert r.headers["X-Transmission-Session-Id"] == daemon.session_id
            headers = {"X-Transmission-Session-Id": daemon.session_id}
            async with http.post(f"{daemon.rpc_url}/", json=body, headers=headers) as r:
                assert r.status == 200 and (await r.json())["result"] == "success"

    asyncio.run(main())

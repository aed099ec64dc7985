"""The daemon's /stream/<info-hash>/<index>: a real daemon, a rate-limited libtorrent
seeder, and headless Chromium playing the file in a <video> element while it downloads
(currentTime advances; a seek to the middle plays)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest

from bitswarm.daemon.api import AddRequest
from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.model import DaemonError
from bitswarm_lab.peers.base import Endpoint

from ..interop.stream_fixtures import make_video, seeders
from ..interop.tools import missing, require_module
from .conftest import RunningDaemon


def _chromium() -> str:
    path = "/usr/bin/chromium"
    if not os.path.exists(path):
        missing("program chromium is not installed (Debian package chromium)")
    return path


def _add(daemon: RunningDaemon, raw: bytes) -> str:
    async def add(m: TorrentManager) -> str:
        result = await m.add(AddRequest(torrent=raw, paused=False))
        return result.view.info_hash

    info_hash: str = daemon.call(add)
    return info_hash


@pytest.mark.interop
@pytest.mark.timeout(240)
def test_chromium_plays_and_seeks_from_the_daemon(daemon: RunningDaemon, tmp_path: Path) -> None:
    executable = _chromium()
    sync_api = require_module("playwright.sync_api")
    require_module("libtorrent")
    video = make_video(tmp_path)
    info_hash = _add(daemon, video.torrent.read_bytes())
    url = f"{daemon.url}/stream/{info_hash}/0"

    async def edges() -> None:  # before any peer: HEAD needs no data; errors are JSON
        async with aiohttp.ClientSession() as http:
            async with http.head(url) as r:
                assert r.status == 200 and r.headers["Content-Length"] == str(video.size)
                assert r.headers["Content-Type"] == "video/mp4"
            async with http.get(url, headers={"Range": f"bytes={video.size}-"}) as r:
                assert r.status == 416
            async with http.get(f"{daemon.url}/stream/{info_hash}/1") as r:
                assert r.status == 404
            async with http.get(f"{daemon.url}/stream/{'0' * 40}/0") as r:
                assert r.status == 404

    asyncio.run(edges())

    def running(m: TorrentManager) -> bool:
        try:
            m.open_stream(info_hash, 0).close()
        except DaemonError:
            return False
        return True

    deadline = time.monotonic() + 30
    while not daemon.call(running):  # the daemon starts what it adds: give it a moment
        assert time.monotonic() < deadline, "the torrent never ran"
        time.sleep(0.1)
    dial = (Endpoint("127.0.0.1", daemon.peer_port),)
    with (
        seeders(video, tmp_path, [int(2 * video.byte_rate)], dial=dial),
        sync_api.sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page()
            started = time.monotonic()
            # the URL itself: Chromium's media document, a <video> of the daemon's origin
            # (a page elsewhere may not reach loopback, and the web UI's CSP forbids eval)
            page.goto(url, wait_until="commit")
            page.wait_for_selector("video", timeout=30_000)
            page.evaluate("document.querySelector('video').muted = true")
            page.evaluate("document.querySelector('video').play()")
            page.wait_for_function(
                "document.querySelector('video').currentTime > 1", timeout=60_000
            )
            first_play = time.monotonic() - started
            t = time.monotonic()
            page.evaluate("document.querySelector('video').currentTime = 10")
            page.wait_for_function(
                "(() => { const v = document.querySelector('video');"
                " return v.currentTime > 11 && !v.seeking; })()",
                timeout=60_000,
            )
            after_seek = time.monotonic() - t
            error = page.evaluate("document.querySelector('video').error")
            assert error is None
            print(
                f"\nchromium: playing past 1 s {first_play:.2f} s after the page,"
                f" past 11 s {after_seek:.2f} s after a seek to 10 s"
            )
        finally:
            browser.close()

"""bitswarm's web UI in a real browser: Debian's Chromium, driven by Playwright (PyPI).

The page adds a torrent by its file chooser while a bitswarm seeder serves it, shows the
download reach 100 %, changes a file priority (checked in the daemon), removes it with its
data, and is photographed on a desktop and a phone-sized screen. A second test loads a
thousand busy torrents and measures how long one update of the list takes.

A missing Chromium (or Playwright) skips these tests on a workstation and fails them under
CI=true: the web UI is not tested at all otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from bitswarm.daemon.model import FileView, PeerView, TorrentView

from ..session.helpers import make_multifile
from .conftest import RunningDaemon
from .helpers import Swarm
from .webui_app import make_app
from .webui_fake import FakeDaemon

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"


def _require_browser() -> None:
    missing = None
    if shutil.which(CHROMIUM) is None:
        missing = f"Debian's chromium ({CHROMIUM})"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing = "Playwright (PyPI playwright)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is missing: the web UI cannot be tested (CI=true)")
        pytest.skip(f"{missing} is not installed")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


def watch_errors(page: Page, errors: list[str]) -> None:
    """Collect script errors. Expected, and handled by the page: the 409 of the session-id
    handshake, and a 404 for a details poll that crossed the removal of its torrent."""
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def on_console(message: Any) -> None:
        if message.type != "error" or "409" in message.text:
            return
        url = str(message.location.get("url", ""))
        if "404" in message.text and "/api/ui/torrents/" in url:
            return
        errors.append(f"console: {message.text} ({url})")

    page.on("console", on_console)


async def until(page: Page, script: str, within: float, what: str) -> Any:
    """Poll `script` in the page until it is truthy (the page's CSP forbids the string
    eval that Playwright's wait_for_function uses, and rightly so)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await page.evaluate(script)
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def call(daemon: RunningDaemon, fn: Any) -> Any:
    return await asyncio.to_thread(daemon.call, fn)


async def daemon_until(daemon: RunningDaemon, fn: Any, within: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (value := await call(daemon, fn)):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)
    return value


@pytest.mark.timeout(300)  # a browser start, a download at a limited rate, two screenshots
def test_page_adds_downloads_prioritises_and_removes(daemon: RunningDaemon, tmp_path: Path) -> None:
    _require_browser()
    content = make_multifile(tmp_path / "seed", [900_000, 400_000, 3_000])
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # Rate-limited, so the download lasts long enough to watch its peer and swarm.
    with Swarm(upload_limit=200_000) as swarm:
        torrent = tmp_path / "content.torrent"
        torrent.write_bytes(swarm.torrent(content))
        asyncio.run(_drive_page(daemon, torrent, shots))
    assert not (daemon.download_dir / "content").exists()  # removed with its data
    for name in ("swarm.png", "files.png", "phone-list.png", "phone-details.png"):
        assert (shots / name).stat().st_size > 5_000, name


async def _drive_page(daemon: RunningDaemon, torrent: Path, shots: Path) -> None:
    errors: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        watch_errors(page, errors)
        await page.goto(daemon.url + "/")
        await until(page, "document.getElementById('conn').textContent === 'live'", 30, "live")

        # Add through the file chooser, as a person would.
        await page.click("#btn-add")
        async with page.expect_file_chooser() as chooser_info:
            await page.click("#add-file")
        await (await chooser_info.value).set_files(str(torrent))
        await page.click("#add-submit")
        row = page.locator(".row", has_text="content")
        await row.wait_for(timeout=30_000)
        tid = int(await row.get_attribute("data-id") or "0")
        views: list[TorrentView] = await call(daemon, lambda api: api.torrents())
        assert [(v.id, v.name) for v in views] == [(tid, "content")]

        # While it downloads: the peer in the table and in the swarm view.
        await row.click()
        await page.click("#t-peers")
        await until(page, "document.querySelectorAll('#peers-body tr').length > 0", 60, "a peer")
        cells = await page.locator("#peers-body tr").first.locator("td").all_inner_texts()
        assert cells[0].startswith("127.0.0.1:") and cells[6] in ("yes", "no")
        assert cells[7] in ("TCP", "uTP") and cells[1]
        await page.click("#t-swarm")
        summary = "document.getElementById('swarm-summary').textContent"
        await until(page, f"{summary}.startsWith('1 peers connected. 1 send to you')", 60, "flow")
        await page.screenshot(path=shots / "swarm.png")

        # The row reaches 100 % by itself (the event stream), and the daemon agrees.
        pct = f"document.querySelector('#row-{tid} .c-pct').textContent"
        await until(page, f"{pct} === '100%'", 120, "the row at 100 %")
        view: TorrentView = await call(daemon, lambda api: api.view(tid))
        assert view.progress == 1.0

        # A file priority changed in the files tab reaches the daemon.
        await page.click("#t-files")
        select = page.locator('#files-body select[data-index="1"]')
        await select.wait_for()
        assert await select.input_value() == "4"
        await select.select_option("7")

        def high(api: Any) -> bool:
            files: list[FileView] = api.files(tid)
            return files[1].priority == 7 and files[0].priority == 4

        await daemon_until(daemon, high, 30, "the priority in the daemon")
        await page.screenshot(path=shots / "files.png")

        # The same daemon on a phone-sized screen: nothing wider than the screen.
        phone = await browser.new_page(
            viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
        )
        watch_errors(phone, errors)
        await phone.goto(daemon.url + "/")
        await phone.locator(f"#row-{tid}").wait_for()
        await phone.screenshot(path=shots / "phone-list.png")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 375
        await phone.locator(f"#row-{tid}").tap()
        await phone.locator("#details").wait_for()
        await phone.click("#t-files")
        await phone.locator('#files-body select[data-index="1"]').wait_for()
        await phone.screenshot(path=shots / "phone-details.png")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 375
        await phone.close()

        # Remove it, data and all, from the details' header.
        await page.click('[data-dact="remove"]')
        await page.check("#remove-data")
        await page.click("#remove-confirm")
        await row.wait_for(state="detached", timeout=30_000)
        await daemon_until(daemon, lambda api: not api.torrents(), 30, "the removal")
    assert errors == []


# ---------------------------------------------------------------------- 1,000 torrents
def _busy_daemon(n: int) -> FakeDaemon:
    api = FakeDaemon()
    rng = random.Random(5)
    for i in range(n):
        t = api.put(f"torrent {i:04d} with a name of a usual length.mkv", [("a", 10**9)])
        t.down, t.up = rng.random() * 1e6, rng.random() * 1e5
        t.peers = [
            PeerView(
                f"10.0.{i // 250}.{i % 250}", 6881, "libtorrent 2.0.9", 0.5, 1e4, 1e3, 0, 0,
                False, True, False, True, True, False, "tcp", "DE",
            )
        ]  # fmt: skip
    return api


@pytest.mark.timeout(180)
def test_list_update_of_a_thousand_torrents_is_fast(tmp_path: Path) -> None:
    """Every one of 1,000 rows changes each second (rates, bytes, progress, ETA); the time
    from the update's arrival to the next painted frame is what a person waits."""
    _require_browser()
    figures = asyncio.run(_measure(_busy_daemon(1000), tmp_path))
    (tmp_path / "list-update.json").write_text(json.dumps(figures, indent=1))
    print("list update with 1,000 torrents:", figures)
    # The target is 100 ms (issue 11, "Speed"); a shared CI machine gets some slack.
    assert figures["median_frame_ms"] < 150, figures
    assert figures["max_frame_ms"] < 600, figures


async def _measure(api: FakeDaemon, tmp_path: Path) -> dict[str, Any]:
    rng = random.Random(9)
    runner = web.AppRunner(make_app(api, interval=1.0))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    async def churn() -> None:
        while True:
            await asyncio.sleep(0.5)
            for t in api.items.values():
                t.down = rng.random() * 1e6
            api.step(0.5)

    task = asyncio.create_task(churn())
    errors: list[str] = []
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            watch_errors(page, errors)
            await page.goto(f"http://127.0.0.1:{port}/")
            await until(page, "document.querySelectorAll('.row').length === 1000", 60, "rows")
            script = "BS.perf.updates.filter((u) => u.rows === 1000).length >= 7"
            await until(page, script, 60, "seven updates of 1,000 rows")
            updates = await page.evaluate("BS.perf.updates.filter((u) => u.rows === 1000)")
            await page.screenshot(path=tmp_path / "thousand.png")
    finally:
        task.cancel()
        await runner.cleanup()
    assert errors == []
    diffs = updates[1:]  # the first is the snapshot: building every row once
    frames = [u["frame"] for u in diffs]
    return {
        "snapshot_frame_ms": round(updates[0]["frame"], 1),
        "median_frame_ms": round(statistics.median(frames), 1),
        "max_frame_ms": round(max(frames), 1),
        "median_script_ms": round(statistics.median(u["js"] for u in diffs), 1),
        "updates": len(diffs),
    }

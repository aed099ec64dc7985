"""The daemon's other operations through `TorrentManager`: magnets and URLs, the queue,
verify, moving data, categories, settings refused over the network."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bitswarm.daemon.api import AddRequest, AddResult
from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.model import Activity, DaemonError, TorrentView
from bitswarm.magnet import Magnet
from bitswarm.metainfo import parse_torrent

from ..session.helpers import digest_tree, make_multifile
from .conftest import DaemonFactory, RunningDaemon
from .helpers import Swarm, wait_until


def _view(d: RunningDaemon, ref: int | str) -> TorrentView:
    view: TorrentView = d.call(lambda api: api.view(ref))
    return view


@pytest.fixture
def web_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """An HTTP server in a thread serving `files[name]` at /name."""
    files: dict[str, bytes] = {}
    box: dict[str, object] = {}
    ready = threading.Event()

    async def handler(request: web.Request) -> web.Response:
        body = files.get(request.match_info["name"])
        return web.Response(body=body) if body is not None else web.Response(status=404)

    def main() -> None:
        async def body() -> None:
            app = web.Application()
            app.router.add_get("/{name}", handler)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            box["port"] = runner.addresses[0][1]
            box["stop"] = stop = asyncio.Event()
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop.wait()
            await runner.cleanup()

        asyncio.run(body())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield f"http://127.0.0.1:{box['port']}", files
    loop = box["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    stop = box["stop"]
    assert isinstance(stop, asyncio.Event)
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)


def test_a_magnet_link_and_a_url(
    daemon: RunningDaemon, tmp_path: Path, web_server: tuple[str, dict[str, bytes]]
) -> None:
    base, files = web_server
    one = make_multifile(tmp_path / "one", [150_000])
    two = make_multifile(tmp_path / "two", [90_000, 10_000])
    with Swarm() as swarm:
        raw_one = swarm.torrent(one)
        magnet = Magnet.from_metainfo(parse_torrent(raw_one)).to_uri()
        files["two.torrent"] = swarm.torrent(two)
        a = daemon.call(
            lambda api: api.add(AddRequest(magnet=magnet, download_dir=str(tmp_path / "a")))
        )
        assert not a.view.has_metadata
        b = daemon.call(
            lambda api: api.add(
                AddRequest(url=f"{base}/two.torrent", download_dir=str(tmp_path / "b"))
            )
        )
        assert b.view.has_metadata and b.view.wanted_size == 100_000
        for tid in (a.view.id, b.view.id):
            wait_until(functools.partial(_done, daemon, tid), 60, f"torrent {tid}")
    assert _view(daemon, a.view.id).name == "content"
    assert digest_tree(tmp_path / "a" / "content") == digest_tree(one)
    assert digest_tree(tmp_path / "b" / "content") == digest_tree(two)
    with pytest.raises(DaemonError, match="HTTP 404"):
        daemon.call(lambda api: api.add(AddRequest(url=f"{base}/missing.torrent")))
    with pytest.raises(DaemonError, match="not a usable torrent"):
        daemon.call(lambda api: api.add(AddRequest(torrent=b"d4:spam")))


def test_the_queue_runs_one_download_at_a_time(
    daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    d = daemon_factory(download_queue_size=1)
    one = make_multifile(tmp_path / "one", [120_000])
    two = make_multifile(tmp_path / "two", [130_000])
    with Swarm(upload_limit=200_000) as swarm:
        raws = [swarm.torrent(one), swarm.torrent(two)]
        ids = []
        for i, raw in enumerate(raws):
            request = AddRequest(torrent=raw, download_dir=str(tmp_path / f"d{i}"))
            ids.append(d.call(functools.partial(_add, request)).view.id)
        wait_until(lambda: _view(d, ids[0]).activity is Activity.DOWNLOADING, 30, "the first")
        assert _view(d, ids[1]).activity is Activity.DOWNLOAD_WAIT
        wait_until(lambda: _view(d, ids[1]).done_at > 0, 90, "the second, after the first")
        assert _view(d, ids[0]).done_at <= _view(d, ids[1]).done_at


def test_verify_move_and_categories(daemon: RunningDaemon, tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [200_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        daemon.call(lambda api: api.set_category("films", str(tmp_path / "films")))
        tid = daemon.call(lambda api: api.add(AddRequest(torrent=raw, category="films"))).view.id
        wait_until(lambda: _view(daemon, tid).done_at > 0, 60, "the download")
    assert (tmp_path / "films" / "content" / "file0.bin").exists()
    daemon.call(lambda api: api.set_location([tid], str(tmp_path / "moved"), move=True))
    wait_until(lambda: _view(daemon, tid).activity is Activity.SEEDING, 60, "seeding after move")
    assert digest_tree(tmp_path / "moved" / "content") == digest_tree(content)
    assert not (tmp_path / "films" / "content" / "file0.bin").exists()
    # Corrupt a byte: verify finds the piece bad and the torrent is no longer complete.
    data = tmp_path / "moved" / "content" / "file0.bin"
    blob = bytearray(data.read_bytes())
    blob[10] ^= 0xFF
    data.write_bytes(bytes(blob))
    daemon.call(lambda api: api.verify([tid]))
    wait_until(lambda: _view(daemon, tid).activity is Activity.DOWNLOADING, 60, "the check")
    assert _view(daemon, tid).progress < 1.0


def _done(d: RunningDaemon, tid: int) -> bool:
    return _view(d, tid).done_at > 0


def _add(request: AddRequest, api: TorrentManager) -> Awaitable[AddResult]:
    return api.add(request)


def _rename(tid: int, path: str, name: str, api: TorrentManager) -> Awaitable[tuple[str, str]]:
    return api.rename(tid, path, name)


def _set(changes: dict[str, object], api: TorrentManager) -> Awaitable[None]:
    return api.set_settings(changes)


def test_local_only_settings_are_refused_over_the_network(daemon: RunningDaemon) -> None:
    for key, value in (
        ("script_torrent_done_filename", "/bin/sh -c 'touch /tmp/pwned'"),
        ("rpc_host", "0.0.0.0"),
        ("watch_dir", "/"),
    ):
        with pytest.raises(DaemonError, match="config file"):
            daemon.call(functools.partial(_set, {key: value}))
    with pytest.raises(DaemonError, match="unknown setting"):
        daemon.call(lambda api: api.set_settings({"no_such_key": 1}))
    with pytest.raises(DaemonError, match="expected int"):
        daemon.call(lambda api: api.set_settings({"peer_limit_global": "many"}))
    daemon.call(
        lambda api: api.set_settings({"speed_limit_up": 1000, "speed_limit_up_enabled": True})
    )
    assert daemon.call(lambda api: api.settings.speed_limit_up) == 1000
    assert daemon.call(lambda api: api.settings.script_torrent_done_filename) == ""


def test_rename_a_file_and_the_top_folder(daemon: RunningDaemon, tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [100_000, 30_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        tid = daemon.call(functools.partial(_add, AddRequest(torrent=raw))).view.id
        wait_until(functools.partial(_done, daemon, tid), 60, "the download")
    daemon.call(lambda api: api.rename(tid, "content/file0.bin", "first.bin"))
    daemon.call(lambda api: api.rename(tid, "content", "renamed"))
    wait_until(lambda: _view(daemon, tid).activity is Activity.SEEDING, 60, "seeding again")
    view = _view(daemon, tid)
    assert view.name == "renamed" and view.progress == 1.0
    paths = sorted(f.path for f in daemon.call(lambda api: api.files(tid)))
    assert paths == ["renamed/first.bin", "renamed/sub/file1.bin"]
    got = daemon.download_dir / "renamed"
    assert (got / "first.bin").read_bytes() == (content / "file0.bin").read_bytes()
    assert not (daemon.download_dir / "content").exists()
    for bad in ("../evil", "a/b", "", ".."):
        with pytest.raises(DaemonError):
            daemon.call(functools.partial(_rename, tid, "renamed/first.bin", bad))
    with pytest.raises(DaemonError, match="already has"):
        daemon.call(lambda api: api.rename(tid, "renamed/first.bin", "sub"))
    # After a restart of the torrent the renamed files are still trusted: no recheck needed.
    daemon.call(lambda api: api.stop([tid]))
    daemon.call(lambda api: api.start([tid]))
    wait_until(lambda: _view(daemon, tid).activity is Activity.SEEDING, 60, "seeding")

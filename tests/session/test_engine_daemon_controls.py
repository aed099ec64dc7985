"""What a daemon changes on a running torrent, between two bitswarm sessions on loopback:
file priorities (a skipped file is never requested, the torrent completes without it and
downloads it once wanted again, `completed` reaching the tracker once), the peer table,
the piece map, a reannounce, a resume store of one's own, live limits, and the IP filter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bitswarm.bencode import bencode
from bitswarm.errors import BitswarmError
from bitswarm.metainfo import Metainfo
from bitswarm.session import Session, TorrentRuntime, TorrentState
from bitswarm.tracker.tiers import TrackerStatus
from bitswarm.version import CLIENT_NAME

from .helpers import digest_tree, make_multifile, make_torrent, start_session

KiB = 1024
PIECE = 64 * KiB


class RecordingTracker:
    """A tiny HTTP tracker that names no peers and records every announce's event."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.announced = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _announce(self, request: web.Request) -> web.Response:
        async with self.announced:
            self.events.append(request.query.get("event", ""))
            self.announced.notify_all()
        body = bencode({b"interval": 1800, b"min interval": 900, b"peers": b""})
        return web.Response(body=body, content_type="text/plain")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/announce", self._announce)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/announce"
        return self.url

    async def wait_for(self, check: Callable[[list[str]], bool], within: float = 30) -> None:
        async with asyncio.timeout(within), self.announced:
            await self.announced.wait_for(lambda: check(self.events))

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def until(check: Callable[[], bool], within: float = 30) -> None:
    """Wait (polling the loop, not sleeping a fixed time) until `check()` holds."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polling the session's state
            await asyncio.sleep(0.02)


def _file_pieces(meta: Metainfo, index: int) -> set[int]:
    f = meta.info.files[index]
    return set(range(f.offset // PIECE, (f.end - 1) // PIECE + 1))


def _index_of(meta: Metainfo, name: str) -> int:
    return next(i for i, f in enumerate(meta.info.files) if f.path[-1] == name)


async def _pair(
    tmp_path: Path, sizes: list[int]
) -> tuple[Session, Session, Metainfo, Path, TorrentRuntime]:
    content = make_multifile(tmp_path / "seed", sizes)
    meta = make_torrent(content, piece_length=PIECE)  # hybrid: files are piece-aligned
    seeder = await start_session()
    leecher = await start_session()
    seed_rt = await seeder.add(meta, content.parent)
    return seeder, leecher, meta, content, seed_rt


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


def test_a_skipped_file_is_not_fetched_and_is_once_wanted_again(tmp_path: Path) -> None:
    async def main() -> None:
        seeder, leecher, meta, content, seed_rt = await _pair(tmp_path, [300_000, 700_000, 200_000])
        tracker = RecordingTracker()
        url = await tracker.start()
        try:
            skipped = _index_of(meta, "file1.bin")
            prios = [4] * len(meta.info.files)
            prios[skipped] = 0
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.1", seeder.listen_port)],
                trackers=[url],
                file_priorities=prios,
            )
            async with asyncio.timeout(60):
                await rt.wait_complete()
            assert rt.state is TorrentState.SEEDING
            core = rt.core
            assert core is not None
            skipped_pieces = _file_pieces(meta, skipped)
            assert not any(p in core.have for p in skipped_pieces)
            # None of its pieces was requested: what arrived is the wanted pieces' bytes.
            wanted_piece_bytes = sum(
                meta.info.piece_length
                if p < meta.info.num_pieces - 1
                else meta.info.piece_space_length - p * meta.info.piece_length
                for p in range(meta.info.num_pieces)
                if p not in skipped_pieces
            )
            assert core.downloaded - core.wasted == wanted_piece_bytes
            st = rt.status()
            assert st.wanted_bytes == 300_000 + 200_000
            assert st.wanted_done_bytes == st.wanted_bytes
            assert st.progress == 1.0
            assert st.done_bytes < st.total_bytes
            files = {f.path: f.done for f in rt.file_progress()}
            assert files["content/sub/file1.bin"] == 0
            await tracker.wait_for(lambda ev: "completed" in ev)

            # The peer table and piece map while both stay connected (we are no seed).
            leech_view = rt.peers()
            assert len(leech_view) == 1
            them = leech_view[0]
            assert them.client == CLIENT_NAME  # its BEP 10 "v"
            assert them.port == seeder.listen_port and them.outgoing
            assert them.seed and them.progress == 1.0
            assert them.downloaded >= wanted_piece_bytes and them.download_rate > 0
            assert them.peer_id is not None and them.peer_id.startswith(b"-BS")
            seed_view = seed_rt.peers()
            assert len(seed_view) == 1
            assert seed_view[0].uploaded >= wanted_piece_bytes
            assert seed_view[0].upload_rate > 0
            assert not seed_view[0].seed and 0 < seed_view[0].progress < 1
            assert not seed_view[0].outgoing
            have, partial, availability = rt.piece_states()
            assert have == core.have.to_bytes()
            assert partial == []
            assert availability == [1] * meta.info.num_pieces  # the seed has every piece

            # Wanted again: downloading again, then complete; `completed` sent only once.
            rt.set_file_priorities([4] * len(meta.info.files))
            assert rt.status().state is TorrentState.DOWNLOADING and not rt.completed.is_set()
            assert rt.status().progress < 1.0
            async with asyncio.timeout(60):
                await rt.wait_complete()
            assert rt.state is TorrentState.SEEDING
            assert rt.status().progress == 1.0
            await leecher.close()
            await tracker.wait_for(lambda ev: "stopped" in ev)
            assert tracker.events.count("completed") == 1, tracker.events
            assert digest_tree(tmp_path / "leech" / content.name) == digest_tree(content)
        finally:
            await leecher.close()
            await seeder.close()
            await tracker.close()

    run(main)


def test_priorities_that_leave_nothing_to_fetch_complete_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        seeder, leecher, meta, _content, _ = await _pair(tmp_path, [200_000, 300_000])
        try:
            with pytest.raises(BitswarmError, match="file priorities"):
                await leecher.add(meta, tmp_path / "leech", file_priorities=[4])
            with pytest.raises(BitswarmError, match=r"0\.\.7"):
                await leecher.add(
                    meta, tmp_path / "leech", file_priorities=[9] * len(meta.info.files)
                )
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.1", seeder.listen_port)],
                file_priorities=[0] * len(meta.info.files),
            )
            assert rt.state is TorrentState.SEEDING and rt.completed.is_set()
            assert rt.status().wanted_bytes == 0 and rt.status().progress == 1.0
            # One file wanted, live: only its pieces come.
            first = _index_of(meta, "file0.bin")
            prios = [0] * len(meta.info.files)
            prios[first] = 7
            rt.set_file_priorities(prios)
            assert rt.status().state is TorrentState.DOWNLOADING
            async with asyncio.timeout(60):
                await rt.wait_complete()
            assert rt.file_priorities == tuple(prios)
            assert rt.status().wanted_done_bytes == 200_000
            core = rt.core
            assert core is not None
            assert {p for p in range(meta.info.num_pieces) if p in core.have} == _file_pieces(
                meta, first
            )
        finally:
            await leecher.close()
            await seeder.close()

    run(main)


def test_reannounce_reaches_the_tracker_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        content = make_multifile(tmp_path / "seed", [100_000])
        meta = make_torrent(content, piece_length=PIECE)
        tracker = RecordingTracker()
        url = await tracker.start()
        session = await start_session()
        try:
            rt = await session.add(meta, content.parent, trackers=[url])
            await tracker.wait_for(lambda ev: ev == ["started"])
            # Its reply handled (an announce in flight is the round a reannounce asks for):
            await until(lambda: rt.announcer.trackers()[0].status is TrackerStatus.WORKING)
            # The tracker asked for 1800 s between announces (900 at least): only a
            # reannounce makes another one now.
            first = rt.announcer.trackers()[0].last_announce
            rt.reannounce()
            await tracker.wait_for(lambda ev: len(ev) == 2)
            assert tracker.events == ["started", ""]
            await until(lambda: rt.announcer.trackers()[0].last_announce != first)
            rt.reannounce()
            await tracker.wait_for(lambda ev: len(ev) == 3)
        finally:
            await session.close()
            await tracker.close()

    run(main)


class MemoryResumeStore:
    """A `ResumeStore` of one's own (a daemon keeps its in SQLite)."""

    def __init__(self) -> None:
        self.raw: bytes | None = None
        self.saves = 0
        self.loads = 0

    async def load(self) -> bytes | None:
        self.loads += 1
        return self.raw

    async def save(self, raw: bytes) -> None:
        self.saves += 1
        self.raw = raw


def test_resume_data_goes_to_the_store_given(tmp_path: Path) -> None:
    async def main() -> None:
        seeder, leecher, meta, content, _ = await _pair(tmp_path, [500_000, 100_000])
        store = MemoryResumeStore()
        try:
            with pytest.raises(BitswarmError, match="not both"):
                await leecher.add(
                    meta, tmp_path / "leech", resume=store, resume_path=tmp_path / "r"
                )
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.1", seeder.listen_port)],
                resume=store,
            )
            async with asyncio.timeout(60):
                await rt.wait_complete()
        finally:
            await leecher.close()  # the last save
            await seeder.close()
        assert store.raw is not None and store.saves >= 1 and store.loads == 1
        again = await start_session()
        try:
            rt2 = await again.add(meta, tmp_path / "leech", resume=store)
            assert rt2.state is TorrentState.SEEDING  # trusted: no recheck needed
            assert store.loads == 2
        finally:
            await again.close()
        assert digest_tree(tmp_path / "leech" / content.name) == digest_tree(content)

    run(main)


def test_limits_and_max_peers_change_live(tmp_path: Path) -> None:
    async def main() -> None:
        seeder, leecher, meta, _content, seed_rt = await _pair(tmp_path, [2_000_000])
        try:
            leecher.set_rate_limits(upload=0, download=256 * KiB)
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            await until(lambda: rt.status().downloaded > 0)
            started = asyncio.get_running_loop().time()
            await until(lambda: rt.status().downloaded >= 768 * KiB)
            slow = asyncio.get_running_loop().time() - started
            assert slow >= 1.5  # ~512 KiB at 256 KiB/s, after the burst
            leecher.set_rate_limits(upload=0, download=0)
            rt.set_rate_limits(upload=0, download=0)
            async with asyncio.timeout(30):
                await rt.wait_complete()
            assert not rt.upload_bucket.rate and not leecher.download_bucket.rate
            with pytest.raises(BitswarmError):
                rt.set_max_peers(0)
            seed_rt.set_max_peers(1)
            assert seed_rt.max_peers == 1
        finally:
            await leecher.close()
            await seeder.close()

    run(main)


def test_the_ip_filter_refuses_and_drops_blocked_hosts(tmp_path: Path) -> None:
    async def main() -> None:
        seeder, leecher, meta, _content, seed_rt = await _pair(tmp_path, [2_000_000])
        try:
            # Connected first, then the seeder blocks the leecher's host: dropped at once.
            leecher.set_rate_limits(upload=0, download=128 * KiB)  # it stays a while
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            await until(lambda: bool(seed_rt.peers()))
            seeder.set_ip_filter(lambda host: host == "127.0.0.1")
            assert not seed_rt.protocols
            assert seeder.is_blocked("::ffff:127.0.0.1")
            # An accepted connection is closed before any byte of ours, even after a
            # valid handshake for a torrent the seeder has.
            reader, writer = await asyncio.open_connection("127.0.0.1", seeder.listen_port)
            writer.write(
                b"\x13BitTorrent protocol" + bytes(8) + meta.info.info_hashes.wire + bytes(20)
            )
            try:
                await writer.drain()
                reply = await asyncio.wait_for(reader.read(100), 30)
            except ConnectionResetError:
                reply = b""
            assert reply == b""  # closed without a byte of ours
            writer.close()
            assert not seed_rt.protocols
            # The leecher blocks the seeder: it never dials it again.
            await until(lambda: not rt.protocols)
            leecher.set_ip_filter(lambda host: host.startswith("127."))
            dialer = rt.dialer
            dialer.known = dict.fromkeys(dialer.known, 0.0)  # due for a dial now
            rt.connect_more()
            assert not dialer.connecting and not rt.protocols
            leecher.set_ip_filter(None)
            seeder.set_ip_filter(None)
            leecher.set_rate_limits(upload=0, download=0)
            rt.connect_more()
            assert dialer.connecting  # unblocked: dialled again
            async with asyncio.timeout(60):
                await rt.wait_complete()
        finally:
            await leecher.close()
            await seeder.close()

    run(main)


def test_peer_client_names() -> None:
    from bitswarm.session.peer_view import readable_client

    assert readable_client(None, b"-LT2090-" + bytes(12)) == "libtorrent 2.0.9"
    assert readable_client("qBittorrent/5.0.1", b"-qB5010-" + bytes(12)) == "qBittorrent/5.0.1"
    assert readable_client("\x00\x1b[31m", b"-TR3000-" + bytes(12)) == "[31m"
    assert readable_client(None, None) == "unknown"

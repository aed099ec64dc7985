"""bitswarm-only swarms on loopback: many sessions in one process, real sockets and files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bitswarm.session import Session

from .helpers import (
    SessionOptions,
    digest_tree,
    make_multifile,
    make_torrent,
    start_session,
    wait_all_complete,
)
from .malicious_peer import LyingSeeder

MiB = 2**20


# A swarm transfer with its own 60 s deadline (seconds when idle); under a loaded CI
# machine that deadline, not the run-wide timeout, should report a stall.
@pytest.mark.timeout(90)
def test_one_seeder_four_leechers_multifile_with_padding(tmp_path: Path) -> None:
    """Every leecher ends with byte-identical files; leechers also serve each other."""
    content = make_multifile(tmp_path / "seed", [3 * MiB + 12345, 0, 2 * MiB + 1, 700_000])
    meta = make_torrent(content, piece_length=64 * 1024, version="hybrid")
    assert any(f.is_pad for f in meta.info.files), "the hybrid torrent should carry pad files"
    want = digest_tree(content)

    async def run() -> tuple[int, list[int]]:
        # The seeder is limited so that the leechers must trade pieces among themselves.
        seeder = await start_session(upload_limit=4 * MiB)
        sessions: list[Session] = [seeder]
        try:
            await seeder.add(meta, tmp_path / "seed")
            addrs = [("127.0.0.1", seeder.listen_port)]
            leechers = []
            for i in range(4):
                s = await start_session()
                sessions.append(s)
                leechers.append(await s.add(meta, tmp_path / f"leech{i}", peers=list(addrs)))
                addrs.append(("127.0.0.1", s.listen_port))
            await wait_all_complete(leechers, within=60)
            seed_rt = next(iter(seeder.torrents.values()))
            assert seed_rt.core is not None
            return seed_rt.core.uploaded, [rt.core.uploaded for rt in leechers if rt.core]
        finally:
            for s in sessions:
                await s.close()

    seeder_up, leecher_up = asyncio.run(run())
    for i in range(4):
        assert digest_tree(tmp_path / f"leech{i}" / "content") == want
        assert not (tmp_path / f"leech{i}" / "content" / ".pad").exists(), "pads hit the disk"
    total = meta.info.total_length
    assert sum(leecher_up) > total, "leechers should have uploaded to each other"
    assert seeder_up < 4 * total


# A swarm transfer with its own 60 s deadline (seconds when idle); under a loaded CI
# machine that deadline, not the run-wide timeout, should report a stall.
@pytest.mark.timeout(90)
def test_liar_is_banned_and_download_completes(tmp_path: Path) -> None:
    """A peer that sends wrong bytes for some pieces is banned; the data ends up correct."""
    content = make_multifile(tmp_path / "seed", [3 * MiB])
    meta = make_torrent(content, piece_length=64 * 1024, version="v1")
    payload = b"".join(p.read_bytes() for p in sorted(content.rglob("*")) if p.is_file())
    liar = LyingSeeder(meta, payload, lie_about=lambda piece: piece % 2 == 0)

    async def run() -> tuple[set[str], int]:
        # The honest seeder is slow, so the liar (fast) is asked for many pieces.
        honest = await start_session(upload_limit=1 * MiB)
        leecher = await start_session()
        try:
            await honest.add(meta, tmp_path / "seed")
            liar_port = await liar.start("127.0.0.2")
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.2", liar_port), ("127.0.0.1", honest.listen_port)],
            )
            await wait_all_complete([rt], within=60)
            assert rt.core is not None
            return set(rt.banned), rt.core.wasted
        finally:
            await leecher.close()
            await honest.close()
            await liar.close()

    banned, wasted = asyncio.run(run())
    assert liar.bad_blocks_sent > 0
    assert "127.0.0.2" in banned
    assert "127.0.0.1" not in banned
    assert wasted > 0
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


# A swarm transfer with its own 60 s deadline (seconds when idle); under a loaded CI
# machine that deadline, not the run-wide timeout, should report a stall.
@pytest.mark.timeout(90)
def test_peer_vanishes_mid_transfer(tmp_path: Path) -> None:
    """One of two seeders disappears mid-download; the other one finishes the job."""
    content = make_multifile(tmp_path / "seed", [4 * MiB])
    meta = make_torrent(content, piece_length=256 * 1024, version="v1")

    async def run() -> None:
        a = await start_session(upload_limit=2 * MiB)
        b = await start_session(upload_limit=2 * MiB)
        leecher = await start_session()
        try:
            await a.add(meta, tmp_path / "seed")
            await b.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.1", a.listen_port), ("127.0.0.1", b.listen_port)],
            )
            async with asyncio.timeout(30):
                while rt.status().progress < 0.25:  # noqa: ASYNC110 - polling a status
                    await asyncio.sleep(0.05)
            await a.close()  # gone, with requests outstanding and pieces half-sent
            assert rt.status().progress < 1.0
            await wait_all_complete([rt], within=60)
        finally:
            await leecher.close()
            await b.close()
            await a.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


async def _garbage_tracker() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"<html>this is not bencode</html>"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


def test_trackers_down_or_garbage_do_not_stop_the_download(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [1 * MiB])
    meta = make_torrent(content, piece_length=64 * 1024, version="v1")

    async def run() -> str | None:
        garbage, gport = await _garbage_tracker()
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            dead = "http://127.0.0.1:9/announce"  # the discard port: nothing listens
            rt = await leecher.add(
                meta,
                tmp_path / "leech",
                peers=[("127.0.0.1", seeder.listen_port)],
                trackers=[dead, f"http://127.0.0.1:{gport}/announce"],
            )
            await wait_all_complete([rt], within=30)
            async with asyncio.timeout(20):  # the error is reported once both have failed
                while rt.status().tracker_message is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            return rt.status().tracker_message
        finally:
            await leecher.close()
            await seeder.close()
            garbage.close()

    message = asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)
    assert message is not None
    assert "127.0.0.1:9" in message
    assert "\n" not in message


def test_ipv6_and_two_torrents_on_one_port(tmp_path: Path) -> None:
    """One seeding session serves two torrents on one port, over IPv6 loopback."""
    a = make_multifile(tmp_path / "a", [1 * MiB + 5], seed=1)
    b = make_multifile(tmp_path / "b", [2 * MiB + 7], seed=2)
    meta_a = make_torrent(a, version="v1")
    meta_b = make_torrent(b, version="hybrid")

    async def run() -> None:
        seeder = await start_session("::1")
        leecher = await start_session("::1")
        try:
            await seeder.add(meta_a, tmp_path / "a")
            await seeder.add(meta_b, tmp_path / "b")
            peer = [("::1", seeder.listen_port)]
            rts = [
                await leecher.add(meta_a, tmp_path / "la", peers=peer),
                await leecher.add(meta_b, tmp_path / "lb", peers=peer),
            ]
            await wait_all_complete(rts, within=30)
            assert all(p.address[0] == "::1" for rt in rts for p in rt.protocols)
        finally:
            await leecher.close()
            await seeder.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "la" / "content") == digest_tree(a)
    assert digest_tree(tmp_path / "lb" / "content") == digest_tree(b)


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_local_service_discovery_on_loopback(tmp_path: Path) -> None:
    """Two sessions that know nothing of each other meet through BEP 14 multicast, kept on
    the loopback interface."""
    content = make_multifile(tmp_path / "seed", [1 * MiB])
    meta = make_torrent(content, version="v1")
    lsd: SessionOptions = {"lsd": True, "lsd_interface": "127.0.0.1", "lsd_port": _free_udp_port()}

    async def run() -> None:
        seeder = await start_session(**lsd)
        leecher = await start_session(**lsd)
        try:
            assert seeder.lsd is not None and leecher.lsd is not None, "multicast unavailable"
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(meta, tmp_path / "leech")
            await wait_all_complete([rt], within=30)
        finally:
            await leecher.close()
            await seeder.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)

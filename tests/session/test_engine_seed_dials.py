"""A seed dials the peers it learns of (a leecher that announced before it, or that cannot
accept connections, is reached only that way), and drops a seed it meets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bitswarm.session.torrent import SEED_REDIAL

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

MiB = 2**20


def test_a_seed_dials_a_leecher_that_does_not_know_it(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [2 * MiB + 5])
    meta = make_torrent(content, version="v1")

    async def run() -> None:
        seeder = await start_session()
        leecher = await start_session()
        try:
            rt = await leecher.add(meta, tmp_path / "leech")  # knows no peer at all
            await seeder.add(meta, tmp_path / "seed", peers=[("127.0.0.1", leecher.listen_port)])
            await wait_all_complete([rt], within=20)
        finally:
            await leecher.close()
            await seeder.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


def test_two_seeds_do_not_stay_connected(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [1 * MiB])
    meta = make_torrent(content, version="v1")

    async def run() -> tuple[int, int, float]:
        a = await start_session()
        b = await start_session()
        try:
            rt_a = await a.add(meta, tmp_path / "seed")
            rt_b = await b.add(meta, tmp_path / "seed", peers=[("127.0.0.1", a.listen_port)])
            addr = ("127.0.0.1", a.listen_port)
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(10):  # B dials A, both see a seed, B backs off
                while rt_b.dialer.known[addr] < loop.time() + SEED_REDIAL / 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            wait = rt_b.dialer.known[addr] - loop.time()
            return len(rt_a.protocols), len(rt_b.protocols), wait
        finally:
            await a.close()
            await b.close()

    a_peers, b_peers, wait = asyncio.run(run())
    assert (a_peers, b_peers) == (0, 0), "two seeds have nothing to trade"
    assert wait > SEED_REDIAL / 2, "a seed met while seeding is not dialled again soon"


def test_peers_that_dial_each_other_keep_one_connection(tmp_path: Path) -> None:
    """A seed and a leecher that each know the other both dial: each side keeps the same
    one of the two connections (the one the smaller peer id dialled), and the data flows."""
    content = make_multifile(tmp_path / "seed", [1 * MiB])
    meta = make_torrent(content, version="v1")

    async def run() -> tuple[int, int, bool]:
        seeder = await start_session()
        leecher = await start_session(download_limit=256 * 1024)  # 4 s: still connected
        try:
            seed_rt = await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(meta, tmp_path / "leech")
            # both dial at once, before either has a handshake from the other
            rt.add_peers([("127.0.0.1", seeder.listen_port)])
            seed_rt.add_peers([("127.0.0.1", leecher.listen_port)])
            await asyncio.sleep(1.0)
            counts = len(seed_rt.protocols), len(rt.protocols)
            smaller_dialled = (seeder.peer_id < leecher.peer_id) == all(
                p.outgoing for p in seed_rt.protocols
            )
            await wait_all_complete([rt], within=20)
            return *counts, smaller_dialled
        finally:
            await leecher.close()
            await seeder.close()

    seed_conns, leech_conns, smaller_dialled = asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)
    assert (seed_conns, leech_conns) == (1, 1)
    assert smaller_dialled, "the connection kept is the one the smaller peer id dialled"


def test_a_peer_that_dialled_us_is_not_dialled_back(tmp_path: Path) -> None:
    """Once a peer that dialled us has named its listen port (BEP 10 "p"), learning that
    address (from PEX, a tracker) does not open a second connection to it."""
    content = make_multifile(tmp_path / "seed", [1 * MiB])
    meta = make_torrent(content, version="v1")

    async def run() -> tuple[bool, int]:
        seeder = await start_session()
        leecher = await start_session(download_limit=128 * 1024)  # 8 s: still connected
        try:
            seed_rt = await seeder.add(meta, tmp_path / "seed")
            await leecher.add(meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)])
            leecher_addr = ("127.0.0.1", leecher.listen_port)
            core = seed_rt.core
            assert core is not None
            async with asyncio.timeout(10):
                while not any(  # noqa: ASYNC110
                    core.listen_address(p) == leecher_addr for p in seed_rt.protocols
                ):
                    await asyncio.sleep(0.02)
            seed_rt.add_peers([leecher_addr])
            dialled = leecher_addr in seed_rt.dialer.connecting
            await asyncio.sleep(0.5)
            return dialled, len(seed_rt.protocols)
        finally:
            await leecher.close()
            await seeder.close()

    dialled, connections = asyncio.run(run())
    assert not dialled, "the peer's listen address counts as connected"
    assert connections == 1


def test_the_same_peer_dialling_again_replaces_its_stale_connection(tmp_path: Path) -> None:
    """A peer (same peer id, same address) that dials us while we still hold its first
    connection has lost that one on its side (a process killed without a word, as over
    uTP): the new connection replaces the old instead of being refused."""
    from bitswarm.wire.handshake import encode_handshake, make_reserved

    content = make_multifile(tmp_path / "seed", [1 * MiB])
    meta = make_torrent(content, version="v1")
    peer_id = b"-XX0001-" + bytes(12)

    async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            encode_handshake(
                meta.info.info_hashes.wire,
                peer_id,
                make_reserved(fast=True, extended=False, dht=False),
            )
        )
        await reader.readexactly(68)
        return reader, writer

    async def run() -> tuple[int, int]:
        seeder = await start_session(transport="tcp")
        try:
            rt = await seeder.add(meta, tmp_path / "seed")
            first_r, first_w = await dial(seeder.listen_port)
            async with asyncio.timeout(10):
                while len(rt.protocols) != 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            _, second_w = await dial(seeder.listen_port)
            async with asyncio.timeout(10):  # the old one is closed: EOF after its messages
                while await first_r.read(65536):
                    pass
                while len(rt.protocols) != 1 or not all(  # noqa: ASYNC110
                    p.conn is not None for p in rt.protocols
                ):
                    await asyncio.sleep(0.01)
            kept = next(iter(rt.protocols)).address[1]
            mine = second_w.get_extra_info("sockname")[1]
            first_w.close()
            second_w.close()
            return kept, mine
        finally:
            await seeder.close()

    kept, second = asyncio.run(run())
    assert kept == second, "the newer connection is the one kept"

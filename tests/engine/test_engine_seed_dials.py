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
            await seeder.add(meta, tmp_path / "seed",
                             peers=[("127.0.0.1", leecher.listen_port)])
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

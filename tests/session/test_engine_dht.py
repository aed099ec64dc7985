"""Trackerless: a magnet link with no tracker and no peer address, resolved through a
local DHT of bitswarm nodes (BEP 5), then downloaded."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from bitswarm.aio.dht import DhtService
from bitswarm.dht import DhtConfig
from bitswarm.magnet import Magnet
from bitswarm.session import Session

from .helpers import (
    SessionOptions,
    digest_tree,
    make_multifile,
    make_torrent,
    start_session,
    wait_all_complete,
)

MiB = 2**20
LOOPBACK = DhtConfig(rate_limit=0, query_timeout=2.0)  # every node shares one IP here


async def _dht_network(count: int) -> list[DhtService]:
    rng = random.Random(11)
    nodes: list[DhtService] = []
    for _ in range(count):
        node = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
        await node.start("127.0.0.1", 0, [nodes[0].addresses[0]] if nodes else [])
        if nodes:
            await node.bootstrapped(timeout=10)
        nodes.append(node)
    return nodes


def test_magnet_found_only_through_the_dht(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [1 * MiB + 9, 200_000])
    meta = make_torrent(content, version="hybrid", trackers=[])
    magnet = Magnet.from_metainfo(meta)
    assert not magnet.trackers and not magnet.peers

    async def run() -> None:
        nodes = await _dht_network(8)
        boot = (nodes[0].addresses[0],)
        dht: SessionOptions = {"dht_port": 0, "dht_bootstrap": boot, "dht_rate_limit": 0.0}
        sessions: list[Session] = []
        try:
            seeder = await start_session(**dht)
            sessions.append(seeder)
            assert seeder.dht is not None
            await seeder.dht.bootstrapped(timeout=10)
            await seeder.add(meta, tmp_path / "seed")  # announces itself in the DHT
            leecher = await start_session(**dht)
            sessions.append(leecher)
            assert leecher.dht is not None
            await leecher.dht.bootstrapped(timeout=10)
            fetched = await leecher.fetch_metadata(magnet, give_up_after=40)
            assert fetched.info.raw == meta.info.raw
            rt = await leecher.add(fetched, tmp_path / "leech")
            await wait_all_complete([rt], within=40)
        finally:
            for s in sessions:
                await s.close()
            for node in nodes:
                node.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)

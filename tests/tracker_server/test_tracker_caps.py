"""The tracker's caps on swarms and on peers per swarm (`--max-swarms`,
`--max-peers-per-swarm`): a new swarm past the cap gets a failure reason, and a newcomer to
a full swarm gets peers but is not stored, in the memory store, over HTTP and UDP from a
real `bitswarm tracker` process, and in the Redis store."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bitswarm.aio.tracker_client import announce, scrape
from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats, TrackerFailure
from bitswarm.tracker_server.config import TRACKER_FULL, TrackerConfig
from bitswarm.tracker_server.memory_store import MemorySwarmStore
from bitswarm.tracker_server.store import PeerAnnounce, SwarmsFull, SwarmStore

from .test_tracker_redis import HAVE_REDIS
from .tracker_server_helpers import RedisServer, TrackerProcess, missing

IH = [bytes([0x51 + i]) * 20 for i in range(4)]


def req(peer: int, ih: bytes = IH[0], event: AnnounceEvent = AnnounceEvent.STARTED,
        left: int = 10) -> AnnounceRequest:  # fmt: skip
    return AnnounceRequest(info_hash=ih, peer_id=b"-CP0001-%012d" % peer, port=20_000 + peer,
                           uploaded=0, downloaded=0, left=left, event=event, key=peer)  # fmt: skip


def peer_ann(peer: int, ih: bytes = IH[0], event: AnnounceEvent = AnnounceEvent.STARTED,
             left: int = 10) -> PeerAnnounce:  # fmt: skip
    r = req(peer, ih, event, left)
    return PeerAnnounce(r, bytes([10, 0, 0, peer]) + r.port.to_bytes(2, "big"), 50)


CONFIG = TrackerConfig(interval=60, min_interval=10, peer_timeout=100, max_swarms=2,
                       max_peers_per_swarm=3)  # fmt: skip


async def _the_caps(store: SwarmStore, *, swarms_counted: bool = True) -> None:
    now = 1000.0
    for peer in (1, 2, 3):
        await store.announce(peer_ann(peer), now=now)
    r = await store.announce(peer_ann(4), now=now)  # the swarm is full
    assert r.incomplete == 3 and len(r.peers4) == 3  # the newcomer still meets peers
    r = await store.announce(peer_ann(2, left=0, event=AnnounceEvent.COMPLETED), now=now)
    assert (r.complete, r.incomplete, r.downloaded) == (1, 2, 1)  # members still update
    assert await store.scrape([IH[0]], now=now) == [ScrapeStats(1, 1, 2)]
    await store.announce(peer_ann(1, event=AnnounceEvent.STOPPED), now=now)
    r = await store.announce(peer_ann(4), now=now)  # a place is free again
    assert (r.complete, r.incomplete) == (1, 2)
    assert (await store.scrape([IH[0]], now=now))[0].incomplete == 2
    await store.announce(peer_ann(1, IH[1]), now=now)
    if swarms_counted:
        await store.totals(now=now)  # the Redis store counts swarms from time to time
    with pytest.raises(SwarmsFull):
        await store.announce(peer_ann(1, IH[2]), now=now)
    r = await store.announce(peer_ann(1, IH[2], AnnounceEvent.STOPPED), now=now)
    assert r.incomplete == 0  # a stopped announce to an unknown swarm is no new swarm
    r = await store.announce(peer_ann(5, IH[1]), now=now)  # known swarms still take peers
    assert r.incomplete == 2
    await store.close()


def test_the_memory_store_caps_swarms_and_peers() -> None:
    asyncio.run(_the_caps(MemorySwarmStore(CONFIG, random.Random(0))))


def test_the_redis_store_caps_swarms_and_peers(tmp_path: Path) -> None:
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    from bitswarm.tracker_server.redis_store import RedisSwarmStore

    with RedisServer(tmp_path / "redis") as server:
        asyncio.run(_the_caps(RedisSwarmStore(server.url, CONFIG)))


def test_a_tracker_process_refuses_a_new_swarm_and_stores_no_peer_over_the_caps(
    tmp_path: Path,
) -> None:
    args = ("--max-swarms", "2", "--max-peers-per-swarm", "3")
    with TrackerProcess(*args, workdir=tmp_path) as t:

        async def body() -> None:
            for url, ih in ((t.http_url, IH[0]), (t.udp_url, IH[1])):
                for peer in range(1, 6):
                    r = await announce(url, req(peer, ih), timeout=5)
                    assert len(r.peers) == min(peer - 1, 3)
            stats = await scrape(t.http_url, [IH[0], IH[1]], timeout=5)
            assert stats[IH[0]].incomplete == stats[IH[1]].incomplete == 3
            for url in (t.http_url, t.udp_url):
                with pytest.raises(TrackerFailure, match=TRACKER_FULL):
                    await announce(url, req(1, IH[2]), timeout=5)

        asyncio.run(body())

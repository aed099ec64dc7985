"""The Redis store on a real redis-server (started here, on a free port).

* Both stores keep the same contract (one parametrised test runs it on each).
* Two tracker processes on one Redis: a peer that announced to one is returned by the
  other, over HTTP and UDP; ``--workers 2`` on Redis shares swarms between workers.
* Redis stopping: announces get a failure reason at once and the tracker lives on;
  Redis returning: the tracker serves again by itself.
* The key layout is hash-tagged, so Redis Cluster would keep a swarm in one slot.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.aio.tracker_client import announce, scrape
from bitswarm.tracker.announce import (
    AnnounceEvent,
    AnnounceRequest,
    AnnounceResponse,
    ScrapeStats,
    TrackerFailure,
)
from bitswarm.tracker_server.config import TrackerConfig
from bitswarm.tracker_server.memory_store import MemorySwarmStore
from bitswarm.tracker_server.store import PeerAnnounce, StoreUnavailable, SwarmStore

from .tracker_server_helpers import RedisServer, TrackerProcess, http_get, missing

# the tests install bitswarm[redis]; without it these tests fail under CI and skip elsewhere
HAVE_REDIS = importlib.util.find_spec("redis") is not None

IH = b"\x41" * 20


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    with RedisServer(tmp_path / "redis") as server:
        yield server


def req(peer: int, *, ih: bytes = IH, left: int = 10,
        event: AnnounceEvent = AnnounceEvent.STARTED) -> AnnounceRequest:  # fmt: skip
    return AnnounceRequest(info_hash=ih, peer_id=b"-RD0001-%012d" % peer, port=20_000 + peer,
                           uploaded=0, downloaded=0, left=left, event=event, key=peer)  # fmt: skip


def go(url: str, request: AnnounceRequest) -> AnnounceResponse:
    return asyncio.run(announce(url, request, timeout=5))


def peer_ann(
    peer: int, *, left: int = 10, event: AnnounceEvent = AnnounceEvent.STARTED
) -> PeerAnnounce:
    r = req(peer, left=left, event=event)
    return PeerAnnounce(r, bytes([10, 0, 0, peer]) + r.port.to_bytes(2, "big"), 50)


CONTRACT_CONFIG = TrackerConfig(interval=60, min_interval=10, peer_timeout=100)


async def check_store_contract(store: SwarmStore) -> None:
    """The contract every store keeps (the Redis Cluster test runs it too)."""
    r = await store.announce(peer_ann(1, left=0), now=1000.0)
    assert (r.complete, r.incomplete, r.downloaded, r.peers4) == (1, 0, 0, ())
    r = await store.announce(peer_ann(2), now=1001.0)
    assert (r.complete, r.incomplete) == (1, 1)
    assert r.peers4 == ((req(1).peer_id, bytes([10, 0, 0, 1]) + (20_001).to_bytes(2, "big")),)
    for _ in range(2):  # a repeated "completed" counts once
        r = await store.announce(peer_ann(2, left=0, event=AnnounceEvent.COMPLETED),
                                 now=1002.0)  # fmt: skip
    assert (r.complete, r.incomplete, r.downloaded) == (2, 0, 1)
    r = await store.announce(peer_ann(1, event=AnnounceEvent.STOPPED), now=1003.0)
    assert (r.complete, r.peers4) == (1, ())
    assert await store.scrape([IH, b"\x00" * 20], now=1004.0) == [
        ScrapeStats(1, 1, 0), ScrapeStats(0, 0, 0)]  # fmt: skip
    # peer 2 last announced at 1002: gone at 1102, and never counted after
    assert (await store.scrape([IH], now=1102.5))[0] == ScrapeStats(0, 1, 0)
    r = await store.announce(peer_ann(3), now=1103.0)
    assert (r.complete, r.incomplete, r.peers4) == (0, 1, ())
    full = await store.full_scrape(limit=10, now=1103.0)
    assert full == {IH: ScrapeStats(0, 1, 1)}
    await store.close()


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_both_stores_keep_the_same_contract(kind: str, tmp_path: Path) -> None:
    if kind == "memory":
        asyncio.run(check_store_contract(MemorySwarmStore(CONTRACT_CONFIG, random.Random(0))))
        return
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    from bitswarm.tracker_server.redis_store import RedisSwarmStore

    with RedisServer(tmp_path / "redis") as server:
        asyncio.run(check_store_contract(RedisSwarmStore(server.url, CONTRACT_CONFIG)))


def test_keys_are_hash_tagged_by_info_hash_and_expire(redis_server: RedisServer) -> None:
    from redis.crc import key_slot

    from bitswarm.tracker_server.redis_store import RedisSwarmStore, swarm_keys

    async def body() -> None:
        store = RedisSwarmStore(redis_server.url, TrackerConfig())
        await store.announce(peer_ann(1), now=time.time())
        await store.announce(peer_ann(2, left=0, event=AnnounceEvent.COMPLETED), now=time.time())
        await store.close()

    asyncio.run(body())
    import redis

    with redis.Redis(port=redis_server.port) as client:  # closed: its socket never leaks
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in client.keys("*"))
        tag = f"bsw:{{{IH.hex()}}}:"
        assert keys == sorted(tag + s for s in ("d", "l", "p4", "s"))
        assert len({key_slot(k.encode()) for k in swarm_keys(IH)}) == 1  # one Cluster slot
        assert all(client.ttl(k) > 0 for k in keys)  # every key expires by itself
        assert client.hget(tag + "p4", req(1).peer_id) == bytes([10, 0, 0, 1, 0x4E, 0x21])


def test_two_trackers_on_one_redis_share_swarms(redis_server: RedisServer, tmp_path: Path) -> None:
    with TrackerProcess("--store", redis_server.url, workdir=tmp_path / "a") as a, \
            TrackerProcess("--store", redis_server.url, workdir=tmp_path / "b") as b:  # fmt: skip
        go(a.http_url, req(1, left=0))
        seen_by_b = go(b.http_url, req(2))
        assert [(p.host, p.port) for p in seen_by_b.peers] == [("127.0.0.1", 20_001)]
        assert (seen_by_b.complete, seen_by_b.incomplete) == (1, 1)
        over_udp = go(b.udp_url, req(3))
        assert {p.port for p in over_udp.peers} == {20_001, 20_002}
        go(a.udp_url, req(3, left=0, event=AnnounceEvent.COMPLETED))
        for url in (a.udp_url, b.http_url):
            stats = asyncio.run(scrape(url, [IH], timeout=5))
            assert stats[IH] == ScrapeStats(complete=2, downloaded=1, incomplete=1)


def test_workers_on_redis_share_swarms(redis_server: RedisServer, tmp_path: Path) -> None:
    with TrackerProcess("--store", redis_server.url, "--workers", "2",
                        workdir=tmp_path) as t:  # fmt: skip
        # Each announce uses a new socket (a new source port), so the kernel spreads them
        # over both workers; every peer still sees every other one.
        for i in range(1, 13):
            go(t.udp_url if i % 2 else t.http_url, req(i))
        last = go(t.udp_url, req(13))
        assert {p.port for p in last.peers} == {20_000 + i for i in range(1, 13)}
        assert t.stop() == 0


def test_redis_down_fails_fast_and_recovers(redis_server: RedisServer, tmp_path: Path) -> None:
    with TrackerProcess("--store", redis_server.url, workdir=tmp_path) as t:
        assert go(t.http_url, req(1)).incomplete == 1
        redis_server.stop()
        for url in (t.http_url, t.udp_url, t.http_url):
            started = time.monotonic()
            with pytest.raises(TrackerFailure, match="storage unavailable"):
                go(url, req(2))
            assert time.monotonic() - started < 1.5
        status, body, _ = http_get(t.http_port, f"/scrape?info_hash={'%41' * 20}")
        assert status == 200 and b"storage unavailable" in body
        assert http_get(t.http_port, "/metrics")[0] == 200  # operations still answer
        assert t.alive()
        redis_server.start()  # same port, empty data
        deadline = time.monotonic() + 10
        while True:
            try:
                assert go(t.http_url, req(3)).incomplete == 1
                break
            except TrackerFailure:
                assert time.monotonic() < deadline, "the tracker did not recover"
                time.sleep(0.2)
        assert go(t.udp_url, req(4)).incomplete == 2
        metrics = http_get(t.http_port, "/metrics")[1].decode()
        assert 'bitswarm_tracker_errors_total{proto="http",kind="store"}' in metrics
        assert "redis unavailable" in t.log()


def test_store_unavailable_when_nothing_listens() -> None:
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    from bitswarm.tracker_server.redis_store import RedisSwarmStore

    from .tracker_server_helpers import free_port

    async def body() -> None:
        store = RedisSwarmStore(f"redis://127.0.0.1:{free_port()}/0", TrackerConfig())
        for _ in range(2):  # the second is refused without trying (retry_after)
            with pytest.raises(StoreUnavailable):
                await store.announce(peer_ann(1), now=time.time())
        await store.close()

    asyncio.run(body())


def test_a_redis_that_hangs_costs_one_timeout_then_refusals_are_immediate() -> None:
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    import socket

    from bitswarm.tracker_server.redis_store import RedisSwarmStore

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]

        async def body() -> None:
            store = RedisSwarmStore(f"redis://127.0.0.1:{port}/0", TrackerConfig(),
                                    timeout=0.3)  # fmt: skip
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.announce(peer_ann(1), now=time.time())
            assert time.monotonic() - started < 1.5
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="down"):
                await store.scrape([IH], now=time.time())
            assert time.monotonic() - started < 0.05
            await store.close()

        asyncio.run(body())

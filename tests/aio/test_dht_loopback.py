"""The asyncio driver on real UDP sockets: 32 DHT nodes on 127.0.0.1 bootstrapped from one."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bitswarm.aio.dht import DhtBindError, DhtService
from bitswarm.dht import DhtConfig
from bitswarm.dht.krpc import NodeInfo
from bitswarm.dht.state import decode_state

N_NODES = 32
# Every node shares 127.0.0.1, so the per-IP limit would throttle the whole network.
LOOPBACK = DhtConfig(rate_limit=0, query_timeout=2.0)


async def start_network(n: int, seed: int) -> list[DhtService]:
    rng = random.Random(seed)
    first = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
    await first.start("127.0.0.1", 0)
    services = [first]
    for _ in range(n - 1):  # Kademlia's join: one after another, each from the first node
        svc = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
        await svc.start("127.0.0.1", 0, [first.addresses[0]])
        await svc.bootstrapped(timeout=10)
        services.append(svc)
    return services


def test_get_peers_finds_an_announcer_among_32_loopback_nodes() -> None:
    async def main() -> None:
        services = await start_network(N_NODES, seed=1)
        try:
            tables = [len(s.endpoints[0].node.table) for s in services]
            assert min(tables) >= 8, tables
            info_hash = random.Random(2).randbytes(20)
            stored = await services[7].announce(info_hash, 6881, timeout=10)
            assert stored >= 4
            for seeker in (services[1], services[20], services[-1]):
                peers = await seeker.get_peers(info_hash, timeout=10)
                assert peers == [("127.0.0.1", 6881)]
            # the lookup is bounded: a handful of queries per round, few rounds
            node = services[-1].endpoints[0].node
            assert node.counters.malformed == 0 and node.counters.timeouts == 0
            missing = await services[3].get_peers(random.Random(3).randbytes(20), timeout=10)
            assert missing == []
        finally:
            for s in services:
                s.close()

    asyncio.run(main())


def test_state_file_is_written_on_close_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "dht.state"

    async def main() -> None:
        services = await start_network(10, seed=4)
        try:
            svc = DhtService(LOOPBACK, state_path=state)
            await svc.start("127.0.0.1", 0, [services[0].addresses[0]])
            assert await svc.bootstrapped(timeout=10) >= 8
            node_id = svc.node_id
            svc.close()
            saved = decode_state(state.read_bytes())
            assert saved.node_id == node_id and len(saved.nodes) >= 8
            assert all(isinstance(n, NodeInfo) for n in saved.nodes)
            again = DhtService(LOOPBACK, state_path=state)
            await again.start("127.0.0.1", 0)  # no bootstrap address: the saved nodes suffice
            assert again.node_id == node_id
            assert await again.bootstrapped(timeout=10) >= 8
            again.close()
            state.write_bytes(b"not a state file")
            third = DhtService(LOOPBACK, state_path=state)
            await third.start("127.0.0.1", 0)  # a corrupt file is ignored, not fatal
            assert third.node_id != node_id
            third.close()
        finally:
            for s in services:
                s.close()

    asyncio.run(main())


def test_ping_and_port_in_use() -> None:
    async def main() -> None:
        a, b = DhtService(LOOPBACK), DhtService(LOOPBACK)
        await a.start("127.0.0.1", 0)
        await b.start("127.0.0.1", 0)
        try:
            assert await b.ping(a.addresses[0]) == a.node_id
            clash = DhtService(LOOPBACK)
            with pytest.raises(DhtBindError, match=r"cannot open the DHT port 127\.0\.0\.1:"):
                await clash.start("127.0.0.1", a.addresses[0][1])
        finally:
            a.close()
            b.close()

    asyncio.run(main())


def _has_ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this host has no IPv6 loopback")
def test_dual_stack_nodes_share_an_id_and_find_peers_on_both_families() -> None:
    async def main() -> None:
        rng = random.Random(9)
        services = []
        first = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
        await first.start("127.0.0.1", 0, host6="::1")
        services.append(first)
        for _ in range(11):
            svc = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
            await svc.start("127.0.0.1", 0, [first.addresses[0], first.addresses[1]], host6="::1")
            await svc.bootstrapped(timeout=10)
            services.append(svc)
        try:
            v4, v6 = services[0].endpoints
            assert v4.node.node_id == v6.node.node_id and v4.address[1] == v6.address[1]
            assert len(v6.node.table) >= 8
            info_hash = random.Random(1).randbytes(20)
            assert await services[4].announce(info_hash, 7777, timeout=10) >= 8
            peers = await services[9].get_peers(info_hash, timeout=10)
            assert sorted(peers) == [("127.0.0.1", 7777), ("::1", 7777)]
        finally:
            for s in services:
                s.close()

    asyncio.run(main())

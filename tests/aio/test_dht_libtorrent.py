"""Our DHT and libtorrent's on loopback: each finds the peers the other announced.

libtorrent (the engine inside qBittorrent and Deluge) joins a network of 24 bitswarm
nodes, bootstrapping from one of them, in this process. Settings needed on loopback,
checked against libtorrent 2.x's source and measured here:

* ``dht_restrict_routing_ips`` (default on) keeps one routing-table entry per IP (and per
  /24 within a bucket): with every node on 127.0.0.1 libtorrent's table holds ONE of our
  nodes. Off, it holds about ten.
* ``dht_restrict_search_ips`` (default on) lets a lookup follow one node per /24, so its
  searches cannot walk a network that lives on one address. Off.
* ``dht_block_ratelimit`` (5 queries/s per IP by default) and ``dht_upload_rate_limit``
  (8000 B/s) would throttle 24 nodes that share one IP; raised.
* A listen socket flagged "local network" gets no DHT node at all: listen on an explicit
  ``127.0.0.1:0`` (not a device name, and without the ``l`` suffix) so it is not flagged.
  Loopback is BEP 42-exempt, so libtorrent's node-id checks do not get in the way.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from types import ModuleType

import pytest

from bitswarm.aio.dht import DhtService
from bitswarm.dht import DhtConfig

pytestmark = pytest.mark.interop

LOOPBACK = DhtConfig(rate_limit=0, query_timeout=2.0)


@pytest.fixture
def lt() -> ModuleType:
    try:
        import libtorrent
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the libtorrent Python module is required in CI (pip install libtorrent)")
        pytest.skip("libtorrent is not installed")
    return libtorrent


class LtDht:
    """A libtorrent session with only its DHT on, polled from the event loop."""

    def __init__(self, lt: ModuleType, router: tuple[str, int]) -> None:
        self.lt = lt
        self.session = lt.session({
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": True, "enable_lsd": False, "enable_upnp": False,
            "enable_natpmp": False,
            "dht_bootstrap_nodes": f"{router[0]}:{router[1]}",
            "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
            "dht_block_ratelimit": 100000, "dht_upload_rate_limit": 10_000_000,
            "alert_mask": lt.alert_category.dht | lt.alert_category.dht_operation,
        })  # fmt: skip
        self.table_size = 0
        self.found: dict[bytes, set[tuple[str, int]]] = {}

    @property
    def port(self) -> int:
        return int(self.session.listen_port())

    def poll(self) -> None:
        self.session.post_dht_stats()
        for a in self.session.pop_alerts():
            if isinstance(a, self.lt.dht_stats_alert):
                self.table_size = sum(b["num_nodes"] for b in a.routing_table)
            elif isinstance(a, self.lt.dht_get_peers_reply_alert):
                key = bytes.fromhex(str(a.info_hash))
                self.found.setdefault(key, set()).update((str(h), int(p)) for h, p in a.peers())

    async def until(self, what: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(f"libtorrent: condition not met in {within} s")
            self.poll()
            await asyncio.sleep(0.05)


def test_libtorrent_and_bitswarm_find_each_others_announces(lt: ModuleType) -> None:
    async def main() -> None:
        rng = random.Random(7)
        first = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
        await first.start("127.0.0.1", 0)
        ours = [first]
        lt_dht: LtDht | None = None
        try:
            for _ in range(23):
                svc = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
                await svc.start("127.0.0.1", 0, [first.addresses[0]])
                await svc.bootstrapped(timeout=10)
                ours.append(svc)
            lt_dht = LtDht(lt, first.addresses[0])
            # libtorrent joins through our node: our answers fill its routing table
            await lt_dht.until(lambda: lt_dht.table_size >= 8)

            # bitswarm announces, libtorrent finds it
            ih1 = rng.randbytes(20)
            assert await ours[5].announce(ih1, 4444, timeout=10) >= 4
            lt_dht.session.dht_get_peers(lt.sha1_hash(ih1))
            await lt_dht.until(lambda: ("127.0.0.1", 4444) in lt_dht.found.get(ih1, set()))

            # libtorrent announces, bitswarm finds it
            ih2 = rng.randbytes(20)
            lt_dht.session.dht_announce(lt.sha1_hash(ih2), 5555, 0)
            deadline = time.monotonic() + 10
            peers: list[tuple[str, int]] = []
            while ("127.0.0.1", 5555) not in peers:
                assert time.monotonic() < deadline, "bitswarm never saw libtorrent's announce"
                lt_dht.poll()
                await asyncio.sleep(0.2)
                peers = await ours[17].get_peers(ih2, timeout=5)

            # libtorrent is a node in our tables (it answers our queries) and stores for us
            lt_port = lt_dht.port
            holders = [
                s
                for s in ours
                if any(e.port == lt_port for e in s.endpoints[0].node.table.live_entries())
            ]
            assert holders, "no bitswarm node keeps libtorrent in its routing table"
            assert all(s.endpoints[0].node.counters.malformed == 0 for s in ours)
        finally:
            for s in ours:
                s.close()
            if lt_dht is not None:
                del lt_dht.session

    asyncio.run(main())

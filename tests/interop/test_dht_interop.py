"""Trackerless with libtorrent: magnet links with no tracker and no peer address, where the
peers find each other only through a local DHT (BEP 5) of bitswarm nodes on loopback.

* bitswarm downloads from a libtorrent seeder it finds in the DHT (metadata via BEP 9);
* libtorrent downloads from a bitswarm seeder it finds in the DHT.

libtorrent needs, on loopback (see tests/aio/test_dht_libtorrent.py for why): an explicit
127.0.0.1 listen interface, `dht_restrict_routing_ips` and `dht_restrict_search_ips` off,
and its per-IP DHT rate limits raised, since every node here shares one address.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.aio.dht import DhtService
from bitswarm.create import create_torrent
from bitswarm.dht import DhtConfig
from bitswarm.magnet import Magnet
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig
from tests.lt_sessions import loopback_session

from .tools import require_module

pytestmark = pytest.mark.interop

LOOPBACK = DhtConfig(rate_limit=0, query_timeout=2.0)
PAYLOAD = bytes(range(256)) * 4096 * 3  # 3 MiB


async def _dht_network(count: int) -> list[DhtService]:
    rng = random.Random(5)
    nodes: list[DhtService] = []
    for _ in range(count):
        node = DhtService(LOOPBACK, rng=random.Random(rng.getrandbits(64)))
        await node.start("127.0.0.1", 0, [nodes[0].addresses[0]] if nodes else [])
        if nodes:
            await node.bootstrapped(timeout=10)
        nodes.append(node)
    return nodes


def _lt_session(lt: Any, router: tuple[str, int]) -> Any:
    return loopback_session(
        lt, enable_dht=True, dht_bootstrap_nodes=f"{router[0]}:{router[1]}",
        dht_restrict_routing_ips=False, dht_restrict_search_ips=False,
        dht_block_ratelimit=100000, dht_upload_rate_limit=10_000_000,
        allow_multiple_connections_per_ip=True, enable_ip_notifier=False, alert_mask=0,
    )  # fmt: skip


async def _until(what: Any, within: float, describe: str) -> None:
    deadline = time.monotonic() + within
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s: {describe}")
        await asyncio.sleep(0.1)


def _torrent(tmp_path: Path) -> tuple[Path, bytes]:
    data = tmp_path / "seed" / "dht-payload.bin"
    data.parent.mkdir(parents=True)
    data.write_bytes(PAYLOAD)
    return data, create_torrent(data, piece_length=64 * 1024, version="hybrid")


# A real libtorrent seed found through a DHT: up to 20 s for its check, 60 s for the
# metadata and 60 s for the download, each deadline with its own message.
@pytest.mark.timeout(180)
def test_bitswarm_downloads_a_magnet_from_libtorrent_found_in_the_dht(tmp_path: Path) -> None:
    lt = require_module("libtorrent")
    data, torrent = _torrent(tmp_path)
    meta = parse_torrent(torrent)
    magnet = Magnet.from_metainfo(meta)
    assert not magnet.trackers and not magnet.peers

    async def run() -> None:
        nodes = await _dht_network(8)
        router = nodes[0].addresses[0]
        seeder = _lt_session(lt, router)
        try:
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(lt.bdecode(torrent))
            params.save_path = str(data.parent)
            handle = seeder.add_torrent(params)
            await _until(lambda: handle.status().is_seeding, 20, "libtorrent to check its data")
            handle.force_dht_announce()
            config = SessionConfig(
                listen_host="127.0.0.1",
                listen_port=0,
                dht_port=0,
                dht_bootstrap=(router,),
                dht_rate_limit=0.0,
            )
            async with Session(config) as leecher:
                assert leecher.dht is not None
                await leecher.dht.bootstrapped(timeout=10)
                fetched = await leecher.fetch_metadata(magnet, give_up_after=60)
                assert fetched.info.raw == meta.info.raw
                rt = await leecher.add(fetched, tmp_path / "leech")
                async with asyncio.timeout(60):
                    await rt.completed.wait()
        finally:
            for node in nodes:
                node.close()

    asyncio.run(run())
    assert (tmp_path / "leech" / data.name).read_bytes() == PAYLOAD


def test_libtorrent_downloads_a_magnet_from_bitswarm_found_in_the_dht(tmp_path: Path) -> None:
    lt = require_module("libtorrent")
    data, torrent = _torrent(tmp_path)
    meta = parse_torrent(torrent)
    uri = Magnet.from_metainfo(meta).to_uri()

    async def run() -> None:
        nodes = await _dht_network(8)
        router = nodes[0].addresses[0]
        config = SessionConfig(
            listen_host="127.0.0.1",
            listen_port=0,
            dht_port=0,
            dht_bootstrap=(router,),
            dht_rate_limit=0.0,
        )
        try:
            async with Session(config) as seeder:
                assert seeder.dht is not None
                await seeder.dht.bootstrapped(timeout=10)
                rt = await seeder.add(meta, data.parent)
                assert rt.core is not None and rt.core.is_seed
                leecher = _lt_session(lt, router)
                params = lt.parse_magnet_uri(uri)
                params.save_path = str(tmp_path / "lt")
                handle = leecher.add_torrent(params)
                await _until(
                    lambda: handle.status().is_seeding,
                    90,
                    "libtorrent to find bitswarm in the DHT and download",
                )
                handle.flush_cache()
                await asyncio.sleep(0.5)
        finally:
            for node in nodes:
                node.close()

    asyncio.run(run())
    assert (tmp_path / "lt" / data.name).read_bytes() == PAYLOAD

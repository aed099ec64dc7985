"""Real clients find each other through bitswarm's tracker, and nothing else.

libtorrent seeds, aria2 downloads (aria2 cannot be told to dial a peer: the tracker is
its only way to find the seeder), over HTTP and over UDP, 4 MiB with byte-identical
results. Also: libtorrent's own announce and scrape read bitswarm's replies, and
opentracker and bitswarm agree on what a scrape says after the same announces.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.aio.tracker_client import announce, scrape
from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats
from bitswarm_lab.peers.aria2_peer import Aria2Peer
from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import free_port
from bitswarm_lab.peers.opentracker import Opentracker
from bitswarm_lab.peers.process import ManagedProcess
from bitswarm_lab.peers.torrent_files import files_identical, make_torrent, write_payload

from .tracker_server_helpers import TrackerProcess, http_get, missing, require_program

PAYLOAD = 4 << 20
PIECE = 256 << 10


class Aria2WithUdpTrackers(Aria2Peer):
    """aria2 as the harness runs it, plus its DHT socket: aria2 talks to UDP trackers only
    through that socket ("--enable-dht ... also enables UDP tracker support", aria2c(1);
    without it: "udp is not supported yet"). No DHT node is known, so the tracker remains
    the only way to find the seeder."""

    def _spawn(self, argv: list[str], **kw: Any) -> ManagedProcess:
        port = free_port("127.0.0.1", self.spec.netns, kind=socket.SOCK_DGRAM)
        argv = [a for a in argv if a != "--enable-dht=false"]
        argv[1:1] = ["--enable-dht=true", f"--dht-listen-port={port}",
                     f"--dht-file-path={self.spec.workdir / 'dht.dat'}"]  # fmt: skip
        return super()._spawn(argv, **kw)


def _require_clients() -> None:
    if importlib.util.find_spec("libtorrent") is None:
        missing("the Python module 'libtorrent' is not installed")
    if shutil.which("aria2c") is None:
        missing("aria2c is not installed")


def _wait_for_seeder(url: str, info_hash: bytes, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while asyncio.run(scrape(url, [info_hash], timeout=5))[info_hash].complete < 1:
        assert time.monotonic() < deadline, "the seeder never announced to the tracker"
        time.sleep(0.1)


@pytest.mark.interop
@pytest.mark.parametrize("proto", ["http", "udp"])
def test_libtorrent_seeds_aria2_through_bitswarm_tracker(proto: str, tmp_path: Path) -> None:
    _require_clients()
    seed_dir = tmp_path / "seed"
    write_payload(seed_dir / "payload.bin", PAYLOAD, seed=11)
    torrent = make_torrent(seed_dir / "payload.bin", tmp_path / "payload.torrent", PIECE)
    info_hash = bytes.fromhex(torrent.info_hash)
    with TrackerProcess("--interval", "60", "--min-interval", "5",
                        workdir=tmp_path / "tracker") as tracker:  # fmt: skip
        url = tracker.http_url if proto == "http" else tracker.udp_url
        seed_spec = PeerSpec(
            Role.SEED, torrent.path, seed_dir, tmp_path / "seeder",
            Endpoint("127.0.0.1", free_port("127.0.0.1")), tracker=url,
        )  # fmt: skip
        with LibtorrentPeer(seed_spec) as seeder:
            seeder.wait_complete(30)
            _wait_for_seeder(tracker.http_url, info_hash)
            leech_dir = tmp_path / "leech"
            leech_spec = PeerSpec(
                Role.LEECH, torrent.path, leech_dir, tmp_path / "leecher",
                Endpoint("127.0.0.1", free_port("127.0.0.1")), tracker=url,
            )  # fmt: skip
            leecher_class = Aria2Peer if proto == "http" else Aria2WithUdpTrackers
            with leecher_class(leech_spec) as leecher:
                seconds = leecher.wait_complete(45)
                assert files_identical(seed_dir / "payload.bin", leech_dir / "payload.bin")
        assert 0 < seconds < 45
        metrics = http_get(tracker.http_port, "/metrics")[1].decode()
        # both programs announced over the protocol under test
        assert f'bitswarm_tracker_announces_total{{proto="{proto}",event="started"}}' in metrics


def _req(peer: int, ih: bytes, left: int, event: AnnounceEvent) -> AnnounceRequest:
    return AnnounceRequest(info_hash=ih, peer_id=b"-CMP001-%012d" % peer, port=30_000 + peer,
                           uploaded=0, downloaded=0, left=left, event=event, key=peer)  # fmt: skip


@pytest.mark.interop
def test_bitswarm_and_opentracker_agree_on_swarm_counts(tmp_path: Path) -> None:
    require_program("opentracker")
    ih = b"\x5a" * 20
    script = [(1, 0, AnnounceEvent.STARTED), (2, 5, AnnounceEvent.STARTED),
              (3, 5, AnnounceEvent.STARTED), (2, 0, AnnounceEvent.COMPLETED),
              (3, 5, AnnounceEvent.STOPPED)]  # fmt: skip
    results: list[tuple[ScrapeStats, int]] = []
    with Opentracker(tmp_path / "ot", info_hashes=(ih.hex(),)) as ot, \
            TrackerProcess(workdir=tmp_path / "bsw") as bsw:  # fmt: skip
        for url in (ot.udp_announce_url, bsw.udp_url):

            async def run(url: str = url) -> tuple[ScrapeStats, int]:
                for peer, left, event in script:
                    await announce(url, _req(peer, ih, left, event), timeout=5)
                fresh = await announce(url, _req(9, ih, 5, AnnounceEvent.STARTED), timeout=5)
                stats = (await scrape(url, [ih], timeout=5))[ih]
                if url == bsw.udp_url:  # (opentracker may hand a peer its own address)
                    assert {p.port for p in fresh.peers} == {30_001, 30_002}
                return stats, fresh.complete or 0

            results.append(asyncio.run(run()))
    assert results[0] == results[1], f"opentracker {results[0]} vs bitswarm {results[1]}"
    assert results[1] == (ScrapeStats(complete=2, downloaded=1, incomplete=1), 2)

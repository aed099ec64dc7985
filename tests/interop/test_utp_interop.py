"""uTP (BEP 29) with libtorrent, its TCP turned off: bitswarm downloads from it and
seeds to it over uTP only; through a user-space UDP relay that drops, reorders and
delays datagrams (this kernel has no netem), the bytes still arrive right.

libtorrent runs in this process (its Python module) on 127.0.0.1, with DHT, LSD and
encryption off.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig, TorrentRuntime
from tests.lt_sessions import loopback_session

from .tools import require_module
from .udp_relay import UdpRelay

MiB = 2**20


def _lt_session(lt: Any) -> Any:
    return loopback_session(
        lt, tcp=False, utp=True, allow_multiple_connections_per_ip=True,
        enable_ip_notifier=False, alert_mask=0,
    )  # fmt: skip


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _content(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = tmp_path / "seed" / "file.bin"
    data.parent.mkdir()
    data.write_bytes(random.Random(29).randbytes(size))
    return data, create_torrent(data, piece_length=64 * 1024)


def _add_lt(lt: Any, ses: Any, torrent: bytes, save: Path) -> Any:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(torrent))
    params.save_path = str(save)
    return ses.add_torrent(params)


async def _complete(rt: TorrentRuntime, within: float) -> set[str]:
    seen: set[str] = set()
    async with asyncio.timeout(within):
        while not rt.completed.is_set():
            seen.update(p.transport for p in rt.peers())
            await asyncio.sleep(0.02)
    return seen


def _download_from_libtorrent(tmp_path: Path, size: int, relay: dict[str, float] | None) -> None:
    lt = require_module("libtorrent")
    data, torrent = _content(tmp_path, size)
    meta = parse_torrent(torrent)
    seeder = _lt_session(lt)
    handle = _add_lt(lt, seeder, torrent, data.parent)
    _wait(lambda: handle.status().is_seeding, 20, "libtorrent to seed")
    lt_addr = ("127.0.0.1", seeder.listen_port())

    async def run() -> set[str]:
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0, transport="utp")
        async with Session(config) as s:
            peer = lt_addr
            box: UdpRelay | None = None
            if relay is not None:
                box = await UdpRelay.start(lt_addr, seed=7, **relay)
                peer = box.address
            try:
                rt = await s.add(meta, tmp_path / "leech", peers=[peer])
                # 140 s, not 90: through the 5 %-loss relay about one download in five
                # stalls for a minute (libtorrent resends a lost packet once or twice, the
                # resend is lost too, and it sends nothing more until it gives the
                # connection up and dials us directly; relay traces in the issue-15 round-4
                # closing note). Seen at 64-78 s, against 4-16 s otherwise; not fixed yet.
                return await _complete(rt, 140)
            finally:
                if box is not None:
                    box.close()

    seen = asyncio.run(run())
    assert seen == {"utp"}
    got = (tmp_path / "leech" / "file.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data.read_bytes()).digest()


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_download_from_libtorrent_over_utp_only(tmp_path: Path) -> None:
    _download_from_libtorrent(tmp_path, 3 * MiB, None)


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_seed_to_libtorrent_over_utp_only(tmp_path: Path) -> None:
    lt = require_module("libtorrent")
    data, torrent = _content(tmp_path, 3 * MiB)
    meta = parse_torrent(torrent)
    leecher = _lt_session(lt)
    (tmp_path / "lt").mkdir()
    handle = _add_lt(lt, leecher, torrent, tmp_path / "lt")

    async def run() -> set[str]:
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0, transport="utp")
        async with Session(config) as s:
            rt = await s.add(meta, data.parent)
            handle.connect_peer(("127.0.0.1", s.listen_port))
            seen: set[str] = set()
            async with asyncio.timeout(90):
                while not handle.status().is_seeding:
                    seen.update(p.transport for p in rt.peers())
                    await asyncio.sleep(0.05)
            return seen

    seen = asyncio.run(run())
    assert seen == {"utp"}
    got = (tmp_path / "lt" / "file.bin").read_bytes()
    assert got == data.read_bytes()


@pytest.mark.interop
@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    "impairment",
    [
        {"loss": 0.01},
        {"loss": 0.05},
        {"jitter": 0.020},  # reorders
        {"delay": 0.100, "loss": 0.01},
    ],
    ids=["loss1", "loss5", "reorder", "delay100"],
)
def test_download_from_libtorrent_through_a_bad_link(
    tmp_path: Path, impairment: dict[str, float]
) -> None:
    _download_from_libtorrent(tmp_path, 2 * MiB, impairment)


# Once stalled: libtorrent's SACK is ceil(span / 8) bytes, not a multiple of 4, and our
# decoder dropped every ack that carried one, so a single loss froze the connection.
@pytest.mark.interop
@pytest.mark.timeout(150)
def test_seed_to_libtorrent_through_a_bad_link(tmp_path: Path) -> None:
    """Our sender under loss and reordering: libtorrent dials bitswarm through the relay."""
    lt = require_module("libtorrent")
    data, torrent = _content(tmp_path, 2 * MiB)
    meta = parse_torrent(torrent)
    leecher = _lt_session(lt)
    (tmp_path / "lt").mkdir()
    handle = _add_lt(lt, leecher, torrent, tmp_path / "lt")

    async def run() -> int:
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0, transport="utp")
        async with Session(config) as s:
            await s.add(meta, data.parent)
            relay = await UdpRelay.start(("127.0.0.1", s.listen_port), loss=0.05, jitter=0.010)
            try:
                handle.connect_peer(relay.address)
                async with asyncio.timeout(40):
                    while not handle.status().is_seeding:  # noqa: ASYNC110 - polling libtorrent
                        await asyncio.sleep(0.05)
                return relay.dropped
            finally:
                relay.close()

    assert asyncio.run(run()) > 0
    assert (tmp_path / "lt" / "file.bin").read_bytes() == data.read_bytes()

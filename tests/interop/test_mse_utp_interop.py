"""MSE/PE over uTP (BEP 29): the encryption layer sits under `PeerProtocol` whatever the
transport, so a uTP connection is encrypted as a TCP one is.

Two bitswarm sessions speaking uTP only, both requiring encryption, exchange a torrent
through the user-space UDP relay (tests/interop/udp_relay.py), which records every
datagram: no UDP payload holds the BitTorrent handshake string (and, the control, they
do when encryption is disabled on both sides). Then libtorrent with TCP off and
encryption forced (pe_forced both ways, RC4 only) dials bitswarm over uTP, through the
relay as well, and downloads from it: our accepted uTP connection is sniffed as MSE and
answered with RC4.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig, TorrentRuntime
from bitswarm.wire.mse import Encryption
from tests.lt_sessions import loopback_session

from .tools import require_module
from .udp_relay import UdpRelay

MiB = 2**20
HANDSHAKE = b"BitTorrent protocol"


def _content(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = tmp_path / "seed" / "file.bin"
    data.parent.mkdir()
    data.write_bytes(random.Random(13).randbytes(size))
    return data, create_torrent(data, piece_length=64 * 1024)


def _recording(relay: UdpRelay) -> list[bytes]:
    """Every datagram that crosses `relay`, both ways, in order."""
    seen: list[bytes] = []

    def record(_from_client: bool, data: bytes) -> bool:
        seen.append(data)
        return False  # drop nothing

    relay.drop = record
    return seen


def _config(level: Encryption) -> SessionConfig:
    return SessionConfig(listen_host="127.0.0.1", listen_port=0, transport="utp", encryption=level)


def _watch(rt: TorrentRuntime, seen: set[tuple[bool, str]]) -> None:
    seen.update((p.encrypted, p.transport) for p in rt.peers())


@pytest.mark.interop
@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("level", "in_clear"),
    [
        (Encryption.REQUIRED, False),
        (Encryption.DISABLED, True),  # the control: the same transfer, plain
    ],
)
def test_bitswarm_pair_over_utp_with_encryption(
    tmp_path: Path, level: Encryption, in_clear: bool
) -> None:
    data, torrent = _content(tmp_path, 2 * MiB + 4321)
    meta = parse_torrent(torrent)

    async def run() -> tuple[list[bytes], set[tuple[bool, str]], set[tuple[bool, str]]]:
        async with Session(_config(level)) as seeder, Session(_config(level)) as leecher:
            seed_rt = await seeder.add(meta, data.parent)
            relay = await UdpRelay.start(("127.0.0.1", seeder.listen_port))
            datagrams = _recording(relay)
            try:
                rt = await leecher.add(meta, tmp_path / "leech", peers=[relay.address])
                ours: set[tuple[bool, str]] = set()
                theirs: set[tuple[bool, str]] = set()
                async with asyncio.timeout(60):
                    while not rt.completed.is_set():
                        _watch(rt, ours)
                        _watch(seed_rt, theirs)
                        await asyncio.sleep(0.02)
                return datagrams, ours, theirs
            finally:
                relay.close()

    datagrams, ours, theirs = asyncio.run(run())
    assert (tmp_path / "leech" / "file.bin").read_bytes() == data.read_bytes()
    assert sum(map(len, datagrams)) > 2 * MiB, "the payload went through the relay"
    assert ours == {(not in_clear, "utp")}
    assert theirs == {(not in_clear, "utp")}
    assert any(HANDSHAKE in d for d in datagrams) is in_clear


def _lt_forced_utp_only(lt: Any) -> Any:
    return loopback_session(
        lt, tcp=False, utp=True, plaintext=False,
        out_enc_policy=int(lt.enc_policy.forced), in_enc_policy=int(lt.enc_policy.forced),
        allowed_enc_level=int(lt.enc_level.rc4), allow_multiple_connections_per_ip=True,
        enable_ip_notifier=False, alert_mask=0,
    )  # fmt: skip


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_libtorrent_forcing_rc4_over_utp_downloads_from_bitswarm(tmp_path: Path) -> None:
    lt = require_module("libtorrent")
    data, torrent = _content(tmp_path, 3 * MiB)
    meta = parse_torrent(torrent)
    ses = _lt_forced_utp_only(lt)
    (tmp_path / "lt").mkdir()
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(torrent))
    params.save_path = str(tmp_path / "lt")
    handle = ses.add_torrent(params)

    async def run() -> tuple[list[bytes], set[tuple[bool, str]]]:
        async with Session(_config(Encryption.PREFERRED)) as s:  # the default level
            rt = await s.add(meta, data.parent)
            relay = await UdpRelay.start(("127.0.0.1", s.listen_port))
            datagrams = _recording(relay)
            try:
                handle.connect_peer(relay.address)
                seen: set[tuple[bool, str]] = set()
                deadline = time.monotonic() + 90
                while not handle.status().is_seeding:
                    assert time.monotonic() < deadline, "libtorrent did not finish"
                    _watch(rt, seen)
                    await asyncio.sleep(0.05)
                return datagrams, seen
            finally:
                relay.close()

    datagrams, seen = asyncio.run(run())
    assert (tmp_path / "lt" / "file.bin").read_bytes() == data.read_bytes()
    assert seen == {(True, "utp")}  # RC4 chosen for libtorrent's MSE over uTP
    assert sum(map(len, datagrams)) > 3 * MiB, "the payload went through the relay"
    assert not any(HANDSHAKE in d for d in datagrams)

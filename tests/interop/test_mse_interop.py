"""MSE/PE against real peers: libtorrent (RC4 forced both ways), aria2 (--bt-require-crypto,
arc4), Transmission 3.00 (encryption 2, in a network namespace), qbittorrent-nox 4.5
(preference `encryption` 1, set over its WebUI API), each seeding to bitswarm and leeching
from it through opentracker, every peer set to require encryption; qbittorrent-nox
requiring encryption refuses a plaintext-only bitswarm, whose status says why; a relay
that records every byte shows the handshake string never crosses in clear (and does when
bitswarm's encryption is disabled); and `preferred` falls back to plaintext against a
libtorrent that refuses MSE."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.wire.mse import Encryption
from bitswarm_lab.peers.aria2_peer import Aria2Peer
from bitswarm_lab.peers.base import Endpoint, Peer, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.logged_bitswarm import LoggedBitswarmPeer
from bitswarm_lab.peers.netns import free_port, netns_unavailable_reason, sweep_stale_namespaces
from bitswarm_lab.peers.qbittorrent_peer import QbittorrentPeer
from bitswarm_lab.peers.transmission_peer import TransmissionPeer

from ..session.helpers import digest_tree, start_session
from .multi_file_torrents import make_v1, write_multi_file_payload
from .tools import missing, require_module, require_program
from .tracked_transfer import run_tracked_transfer

PEERS: dict[str, type[Peer]] = {
    "bitswarm": LoggedBitswarmPeer,
    "libtorrent": LibtorrentPeer,
    "aria2": Aria2Peer,
    "transmission": TransmissionPeer,
    "qbittorrent": QbittorrentPeer,
}
HANDSHAKE = b"BitTorrent protocol"


@pytest.fixture(scope="module", autouse=True)
def _sweep_stale_namespaces() -> None:
    sweep_stale_namespaces()


def _case(seeder: str, leecher: str) -> object:
    marks = [pytest.mark.interop]
    if "transmission" in (seeder, leecher):
        marks.append(pytest.mark.netns)
    return pytest.param(seeder, leecher, id=f"{seeder}-seeds-{leecher}", marks=marks)


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("seeder", "leecher"),
    [
        _case("libtorrent", "bitswarm"),
        _case("bitswarm", "libtorrent"),
        _case("aria2", "bitswarm"),
        _case("bitswarm", "aria2"),
        _case("transmission", "bitswarm"),
        _case("bitswarm", "transmission"),
        _case("qbittorrent", "bitswarm"),
        _case("bitswarm", "qbittorrent"),
    ],
)
def test_encrypted_transfer_with_every_peer_requiring_it(
    seeder: str, leecher: str, tmp_path: Path
) -> None:
    other = leecher if seeder == "bitswarm" else seeder
    require_module("libtorrent")
    require_program("opentracker")
    reason = PEERS[other].unavailable_reason() or LoggedBitswarmPeer.unavailable_reason()
    if reason is not None:
        missing(f"{other}: {reason}")
    if other == "transmission" and (why := netns_unavailable_reason()) is not None:
        missing(why)
    content = write_multi_file_payload(tmp_path / "seed")
    subject = make_v1(content, tmp_path / "v1.torrent")
    stall = 25.0 if other == "transmission" else 15.0
    result = run_tracked_transfer(
        PEERS[seeder], PEERS[leecher], subject, tmp_path / "seed", tmp_path / "run",
        timeout=60.0, stall=stall, encryption="required",
    )  # fmt: skip
    assert (result.seeder, result.leecher) == (seeder, leecher)
    assert result.size > 0


class Relay:
    """A TCP relay on 127.0.0.1 to `target` that records every byte, both ways."""

    def __init__(self, target: Endpoint) -> None:
        self.target = target
        self.upstream = bytearray()  # from the dialler (bitswarm) to the target
        self.downstream = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(self.target.host, self.target.port)
        loop = asyncio.get_running_loop()
        for src, dst, record in ((reader, up_w, self.upstream), (up_r, writer, self.downstream)):
            task = loop.create_task(self._pipe(src, dst, record))
            self._tasks.add(task)

    @staticmethod
    async def _pipe(
        src: asyncio.StreamReader, dst: asyncio.StreamWriter, record: bytearray
    ) -> None:
        try:
            while chunk := await src.read(65536):
                record += chunk
                dst.write(chunk)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()


def _meta(torrent: Path) -> Metainfo:
    return parse_torrent(torrent.read_bytes())


def _libtorrent_seed(tmp_path: Path, encryption: str) -> tuple[LibtorrentPeer, Path]:
    content = write_multi_file_payload(tmp_path / "seed")
    subject = make_v1(content, tmp_path / "v1.torrent")
    spec = PeerSpec(
        Role.SEED, subject.torrent.path, tmp_path / "seed", tmp_path / "lt",
        Endpoint("127.0.0.1", free_port("127.0.0.1", None)), encryption=encryption,
    )  # fmt: skip
    return LibtorrentPeer(spec), subject.torrent.path


async def _download_through_relay(
    tmp_path: Path, meta: Metainfo, target: Endpoint, level: Encryption
) -> tuple[Relay, list[bool], bool]:
    """bitswarm at `level` downloads from `target` through a relay: the relay, whether each
    peer seen was encrypted, and whether the dialer remembers the MSE attempt failed."""
    async with Relay(target) as relay:
        s = await start_session(encryption=level, download_limit=4 * 2**20)  # 2 s: see peers
        try:
            addr = ("127.0.0.1", relay.port)
            rt = await s.add(meta, tmp_path / "leech", peers=[addr])
            seen: list[bool] = []
            async with asyncio.timeout(40):
                while not rt.completed.is_set():
                    seen += [p.encrypted for p in rt.peers()]
                    await asyncio.sleep(0.05)
            way = rt.dialer.worked.get(addr)
            plain_worked = way is not None and way.encrypted is False
        finally:
            await s.close()
    return relay, seen, plain_worked


@pytest.mark.interop
@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("ours", "theirs", "in_clear"),
    [
        (Encryption.PREFERRED, "required", False),  # the default: RC4 with a peer that wants it
        (Encryption.REQUIRED, "required", False),
        (Encryption.DISABLED, "", True),  # the control: the same transfer, plain
    ],
)
def test_capture_never_shows_the_handshake_string(
    tmp_path: Path, ours: Encryption, theirs: str, in_clear: bool
) -> None:
    require_module("libtorrent")
    peer, torrent = _libtorrent_seed(tmp_path, theirs)
    with peer:
        peer.wait_complete(30)
        relay, seen, _ = asyncio.run(
            _download_through_relay(tmp_path, _meta(torrent), peer.endpoint, ours)
        )
    assert len(relay.downstream) > 7 * 2**20, "the payload went through the relay"
    assert (HANDSHAKE in relay.upstream) is in_clear
    assert (HANDSHAKE in relay.downstream) is in_clear
    assert seen and set(seen) == {not in_clear}
    assert digest_tree(tmp_path / "leech") == digest_tree(tmp_path / "seed")


@pytest.mark.interop
@pytest.mark.timeout(90)
def test_preferred_falls_back_to_plaintext_against_a_peer_without_mse(tmp_path: Path) -> None:
    """libtorrent with in_enc_policy disabled closes our MSE attempt; the dialer retries
    plain at once and remembers it; the handshake string then crosses in clear."""
    require_module("libtorrent")
    peer, torrent = _libtorrent_seed(tmp_path, "disabled")
    with peer:
        peer.wait_complete(30)
        relay, seen, plain_worked = asyncio.run(
            _download_through_relay(tmp_path, _meta(torrent), peer.endpoint, Encryption.PREFERRED)
        )
    assert plain_worked, "the plain retry should be what worked"
    assert seen and set(seen) == {False}
    assert HANDSHAKE in relay.upstream and HANDSHAKE in relay.downstream
    assert digest_tree(tmp_path / "leech") == digest_tree(tmp_path / "seed")


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_qbittorrent_requiring_encryption_refuses_plaintext_and_the_hint_says_so(
    tmp_path: Path,
) -> None:
    """qbittorrent-nox with `encryption` 1 seeds; bitswarm with `--encryption disabled` is
    refused (no peer, no byte) and its status says why within seconds; the same bitswarm
    at `preferred` then downloads from it over RC4."""
    reason = QbittorrentPeer.unavailable_reason()
    if reason is not None:
        missing(reason)
    content = write_multi_file_payload(tmp_path / "seed")
    subject = make_v1(content, tmp_path / "v1.torrent")
    spec = PeerSpec(
        Role.SEED, subject.torrent.path, tmp_path / "seed", tmp_path / "qb",
        Endpoint("127.0.0.1", free_port("127.0.0.1", None)), encryption="required",
    )  # fmt: skip
    meta = _meta(subject.torrent.path)

    async def refused_then_encrypted(at: tuple[str, int]) -> tuple[float, str | None, bool]:
        plain = await start_session(encryption=Encryption.DISABLED)
        try:
            rt = await plain.add(meta, tmp_path / "refused", peers=[at])
            loop = asyncio.get_running_loop()
            added = loop.time()
            async with asyncio.timeout(30):
                while rt.status().hint is None:
                    assert not rt.peers(), "qBittorrent took a plaintext connection"
                    await asyncio.sleep(0.02)
            took, hint = loop.time() - added, rt.status().hint
            got_nothing = rt.status().downloaded == 0
        finally:
            await plain.close()
        default = await start_session()  # preferred: RC4 first
        try:
            rt = await default.add(meta, tmp_path / "leech", peers=[at])
            seen: set[bool] = set()
            async with asyncio.timeout(60):
                while not rt.completed.is_set():
                    seen |= {p.encrypted for p in rt.peers()}
                    await asyncio.sleep(0.05)
            assert seen == {True}, "the download from qBittorrent was not encrypted"
        finally:
            await default.close()
        return took, hint, got_nothing

    with QbittorrentPeer(spec) as seeder:
        seeder.wait_complete(60)
        took, hint, got_nothing = asyncio.run(
            refused_then_encrypted((spec.listen.host, spec.listen.port))
        )
    assert hint is not None and "may require encryption" in hint, hint
    assert took < 5.0, f"the hint took {took:.1f} s"
    assert got_nothing
    assert digest_tree(tmp_path / "leech") == digest_tree(tmp_path / "seed")

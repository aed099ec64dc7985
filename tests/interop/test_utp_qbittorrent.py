"""bitswarm and qbittorrent-nox over uTP only (issue 13): qBittorrent's "Peer connection
protocol" set to uTP (``Session\\BTProtocol=UTP``; the WebUI preference
``bittorrent_protocol`` = 2, set again through the API and read back), so libtorrent
inside it neither dials nor accepts TCP.

- seeding: qBittorrent downloads a torrent that only a bitswarm seeder has; qBittorrent
  dials it (``torrents/addPeers``), so bitswarm *accepts* the uTP connection;
- downloading: bitswarm downloads from qBittorrent seeding the same data; it dials
  qBittorrent and qBittorrent is asked to dial it (see the comment in the test).

Both sides say which transport the connection uses: qBittorrent's ``sync/torrentPeers``
"connection" column ("μTP" for uTP, "BT" for TCP) and bitswarm's `PeerSnapshot.transport`.
Everything on 127.0.0.1; qBittorrent's DHT, LSD, PeX and UPnP are off.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig, TorrentRuntime

from .tools import require_module, require_program

MiB = 2**20
PAYLOAD = 6 * MiB + 12345
UTP = "μTP"  # qBittorrent's name of a uTP connection


def _free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def _wait(check: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            got = check()
        except Exception:  # the API is not up yet
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        time.sleep(0.2)


class QbtNox:
    """A qbittorrent-nox with its own profile, uTP only, on loopback."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.peer_port = _free_port()
        self.api_port = _free_port()
        config = root / "profile" / "qBittorrent" / "config"
        config.mkdir(parents=True)
        (config / "qBittorrent.conf").write_text(
            "[LegalNotice]\nAccepted=true\n\n"
            "[BitTorrent]\n"
            "Session\\BTProtocol=UTP\n"
            "Session\\DHTEnabled=false\nSession\\LSDEnabled=false\nSession\\PeXEnabled=false\n"
            f"Session\\Port={self.peer_port}\n"
            "Session\\Interface=lo\nSession\\InterfaceName=lo\n"
            "Session\\InterfaceAddress=127.0.0.1\n"
            "Session\\QueueingSystemEnabled=false\n"
            "Session\\Encryption=0\n\n"
            "[Preferences]\n"
            "Connection\\UPnP=false\nConnection\\ResolvePeerCountries=false\n"
            "General\\Locale=en\n"
            f"WebUI\\Address=127.0.0.1\nWebUI\\Port={self.api_port}\n"
            "WebUI\\LocalHostAuth=false\nWebUI\\CSRFProtection=false\n"
            "WebUI\\HostHeaderValidation=false\n"
        )
        self.log = root / "qbittorrent.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: Any = None

    def start(self) -> Any:
        qba = require_module("qbittorrentapi")
        env = {**os.environ, "HOME": str(self.root), "XDG_CONFIG_HOME": str(self.root / "xdg")}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["qbittorrent-nox", f"--profile={self.root / 'profile'}"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        self.client = qba.Client(
            host=f"http://127.0.0.1:{self.api_port}", REQUESTS_ARGS={"timeout": 10}
        )
        _wait(self.client.app_version, 60, "qbittorrent-nox's WebUI")
        self.client.app_set_preferences({"bittorrent_protocol": 2})
        return self.client

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def describe(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def qbt(tmp_path: Path) -> Iterator[QbtNox]:
    require_program("qbittorrent-nox")
    daemon = QbtNox(tmp_path / "qbt")
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


def _content(folder: Path) -> tuple[Path, bytes]:
    """A two-file torrent's content in `folder/show`, and the torrent."""
    show = folder / "show"
    show.mkdir(parents=True)
    (show / "a.bin").write_bytes(os.urandom(PAYLOAD))
    (show / "b.bin").write_bytes(os.urandom(777_777))
    return show, create_torrent(show, piece_length=256 * 1024, version="v1")


def _qbt_connections(client: Any, info_hash: str) -> set[str]:
    peers = client.sync_torrent_peers(torrent_hash=info_hash, rid=0).get("peers") or {}
    return {str(p.get("connection")) for p in peers.values()}


async def _bitswarm_transports(rt: TorrentRuntime) -> set[str]:
    return {p.transport for p in rt.peers()}


async def _watch_transports(rt: TorrentRuntime, seen: set[str]) -> None:
    """Add the transports of `rt`'s peers to `seen` every 20 ms until cancelled."""
    while True:
        seen |= await _bitswarm_transports(rt)
        await asyncio.sleep(0.02)


def _same_files(a: Path, b: Path) -> bool:
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in ("a.bin", "b.bin"))


@pytest.mark.interop
@pytest.mark.timeout(180)
def test_bitswarm_seeds_to_qbittorrent_over_utp(qbt: QbtNox, tmp_path: Path) -> None:
    client = qbt.client
    assert client.app_preferences()["bittorrent_protocol"] == 2  # uTP only
    show, raw = _content(tmp_path / "seed")
    meta = parse_torrent(raw)
    info_hash = meta.info_hashes.hex_v1
    assert info_hash is not None
    into = tmp_path / "qbt-data"

    async def run() -> tuple[set[str], set[str]]:
        # 2 MiB/s: the transfer lasts a few seconds, so both sides' peer lists show it
        # (unlimited, the encrypted upload can begin and end between two API rounds)
        config = SessionConfig(
            listen_host="127.0.0.1", listen_port=0, transport="utp", upload_limit=2 * MiB
        )
        seeder = Session(config)
        await seeder.start()
        watcher: asyncio.Task[None] | None = None
        try:
            rt = await seeder.add(meta, show.parent)
            client.torrents_add(torrent_files={"show.torrent": raw}, save_path=str(into))
            await asyncio.to_thread(
                _wait, lambda: client.torrents_info(torrent_hashes=info_hash), 30, "the torrent"
            )
            client.torrents_add_peers(
                torrent_hashes=info_hash, peers=[f"127.0.0.1:{seeder.listen_port}"]
            )
            seen_qbt: set[str] = set()
            seen_ours: set[str] = set()
            # bitswarm's side is sampled often, beside the slower API polling
            watcher = asyncio.create_task(_watch_transports(rt, seen_ours))
            deadline = time.monotonic() + 120
            while True:
                seen_qbt |= await asyncio.to_thread(_qbt_connections, client, info_hash)
                done = await asyncio.to_thread(client.torrents_info, torrent_hashes=info_hash)
                if done and done[0]["progress"] == 1.0:
                    return seen_qbt, seen_ours
                assert time.monotonic() < deadline, (
                    f"qBittorrent at {done[0]['progress'] if done else '?'}; peers seen by it "
                    f"{seen_qbt}, by bitswarm {seen_ours}\n{qbt.describe()}"
                )
                await asyncio.sleep(0.25)
        finally:
            if watcher is not None:
                watcher.cancel()
            await seeder.close()

    seen_qbt, seen_ours = asyncio.run(run())
    assert seen_ours == {"utp"}
    assert seen_qbt == {UTP}
    assert _same_files(show, into / "show")


@pytest.mark.interop
@pytest.mark.timeout(180)
def test_bitswarm_downloads_from_qbittorrent_over_utp(qbt: QbtNox, tmp_path: Path) -> None:
    client = qbt.client
    show, raw = _content(tmp_path / "seed")
    meta = parse_torrent(raw)
    info_hash = meta.info_hashes.hex_v1
    assert info_hash is not None
    client.torrents_add(torrent_files={"show.torrent": raw}, save_path=str(show.parent))

    def seeding() -> bool:
        info = client.torrents_info(torrent_hashes=info_hash)
        return bool(info) and info[0]["progress"] == 1.0 and info[0]["state"] != "checkingUP"

    _wait(seeding, 60, f"qBittorrent to verify its data\n{qbt.describe()}")

    async def run() -> tuple[set[str], set[str]]:
        leecher = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0, transport="utp"))
        await leecher.start()
        try:
            rt = await leecher.add(meta, tmp_path / "leech", peers=[("127.0.0.1", qbt.peer_port)])
            seen_qbt: set[str] = set()
            seen_ours: set[str] = set()
            start = time.monotonic()
            deadline = start + 120
            while not rt.completed.is_set():
                seen_ours |= await _bitswarm_transports(rt)
                seen_qbt |= await asyncio.to_thread(_qbt_connections, client, info_hash)
                assert time.monotonic() < deadline, (
                    f"bitswarm at {rt.status().progress:.0%}; peers seen by qBittorrent "
                    f"{seen_qbt}, by bitswarm {seen_ours}\n{qbt.describe()}"
                )
                await asyncio.sleep(0.1)
            # qBittorrent answers the first SYN with FIN: a refused connect that is
            # retried at once, not a connection that times out and waits for the redial
            took = time.monotonic() - start
            assert took < 30, f"{took:.0f} s for 7 MiB on loopback"
            return seen_qbt, seen_ours
        finally:
            await leecher.close()

    seen_qbt, seen_ours = asyncio.run(run())
    assert seen_ours == {"utp"}
    assert seen_qbt <= {UTP}  # a fast download may end before qBittorrent lists the peer
    assert _same_files(show, tmp_path / "leech" / "show")

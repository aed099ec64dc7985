"""Session: many torrents in one process behind one listening port (L3).

The session owns the listening sockets (IPv4 and IPv6 where asked), our peer id (BEP 20),
the global connection limit, the registry that routes an accepted connection to its
torrent by info-hash, and the disk thread pool that every torrent's `DiskWorker` shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import random
import socket
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..aio.dht import DhtService
from ..aio.disk_pool import DiskPool
from ..aio.fdlimit import AcceptErrors, raise_open_file_limit
from ..aio.lsd import LsdService
from ..aio.mse import incoming_stream
from ..aio.peer import PeerOwner, PeerProtocol
from ..aio.utp import UtpManager, open_utp_socket
from ..dht.config import DhtConfig
from ..errors import BitswarmError
from ..magnet import Magnet
from ..metainfo import Metainfo
from ..peer_id import make_peer_id
from ..ratelimit import rate_bucket
from ..wire.mse import Encryption, req2
from .config import TRANSPORTS, SessionConfig
from .metadata import MetadataFetch
from .resume_store import ResumeStore
from .torrent import TorrentRuntime

__all__ = ["PortInUseError", "Session"]

log = logging.getLogger("bitswarm.session")

PORT_TRIES = 50
TICK = 1.0  # seconds between two `TorrentRuntime.tick` of every torrent


class PortInUseError(BitswarmError):
    """No port could be bound to listen on."""


class Session:
    """Runs torrents. Use as `async with Session(config) as s: rt = await s.add(...)`.

    It is the `SessionHost` (session/host.py) of every torrent and magnet fetch it runs.
    """

    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.peer_id = make_peer_id(random.Random())
        self.torrents: dict[bytes, TorrentRuntime] = {}
        self.fetches: dict[bytes, MetadataFetch] = {}
        self._found_peers: dict[bytes, list[tuple[str, int]]] = {}
        self.lsd: LsdService | None = None
        self.dht: DhtService | None = None
        self._dht_tasks: set[asyncio.Task[None]] = set()
        self.listen_port = 0
        self._servers: list[asyncio.Server] = []
        # accepted TCP peers until they close: `close` ends those no torrent has (yet)
        self._accepted: set[PeerProtocol] = set()
        self._closing = False
        self.utp_managers: list[UtpManager] = []  # the UDP sockets of the peer port
        self._accept_errors: AcceptErrors | None = None  # installed by `start` on its loop
        self.upload_bucket = rate_bucket(self.config.upload_limit)
        self.download_bucket = rate_bucket(self.config.download_limit)
        self.disk_pool = DiskPool()  # threads start on demand; shut down in `close`
        self._ticker: asyncio.TimerHandle | None = None
        self._own_hosts: set[str] = {"127.0.0.1", "::1", "0.0.0.0", "::"} | local_addresses()
        self._blocked: Callable[[str], bool] | None = None
        self._req2: dict[bytes, bytes] = {}  # HASH('req2', info-hash) -> info-hash (MSE)

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen for peers, and start the DHT node and LSD when configured.

        Raises:
            PortInUseError: no port could be bound.
        """
        loop = asyncio.get_running_loop()
        raise_open_file_limit()  # every peer is a socket (libtorrent and Transmission do it)
        handler = AcceptErrors(loop)  # EMFILE on accept: one line per 10 s, no tracebacks
        if handler.install(loop):
            self._accept_errors = handler
        port = self.config.listen_port
        last_error: OSError | None = None
        # the next ports up (find_free_port), or the kernel asked again (port 0): a number
        # is taken only when UDP (uTP, a DHT on the peer port) binds it as well as TCP
        tries = PORT_TRIES if (self.config.find_free_port and port) or not port else 1
        wants_udp = self.config.transport != "tcp" or self._dht_shares_port()
        for n in range(tries):
            candidate = port + n if port else 0
            try:
                server = await self._listen(candidate)
            except OSError as exc:
                last_error = exc
                continue
            self._servers.append(server)
            self.listen_port = server.sockets[0].getsockname()[1]
            if wants_udp:
                try:
                    self._open_utp(strict=tries > 1)
                except OSError as exc:  # UDP has this number: try another for both
                    last_error = exc
                    self._servers.remove(server)
                    server.close()
                    await server.wait_closed()
                    continue
            for sock in server.sockets:
                self._own_hosts.add(str(sock.getsockname()[0]))
            break
        else:
            where = f"{self.config.listen_host or '*'}:{port}"
            raise PortInUseError(f"cannot listen on {where}: {last_error}")
        if self.config.listen_host:
            self._own_hosts.add(self.config.listen_host)
        log.info("listening on port %d", self.listen_port)
        self._ticker = loop.call_later(TICK, self._tick)
        if self.config.dht_port is not None:
            await self._start_dht()
        if self.config.lsd:
            self.lsd = LsdService(
                listen_port=self.listen_port,
                on_peer=self._local_peer,
                interface=self.config.lsd_interface,
                port=self.config.lsd_port,
            )
            if not await self.lsd.start():
                log.warning("%s", self.lsd.error)
                self.lsd = None

    async def _listen(self, port: int) -> asyncio.Server:
        """A server on `port` for every address family of `listen_host` (None: all).

        Port 0 asks the kernel, which picks a number per family: IPv4 and IPv6 would listen
        on different ports while peers are told one of them (and, if the other family's
        number is a peer's port, we take that peer for ourselves). So the IPv4 socket's
        number is then bound for every family, picking again if another family has it.
        """
        loop = asyncio.get_running_loop()

        async def serve(number: int) -> asyncio.Server:
            return await loop.create_server(
                self._accept_tcp,
                host=self.config.listen_host,
                port=number,
                reuse_address=True,
                backlog=128,
            )

        server = await serve(port)
        for _ in range(PORT_TRIES):
            ports = {sock.getsockname()[1] for sock in server.sockets}
            if len(ports) == 1:
                return server
            ipv4 = [s for s in server.sockets if s.family == socket.AF_INET]
            number = (ipv4 or server.sockets)[0].getsockname()[1]
            server.close()
            await server.wait_closed()
            try:
                return await serve(number)
            except OSError:  # that number is taken in another family: let the kernel pick
                server = await serve(0)
        server.close()
        await server.wait_closed()
        raise OSError(f"no free port number for every address family in {PORT_TRIES} tries")

    async def close(self) -> None:
        """Stop every torrent (telling trackers, saving resume data), end metadata fetches
        (their `fetch_metadata` raises `TorrentFailed`), and release the ports and threads.

        Accepted connections still in their handshake belong to no torrent yet, so no
        torrent's stop ends them: they are closed here (a socket left to its handshake
        timeout outlived the session, and the loop when that ended first)."""
        self._closing = True  # a connection accepted from now on is refused at once
        for fetch in list(self.fetches.values()):
            fetch.abort("the session was closed")
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for rt in list(self.torrents.values()):
            await rt.stop()
        if self.lsd is not None:
            self.lsd.close()
            self.lsd = None
        for task in list(self._dht_tasks):
            task.cancel()
        if self.dht is not None:
            await self.dht.aclose()  # its state file is written in a thread
            self.dht = None
        for manager in self.utp_managers:
            manager.close()
        self.utp_managers.clear()
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        if self._accepted:
            for peer in list(self._accepted):
                peer.close("session closed")
            await asyncio.sleep(0)  # their transports release the sockets (connection_lost)
        self.disk_pool.shutdown()  # every torrent's DiskWorker is closed by now
        if self._accept_errors is not None:  # the caller's loop gets its handler back
            self._accept_errors.uninstall(asyncio.get_running_loop())
            self._accept_errors = None

    async def add(
        self,
        meta: Metainfo,
        save_path: Path,
        *,
        peers: Iterable[tuple[str, int]] = (),
        trackers: Iterable[str] = (),
        resume_path: Path | None = None,
        upload_limit: float = 0.0,
        download_limit: float = 0.0,
        file_priorities: Sequence[int] | None = None,
        max_peers: int | None = None,
        resume: ResumeStore | None = None,
        file_paths: Sequence[tuple[str, ...] | None] | None = None,
        sequential: bool = False,
        first_last: bool = False,
    ) -> TorrentRuntime:
        """Start downloading (or seeding) `meta` into the folder `save_path`.

        Data already in the folder is checked first (or trusted from the resume data,
        when that matches the files on disk) and verified pieces are not fetched again.
        Resume data is kept in the file `resume_path`, or in any `ResumeStore` given as
        `resume` (not both). `peers` are dialled besides those the trackers, DHT, PEX and
        LSD name; `trackers` are announced to besides the torrent's own. The limits are
        bytes/s (0: none), on top of the session's. `file_priorities` has one int 0..7 per
        entry of `meta.info.files` (0: skip the file; pad files' values are ignored; see
        `TorrentRuntime.set_file_priorities`); `max_peers` replaces the session's
        `config.max_peers` for this torrent; `file_paths` (one per entry, None to keep
        the torrent's) stores files under other paths (renamed). Skipped files are not
        created: their share of a piece they have in common with a wanted file is kept in
        a parts file in `save_path` (`storage/parts.py`). `sequential` fetches pieces in
        order instead of rarest first, `first_last` the first and last piece of each
        wanted file first (both live: `TorrentRuntime.set_sequential`, `set_first_last`).
        Await `wait_complete()` on the returned torrent.

        Raises:
            BitswarmError: the torrent is already in the session, cannot be downloaded
                (a pure v2 torrent), or the file priorities do not fit it; `StorageError`
                when the folder cannot be used.
        """
        key = meta.info.info_hashes.wire
        if key in self.torrents:
            raise BitswarmError(f"torrent {key.hex()} is already in this session")
        peers = [*peers, *self._found_peers.pop(key, ())]
        rt = TorrentRuntime(
            self,
            meta,
            save_path,
            peers=peers,
            trackers=trackers,
            resume_path=resume_path,
            resume=resume,
            upload_limit=upload_limit,
            download_limit=download_limit,
            file_priorities=file_priorities,
            max_peers=max_peers,
            file_paths=file_paths,
            sequential=sequential,
            first_last=first_last,
        )
        self.torrents[key] = rt
        try:
            await rt.start()
        except BaseException:
            self.torrents.pop(key, None)
            raise
        if self.lsd is not None and not meta.info.private:  # BEP 27: no LSD when private
            self.lsd.add_torrent(key)
        return rt

    async def fetch_metadata(
        self,
        magnet: Magnet,
        *,
        peers: Iterable[tuple[str, int]] = (),
        trackers: Iterable[str] = (),
        give_up_after: float | None = None,
    ) -> Metainfo:
        """Fetch a magnet link's info dictionary from peers (BEP 9) and return the torrent.

        Raises:
            MetadataTimeout: no peer gave verified metadata within `give_up_after` seconds.
            TorrentFailed: the session was closed first.
        """
        key = magnet.info_hashes.wire
        if key in self.torrents or key in self.fetches:
            raise BitswarmError(f"torrent {key.hex()} is already in this session")
        fetch = MetadataFetch(self, magnet, peers=peers, trackers=trackers)
        self.fetches[key] = fetch
        if self.lsd is not None:
            self.lsd.add_torrent(key)
        try:
            meta = await fetch.run(give_up_after=give_up_after)
        finally:
            self.fetches.pop(key, None)
            # The peers found meanwhile are handed to the download that follows.
            self._found_peers[key] = [
                *fetch.dialer.known,
                *(p.address for p in fetch.protocols if p.outgoing),
            ]
            if self.lsd is not None:
                self.lsd.remove_torrent(key)
        return meta

    def _dht_shares_port(self) -> bool:
        """libtorrent's arrangement: the DHT speaks from the peer port's UDP socket."""
        port = self.config.dht_port
        return bool(port) and port in (self.config.listen_port, self.listen_port)

    def _open_utp(self, *, strict: bool = False) -> None:
        """A UDP socket on the peer port for every address family TCP listens on (BEP 29:
        the same port number). A port taken for UDP costs uTP only, with a warning; with
        `strict`, it raises instead (nothing left open), so `start` can pick another port."""
        families = {sock.family for server in self._servers for sock in server.sockets}
        host = self.config.listen_host
        accept = self._accept_utp if self.config.transport != "tcp" else None
        for family in sorted(families):
            any_host = "::" if family == socket.AF_INET6 else "0.0.0.0"
            bind = host if host is not None else any_host
            try:
                sock = open_utp_socket(bind, self.listen_port)
            except OSError as exc:
                if strict:
                    for manager in self.utp_managers:
                        manager.close()
                    self.utp_managers.clear()
                    raise
                log.warning("no uTP on UDP %s:%d: %s", bind, self.listen_port, exc)
                continue
            self.utp_managers.append(UtpManager(
                sock, accept=accept, max_connections=2 * self.config.max_connections
            ))  # fmt: skip

    def _accept_tcp(self) -> asyncio.BufferedProtocol:
        """An accepted TCP connection's protocols (sniffed, plain or MSE), its peer kept in
        `_accepted` until it closes so that `close` ends it even before it names a torrent.
        (uTP connections need no such list: they hold no socket, and `UtpManager.close`
        resets them all.)"""
        peer = PeerProtocol(
            lookup=self._lookup,
            admit=self._admit_tcp,
            handshake_timeout=self.config.handshake_timeout,
        )
        self._accepted.add(peer)
        peer.closed_future.add_done_callback(lambda _: self._accepted.discard(peer))
        return incoming_stream(peer, level=self.config.encryption, lookup=self._skey_lookup)

    def _accept_utp(self) -> asyncio.BufferedProtocol:
        """An accepted uTP connection's protocols: sniffed, plain or MSE, and held to the
        encryption level as a TCP one is (aio/mse.py)."""
        return incoming_stream(
            PeerProtocol(
                lookup=self._lookup,
                admit=self._admit,
                handshake_timeout=self.config.handshake_timeout,
            ),
            level=self.config.encryption,
            lookup=self._skey_lookup,
        )

    def set_transport(self, transport: str) -> None:
        """Change the transports (`SessionConfig.transport`) for connections made from
        now on; those open stay. Opens the uTP socket if it was not open."""
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        if transport == self.config.transport:
            return
        self.config = dataclasses.replace(self.config, transport=transport)
        if transport != "tcp" and not self.utp_managers and self._servers:
            self._open_utp()
        for manager in self.utp_managers:
            manager.accept = self._accept_utp if transport != "tcp" else None

    @property
    def utp(self) -> UtpManager | None:
        """The first uTP socket (IPv4 when there is one) when uTP is on, else None."""
        if self.config.transport == "tcp" or not self.utp_managers:
            return None
        return self.utp_managers[0]

    def utp_for(self, host: str) -> UtpManager | None:
        """The uTP socket of `host`'s address family when uTP is on, else None."""
        if self.config.transport == "tcp":
            return None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return next((m for m in self.utp_managers if m.sock.family == family), None)

    async def _start_dht(self) -> None:
        host = self.source_host or "0.0.0.0"
        self.dht = DhtService(
            DhtConfig(rate_limit=self.config.dht_rate_limit), state_path=self.config.dht_state
        )
        shared = None
        if self._dht_shares_port():
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            shared = next((m for m in self.utp_managers if m.sock.family == family), None)
        attach = shared.attach_datagram_protocol if shared is not None else None
        port = self.listen_port if shared is not None else self.config.dht_port or 0
        await self.dht.start(host, port, self.config.dht_bootstrap, attach=attach)
        log.info(
            "DHT node on %s%s", self.dht.addresses, " (the peer port's socket)" if shared else ""
        )

    def dht_lookup(
        self,
        info_hash: bytes,
        found: Callable[[Iterable[tuple[str, int]]], None],
        *,
        announce: bool = False,
    ) -> None:
        """Ask the DHT for peers of `info_hash` and hand them to `found`; with `announce`,
        also announce that we have it (BEP 5). A no-op when the session runs no DHT node."""
        dht = self.dht
        if dht is None:
            return

        async def lookup() -> None:
            peers = await dht.get_peers(info_hash, timeout=30.0)
            found(p for p in peers if not self.is_own_address(p))
            if announce:
                await dht.announce(info_hash, self.listen_port, timeout=60.0)

        task = asyncio.get_running_loop().create_task(lookup())
        self._dht_tasks.add(task)
        task.add_done_callback(self._dht_tasks.discard)

    async def remove(self, rt: TorrentRuntime) -> None:
        """Stop `rt` (see `TorrentRuntime.stop`) and take it out of the session."""
        await rt.stop()
        self.torrents.pop(rt.info_hash, None)
        if self.lsd is not None:
            self.lsd.remove_torrent(rt.info_hash)

    def _tick(self) -> None:
        """One timer for every torrent (not one each: 1,000 torrents made 1,000 timer
        callbacks a second, P6 in bench/RESULTS.md); one torrent's failure stays its own."""
        for rt in list(self.torrents.values()):
            try:
                rt.tick()
            except Exception:
                log.exception("timer of torrent %s failed", rt.meta.info.name)
        self._ticker = asyncio.get_running_loop().call_later(TICK, self._tick)

    def _local_peer(self, info_hash: bytes, addr: tuple[str, int]) -> None:
        """A peer on the local network announced one of our torrents (BEP 14)."""
        rt = self.torrents.get(info_hash)
        if rt is not None and not rt.meta.info.private:
            rt.add_peers([addr])
        fetch = self.fetches.get(info_hash)
        if fetch is not None:
            fetch.add_peers([addr])

    def set_rate_limits(self, upload: float, download: float) -> None:
        """The session-wide upload and download limits in bytes/s (0: none), shared by
        every torrent on top of each one's own; they apply from the next block on."""
        self.upload_bucket = rate_bucket(upload)
        self.download_bucket = rate_bucket(download)

    def set_encryption(self, level: Encryption) -> None:
        """The MSE/PE policy from now on (connections already open stay as they are)."""
        self.config = dataclasses.replace(self.config, encryption=level)

    def set_ip_filter(self, blocked: Callable[[str], bool] | None) -> None:
        """Refuse peers whose address `blocked(host)` is true (None: refuse none).

        Blocked hosts are never dialled, their incoming connections are closed as soon as
        they are accepted (before any byte of ours), and connections already open to
        them are closed now. `host` is the textual IP address, an IPv4-mapped IPv6
        address given as plain IPv4. `blocked` runs on the event loop for every address
        dialled or accepted: it must be fast (say, a bisect in sorted ranges).
        """
        self._blocked = blocked
        if blocked is None:
            return
        owners: list[TorrentRuntime | MetadataFetch] = [
            *self.torrents.values(),
            *self.fetches.values(),
        ]
        for owner in owners:
            for proto in list(owner.protocols):
                if self.is_blocked(proto.address[0]):
                    proto.close("blocked by the IP filter")

    def is_blocked(self, host: str) -> bool:
        """Whether the IP filter refuses `host` (see `set_ip_filter`)."""
        blocked = self._blocked
        if blocked is None:
            return False
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]
        return blocked(host)

    def _admit(self, address: tuple[str, int]) -> bool:
        """Keep an accepted connection? (`PeerProtocol` asks before reading a byte.)"""
        if self.is_blocked(address[0]):
            log.debug("refused %s:%d: blocked by the IP filter", *address)
            return False
        return True

    def _admit_tcp(self, address: tuple[str, int]) -> bool:
        """`_admit`, and TCP at all: not when the session speaks uTP only, nor once it is
        closing (an accept already under way when the listening socket closed)."""
        return not self._closing and self.config.transport != "utp" and self._admit(address)

    def connection_count(self) -> int:
        return sum(len(rt.protocols) for rt in self.torrents.values())

    def half_open_count(self) -> int:
        """Outgoing connection attempts in flight in the whole session (`max_half_open`)."""
        owners: list[TorrentRuntime | MetadataFetch] = [
            *self.torrents.values(),
            *self.fetches.values(),
        ]
        return sum(len(owner.dialer.connecting) for owner in owners)

    @property
    def source_host(self) -> str | None:
        """The address outgoing connections and announces come from: the `--bind` address
        when it is a specific one (trackers and peers must see the address we listen on)."""
        host = self.config.listen_host
        return host if host and host not in ("0.0.0.0", "::") else None

    def source_for(self, host: str) -> tuple[str, int] | None:
        """`local_addr` for a connection to `host`, when `source_host` suits its family."""
        src = self.source_host
        if src is None:
            return None
        try:
            if ipaddress.ip_address(src).version != ipaddress.ip_address(host).version:
                return None
        except ValueError:  # a host name: let the kernel choose
            return None
        return (src, 0)

    @property
    def own_hosts(self) -> frozenset[str]:
        return frozenset(self._own_hosts)

    def is_own_address(self, addr: tuple[str, int]) -> bool:
        return addr[1] == self.listen_port and addr[0] in self._own_hosts

    def _skey_lookup(self, hashed: bytes) -> bytes | None:
        """The info-hash (MSE's SKEY) of ours whose HASH('req2', SKEY) is `hashed`, over
        every torrent and metadata fetch; None when none is. The index is built again on
        a miss, so torrents added since are found (a torrent's 20-byte handshake hash is
        its SKEY: the v1 hash, or the v2 hash truncated for a pure v2 torrent, as
        libtorrent's `associated_info_hash`)."""
        skey = self._req2.get(hashed)
        if skey is None or (skey not in self.torrents and skey not in self.fetches):
            self._req2 = {req2(key): key for key in (*self.torrents, *self.fetches)}
            skey = self._req2.get(hashed)
        return skey

    def _lookup(self, info_hash: bytes, address: tuple[str, int]) -> PeerOwner | None:
        if self.connection_count() >= self.config.max_connections or self.is_blocked(address[0]):
            return None
        return self.torrents.get(info_hash) or self.fetches.get(info_hash)


def local_addresses() -> set[str]:
    """Addresses of this host, best effort (to recognise ourselves in tracker replies)."""
    hosts: set[str] = set()
    with contextlib.suppress(OSError):
        for family, _, _, _, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
            if family in (socket.AF_INET, socket.AF_INET6):
                hosts.add(str(sockaddr[0]))
    return hosts

"""MetadataFetch: turn a magnet link into a torrent by fetching its info dictionary (BEP 9).

It finds peers (the link's ``x.pe`` and trackers, peers given by hand, the DHT when the
session runs one), connects to them with the info-hash alone, asks those that offer
ut_metadata for the 16 KiB pieces (the pure `MetadataFetcher` decides whom to ask and
verifies the whole against the info-hash), and returns a `Metainfo`. The download itself
then starts as for a .torrent file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from ..aio.peer import PeerProtocol
from ..errors import TorrentFailed
from ..ext import (
    UT_METADATA_ID,
    MetadataData,
    MetadataFetcher,
    MetadataPeerFlagged,
    MetadataProtocolError,
    MetadataReject,
    MetadataVerified,
    SendMetadataRequest,
    decode_metadata_message,
    encode_metadata_message,
    extension_handshake,
)
from ..magnet import Magnet
from ..metainfo import Metainfo, parse_info_dict
from ..version import CLIENT_NAME
from ..wire import events as ev
from ..wire.connection import PeerConnection
from .announcer import Announcer, AnnounceStats
from .dialer import Dialer
from .host import SessionHost

__all__ = ["MetadataFetch", "MetadataTimeout"]

log = logging.getLogger("bitswarm.metadata")

MAX_PEERS = 30
DHT_LOOKUP_EVERY = 30.0
DHT_RETRY_EMPTY = 5.0


class MetadataTimeout(TorrentFailed):
    """No peer gave us the metadata in time."""


class MetadataFetch:
    """One magnet link's metadata phase. Await `run()` for the `Metainfo`."""

    def __init__(
        self,
        session: SessionHost,
        magnet: Magnet,
        *,
        peers: Iterable[tuple[str, int]] = (),
        trackers: Iterable[str] = (),
        max_metadata_size: int = 16 * 2**20,
    ) -> None:
        self.session = session
        self.magnet = magnet
        self.info_hash = magnet.info_hashes.wire
        self.fetcher = MetadataFetcher(magnet.info_hashes, max_metadata_size=max_metadata_size)
        self.protocols: set[PeerProtocol] = set()
        self.dialer = Dialer(session, self, [*magnet.peers, *peers], info_hash=self.info_hash)
        tiers = [[u] for u in dict.fromkeys([*magnet.trackers, *trackers])]
        self.announcer = Announcer(self, tiers)
        self._done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._next_dht = 0.0

    # ------------------------------------------------------------------ the phase
    async def run(self, *, give_up_after: float | None = None) -> Metainfo:
        self.announcer.start()
        self._tick()
        try:
            async with asyncio.timeout(give_up_after):
                raw = await self._done
        except TimeoutError:
            have, total = self.fetcher.progress
            raise MetadataTimeout(
                f"no metadata for {self.info_hash.hex()} after {give_up_after:.0f} s "
                f"({len(self.protocols)} peers connected, {have}/{total} pieces)"
            ) from None
        finally:
            await self.close()
        info = parse_info_dict(raw)
        return Metainfo(
            info=info,
            announce_tiers=tuple((u,) for u in self.magnet.trackers),
            web_seeds=self.magnet.web_seeds,
        )

    def abort(self, reason: str) -> None:
        """End the phase from outside (the session is closing): `run` raises
        `TorrentFailed` with `reason` instead of waiting on."""
        if not self._done.done():
            self._done.set_exception(
                TorrentFailed(f"no metadata for {self.info_hash.hex()}: {reason}", reason)
            )

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self.announcer.stop()
        await self.dialer.close()
        for proto in list(self.protocols):
            proto.close("metadata phase over")

    # ------------------------------------------------------------------ AnnounceSubject
    def add_peers(self, addrs: Iterable[tuple[str, int]]) -> None:
        self.dialer.add(addrs)
        self._connect_more()

    def announce_stats(self) -> AnnounceStats:
        # The size is unknown; a non-zero `left` keeps us counted as a leecher.
        return AnnounceStats(0, 0, 16384, False, len(self.protocols) < 5)

    # ------------------------------------------------------------------ PeerOwner
    def peer_connected(self, proto: PeerProtocol) -> PeerConnection:
        # Fast is off in this phase: BEP 6 would make a bitfield the first message, and
        # we cannot size one before we know the piece count.
        conn = PeerConnection(
            info_hash=self.info_hash,
            our_peer_id=self.session.peer_id,
            num_pieces=0,
            piece_length=0,
            total_length=0,
            initiator=proto.outgoing,
            enable_fast=False,
            geometry_known=False,
            now=self._now(),
        )
        if len(self.protocols) >= MAX_PEERS:
            conn.close("too many peers")
            return conn
        self.protocols.add(proto)
        if proto.outgoing:
            conn.send_handshake()
        return conn

    def peer_events(self, proto: PeerProtocol, events: list[ev.Event]) -> None:
        conn = proto.conn
        if conn is None:
            return
        now = self._now()
        for event in events:
            match event:
                case ev.HandshakeReceived():
                    if not conn.supports_extended:
                        proto.close("no extension protocol (BEP 10): cannot fetch metadata")
                        return
                    payload = extension_handshake(private=False, metadata_size=None)
                    payload[b"v"] = CLIENT_NAME.encode()
                    conn.send_extended_handshake(payload)
                case ev.ExtendedHandshakeReceived(fields=fields):
                    self.fetcher.add_peer(
                        proto,
                        metadata_size=fields.metadata_size,
                        ext_id=conn.remote_extensions.get("ut_metadata"),
                        now=now,
                    )
                case ev.ExtendedMessageReceived(ext_id=ext_id, payload=payload) if (
                    ext_id == UT_METADATA_ID
                ):
                    self._on_metadata_message(proto, conn, payload, now)
                case _:
                    pass
        self._process()

    def peer_lost(self, proto: PeerProtocol, reason: str) -> None:
        self.protocols.discard(proto)
        self.fetcher.remove_peer(proto, now=self._now())
        self._process()

    def peer_backlogged(self, proto: PeerProtocol) -> None:
        pass  # a metadata fetch uploads nothing that waits on a full socket

    def download_delay(self, nbytes: int) -> float:
        return 0.0

    def read_allowance(self) -> int | None:
        return None  # a few KiB of metadata: not counted against the download limits

    # ------------------------------------------------------------------ internals
    def _on_metadata_message(
        self, proto: PeerProtocol, conn: PeerConnection, payload: bytes, now: float
    ) -> None:
        try:
            msg = decode_metadata_message(payload)
        except MetadataProtocolError as exc:
            proto.close(f"bad ut_metadata message: {exc}")
            return
        if isinstance(msg, MetadataData | MetadataReject):
            self.fetcher.receive(proto, msg, now=now)
        elif msg is not None:  # a request: we have nothing to give yet
            out_id = conn.remote_extensions.get("ut_metadata")
            if out_id:
                conn.send_extended(out_id, encode_metadata_message(MetadataReject(msg.piece)))

    def _process(self) -> None:
        for action in self.fetcher.actions():
            match action:
                case SendMetadataRequest(peer=peer, ext_id=ext_id):
                    if isinstance(peer, PeerProtocol) and peer.conn is not None:
                        peer.conn.send_extended(ext_id, action.payload)
                case MetadataPeerFlagged(peer=peer, reason=reason):
                    log.info("metadata from a peer refused: %s", reason)
                    if isinstance(peer, PeerProtocol):
                        self.dialer.banned.add(peer.address[0])
                        peer.close(reason)
                case MetadataVerified(raw=raw):
                    if not self._done.done():
                        self._done.set_result(raw)
                case _:
                    pass  # a hash mismatch: the fetcher already asks other peers
        for proto in list(self.protocols):
            proto.flush()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _connect_more(self) -> None:
        if not self._done.done():
            self.dialer.connect_more(
                connected={p.address for p in self.protocols if p.outgoing},
                count=len(self.protocols),
                limit=MAX_PEERS,
            )

    def _tick(self) -> None:
        now = self._now()
        for proto in list(self.protocols):
            conn = proto.conn
            if conn is not None and (t := conn.get_timer()) is not None and t <= now:
                conn.handle_timer(now=now)
        timer = self.fetcher.get_timer()
        if timer is not None and timer <= now:
            self.fetcher.handle_timer(now=now)
        self._process()
        if now >= self._next_dht:
            # Often while nobody is found yet (the seeders may not have announced), then
            # at a calmer pace.
            self._next_dht = now + (DHT_LOOKUP_EVERY if self.protocols else DHT_RETRY_EMPTY)
            self.session.dht_lookup(self.info_hash, self.add_peers)
        self._connect_more()
        self._timer = asyncio.get_running_loop().call_later(0.5, self._tick)

"""ExtensionHub: one torrent's BEP 10 extensions — serving metadata (BEP 9) and PEX (BEP 11).

Pure, like the core that owns it. The core routes each peer's extended handshake and
extended messages here; the hub answers metadata requests with `send_extended`, keeps one
`PexState` per peer that speaks ut_pex, and returns the peers that PEX taught us. The
peers it queued messages for collect in `sent`, which the core reports as touched.

Rules:
* BEP 10: we send to a peer on the id *it* chose (its handshake's ``m``); it sends to us
  on ours (`UT_METADATA_ID`, `UT_PEX_ID`).
* BEP 27: a private torrent offers no ut_pex and ignores PEX messages.
* BEP 11: PEX names peers by their listen address: the dialled address for outgoing
  connections, the IP plus the handshake's ``p`` for incoming ones (else unknown).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..addresses import PeerKey
from ..ext import (
    UT_METADATA_ID,
    UT_PEX_ID,
    MetadataData,
    MetadataProtocolError,
    MetadataReject,
    MetadataRequest,
    MetadataServer,
    PexFlags,
    PexFormatError,
    PexState,
    decode_metadata_message,
    encode_metadata_message,
    encode_pex,
    extension_handshake,
)
from ..version import CLIENT_NAME
from ..wire import ExtensionHandshake, PeerConnection

__all__ = ["ExtensionHub", "PeerAddr"]

PeerAddr = tuple[str, int]
CLIENT_VERSION = CLIENT_NAME.encode()  # BEP 10 "v"


@dataclass(slots=True)
class _PeerExt:
    conn: PeerConnection
    outgoing: bool
    address: PeerAddr | None  # the peer's listen address, when known
    pex: PexState | None = None
    seed: bool = False
    learned: list[PeerAddr] = field(default_factory=list)


class ExtensionHub:
    """BEP 9 serving and BEP 11 exchange for one torrent's connections."""

    def __init__(
        self, *, info_raw: bytes | None, private: bool, own_addresses: Iterable[PeerAddr] = ()
    ) -> None:
        self.private = private
        self.server = MetadataServer(info_raw) if info_raw is not None else MetadataServer()
        self.own_addresses = frozenset(own_addresses)
        self._peers: dict[PeerKey, _PeerExt] = {}
        self.sent: set[PeerKey] = set()  # peers given a message; drained by the core

    def handshake_payload(self, *, listen_port: int | None = None) -> dict[bytes, object]:
        payload = extension_handshake(private=self.private, metadata_size=self.server.metadata_size)
        payload[b"v"] = CLIENT_VERSION
        payload[b"reqq"] = 2000
        if listen_port:
            payload[b"p"] = listen_port
        return payload

    def add_peer(
        self, key: PeerKey, conn: PeerConnection, *, outgoing: bool, address: PeerAddr | None
    ) -> None:
        self._peers[key] = _PeerExt(conn, outgoing, address)

    def remove_peer(self, key: PeerKey) -> None:
        self._peers.pop(key, None)
        self.server.remove_peer(key)

    def peer_address(self, key: PeerKey) -> PeerAddr | None:
        p = self._peers.get(key)
        return p.address if p is not None else None

    def on_handshake(
        self, key: PeerKey, fields: ExtensionHandshake, *, host: str, now: float
    ) -> None:
        p = self._peers.get(key)
        if p is None:
            return
        if p.address is None and fields.p:
            p.address = (host, fields.p)
        p.seed = fields.upload_only
        if not self.private and fields.m.get("ut_pex") and p.pex is None:
            p.pex = PexState(now=now, remote=p.address, own_addresses=self.own_addresses)

    def on_message(self, key: PeerKey, ext_id: int, payload: bytes, *, now: float) -> str | None:
        """Handle one extended message; return a reason to close the connection, if any."""
        p = self._peers.get(key)
        if p is None:
            return None
        if ext_id == UT_METADATA_ID:
            try:
                msg = decode_metadata_message(payload)
            except MetadataProtocolError as exc:
                return f"bad ut_metadata message: {exc}"
            if isinstance(msg, MetadataRequest):
                out_id = p.conn.remote_extensions.get("ut_metadata")
                if out_id:
                    reply: MetadataData | MetadataReject = self.server.answer(
                        key, msg.piece, now=now
                    )
                    p.conn.send_extended(out_id, encode_metadata_message(reply))
                    self.sent.add(key)
            return None  # data/reject after we hold the metadata: nothing to do
        if ext_id == UT_PEX_ID and p.pex is not None and not self.private:
            try:
                got = p.pex.receive(payload, now=now)
            except PexFormatError as exc:
                return f"bad ut_pex message: {exc}"
            if got is not None:
                p.learned.extend(peer.address for peer in got.added)
        return None

    def take_learned(self) -> list[PeerAddr]:
        """Peers that PEX taught us since the last call."""
        out: list[PeerAddr] = []
        for p in self._peers.values():
            if p.learned:
                out.extend(p.learned)
                p.learned.clear()
        return out

    def poll_pex(self, *, now: float) -> None:
        """Send each PEX-speaking peer the changes in our peer set, at most once a minute."""
        if self.private:
            return
        connected: dict[PeerAddr, PexFlags] = {}
        for p in self._peers.values():
            if p.address is None or p.conn.closed:
                continue
            flags = PexFlags(0)
            if p.outgoing:
                flags |= PexFlags.REACHABLE
            if p.seed or p.conn.peer_has.all():
                flags |= PexFlags.SEED
            connected[p.address] = flags
        for key, p in self._peers.items():
            if p.pex is None or p.conn.closed or now < p.pex.get_timer():
                continue
            msg = p.pex.poll(connected, now=now)
            out_id = p.conn.remote_extensions.get("ut_pex")
            if msg is not None and out_id:
                p.conn.send_extended(out_id, encode_pex(msg))
                self.sent.add(key)

"""The opening of a peer connection (rule 1 of `connection.py`): both 68-byte handshakes.

`Handshaker` buffers the remote's handshake (`handshake.py` is its codec), checks it as
bytes arrive, and writes ours: an initiator's when the driver says so, a responder's as
soon as the remote's info-hash is in and accepted (BEP 3: "they may wait for incoming
connections to give a download hash first"). A responder serving many torrents adopts
the info-hash its `lookup` accepts.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import RemoteProtocolError
from . import events as ev
from .codec import Buffer
from .handshake import (
    HANDSHAKE_LENGTH,
    INFO_HASH_END,
    decode_handshake,
    encode_handshake,
    make_reserved,
    protocol_prefix_ok,
)
from .outbox import Outbox
from .state import ConnectionState, PeerState

__all__ = ["Handshaker"]


class Handshaker:
    """Our handshake out, the remote's in; `info_hash` is the torrent both agreed on, and
    `remote_peer_id`, `remote_reserved` what the remote sent (None until it has)."""

    def __init__(
        self,
        state: PeerState,
        out: Outbox,
        *,
        info_hash: bytes,
        our_peer_id: bytes,
        enable: tuple[bool, bool, bool],
        initiator: bool,
        lookup: Callable[[bytes], bool] | None,
        expected_peer_id: bytes | None,
        v2: bool = False,
    ) -> None:
        self._st = state
        self._out = out
        self.info_hash = info_hash
        self.our_peer_id = our_peer_id
        self._enable = enable  # fast, extended, dht
        self._reserved = make_reserved(fast=enable[0], extended=enable[1], dht=enable[2], v2=v2)
        self._initiator = initiator
        self._lookup = lookup
        self._expected_peer_id = expected_peer_id
        self._info_hash_ok = False
        self._buf = bytearray()
        self.remote_peer_id: bytes | None = None
        self.remote_reserved: bytes | None = None

    def send(self) -> None:
        """Write our handshake, once; a responder's waits for the remote's info-hash."""
        if self._st.handshake_sent or not (self._initiator or self._info_hash_ok):
            return
        self._st.handshake_sent = True
        self._out.write(encode_handshake(self.info_hash, self.our_peer_id, self._reserved))

    def discard(self) -> None:
        self._buf = bytearray()

    def feed(self, data: Buffer) -> tuple[ev.HandshakeReceived, bytes] | None:
        """Take bytes of the remote's handshake; once all 68 are in, make the connection
        active with what both sides negotiated, and return the event and the bytes that
        came after the handshake; None until then.

        Raises:
            RemoteProtocolError: not a handshake, a torrent we do not serve, our own peer
                id (we dialled ourselves), or not the peer id a tracker gave.
        """
        buf = self._buf
        buf += data
        if not protocol_prefix_ok(buf):
            raise RemoteProtocolError("not a BitTorrent handshake (wrong protocol string)")
        if not self._info_hash_ok and len(buf) >= INFO_HASH_END:
            self._accept_info_hash(bytes(buf[28:INFO_HASH_END]))
        if len(buf) < HANDSHAKE_LENGTH:
            return None
        hs = decode_handshake(buf)
        rest = bytes(buf[HANDSHAKE_LENGTH:])
        self._buf = bytearray()
        if hs.peer_id == self.our_peer_id:
            raise RemoteProtocolError("connected to ourselves (the peer id is our own)")
        if self._expected_peer_id is not None and hs.peer_id != self._expected_peer_id:
            raise RemoteProtocolError("the peer id differs from the one the tracker gave")
        self.remote_peer_id = hs.peer_id
        self.remote_reserved = hs.reserved
        fast, extended, dht = self._enable
        st = self._st
        st.supports_fast = fast and hs.supports_fast  # BEP 6: only if both set the bit
        st.supports_extended = extended and hs.supports_extended
        st.supports_dht = dht and hs.supports_dht
        st.phase = ConnectionState.ACTIVE
        event = ev.HandshakeReceived(
            self.info_hash, hs.peer_id, st.supports_fast, st.supports_extended,
            st.supports_dht, hs.reserved,
        )  # fmt: skip
        return event, rest

    def _accept_info_hash(self, info_hash: bytes) -> None:
        if self._initiator or self._lookup is None:
            ok = info_hash == self.info_hash
        else:
            ok = self._lookup(info_hash)
        if not ok:
            raise RemoteProtocolError(f"info-hash {info_hash.hex()} is not a torrent we serve")
        self.info_hash = info_hash
        self._info_hash_ok = True
        self.send()  # a responder answers once it knows the torrent (BEP 3)

"""What one peer connection knows: its phase, the BEP 3 flags, what each side negotiated.

`PeerState` is plain data, shared by the parts of a `PeerConnection`: the `Receiver`
updates it from the peer's messages, the `Sender` from our commands, and the connection
reads it for its timers and its callers. The rules that change it are in `connection.py`'s
docstring; request bookkeeping is `requests.RequestBook`, bytes out are `outbox.Outbox`.
"""

from __future__ import annotations

from enum import Enum

from ..bitfield import Bitfield
from .extension import ExtensionHandshake

__all__ = ["ConnectionState", "PeerState"]


class ConnectionState(Enum):
    #: waiting for the remote's 68-byte handshake
    HANDSHAKE = "handshake"
    #: handshake done; messages flow
    ACTIVE = "active"
    #: finished; see `close_reason`
    CLOSED = "closed"


class PeerState:
    """The state of one connection, as both sides have stated it so far."""

    __slots__ = (
        "am_choking",
        "am_interested",
        "bitfield_sent",
        "close_reason",
        "core_sent",
        "geometry_known",
        "handshake_sent",
        "num_pieces",
        "our_allowed_fast",
        "peer_allowed_fast",
        "peer_choking",
        "peer_has",
        "peer_interested",
        "phase",
        "remote_extension_handshake",
        "remote_extensions",
        "supports_dht",
        "supports_extended",
        "supports_fast",
    )

    def __init__(self) -> None:
        self.phase = ConnectionState.HANDSHAKE
        self.close_reason: str | None = None
        # negotiated in the handshakes: both sides set the bit (BEP 6, BEP 10; BEP 5)
        self.supports_fast = self.supports_extended = self.supports_dht = False
        # BEP 3: "Connections start out choked and not interested"
        self.am_choking = self.peer_choking = True
        self.am_interested = self.peer_interested = False
        self.our_allowed_fast: set[int] = set()  # pieces the peer may request while choked
        self.peer_allowed_fast: set[int] = set()  # pieces we may request while choked
        self.remote_extensions: dict[str, int] = {}  # BEP 10 name -> id to send it with
        self.remote_extension_handshake: ExtensionHandshake | None = None
        # the torrent's layout (unknown for a magnet link until its metadata is in)
        self.geometry_known = False
        self.num_pieces = 0
        self.peer_has = Bitfield(0)
        # our side's progress: what has been sent, for the ordering rules
        self.handshake_sent = False
        self.bitfield_sent = False  # bitfield, have_all or have_none
        self.core_sent = False  # any other message after the handshake

"""The peer wire protocol (BEP 3, 5, 6, 10): codecs (L0) and the sans-IO `PeerConnection` (L1).

Everything a torrent core or a driver needs is re-exported here; see `connection.py` for
the rules a connection enforces. `codec.py` is the one codec of the messages after the
handshake; the message dataclasses built on it stay in `wire.messages` (their names, such
as `Interested`, would clash with the events of the same name).
"""

from __future__ import annotations

from .codec import BLOCK_LENGTH, MAX_BLOCK_LENGTH, MAX_EXTENDED_PAYLOAD, MessageId
from .connection import (
    HANDSHAKE_TIMEOUT,
    IDLE_TIMEOUT,
    KEEPALIVE_INTERVAL,
    MAX_PEER_HASH_REQUESTS,
    MAX_PEER_REQUESTS,
    ConnectionState,
    PeerConnection,
)
from .events import (
    AllowedFastReceived,
    BitfieldReceived,
    BlockKey,
    CancelReceived,
    Choked,
    ConnectionClosed,
    Event,
    ExtendedHandshakeReceived,
    ExtendedMessageReceived,
    HandshakeReceived,
    HaveAllReceived,
    HaveNoneReceived,
    HaveReceived,
    Interested,
    NotInterested,
    PieceReceived,
    PortReceived,
    RejectReceived,
    RequestReceived,
    SuggestReceived,
    Unchoked,
)
from .extension import ExtensionHandshake, decode_extension_handshake, encode_extension_handshake
from .handshake import (
    HANDSHAKE_LENGTH,
    Handshake,
    decode_handshake,
    encode_handshake,
    make_reserved,
    peek_info_hash,
)
from .messages import Message, decode_message, decode_stream, encode_message
from .requests import BlockSet

__all__ = [
    "BLOCK_LENGTH",
    "HANDSHAKE_LENGTH",
    "HANDSHAKE_TIMEOUT",
    "IDLE_TIMEOUT",
    "KEEPALIVE_INTERVAL",
    "MAX_BLOCK_LENGTH",
    "MAX_EXTENDED_PAYLOAD",
    "MAX_PEER_HASH_REQUESTS",
    "MAX_PEER_REQUESTS",
    "AllowedFastReceived",
    "BitfieldReceived",
    "BlockKey",
    "BlockSet",
    "CancelReceived",
    "Choked",
    "ConnectionClosed",
    "ConnectionState",
    "Event",
    "ExtendedHandshakeReceived",
    "ExtendedMessageReceived",
    "ExtensionHandshake",
    "Handshake",
    "HandshakeReceived",
    "HaveAllReceived",
    "HaveNoneReceived",
    "HaveReceived",
    "Interested",
    "Message",
    "MessageId",
    "NotInterested",
    "PeerConnection",
    "PieceReceived",
    "PortReceived",
    "RejectReceived",
    "RequestReceived",
    "SuggestReceived",
    "Unchoked",
    "decode_extension_handshake",
    "decode_handshake",
    "decode_message",
    "decode_stream",
    "encode_extension_handshake",
    "encode_handshake",
    "encode_message",
    "make_reserved",
    "peek_info_hash",
]

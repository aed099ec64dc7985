"""Extensions over BEP 10: metadata exchange (BEP 9), peer exchange (BEP 11), and local
service discovery (BEP 14), as sans-IO codecs and policies (L1).

They sit beside `wire.PeerConnection`, not inside it: the torrent core routes a peer's
`ExtendedHandshakeReceived` and `ExtendedMessageReceived` events here and sends what comes
back with `send_extended`. The socket side of LSD is `bitswarm.aio.lsd`.

BEP 10: the ids in our handshake's ``m`` are the ones peers use to send *to us*; to send to
a peer, use the id from its own handshake (`PeerConnection.remote_extensions`).
"""

from __future__ import annotations

from .lsd import (
    LsdAnnounce,
    LsdAnnouncer,
    LsdFormatError,
    LsdPeer,
    decode_announce,
    encode_announce,
)
from .metadata_fetcher import (
    FetcherAction,
    MetadataFetcher,
    MetadataHashMismatch,
    MetadataPeerFlagged,
    MetadataVerified,
    SendMetadataRequest,
)
from .ut_metadata import (
    DEFAULT_MAX_METADATA_SIZE,
    METADATA_PIECE_SIZE,
    MetadataData,
    MetadataMessage,
    MetadataProtocolError,
    MetadataReject,
    MetadataRequest,
    MetadataServer,
    decode_metadata_message,
    encode_metadata_message,
)
from .ut_pex import PexFlags, PexFormatError, PexMessage, PexPeer, PexState, decode_pex, encode_pex

__all__ = [
    "DEFAULT_MAX_METADATA_SIZE",
    "METADATA_PIECE_SIZE",
    "UT_METADATA_ID",
    "UT_PEX_ID",
    "FetcherAction",
    "LsdAnnounce",
    "LsdAnnouncer",
    "LsdFormatError",
    "LsdPeer",
    "MetadataData",
    "MetadataFetcher",
    "MetadataHashMismatch",
    "MetadataMessage",
    "MetadataPeerFlagged",
    "MetadataProtocolError",
    "MetadataReject",
    "MetadataRequest",
    "MetadataServer",
    "MetadataVerified",
    "PexFlags",
    "PexFormatError",
    "PexMessage",
    "PexPeer",
    "PexState",
    "SendMetadataRequest",
    "decode_announce",
    "decode_metadata_message",
    "decode_pex",
    "encode_announce",
    "encode_metadata_message",
    "encode_pex",
    "extension_handshake",
]

UT_PEX_ID = 1
"""The id peers send ut_pex messages to us with (our ``m`` entry)."""
UT_METADATA_ID = 2
"""The id peers send ut_metadata messages to us with (our ``m`` entry)."""


def extension_handshake(
    *, private: bool, metadata_size: int | None, pex: bool = True
) -> dict[bytes, object]:
    """The ``m`` and ``metadata_size`` entries of our BEP 10 handshake, to merge with
    ``v``, ``reqq``, ``p`` and the rest.

    ut_metadata is always offered (a peer may fetch from us once we hold the metadata, and
    we from it); ``metadata_size`` only once we hold the metadata [BEP 9 "extension
    header"]. ut_pex only for a public torrent: BEP 27 forbids PEX for private ones.
    """
    m: dict[bytes, int] = {b"ut_metadata": UT_METADATA_ID}
    if pex and not private:
        m[b"ut_pex"] = UT_PEX_ID
    out: dict[bytes, object] = {b"m": m}
    if metadata_size is not None:
        out[b"metadata_size"] = metadata_size
    return out

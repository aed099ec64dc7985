"""The BEP 10 extended handshake: a bencoded dictionary, decoded into checked fields.

BEP 10 ("handshake message"): every item is optional and unknown names are ignored. So the
decoder is strict only about the shape that makes the message meaningless (not bencoding,
not a dictionary); a known field with a wrong type or an out-of-range value is dropped
(left as None, or the ``m`` entry skipped) instead of failing the connection, and each
value is bounded so the rest of the program never sees an absurd number.

The handshake is kept for the connection's lifetime, so what it retains is bounded too: the
payload is decoded with a token limit (`MAX_TOKENS`), ``m`` keeps at most
`MAX_EXTENSIONS` names, and of the unknown top-level keys `extra` keeps only a few with a
small value (an integer or a short string, as ``complete_ago`` or ``lt_donthave``-style
flags); lists, dictionaries and long strings are dropped. One handshake never retains more
than a few KiB, whatever the peer sends in its 1 MiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..bencode import bdecode, bencode
from ..errors import BencodeError, RemoteProtocolError

__all__ = [
    "MAX_EXTENSIONS",
    "MAX_EXTRA",
    "MAX_METADATA_SIZE",
    "MAX_REQQ",
    "MAX_TOKENS",
    "ExtensionHandshake",
    "decode_extension_handshake",
    "encode_extension_handshake",
]

MAX_METADATA_SIZE = 64 * 1024 * 1024
"""Largest BEP 9 ``metadata_size`` we believe (an info dict of a huge torrent is a few MiB)."""
MAX_REQQ = 65536
"""Largest ``reqq`` we believe; libtorrent's default is a few hundred."""
MAX_TOKENS = 1024
"""Bencode tokens in a handshake at most; real ones hold a few dozen (a dozen extensions)."""
MAX_EXTENSIONS = 32
"""Names kept from ``m``; libtorrent offers seven, and no client more than a dozen."""
MAX_EXTRA = 8
"""Unknown top-level keys kept in `ExtensionHandshake.extra`."""
_MAX_NAME = 64  # an extension name longer than this is not one anybody uses
_MAX_EXTRA_VALUE = 64  # bytes of an unknown string value kept
_MAX_VERSION = 256
_KNOWN_KEYS = frozenset(
    {b"m", b"p", b"v", b"yourip", b"ipv4", b"ipv6", b"reqq", b"metadata_size", b"upload_only"}
)


@dataclass(frozen=True, slots=True)
class ExtensionHandshake:
    """The fields of a BEP 10 extended handshake.

    Attributes:
        m: extension name -> message id the sender wants to receive it on; 0 disables it.
        p: the sender's TCP listen port.
        v: client name and version, for display.
        yourip: our address as the sender sees it (4 or 16 bytes).
        ipv4, ipv6: the sender's own addresses (4 and 16 bytes).
        reqq: how many outstanding requests the sender queues without dropping any.
        metadata_size: size of the info dictionary (BEP 9).
        upload_only: the sender is a seed or partial seed that will not download (BEP 21).
        extra: up to `MAX_EXTRA` other top-level keys of at most 64 bytes whose value is
            an integer or a string of at most 64 bytes (others are dropped).
    """

    m: dict[str, int] = field(default_factory=dict)
    p: int | None = None
    v: str | None = None
    yourip: bytes | None = None
    ipv4: bytes | None = None
    ipv6: bytes | None = None
    reqq: int | None = None
    metadata_size: int | None = None
    upload_only: bool = False
    extra: dict[bytes, object] = field(default_factory=dict)

    def to_payload(self) -> dict[bytes, object]:
        """The dictionary to bencode (for `PeerConnection.send_extended_handshake`)."""
        out: dict[bytes, object] = dict(self.extra)
        out[b"m"] = {name.encode(): ext_id for name, ext_id in self.m.items()}
        if self.p is not None:
            out[b"p"] = self.p
        if self.v is not None:
            out[b"v"] = self.v.encode()
        addresses = ((b"yourip", self.yourip), (b"ipv4", self.ipv4), (b"ipv6", self.ipv6))
        out.update({key: addr for key, addr in addresses if addr is not None})
        if self.reqq is not None:
            out[b"reqq"] = self.reqq
        if self.metadata_size is not None:
            out[b"metadata_size"] = self.metadata_size
        if self.upload_only:
            out[b"upload_only"] = 1
        return out


def encode_extension_handshake(fields: ExtensionHandshake) -> bytes:
    """The bencoded handshake payload (without the extended message header)."""
    return bencode(fields.to_payload())


def _int_in(value: object, low: int, high: int) -> int | None:
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def _address(value: object, *sizes: int) -> bytes | None:
    if isinstance(value, bytes) and len(value) in sizes:
        return value
    return None


def _decode_m(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    m: dict[str, int] = {}
    for raw_name, ext_id in value.items():
        if len(m) >= MAX_EXTENSIONS:
            break
        if not isinstance(raw_name, bytes) or not 0 < len(raw_name) <= _MAX_NAME:
            continue
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if isinstance(ext_id, int) and 0 <= ext_id <= 255:
            m[name] = ext_id
    return m


def _extra(value: Mapping[bytes, object]) -> dict[bytes, object]:
    """The unknown keys worth keeping: small scalars only, a few of them."""
    extra: dict[bytes, object] = {}
    for key, item in value.items():
        if len(extra) >= MAX_EXTRA:
            break
        if key in _KNOWN_KEYS or len(key) > _MAX_NAME:
            continue
        if isinstance(item, int) or (isinstance(item, bytes) and len(item) <= _MAX_EXTRA_VALUE):
            extra[key] = item
    return extra


def decode_extension_handshake(payload: bytes | bytearray | memoryview) -> ExtensionHandshake:
    """Decode the payload of an extended message with id 0.

    Dictionary keys may come unsorted (some clients do not sort them); that is tolerated.

    Raises:
        RemoteProtocolError: the payload is not a bencoded dictionary of at most
            `MAX_TOKENS` tokens.
    """
    try:
        value = bdecode(payload, strict=False, max_tokens=MAX_TOKENS)
    except BencodeError as exc:
        raise RemoteProtocolError(f"extended handshake is not bencoded: {exc}") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError("extended handshake is not a dictionary")
    v = value.get(b"v")
    version = None
    if isinstance(v, bytes):
        version = v.decode("utf-8", errors="replace")[:_MAX_VERSION]
    return ExtensionHandshake(
        m=_decode_m(value.get(b"m")),
        p=_int_in(value.get(b"p"), 1, 65535),
        v=version,
        yourip=_address(value.get(b"yourip"), 4, 16),
        ipv4=_address(value.get(b"ipv4"), 4),
        ipv6=_address(value.get(b"ipv6"), 16),
        reqq=_int_in(value.get(b"reqq"), 1, MAX_REQQ),
        metadata_size=_int_in(value.get(b"metadata_size"), 1, MAX_METADATA_SIZE),
        upload_only=bool(_int_in(value.get(b"upload_only"), 1, 2**63 - 1)),
        extra=_extra(value),
    )

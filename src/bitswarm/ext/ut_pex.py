"""BEP 11 peer exchange (``ut_pex``): the message codec and a per-connection `PexState` (L1).

Each connected peer that advertises ``ut_pex`` gets a `PexState`. Polled with the
torrent's set of connected peers, it says what changed since the last message it sent;
fed a received payload, it returns the checked contacts.

Rules (BEP 11 sections in brackets):
1. A message is a bencoded dictionary of compact strings: ``added``/``dropped`` hold 6-byte
   IPv4 contacts, ``added6``/``dropped6`` 18-byte IPv6 ones (BEP 23 / BEP 7 layout), and
   ``added.f``/``added6.f`` one flag byte per added contact ["Protocol Extension"].
2. We send at most one message per `PEX_INTERVAL` (60 s), none when nothing changed, with
   at most 50 added and 50 dropped contacts; what does not fit waits for the next one. A
   contact is added only while connected and dropped once it is gone, never both in one
   message, never twice ["Clients must batch updates ..."; "Added or removed contacts must
   not contain duplicates"].
3. Receiving: a payload that is not such a dictionary is a `PexFormatError`. At most
   `MAX_ACCEPTED` contacts of each kind are read; port 0, our own addresses, repeated IPs
   ["Duplicate IP addresses ... should be ignored"] and contacts both added and dropped
   are left out. Our own addresses go first: the message names its recipient too
   (libtorrent lists every peer it has), and that entry must not take its IP's one place
   from another peer there (on loopback, or behind one NAT, every peer shares an IP).
   Flags of a length that does not match are ignored. A peer sending more often than
   every `MIN_RECEIVE_INTERVAL` seconds is ignored ["Security Considerations"].
4. Private torrents (BEP 27) never use PEX: the session creates no `PexState` for them.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from enum import IntFlag
from typing import TypeAlias

from ..bencode import bdecode, bencode
from ..errors import BencodeError, RemoteProtocolError

__all__ = [
    "MAX_ACCEPTED",
    "MAX_ADDED_PER_MESSAGE",
    "MAX_DROPPED_PER_MESSAGE",
    "MAX_PEX_PAYLOAD",
    "MIN_RECEIVE_INTERVAL",
    "PEX_INTERVAL",
    "PeerAddr",
    "PexFlags",
    "PexFormatError",
    "PexMessage",
    "PexPeer",
    "PexState",
    "decode_pex",
    "encode_pex",
]

PEX_INTERVAL = 60.0
MAX_ADDED_PER_MESSAGE = 50
MAX_DROPPED_PER_MESSAGE = 50
MAX_ACCEPTED = 200
MIN_RECEIVE_INTERVAL = 45.0  # BEP 11 says one a minute; leave room for timer jitter
MAX_PEX_PAYLOAD = 64 * 1024
_MAX_TOKENS = 256  # a real message has six keys and their strings

PeerAddr: TypeAlias = tuple[str, int]
_PORT = struct.Struct(">H")
_V4, _V6 = 6, 18


class PexFlags(IntFlag):
    """Per-contact flags of ``added.f`` / ``added6.f`` (BEP 11's table)."""

    NONE = 0
    PREFERS_ENCRYPTION = 0x01
    SEED = 0x02  # seed or upload-only
    UTP = 0x04
    HOLEPUNCH = 0x08  # advertised ut_holepunch
    REACHABLE = 0x10  # we connected out to it: it accepts connections


_KNOWN_FLAGS = 0x1F


class PexFormatError(RemoteProtocolError):
    """A ut_pex payload that is not what BEP 11 describes."""


@dataclass(frozen=True, slots=True)
class PexPeer:
    address: PeerAddr
    flags: PexFlags = PexFlags.NONE


@dataclass(frozen=True, slots=True)
class PexMessage:
    added: tuple[PexPeer, ...] = ()
    dropped: tuple[PeerAddr, ...] = ()


def _packed(addr: PeerAddr) -> bytes | None:
    """6 or 18 bytes for an IP literal with a usable port; None for anything else."""
    host, port = addr
    if not 0 < port <= 0xFFFF:
        return None
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return ip.packed + _PORT.pack(port)


def encode_pex(msg: PexMessage) -> bytes:
    """The bencoded payload (rule 1). Contacts that are not IP literals are left out."""
    fields: dict[bytes, bytes] = {}
    parts: dict[bytes, list[bytes]] = {
        k: [] for k in (b"added", b"added.f", b"added6", b"added6.f", b"dropped", b"dropped6")
    }
    for peer in msg.added:
        packed = _packed(peer.address)
        if packed is not None:
            six = b"6" if len(packed) == _V6 else b""
            parts[b"added" + six].append(packed)
            parts[b"added" + six + b".f"].append(bytes((int(peer.flags) & 0xFF,)))
    for addr in msg.dropped:
        packed = _packed(addr)
        if packed is not None:
            parts[b"dropped6" if len(packed) == _V6 else b"dropped"].append(packed)
    for key, chunks in parts.items():
        if chunks:
            fields[key] = b"".join(chunks)
    return bencode(fields)


def _contact_string(fields: Mapping[bytes, object], key: bytes, stride: int) -> bytes:
    value = fields.get(key, b"")
    if not isinstance(value, bytes):
        raise PexFormatError(f"ut_pex {key.decode()!r} is not a string")
    if len(value) % stride:
        raise PexFormatError(
            f"ut_pex {key.decode()!r} is {len(value)} bytes, not a multiple of {stride}"
        )
    return value


def _contacts(value: bytes, stride: int, room: int) -> list[PeerAddr]:
    """The first `room` contacts of a compact string (the rest is never looked at)."""
    make = ipaddress.IPv4Address if stride == _V4 else ipaddress.IPv6Address
    out: list[PeerAddr] = []
    for pos in range(0, min(len(value), max(room, 0) * stride), stride):
        (port,) = _PORT.unpack_from(value, pos + stride - 2)
        out.append((str(make(value[pos : pos + stride - 2])), port))
    return out


def _flags(fields: Mapping[bytes, object], key: bytes, count: int) -> list[PexFlags]:
    """One flag per contact; flags that do not line up with the contacts are ignored."""
    value = fields.get(key)
    if isinstance(value, bytes) and len(value) == count:
        return [PexFlags(b & _KNOWN_FLAGS) for b in value]
    return [PexFlags.NONE] * count


def decode_pex(
    payload: bytes | bytearray | memoryview,
    *,
    limit: int = MAX_ACCEPTED,
    own: Set[PeerAddr] = frozenset(),
) -> PexMessage:
    """Decode and clean a ut_pex payload (rule 3), leaving out the addresses in `own`.

    Raises:
        PexFormatError: too long, not bencoded, not a dictionary, or a contact string of the
            wrong type or length.
    """
    if len(payload) > MAX_PEX_PAYLOAD:
        raise PexFormatError(f"ut_pex message of {len(payload)} bytes")
    try:
        fields = bdecode(payload, strict=False, max_depth=4, max_tokens=_MAX_TOKENS)
    except BencodeError as exc:
        raise PexFormatError(f"ut_pex message is not bencoded: {exc}") from None
    if not isinstance(fields, dict):
        raise PexFormatError("ut_pex message is not a dictionary")
    raw = {
        key: _contact_string(fields, key, _V6 if key.endswith(b"6") else _V4)
        for key in (b"added", b"added6", b"dropped", b"dropped6")
    }
    added4 = _contacts(raw[b"added"], _V4, limit)
    added6 = _contacts(raw[b"added6"], _V6, limit - len(added4))
    flags = (
        _flags(fields, b"added.f", len(raw[b"added"]) // _V4)[: len(added4)]
        + _flags(fields, b"added6.f", len(raw[b"added6"]) // _V6)[: len(added6)]
    )
    dropped4 = _contacts(raw[b"dropped"], _V4, limit)
    dropped = dropped4 + _contacts(raw[b"dropped6"], _V6, limit - len(dropped4))
    contradicted = set(added4 + added6) & set(dropped)  # rule 3: both added and dropped
    seen_ips: set[str] = set()
    added: list[PexPeer] = []
    for addr, flag in zip(added4 + added6, flags, strict=True):
        if addr in own:  # before the IP check: our entry must not hide another peer's
            continue
        if addr[1] == 0 or addr[0] in seen_ips or addr in contradicted:
            continue
        seen_ips.add(addr[0])
        added.append(PexPeer(addr, flag))
    kept = dict.fromkeys(a for a in dropped if a[1] and a not in contradicted and a not in own)
    return PexMessage(tuple(added), tuple(kept))


class PexState:
    """PEX with one connected peer: what to tell it, and what to accept from it.

    Args:
        remote: the peer's own listen address, never sent back to it.
        own_addresses: our listen addresses; contacts naming them are dropped on receipt.
        now: the time the connection got ready; the first message may go at once.
    """

    def __init__(
        self,
        *,
        now: float,
        remote: PeerAddr | None = None,
        own_addresses: Iterable[PeerAddr] = (),
        interval: float = PEX_INTERVAL,
        max_added: int = MAX_ADDED_PER_MESSAGE,
        max_dropped: int = MAX_DROPPED_PER_MESSAGE,
        min_receive_interval: float = MIN_RECEIVE_INTERVAL,
        max_accepted: int = MAX_ACCEPTED,
    ) -> None:
        self.remote = remote
        self.own_addresses = frozenset(own_addresses)
        self.interval = interval
        self.max_added = max_added
        self.max_dropped = max_dropped
        self.min_receive_interval = min_receive_interval
        self.max_accepted = max_accepted
        self.advertised: dict[PeerAddr, PexFlags] = {}  # what this peer believes we have
        self.ignored = 0  # messages dropped by the rate limit
        self._next_send = now
        self._last_received: float | None = None

    def get_timer(self) -> float:
        """The earliest time `poll` may produce a message."""
        return self._next_send

    def poll(self, connected: Mapping[PeerAddr, PexFlags], *, now: float) -> PexMessage | None:
        """The message to send now, if one is due and anything changed (rule 2).

        `connected` is the torrent's current set of connected peers (listen addresses as
        canonical IP strings) with their flags; encode the result with `encode_pex`.
        """
        if now < self._next_send:
            return None
        added = [
            PexPeer(addr, flags)
            for addr, flags in connected.items()
            if addr not in self.advertised and addr != self.remote and _packed(addr) is not None
        ][: self.max_added]
        dropped = [addr for addr in self.advertised if addr not in connected]
        dropped = dropped[: self.max_dropped]
        if not added and not dropped:
            return None
        for addr in dropped:
            del self.advertised[addr]
        self.advertised.update((p.address, p.flags) for p in added)
        self._next_send = now + self.interval
        return PexMessage(tuple(added), tuple(dropped))

    def receive(self, payload: bytes | bytearray | memoryview, *, now: float) -> PexMessage | None:
        """The contacts in a received payload, cleaned (rule 3); None when rate-limited.

        Raises:
            PexFormatError: the payload is not a BEP 11 message.
        """
        last = self._last_received
        if last is not None and now - last < self.min_receive_interval:
            self.ignored += 1
            return None
        msg = decode_pex(payload, limit=self.max_accepted, own=self.own_addresses)
        self._last_received = now
        return msg

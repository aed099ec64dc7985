"""KRPC, the DHT's message codec (BEP 5 "KRPC Protocol", BEP 32, BEP 43, BEP 42 ``ip``).

A KRPC message is one bencoded dictionary in one UDP datagram: a query (``y=q``), a
response (``y=r``) or an error (``y=e``), each with a transaction id ``t``. This module
turns datagrams into frozen dataclasses and back; it keeps no state. Responses do not
name the query they answer, so `Response` carries every field a reply may hold and
the node interprets it by the transaction it matches.

Rules the decoder enforces (anything else is a `KrpcError`, a `RemoteProtocolError`):

* the whole datagram is one dictionary, nested at most `MAX_DEPTH` deep;
* ``t`` is 1..`MAX_TID` bytes; node ids, targets and info-hashes are exactly 20 bytes;
* ``nodes`` is a multiple of 26 bytes and ``nodes6`` of 38 (BEP 5 "Contact Encoding",
  BEP 32 "nodes6"); at most `MAX_NODES` of each are kept;
* ``values`` is a list of 6- or 18-byte strings (BEP 32: a hybrid list must parse);
  at most `MAX_VALUES` are kept, entries of another size or with port 0 are skipped;
* ports are 0..65535, tokens at most `MAX_TOKEN` bytes.

A malformed query whose ``t`` could be read carries it in `KrpcError.tid`, so the node
can answer error 203 (BEP 5 "Errors").
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from ..addresses import decode_addresses, encode_address, ipv4_text
from ..bencode import BValue, bdecode, bencode
from ..errors import BencodeError, LocalProtocolError, RemoteProtocolError
from ..version import DHT_VERSION
from .node_id import ID_BYTES

__all__ = [
    "CLIENT_VERSION", "MAX_BENCODE_TOKENS", "MAX_DEPTH", "MAX_NODES", "MAX_TID", "MAX_TOKEN",
    "MAX_VALUES",
    "NODE4_STRIDE", "NODE6_STRIDE", "Addr", "AnnouncePeerQuery", "ErrorCode", "ErrorMessage",
    "FindNodeQuery", "GetPeersQuery", "KrpcError", "Message", "NodeInfo", "PingQuery", "Query",
    "Response", "UnknownQuery", "decode_message", "decode_nodes", "encode_message",
    "encode_nodes",
]  # fmt: skip

Addr: TypeAlias = tuple[str, int]

CLIENT_VERSION = DHT_VERSION  # BEP 5 "v": client code (as our peer id, BEP 20) + version
MAX_DEPTH = 8
MAX_BENCODE_TOKENS = 1024  # a full get_peers reply of 1500 bytes holds a few hundred
MAX_TID = 32
MAX_TOKEN = 64
MAX_NODES = 32
MAX_VALUES = 200
MAX_WANT = 8
NODE4_STRIDE = ID_BYTES + 6
NODE6_STRIDE = ID_BYTES + 18
_PORT = struct.Struct(">H")


class ErrorCode(enum.IntEnum):
    """BEP 5 error codes."""

    GENERIC = 201
    SERVER = 202
    PROTOCOL = 203
    METHOD_UNKNOWN = 204


class KrpcError(RemoteProtocolError):
    """A datagram that is not a valid KRPC message; `tid` if one could be read."""

    def __init__(self, reason: str, *, tid: bytes | None = None, query: bool = False) -> None:
        super().__init__(reason)
        self.tid = tid
        self.query = query  # the bad message was a query (so an error reply is due)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node's contact: id and UDP address (BEP 5 "Compact node info")."""

    node_id: bytes
    host: str
    port: int

    @property
    def addr(self) -> Addr:
        return (self.host, self.port)


@dataclass(frozen=True, slots=True, kw_only=True)
class PingQuery:
    tid: bytes
    sender_id: bytes
    read_only: bool = False  # BEP 43 ``ro=1``


@dataclass(frozen=True, slots=True, kw_only=True)
class FindNodeQuery:
    tid: bytes
    sender_id: bytes
    target: bytes
    want: frozenset[str] = frozenset()  # BEP 32 ``want``: "n4", "n6"
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPeersQuery:
    tid: bytes
    sender_id: bytes
    info_hash: bytes
    want: frozenset[str] = frozenset()
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnouncePeerQuery:
    tid: bytes
    sender_id: bytes
    info_hash: bytes
    port: int
    token: bytes
    implied_port: bool = False
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownQuery:
    """A query with a method we do not implement (answered with error 204)."""

    tid: bytes
    sender_id: bytes
    method: bytes
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """Every field a reply may carry; which ones matter depends on the query."""

    tid: bytes
    sender_id: bytes
    nodes: tuple[NodeInfo, ...] = ()
    nodes6: tuple[NodeInfo, ...] = ()
    values: tuple[Addr, ...] = ()
    token: bytes | None = None
    your_addr: Addr | None = None  # BEP 42 top-level ``ip``: how the responder sees us


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorMessage:
    tid: bytes
    code: int
    message: str


Query: TypeAlias = PingQuery | FindNodeQuery | GetPeersQuery | AnnouncePeerQuery | UnknownQuery
Message: TypeAlias = Query | Response | ErrorMessage


# --- compact encodings ------------------------------------------------------------------


def encode_nodes(nodes: Iterable[NodeInfo], *, family: int = 4) -> bytes:
    """The compact string of `nodes` (26 bytes each for IPv4, 38 for IPv6)."""
    stride = NODE4_STRIDE if family == 4 else NODE6_STRIDE
    out = []
    for node in nodes:
        if len(node.node_id) != ID_BYTES:
            raise LocalProtocolError("a node id is 20 bytes")
        packed = node.node_id + encode_address(node.host, node.port)
        if len(packed) != stride:
            raise LocalProtocolError(f"{node.host} is not an IPv{family} address")
        out.append(packed)
    return b"".join(out)


def decode_nodes(data: bytes, *, family: int = 4, limit: int = MAX_NODES) -> list[NodeInfo]:
    """Decode a ``nodes`` (IPv4) or ``nodes6`` string; entries with port 0 are skipped."""
    stride = NODE4_STRIDE if family == 4 else NODE6_STRIDE
    if len(data) % stride:
        raise KrpcError(f"compact node info of {len(data)} bytes is not a multiple of {stride}")
    out: list[NodeInfo] = []
    for pos in range(0, min(len(data), limit * stride), stride):
        (port,) = _PORT.unpack_from(data, pos + stride - 2)
        if port:
            raw = data[pos + ID_BYTES : pos + stride - 2]
            host = ipv4_text(raw) if family == 4 else str(ipaddress.IPv6Address(raw))
            out.append(NodeInfo(data[pos : pos + ID_BYTES], host, port))
    return out


# --- encoding ---------------------------------------------------------------------------


def encode_message(message: Message, *, version: bytes | None = CLIENT_VERSION) -> bytes:
    """The datagram for `message`; ``ro=1`` is added to queries from read-only nodes."""
    top: dict[bytes, BValue] = {b"t": message.tid}
    if version:
        top[b"v"] = version
    match message:
        case ErrorMessage(code=code, message=text):
            top[b"y"] = b"e"
            top[b"e"] = [code, text.encode("utf-8", "replace")]
        case Response():
            top[b"y"] = b"r"
            r: dict[bytes, BValue] = {b"id": message.sender_id}
            if message.nodes:
                r[b"nodes"] = encode_nodes(message.nodes, family=4)
            if message.nodes6:
                r[b"nodes6"] = encode_nodes(message.nodes6, family=6)
            if message.values:
                r[b"values"] = [encode_address(h, p) for h, p in message.values]
            if message.token is not None:
                r[b"token"] = message.token
            top[b"r"] = r
            if message.your_addr is not None:
                top[b"ip"] = encode_address(*message.your_addr)
        case _:
            method, args = _query_fields(message)
            top[b"y"] = b"q"
            top[b"q"] = method
            top[b"a"] = args
            if message.read_only:
                top[b"ro"] = 1
    return bencode(top)


def _query_fields(q: Query) -> tuple[bytes, dict[bytes, BValue]]:
    args: dict[bytes, BValue] = {b"id": q.sender_id}
    match q:
        case PingQuery():
            return b"ping", args
        case FindNodeQuery(target=target, want=want):
            args[b"target"] = target
            if want:
                args[b"want"] = [w.encode() for w in sorted(want)]
            return b"find_node", args
        case GetPeersQuery(info_hash=info_hash, want=want):
            args[b"info_hash"] = info_hash
            if want:
                args[b"want"] = [w.encode() for w in sorted(want)]
            return b"get_peers", args
        case AnnouncePeerQuery():
            args[b"info_hash"] = q.info_hash
            args[b"port"] = q.port
            args[b"token"] = q.token
            if q.implied_port:
                args[b"implied_port"] = 1
            return b"announce_peer", args
        case UnknownQuery(method=method):
            return method, args


# --- decoding ---------------------------------------------------------------------------


def decode_message(data: bytes) -> Message:
    """Parse one datagram.

    Raises:
        KrpcError: not bencoding, not a dictionary, or a field that breaks the rules above.
    """
    try:
        top = bdecode(data, strict=False, max_depth=MAX_DEPTH, max_tokens=MAX_BENCODE_TOKENS)
    except BencodeError as exc:
        raise KrpcError(f"not bencoding: {exc.reason}") from None
    if not isinstance(top, dict):
        raise KrpcError("a KRPC message is a dictionary")
    tid = top.get(b"t")
    if not isinstance(tid, bytes) or not 0 < len(tid) <= MAX_TID:
        raise KrpcError("missing or oversized transaction id 't'")
    kind = top.get(b"y")
    if kind == b"q":
        try:
            return _decode_query(top, tid)
        except KrpcError as exc:
            raise KrpcError(str(exc), tid=tid, query=True) from None
    if kind == b"r":
        return _decode_response(top, tid)
    if kind == b"e":
        return _decode_error(top, tid)
    raise KrpcError("'y' is not q, r or e", tid=tid)


def _id(d: dict[bytes, BValue], key: bytes) -> bytes:
    value = d.get(key)
    if not isinstance(value, bytes) or len(value) != ID_BYTES:
        raise KrpcError(f"'{key.decode()}' is not a 20-byte id")
    return value


def _want(args: dict[bytes, BValue]) -> frozenset[str]:
    raw = args.get(b"want")
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise KrpcError("'want' is not a list")
    # BEP 32: unknown strings are ignored; only the first few are looked at. Non-ASCII ones
    # are dropped here (no family is named so), so that a decoded query encodes back as read.
    return frozenset(
        w.decode("ascii") for w in raw[:MAX_WANT] if isinstance(w, bytes) and w.isascii()
    )


def _decode_query(top: dict[bytes, BValue], tid: bytes) -> Query:
    method = top.get(b"q")
    args = top.get(b"a")
    if not isinstance(method, bytes) or not isinstance(args, dict):
        raise KrpcError("a query needs 'q' and an 'a' dictionary")
    sender = _id(args, b"id")
    ro = top.get(b"ro") == 1
    if method == b"ping":
        return PingQuery(tid=tid, sender_id=sender, read_only=ro)
    if method == b"find_node":
        return FindNodeQuery(tid=tid, sender_id=sender, target=_id(args, b"target"),
                             want=_want(args), read_only=ro)  # fmt: skip
    if method == b"get_peers":
        return GetPeersQuery(tid=tid, sender_id=sender, info_hash=_id(args, b"info_hash"),
                             want=_want(args), read_only=ro)  # fmt: skip
    if method == b"announce_peer":
        implied = args.get(b"implied_port", 0)
        if not isinstance(implied, int):
            raise KrpcError("'implied_port' is not an integer")
        port = args.get(b"port", 0 if implied else None)
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise KrpcError("'port' is missing or out of range")
        token = args.get(b"token")
        if not isinstance(token, bytes) or len(token) > MAX_TOKEN:
            raise KrpcError("'token' is missing or oversized")
        return AnnouncePeerQuery(tid=tid, sender_id=sender, info_hash=_id(args, b"info_hash"),
                                 port=port, token=token, implied_port=bool(implied),
                                 read_only=ro)  # fmt: skip
    if len(method) > 64:
        raise KrpcError("method name too long")
    return UnknownQuery(tid=tid, sender_id=sender, method=method, read_only=ro)


def _decode_values(raw: BValue) -> tuple[Addr, ...]:
    if not isinstance(raw, list):
        raise KrpcError("'values' is not a list")
    out: list[Addr] = []
    for entry in raw:
        if len(out) >= MAX_VALUES:
            break
        if isinstance(entry, bytes) and len(entry) in (6, 18):
            out.extend(decode_addresses(entry, len(entry)))
    return tuple(out)


def _decode_response(top: dict[bytes, BValue], tid: bytes) -> Response:
    r = top.get(b"r")
    if not isinstance(r, dict):
        raise KrpcError("a response needs an 'r' dictionary", tid=tid)
    try:
        sender = _id(r, b"id")
        nodes = r.get(b"nodes", b"")
        nodes6 = r.get(b"nodes6", b"")
        if not isinstance(nodes, bytes) or not isinstance(nodes6, bytes):
            raise KrpcError("'nodes'/'nodes6' is not a string")
        token = r.get(b"token")
        if token is not None and (not isinstance(token, bytes) or len(token) > MAX_TOKEN):
            raise KrpcError("'token' is not a short string")
        values = _decode_values(r[b"values"]) if b"values" in r else ()
        return Response(
            tid=tid, sender_id=sender, nodes=tuple(decode_nodes(nodes, family=4)),
            nodes6=tuple(decode_nodes(nodes6, family=6)), values=values, token=token,
            your_addr=_your_addr(top.get(b"ip")),
        )  # fmt: skip
    except KrpcError as exc:
        raise KrpcError(str(exc), tid=tid) from None


def _your_addr(raw: BValue | None) -> Addr | None:
    if not isinstance(raw, bytes) or len(raw) not in (6, 18):
        return None  # optional and advisory (BEP 42): ignore a bad one
    peers = decode_addresses(raw, len(raw))
    return peers[0] if peers else None


def _decode_error(top: dict[bytes, BValue], tid: bytes) -> ErrorMessage:
    e = top.get(b"e")
    if not isinstance(e, list) or len(e) < 2:
        raise KrpcError("an error needs 'e': [code, message]", tid=tid)
    code, text = e[0], e[1]
    if not isinstance(code, int) or not isinstance(text, bytes):
        raise KrpcError("'e' is not [int, string]", tid=tid)
    return ErrorMessage(tid=tid, code=code, message=text[:200].decode("utf-8", "replace"))

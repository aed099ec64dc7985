"""Bencoding, per BEP 3 ("bencoding"): strict, bounded, and fast in pure Python.

Rules the decoder enforces, each failing with a `BencodeError` naming the offset:

* integers are canonical: ``i0e``, ``i-3e``; never ``i-0e``, ``i03e``, ``i+3e`` or empty,
  and they must fit in a signed 64-bit integer (what every real client accepts);
* string lengths are canonical decimal and never reach past the end of the input;
* dictionary keys are byte strings, sorted as raw strings, with no duplicates. In
  tolerant mode (``strict=False``, for third-party torrents) unsorted or duplicate keys
  are accepted and *recorded* in `Decoded.issues`; the info-hash is still taken over the
  original bytes, which `decode_spans` exposes;
* nesting deeper than ``max_depth`` lists/dicts is refused (no recursion blow-ups);
* more than ``max_tokens`` tokens are refused, counted as libtorrent's ``bdecode`` counts
  them: one per string, integer and dictionary key, two per list or dictionary (its start
  and its end). Nesting alone does not bound memory: an empty list is 2 bytes of input
  and about 64 bytes of Python objects, so a 64 MiB file of ``le`` items would cost over
  2 GB. Every token takes at least one byte, so only an input longer than ``max_tokens``
  bytes can exceed the limit: only such an input is counted first (`count_tokens`, which
  builds nothing), so the decoder's hot loops carry no counter;
* tolerant mode records at most ``MAX_ISSUES`` issues (then one line saying more were
  skipped), so a dictionary of a million duplicate keys does not become a million lines;
* nothing may follow the top-level value.

Why by hand: the info-hash must be the SHA-1 of the *original* bytes of the ``info``
value (BEP 3, "info_hash"), and few bencode libraries expose that byte span or the
tolerant-but-recorded mode. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

from .errors import BencodeError

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_TOKENS",
    "MAX_ISSUES",
    "BValue",
    "Decoded",
    "bdecode",
    "bencode",
    "count_tokens",
    "decode_spans",
]

BValue: TypeAlias = "int | bytes | list[BValue] | dict[bytes, BValue]"

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_TOKENS = 12_000_000
"""Tokens one decode may hold at most (libtorrent's bdecode default is 2 million, 3 million
for a torrent). A v1 torrent at bitswarm's file cap (2**20 files, each three folders deep)
has 10.5 million; a v2 or hybrid torrent of that many files does not fit the 64 MiB file
limit, and one that does has fewer. At the limit a decode holds at most about 400 MB of
objects. Callers that decode small messages pass far tighter limits."""
MAX_ISSUES = 100
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Canonical forms, matched in place (re.match with a position does not copy the input).
_INT_RE = re.compile(rb"i(0|-?[1-9][0-9]{0,18})e")
_LEN_RE = re.compile(rb"(0|[1-9][0-9]{0,15}):")


@dataclass(slots=True)
class Decoded:
    """The result of `decode_spans`.

    Attributes:
        value: the decoded top-level value.
        spans: for a top-level dictionary, each key's value as (start, end) offsets
            into the input, so callers can hash the original bytes of ``info``.
        issues: what tolerant mode accepted but strict mode would have refused.
    """

    value: BValue
    spans: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)


class _Decoder:
    """One decoding run over one buffer. Recursive descent, dispatching on the first byte."""

    __slots__ = ("data", "issues", "max_depth", "spans", "strict")

    def __init__(self, data: bytes, strict: bool, max_depth: int) -> None:
        self.data = data
        self.strict = strict
        self.max_depth = max_depth
        self.issues: list[str] = []
        self.spans: dict[bytes, tuple[int, int]] | None = None

    def value(self, pos: int, depth: int) -> tuple[BValue, int]:
        data = self.data
        if pos >= len(data):
            raise BencodeError("unexpected end of input", pos)
        c = data[pos]
        if 0x30 <= c <= 0x39:  # '0'..'9': a byte string
            return self.string(pos)
        if c == 0x69:  # 'i'
            m = _INT_RE.match(data, pos)
            if m is None:
                raise BencodeError(self._bad_int_reason(pos), pos)
            n = int(m.group(1))
            if not _INT64_MIN <= n <= _INT64_MAX:
                raise BencodeError("integer does not fit in 64 bits", pos)
            return n, m.end()
        if c == 0x6C:  # 'l'
            if depth >= self.max_depth:
                raise BencodeError(f"nesting deeper than {self.max_depth} levels", pos)
            return self.list(pos + 1, depth + 1)
        if c == 0x64:  # 'd'
            if depth >= self.max_depth:
                raise BencodeError(f"nesting deeper than {self.max_depth} levels", pos)
            return self.dict(pos + 1, depth + 1)
        raise BencodeError(f"unexpected byte {bytes([c])!r}", pos)

    def string(self, pos: int) -> tuple[bytes, int]:
        data = self.data
        m = _LEN_RE.match(data, pos)
        if m is None:
            raise BencodeError("malformed string length", pos)
        start = m.end()
        end = start + int(m.group(1))
        if end > len(data):
            raise BencodeError(f"string of {end - start} bytes runs past the end of the input", pos)
        return data[start:end], end

    def list(self, pos: int, depth: int) -> tuple[BValue, int]:
        data = self.data
        out: list[BValue] = []
        append = out.append
        value = self.value
        n = len(data)
        while True:
            if pos >= n:
                raise BencodeError("unterminated list", pos)
            c = data[pos]
            if c == 0x65:  # 'e'
                return out, pos + 1
            # Leaf strings are parsed here rather than through value() -> string(): one
            # Python call per leaf was most of the decoding time (bench/RESULTS.md).
            if 0x31 <= c <= 0x39 and pos + 1 < n and data[pos + 1] == 0x3A:  # "N:"
                end = pos + 2 + c - 0x30
                if end > n:
                    raise BencodeError(
                        f"string of {c - 0x30} bytes runs past the end of the input", pos
                    )
                append(data[pos + 2 : end])
                pos = end
            elif 0x30 <= c <= 0x39:
                leaf, pos = self.string(pos)
                append(leaf)
            else:
                item, pos = value(pos, depth)
                append(item)

    def dict(self, pos: int, depth: int) -> tuple[BValue, int]:
        data = self.data
        out: dict[bytes, BValue] = {}
        value = self.value
        string = self.string
        int_match = _INT_RE.match
        n = len(data)
        prev: bytes | None = None
        record = self.spans if depth == 1 else None
        while True:
            if pos >= n:
                raise BencodeError("unterminated dictionary", pos)
            c = data[pos]
            if c == 0x65:  # 'e'
                return out, pos + 1
            if not 0x30 <= c <= 0x39:
                raise BencodeError("dictionary key is not a byte string", pos)
            key_pos = pos
            if c != 0x30 and pos + 1 < n and data[pos + 1] == 0x3A:  # one-digit length
                end = pos + 2 + c - 0x30
                if end > n:
                    raise BencodeError(
                        f"string of {c - 0x30} bytes runs past the end of the input", pos
                    )
                key = data[pos + 2 : end]
                pos = end
            else:
                key, pos = string(pos)
            duplicate = key in out
            if duplicate or (prev is not None and key < prev):
                self._key_order(key, duplicate, key_pos)
            vstart = pos
            c = data[pos] if pos < n else -1
            item: BValue
            if 0x30 <= c <= 0x39:
                item, pos = string(pos)
            elif c == 0x69:  # 'i'
                m = int_match(data, pos)
                if m is None:
                    raise BencodeError(self._bad_int_reason(pos), pos)
                item = int(m.group(1))
                if not _INT64_MIN <= item <= _INT64_MAX:
                    raise BencodeError("integer does not fit in 64 bits", pos)
                pos = m.end()
            else:
                item, pos = value(pos, depth)
            if duplicate:
                continue  # tolerant mode keeps the first value, as _key_order recorded
            out[key] = item
            if record is not None:
                record[key] = (vstart, pos)
            prev = key

    def _key_order(self, key: bytes, duplicate: bool, pos: int) -> None:
        what = "duplicate" if duplicate else "unsorted"
        if self.strict:
            raise BencodeError(f"{what} dictionary key {key[:40]!r}", pos)
        issues = self.issues
        if len(issues) < MAX_ISSUES:
            issues.append(f"{what} dictionary key {key[:40]!r} at byte {pos}")
        elif len(issues) == MAX_ISSUES:
            issues.append("more unsorted or duplicate keys not listed")

    def _bad_int_reason(self, pos: int) -> str:
        end = self.data.find(b"e", pos)
        text = self.data[pos + 1 : end] if end != -1 else b""
        if end == -1:
            return "unterminated integer"
        if text == b"-0":
            return "non-canonical integer (negative zero)"
        if len(text) > 1 and text.lstrip(b"-").startswith(b"0"):
            return "non-canonical integer (leading zero)"
        if len(text.lstrip(b"-")) > 19 and text.lstrip(b"-").isdigit():
            return "integer does not fit in 64 bits"
        return "malformed integer"


def count_tokens(data: bytes, limit: int = DEFAULT_MAX_TOKENS) -> int:
    """Count `data`'s tokens (as the module docstring defines them) without building any
    value, and return the count. Anything malformed ends the count quietly (the decoder
    then says what is wrong with it).

    Raises:
        BencodeError: at the byte where the count passes `limit`.
    """
    n = len(data)
    len_match = _LEN_RE.match
    find = data.find
    pos = tokens = 0
    while pos < n:
        c = data[pos]
        if c == 0x65:  # 'e': an end, counted with its start
            pos += 1
            continue
        start = pos
        if c == 0x6C or c == 0x64:  # 'l', 'd': the start and the end
            tokens += 2
            pos += 1
        elif 0x30 <= c <= 0x39:
            m = len_match(data, pos)
            if m is None:
                return tokens
            tokens += 1
            pos = m.end() + int(m.group(1))
        elif c == 0x69:  # 'i'
            end = find(b"e", pos)
            if end < 0:
                return tokens
            tokens += 1
            pos = end + 1
        else:
            return tokens
        if tokens > limit:
            raise BencodeError(f"more than {limit} tokens", start)
    return tokens


def _run(
    data: bytes | bytearray | memoryview,
    strict: bool,
    max_depth: int,
    max_tokens: int,
    spans: bool,
) -> Decoded:
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > max_tokens:  # shorter input cannot hold more tokens than bytes
        count_tokens(data, max_tokens)
    dec = _Decoder(data, strict, max_depth)
    if spans:
        dec.spans = {}
    try:
        value, end = dec.value(0, 0)
    except RecursionError:  # only reachable with a max_depth near the interpreter's limit
        raise BencodeError("nesting too deep", 0) from None
    if end != len(data):
        raise BencodeError("trailing data after the top-level value", end)
    return Decoded(value, dec.spans or {}, dec.issues)


def bdecode(
    data: bytes | bytearray | memoryview,
    *,
    strict: bool = True,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> BValue:
    """Decode one bencoded value that makes up the whole of `data`: at most `max_tokens`
    tokens (see the module docstring), nested at most `max_depth` deep.

    Raises:
        BencodeError: the input is not (strictly, if asked) valid bencoding.
    """
    return _run(data, strict, max_depth, max_tokens, False).value


def decode_spans(
    data: bytes | bytearray | memoryview,
    *,
    strict: bool = True,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Decoded:
    """Decode like `bdecode`, and also return top-level value spans and tolerated issues."""
    return _run(data, strict, max_depth, max_tokens, True)


# ---------------------------------------------------------------------------------------
# Encoding: always canonical (sorted keys, no duplicates); str is encoded as UTF-8.

_Encodable = object


def _encode_into(value: _Encodable, out: list[bytes]) -> None:
    append = out.append
    # Exact-type fast paths first (isinstance with a union is slow on 3.11); anything
    # else (str, bytearray, subclasses, bool, bad types) takes the general path below.
    t = type(value)
    if t is bytes:
        append(b"%d:" % len(value))  # type: ignore[arg-type]
        append(value)  # type: ignore[arg-type]
        return
    if t is int:
        if not _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            raise ValueError(f"integer {value} does not fit in 64 bits")
        append(b"i%de" % value)  # type: ignore[str-format]
        return
    if t is dict and all(type(k) is bytes for k in value):  # type: ignore[attr-defined]
        append(b"d")
        for k, item in sorted(value.items()):  # type: ignore[attr-defined]
            append(b"%d:" % len(k))
            append(k)
            _encode_into(item, out)
        append(b"e")
        return
    if isinstance(value, bytes | bytearray | memoryview):
        b = bytes(value)
        append(b"%d:" % len(b))
        append(b)
    elif isinstance(value, str):
        b = value.encode()
        append(b"%d:" % len(b))
        append(b)
    elif isinstance(value, bool):
        raise TypeError("bencode has no booleans; use 0 or 1")
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer {value} does not fit in 64 bits")
        append(b"i%de" % value)
    elif isinstance(value, list | tuple):
        append(b"l")
        for item in value:
            _encode_into(item, out)
        append(b"e")
    elif isinstance(value, dict):
        items: list[tuple[bytes, object]] = []
        for k, v in value.items():
            if isinstance(k, str):
                k = k.encode()
            elif not isinstance(k, bytes):
                raise TypeError(f"dictionary keys must be bytes or str, not {type(k).__name__}")
            items.append((k, v))
        items.sort(key=_first)
        append(b"d")
        prev: bytes | None = None
        for k, v in items:
            if k == prev:
                raise ValueError(f"duplicate dictionary key {k!r}")
            prev = k
            append(b"%d:" % len(k))
            append(k)
            _encode_into(v, out)
        append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def _first(item: tuple[bytes, object]) -> bytes:
    return item[0]


def bencode(value: _Encodable) -> bytes:
    """Encode `value` (int, bytes, str, list/tuple, dict with bytes or str keys).

    Raises:
        TypeError: a value of a type bencoding cannot hold (float, None, bool, ...).
        ValueError: a dictionary with two keys that encode to the same bytes.
    """
    out: list[bytes] = []
    _encode_into(value, out)
    return b"".join(out)

"""Hypothesis properties of the bencode codec.

* round trip: ``bdecode(bencode(x)) == x`` for nested ints (64-bit), bytes, lists, dicts;
* the strict decoder accepts only canonical input: whatever it returns re-encodes to
  exactly the bytes it was given;
* on any input (random, bencode-shaped, or a mutated valid encoding) the decoder either
  returns a value or raises `BencodeError`: never IndexError, ValueError, RecursionError.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.bencode import BValue, bdecode, bencode, decode_spans
from bitswarm.errors import BencodeError

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
LEAVES: st.SearchStrategy[BValue] = st.one_of(INT64, st.binary(max_size=40))


def _extend(children: st.SearchStrategy[BValue]) -> st.SearchStrategy[BValue]:
    return st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.binary(max_size=12), children, max_size=6),
    )


VALUES: st.SearchStrategy[BValue] = st.recursive(LEAVES, _extend, max_leaves=40)

# Fragments that make up bencoding, so random concatenations get deep into the parser.
TOKENS = st.sampled_from(
    [
        b"i",
        b"e",
        b"l",
        b"d",
        b"0",
        b"1",
        b"9",
        b"-",
        b":",
        b"1:",
        b"2:",
        b"3:abc",
        b"i0e",
        b"i-1e",
        b"le",
        b"de",
        b"1:a",
        b"1:b",
        b"x",
        b"00",
        b"+",
    ]
)
BENCODE_ISH = st.lists(TOKENS, max_size=40).map(b"".join)


def _decode_or_bencode_error(data: bytes, strict: bool) -> BValue | None:
    """Decode; return None on BencodeError, let any other exception fail the test."""
    try:
        return bdecode(data, strict=strict)
    except BencodeError as exc:
        assert 0 <= exc.offset <= len(data)
        return None


@given(VALUES)
def test_round_trip(value: BValue) -> None:
    data = bencode(value)
    assert bdecode(data) == value
    assert bdecode(data, strict=False) == value
    assert bencode(bdecode(data)) == data


@given(st.dictionaries(st.binary(max_size=12), VALUES, max_size=6))
def test_spans_point_at_each_values_encoding(value: dict[bytes, BValue]) -> None:
    data = bencode(value)
    decoded = decode_spans(data)
    assert decoded.value == value
    assert decoded.issues == []
    assert set(decoded.spans) == set(value)
    for key, (start, end) in decoded.spans.items():
        assert data[start:end] == bencode(value[key])


@given(st.dictionaries(st.text(max_size=8), st.integers(-5, 5), max_size=6))
def test_str_keys_round_trip_as_utf8(value: dict[str, int]) -> None:
    assert bdecode(bencode(value)) == {k.encode(): v for k, v in value.items()}


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_bencode_error(data: bytes) -> None:
    result = _decode_or_bencode_error(data, strict=True)
    if result is not None:
        assert bencode(result) == data  # strict accepts canonical input only
    _decode_or_bencode_error(data, strict=False)


@settings(max_examples=300)
@given(BENCODE_ISH)
def test_bencode_shaped_bytes_only_raise_bencode_error(data: bytes) -> None:
    result = _decode_or_bencode_error(data, strict=True)
    if result is not None:
        assert bencode(result) == data
    tolerant = _decode_or_bencode_error(data, strict=False)
    if result is not None:
        assert tolerant == result


MUTATIONS = st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"])


@settings(max_examples=300)
@given(VALUES, MUTATIONS, st.integers(min_value=0), st.integers(0, 255))
def test_mutated_encodings_only_raise_bencode_error(
    value: BValue, how: str, where: int, byte: int
) -> None:
    data = bytearray(bencode(value))
    i = where % (len(data) + 1)
    match how:
        case "flip" if i < len(data):
            data[i] ^= byte or 1
        case "insert":
            data.insert(i, byte)
        case "delete" if i < len(data):
            del data[i]
        case "truncate":
            del data[i:]
        case "duplicate":
            data[i:i] = data[i : i + 1 + byte % 8]
        case _:
            data.append(byte)
    mutated = bytes(data)
    result = _decode_or_bencode_error(mutated, strict=True)
    if result is not None:
        assert bencode(result) == mutated
    _decode_or_bencode_error(mutated, strict=False)
    try:
        decoded = decode_spans(mutated, strict=False)
    except BencodeError:
        return
    for start, end in decoded.spans.values():
        assert 0 <= start <= end <= len(mutated)


@given(st.integers(min_value=1, max_value=200), st.sampled_from([b"l", b"d1:a"]))
def test_deep_nesting_never_escapes_as_recursion_error(levels: int, opener: bytes) -> None:
    closer = b"le" if opener == b"l" else b"de"
    data = opener * levels + closer + b"e" * levels
    _decode_or_bencode_error(data, strict=True)
    _decode_or_bencode_error(data[: len(data) // 2], strict=False)

"""Example-based tests of the bencode codec (src/bitswarm/bencode.py).

Vectors come from BEP 3 ("bencoding"); every rejection is checked for its reason *and*
the byte offset it names, because the offset is what a person debugging a broken
torrent reads first. Property tests live in test_bencode_properties.py.
"""

from __future__ import annotations

import hashlib

import pytest

from bitswarm.bencode import (
    DEFAULT_MAX_DEPTH,
    BValue,
    Decoded,
    bdecode,
    bencode,
    decode_spans,
)
from bitswarm.errors import BencodeError, BitswarmError

# --- BEP 3 vectors --------------------------------------------------------------------

BEP3_VECTORS: list[tuple[bytes, BValue]] = [
    (b"4:spam", b"spam"),
    (b"0:", b""),
    (b"i3e", 3),
    (b"i-3e", -3),
    (b"i0e", 0),
    (b"le", []),
    (b"de", {}),
    (b"l4:spam4:eggse", [b"spam", b"eggs"]),
    (b"d3:cow3:moo4:spam4:eggse", {b"cow": b"moo", b"spam": b"eggs"}),
    (b"d4:spaml1:a1:bee", {b"spam": [b"a", b"b"]}),
    # 64-bit edges: the decoder accepts exactly the signed 64-bit range.
    (b"i9223372036854775807e", 2**63 - 1),
    (b"i-9223372036854775808e", -(2**63)),
    # strings are raw bytes, not text
    (b"3:\x00\xff\x80", b"\x00\xff\x80"),
    (b"l0:0:e", [b"", b""]),
    (b"lli1eeli2eee", [[1], [2]]),
]


@pytest.mark.parametrize(("data", "value"), BEP3_VECTORS)
def test_known_vectors_decode(data: bytes, value: BValue) -> None:
    assert bdecode(data) == value
    assert bdecode(data, strict=False) == value


@pytest.mark.parametrize(("data", "value"), BEP3_VECTORS)
def test_known_vectors_encode(data: bytes, value: BValue) -> None:
    assert bencode(value) == data


def test_decode_types_are_exact() -> None:
    value = bdecode(b"d1:ai1e1:bl1:xee")
    assert isinstance(value, dict)
    assert type(value[b"a"]) is int
    assert type(value[b"b"]) is list
    inner = value[b"b"]
    assert isinstance(inner, list)
    assert type(inner[0]) is bytes


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_decode_accepts_buffers(wrap: type) -> None:
    assert bdecode(wrap(b"l4:spami7ee")) == [b"spam", 7]
    assert decode_spans(wrap(b"d1:ai1ee")).spans == {b"a": (4, 7)}


# --- rejections, each with its offset ------------------------------------------------

REJECTIONS: list[tuple[bytes, int, str]] = [
    # non-canonical or malformed integers (BEP 3: "i-0e is invalid", "i03e ... invalid")
    (b"i-0e", 0, "negative zero"),
    (b"i03e", 0, "leading zero"),
    (b"i-03e", 0, "leading zero"),
    (b"i00e", 0, "leading zero"),
    (b"i+1e", 0, "malformed integer"),
    (b"ie", 0, "malformed integer"),
    (b"i1_0e", 0, "malformed integer"),
    (b"i 1e", 0, "malformed integer"),
    (b"i1.5e", 0, "malformed integer"),
    (b"i12", 0, "unterminated integer"),
    (b"i9223372036854775808e", 0, "does not fit in 64 bits"),
    (b"i-9223372036854775809e", 0, "does not fit in 64 bits"),
    (b"i123456789012345678901234567890e", 0, "does not fit in 64 bits"),
    (b"l4:spami03ee", 7, "leading zero"),
    # string lengths
    (b"03:abc", 0, "malformed string length"),
    (b"00:", 0, "malformed string length"),
    (b"5:abc", 0, "runs past the end"),
    (b"l1:a9:abce", 4, "runs past the end"),
    (b"99999999999999999999:", 0, "malformed string length"),
    (b"9999999999999999:x", 0, "runs past the end"),
    (b"3abc", 0, "malformed string length"),
    (b"-1:a", 0, "unexpected byte"),
    # structure
    (b"", 0, "unexpected end of input"),
    (b"l", 1, "unterminated list"),
    (b"li1e", 4, "unterminated list"),
    (b"d", 1, "unterminated dictionary"),
    (b"d1:a", 4, "unexpected end of input"),
    (b"d1:ai1e", 7, "unterminated dictionary"),
    (b"x", 0, "unexpected byte"),
    (b"e", 0, "unexpected byte"),
    (b"l4:spamxe", 7, "unexpected byte"),
    # dictionary keys must be byte strings
    (b"di1ei2ee", 1, "not a byte string"),
    (b"dle1:ae", 1, "not a byte string"),
    (b"d1:ai1ei2ei3ee", 7, "not a byte string"),
    # trailing data after the top-level value
    (b"i1ei2e", 3, "trailing data"),
    (b"4:spam ", 6, "trailing data"),
    (b"dee", 2, "trailing data"),
    (b"le\n", 2, "trailing data"),
    # strict key order (BEP 3: "Keys must ... appear in sorted order")
    (b"d1:bi1e1:ai2ee", 7, "unsorted dictionary key b'a'"),
    (b"d1:ai1e1:ai2ee", 7, "duplicate dictionary key b'a'"),
    (b"d2:aai1e1:ai2ee", 8, "unsorted dictionary key b'a'"),
    (b"d1:ad1:bi1e1:ai1eee", 11, "unsorted dictionary key b'a'"),
]


@pytest.mark.parametrize(("data", "offset", "reason"), REJECTIONS)
def test_rejections_with_offset(data: bytes, offset: int, reason: str) -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(data)
    assert info.value.offset == offset
    assert reason in info.value.reason
    assert str(info.value).endswith(f"at byte {offset}")
    assert isinstance(info.value, BitswarmError)


@pytest.mark.parametrize(
    ("data", "offset", "reason"),
    [r for r in REJECTIONS if "dictionary key b'a'" not in r[2]],
)
def test_tolerant_mode_rejects_the_same_syntax_errors(
    data: bytes, offset: int, reason: str
) -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(data, strict=False)
    assert info.value.offset == offset
    assert reason in info.value.reason


# --- tolerant mode: accepted, recorded, spans on the original bytes --------------------


def test_tolerant_unsorted_keys_are_recorded_with_original_offset() -> None:
    data = b"d1:bi1e1:ai2ee"
    decoded = decode_spans(data, strict=False)
    assert decoded.value == {b"b": 1, b"a": 2}
    assert decoded.issues == ["unsorted dictionary key b'a' at byte 7"]
    assert data[7:10] == b"1:a"
    assert decoded.spans == {b"b": (4, 7), b"a": (10, 13)}
    assert data[10:13] == b"i2e"


def test_tolerant_duplicate_key_keeps_first_value_and_records_it() -> None:
    data = b"d1:ai1e1:ai2ee"
    decoded = decode_spans(data, strict=False)
    assert decoded.value == {b"a": 1}
    assert decoded.issues == ["duplicate dictionary key b'a' at byte 7"]
    assert decoded.spans == {b"a": (4, 7)}


def test_tolerant_issue_in_nested_dict_names_its_absolute_offset() -> None:
    data = b"d4:infod1:zi1e1:yi2eee"
    decoded = decode_spans(data, strict=False)
    assert decoded.issues == ["unsorted dictionary key b'y' at byte 14"]
    assert data[14:17] == b"1:y"
    assert bdecode(data, strict=False) == {b"info": {b"z": 1, b"y": 2}}


def test_tolerant_mode_records_nothing_for_canonical_input() -> None:
    decoded = decode_spans(b"d1:ad1:bi1eee", strict=False)
    assert decoded.issues == []


def test_tolerant_non_adjacent_duplicate_key_is_recorded() -> None:
    data = b"d1:a1:x1:c1:y1:b1:z1:c1:we"
    decoded = decode_spans(data, strict=False)
    assert decoded.value == {b"a": b"x", b"c": b"y", b"b": b"z"}
    assert any(issue.startswith("duplicate dictionary key b'c'") for issue in decoded.issues)


def test_strict_mode_refuses_non_adjacent_duplicate_at_first_disorder() -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(b"d1:a1:x1:c1:y1:b1:z1:c1:we")
    assert info.value.offset == 13
    assert "unsorted" in info.value.reason


def _torrent_with_unsorted_info() -> tuple[bytes, bytes]:
    """A torrent whose info dict lists `name` before `length` (unsorted), as some old
    tools wrote them. Returns (whole file, the exact info bytes)."""
    pieces = hashlib.sha1(b"x" * 5).digest()
    info = b"d4:name5:a.txt6:lengthi5e12:piece lengthi16384e6:pieces20:" + pieces + b"e"
    whole = b"d8:announce20:http://t.example/ann4:info" + info + b"e"
    return whole, info


def test_spans_rehash_original_info_bytes_of_unsorted_torrent() -> None:
    data, info_bytes = _torrent_with_unsorted_info()
    with pytest.raises(BencodeError) as info:
        bdecode(data)
    assert "unsorted dictionary key b'length'" in info.value.reason
    assert data[info.value.offset :].startswith(b"6:length")

    decoded = decode_spans(data, strict=False)
    start, end = decoded.spans[b"info"]
    assert data[start:end] == info_bytes
    original_hash = hashlib.sha1(data[start:end]).hexdigest()
    assert original_hash == hashlib.sha1(info_bytes).hexdigest()
    # Re-encoding sorts the keys, so it would give a different (wrong) info-hash.
    reencoded = bencode(decoded.value[b"info"]) if isinstance(decoded.value, dict) else b""
    assert reencoded != info_bytes
    assert hashlib.sha1(reencoded).hexdigest() != original_hash
    assert len(decoded.issues) == 1
    assert decoded.issues[0].startswith("unsorted dictionary key b'length' at byte ")


def test_spans_cover_every_top_level_key_exactly() -> None:
    data = b"d1:ali1ei2ee1:bd1:ci3ee1:d0:e"
    decoded = decode_spans(data)
    assert isinstance(decoded, Decoded)
    assert decoded.spans == {b"a": (4, 12), b"b": (15, 23), b"d": (26, 28)}
    assert decoded.value == bdecode(data)
    assert isinstance(decoded.value, dict)
    for key, (start, end) in decoded.spans.items():
        assert bencode(decoded.value[key]) == data[start:end]
    # only the top level is recorded, not the nested dict's keys
    assert b"c" not in decoded.spans


def test_spans_empty_for_non_dict_top_level() -> None:
    assert decode_spans(b"l1:ae").spans == {}
    assert decode_spans(b"i5e").spans == {}
    assert decode_spans(b"de").spans == {}


# --- nesting limit ---------------------------------------------------------------------


def _nested_lists(levels: int) -> bytes:
    return b"l" * levels + b"e" * levels


def _nested_dicts(levels: int) -> bytes:
    return b"d1:a" * (levels - 1) + b"de" + b"e" * (levels - 1)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    value: BValue | None = bdecode(_nested_lists(DEFAULT_MAX_DEPTH))
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == DEFAULT_MAX_DEPTH
    assert isinstance(bdecode(_nested_dicts(DEFAULT_MAX_DEPTH)), dict)


def test_nesting_one_past_the_limit_is_refused_at_the_offending_byte() -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(_nested_lists(DEFAULT_MAX_DEPTH + 1))
    assert info.value.offset == DEFAULT_MAX_DEPTH
    assert "nesting deeper than 64 levels" in info.value.reason
    with pytest.raises(BencodeError) as info:
        bdecode(_nested_dicts(DEFAULT_MAX_DEPTH + 1))
    assert info.value.offset == 4 * DEFAULT_MAX_DEPTH
    assert "nesting" in info.value.reason


def test_hundred_levels_refused_by_default_accepted_with_a_higher_limit() -> None:
    with pytest.raises(BencodeError):
        bdecode(_nested_lists(100))
    with pytest.raises(BencodeError):
        bdecode(_nested_lists(100), strict=False)
    assert bdecode(_nested_lists(100), max_depth=100) is not None
    with pytest.raises(BencodeError) as info:
        bdecode(_nested_lists(100), max_depth=99)
    assert info.value.offset == 99


def test_mixed_list_and_dict_nesting_counts_both() -> None:
    data = b"ld1:ald1:all" + b"e" * 6  # list > dict > list > dict > list > list
    assert bdecode(data, max_depth=6) == [{b"a": [{b"a": [[]]}]}]
    with pytest.raises(BencodeError):
        bdecode(data, max_depth=5)


def test_max_depth_zero_allows_only_scalars() -> None:
    assert bdecode(b"i1e", max_depth=0) == 1
    with pytest.raises(BencodeError) as info:
        bdecode(b"le", max_depth=0)
    assert info.value.offset == 0


def test_interpreter_recursion_limit_becomes_bencode_error() -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(_nested_lists(20_000), max_depth=10**9)
    assert "nesting too deep" in info.value.reason


# --- encoder -------------------------------------------------------------------------


def test_encoder_sorts_keys_by_raw_bytes() -> None:
    value = {b"\xff": 1, b"a": 2, b"B": 3, b"aa": 4, b"": 5}
    assert bencode(value) == b"d0:i5e1:Bi3e1:ai2e2:aai4e1:\xffi1ee"


def test_encoder_str_keys_and_values_are_utf8_and_sorted_as_bytes() -> None:
    value = {"é": "ü", "z": "a", b"y": b"b"}
    assert bencode(value) == b"d1:y1:b1:z1:a2:\xc3\xa92:\xc3\xbce"
    assert bdecode(bencode(value)) == {b"y": b"b", b"z": b"a", "é".encode(): "ü".encode()}


def test_encoder_nested_and_sequences() -> None:
    assert bencode((1, [b"x", ()], {})) == b"li1el1:xleedee"
    assert bencode(bytearray(b"ab")) == b"2:ab"
    assert bencode(memoryview(b"abc")) == b"3:abc"
    assert bencode(-42) == b"i-42e"
    assert bencode(0) == b"i0e"


def test_encoder_output_is_canonical_for_decoder() -> None:
    value = {"info": {"name": "x", "length": 3, "piece length": 16384}, "announce": "u"}
    data = bencode(value)
    assert decode_spans(data).issues == []
    assert bdecode(data) == {
        b"announce": b"u",
        b"info": {b"length": 3, b"name": b"x", b"piece length": 16384},
    }


@pytest.mark.parametrize("bad", [1.5, None, True, False, {1, 2}, object(), [1, None], {b"a": 0.0}])
def test_encoder_refuses_types_bencoding_cannot_hold(bad: object) -> None:
    with pytest.raises(TypeError):
        bencode(bad)


@pytest.mark.parametrize("bad_key", [1, None, 1.0, (b"a",), bytearray(b"a")])
def test_encoder_refuses_non_string_keys(bad_key: object) -> None:
    with pytest.raises(TypeError):
        bencode({bad_key: 1})


def test_encoder_refuses_keys_that_collide_after_encoding() -> None:
    with pytest.raises(ValueError, match="duplicate dictionary key"):
        bencode({"a": 1, b"a": 2})
    with pytest.raises(ValueError, match="duplicate dictionary key"):
        bencode({"x": {"é": 1, "é".encode(): 2}})


@pytest.mark.parametrize("n", [2**63, -(2**63) - 1, 10**30])
def test_encoder_refuses_integers_the_decoder_refuses(n: int) -> None:
    with pytest.raises(ValueError):
        bencode(n)


def test_bare_minus_is_reported_as_malformed_not_negative_zero() -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(b"i-e")
    assert info.value.reason == "malformed integer"

"""Tests of `Bitfield` (src/bitswarm/bitfield.py): BEP 3 bit order, spare-bit rules,
counting, iteration, and the errors a malformed wire bitfield raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.bitfield import Bitfield
from bitswarm.errors import RemoteProtocolError


def test_empty_bitfield() -> None:
    bf = Bitfield(10)
    assert bf.size == 10
    assert bf.count() == 0
    assert len(bf) == 0
    assert bf.none()
    assert not bf.all()
    assert bf.to_bytes() == b"\x00\x00"
    assert list(bf) == []
    assert list(bf.missing()) == list(range(10))


def test_high_bit_of_first_byte_is_piece_zero() -> None:
    # BEP 3: "The high bit in the first byte corresponds to piece index 0"
    bf = Bitfield(16)
    bf.add(0)
    assert bf.to_bytes() == b"\x80\x00"
    bf.add(7)
    bf.add(8)
    bf.add(15)
    assert bf.to_bytes() == b"\x81\x81"
    assert list(bf) == [0, 7, 8, 15]


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, b""), (1, b"\x80"), (7, b"\xfe"), (8, b"\xff"), (9, b"\xff\x80"), (12, b"\xff\xf0")],
)
def test_full_bitfield_leaves_spare_bits_clear(size: int, expected: bytes) -> None:
    bf = Bitfield(size, full=True)
    assert bf.to_bytes() == expected
    assert bf.count() == size
    assert bf.all()
    assert list(bf) == list(range(size))
    assert list(bf.missing()) == []


def test_from_bytes_parses_and_counts() -> None:
    bf = Bitfield.from_bytes(b"\xa0\x01", 16)
    assert list(bf) == [0, 2, 15]
    assert bf.count() == 3
    assert 2 in bf
    assert 1 not in bf
    assert bf[15] is True
    assert bf[14] is False


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_from_bytes_accepts_buffers(wrap: type) -> None:
    assert list(Bitfield.from_bytes(wrap(b"\xc0"), 3)) == [0, 1]


@pytest.mark.parametrize(
    ("data", "size"),
    [(b"\x00", 9), (b"\x00\x00", 8), (b"", 1), (b"\x00", 0)],
)
def test_from_bytes_rejects_wrong_length(data: bytes, size: int) -> None:
    with pytest.raises(RemoteProtocolError, match="expected"):
        Bitfield.from_bytes(data, size)


@pytest.mark.parametrize(("data", "size"), [(b"\x01", 7), (b"\xff\x40", 9), (b"\x0f", 4)])
def test_from_bytes_rejects_spare_bits_set(data: bytes, size: int) -> None:
    # BEP 3: "Spare bits at the end are set to zero."
    with pytest.raises(RemoteProtocolError, match="spare bits"):
        Bitfield.from_bytes(data, size)


def test_add_and_discard_report_change_and_keep_count() -> None:
    bf = Bitfield(5)
    assert bf.add(3) is True
    assert bf.add(3) is False
    assert bf.count() == 1
    assert bf.discard(3) is True
    assert bf.discard(3) is False
    assert bf.count() == 0
    for i in range(5):
        bf.add(i)
    assert bf.all()
    assert bf.to_bytes() == b"\xf8"


@pytest.mark.parametrize("index", [-1, 5, 100])
def test_out_of_range_indices(index: int) -> None:
    bf = Bitfield(5, full=True)
    assert index not in bf
    with pytest.raises(IndexError):
        bf.add(index)
    with pytest.raises(IndexError):
        bf.discard(index)
    with pytest.raises(IndexError):
        bf[index]


def test_negative_size_refused() -> None:
    with pytest.raises(ValueError):
        Bitfield(-1)


def test_copy_is_independent() -> None:
    bf = Bitfield.from_indices(20, [1, 19])
    twin = bf.copy()
    assert twin == bf
    twin.add(5)
    assert 5 not in bf
    assert bf.count() == 2
    assert twin.count() == 3
    assert twin != bf


def test_equality_and_unhashable() -> None:
    assert Bitfield(8) == Bitfield(8)
    assert Bitfield(8) != Bitfield(9)
    assert Bitfield(8) != b"\x00"
    with pytest.raises(TypeError):
        hash(Bitfield(8))


def test_repr_shows_count_and_size() -> None:
    assert repr(Bitfield.from_indices(10, [1, 2])) == "Bitfield(2/10)"


@given(
    st.integers(min_value=0, max_value=300).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, max(n - 1, 0)), max_size=n))
    )
)
def test_indices_round_trip_through_wire_bytes(case: tuple[int, set[int]]) -> None:
    size, indices = case
    bf = Bitfield.from_indices(size, indices)
    data = bf.to_bytes()
    assert len(data) == (size + 7) // 8
    back = Bitfield.from_bytes(data, size)
    assert back == bf
    assert list(back) == sorted(indices)
    assert back.count() == len(indices)
    assert sorted(set(back.missing()) | indices) == list(range(size))
    assert back.all() == (len(indices) == size)

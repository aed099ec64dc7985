"""Fast-resume data: round trip, trust rules, and refusal of malformed input (storage.resume)."""

from __future__ import annotations

from typing import TypedDict, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.bencode import BValue, bdecode, bencode
from bitswarm.bitfield import Bitfield
from bitswarm.storage.resume import (
    ResumeData,
    ResumeError,
    decode_resume,
    encode_resume,
    trusted_pieces,
)

INFO_HASH = bytes(range(20))


class ResumeFields(TypedDict, total=False):
    """`ResumeData`'s fields, each one a test may change."""

    info_hash: bytes
    have: bytes
    num_pieces: int
    files: list[tuple[int, int] | None]
    uploaded: int
    downloaded: int
    saved_at: int


def _resume(**changes: Unpack[ResumeFields]) -> ResumeData:
    have = Bitfield.from_indices(10, [0, 3, 9])
    fields: ResumeFields = {
        "info_hash": INFO_HASH,
        "have": have.to_bytes(),
        "num_pieces": 10,
        "files": [(1000, 1_700_000_000_123_456_789), None, (0, 5)],
        "uploaded": 12345,
        "downloaded": 67890,
        "saved_at": 1_700_000_100,
    }
    fields.update(changes)
    return ResumeData(**fields)


def test_round_trip() -> None:
    data = _resume()
    assert decode_resume(encode_resume(data), info_hash=INFO_HASH, num_pieces=10) == data


def test_v2_info_hash_round_trip() -> None:
    data = _resume(info_hash=bytes(32))
    assert decode_resume(encode_resume(data), info_hash=bytes(32), num_pieces=10) == data


def test_trusted_when_every_file_matches() -> None:
    data = _resume()
    trusted = trusted_pieces(data, [(1000, 1_700_000_000_123_456_789), None, (0, 5)])
    assert trusted == Bitfield.from_indices(10, [0, 3, 9])


@pytest.mark.parametrize(
    "current",
    [
        [(1001, 1_700_000_000_123_456_789), None, (0, 5)],  # size changed
        [(1000, 1_700_000_000_123_456_790), None, (0, 5)],  # mtime changed by 1 ns
        [None, None, (0, 5)],  # file removed
        [(1000, 1_700_000_000_123_456_789), (0, 1), (0, 5)],  # file appeared
        [(1000, 1_700_000_000_123_456_789), None],  # another file list
    ],
)
def test_any_file_change_means_recheck(current: list[tuple[int, int] | None]) -> None:
    assert trusted_pieces(_resume(), current) is None


def test_wrong_torrent_or_geometry_refused() -> None:
    raw = encode_resume(_resume())
    with pytest.raises(ResumeError, match="another torrent"):
        decode_resume(raw, info_hash=bytes(20), num_pieces=10)
    with pytest.raises(ResumeError, match="number of pieces"):
        decode_resume(raw, info_hash=INFO_HASH, num_pieces=11)


def _mutated(**changes: BValue | None) -> bytes:
    """Resume data with top-level keys replaced (by any bencode value) or, for None, removed."""
    top = bdecode(encode_resume(_resume()))
    assert isinstance(top, dict)
    for key, value in changes.items():
        name = key.replace("_", "-").encode()
        if value is None:
            del top[name]
        else:
            top[name] = value
    return bencode(top)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage",
        b"le",
        b"i3e",
        _mutated(file_format=b"other"),
        _mutated(file_version=2),
        _mutated(info_hash=None),
        _mutated(pieces=b"\x00"),  # 1 byte for 10 pieces
        _mutated(pieces=b"\x00\x01"),  # spare bit set
        _mutated(pieces=5),
        _mutated(files=b"x"),
        _mutated(files=[[1]]),
        _mutated(files=[[1, -2]]),
        _mutated(files=[[1, b"2"]]),
        _mutated(files=[b"x"]),
        _mutated(uploaded=-1),
        _mutated(downloaded=b"1"),
        _mutated(saved_at=None),
    ],
)
def test_malformed_resume_raises_resume_error(raw: bytes) -> None:
    with pytest.raises(ResumeError):
        decode_resume(raw, info_hash=INFO_HASH, num_pieces=10)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(raw: bytes) -> None:
    try:
        decode_resume(raw, info_hash=INFO_HASH, num_pieces=10)
    except ResumeError:
        pass


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 100).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)) if n else st.just(set()))
    ),
    st.lists(st.none() | st.tuples(st.integers(0, 2**40), st.integers(0, 2**62)), max_size=5),
)
def test_round_trip_property(
    geometry: tuple[int, set[int]], files: list[tuple[int, int] | None]
) -> None:
    n, indices = geometry
    data = _resume(num_pieces=n, have=Bitfield.from_indices(n, indices).to_bytes(), files=files)
    decoded = decode_resume(encode_resume(data), info_hash=INFO_HASH, num_pieces=n)
    assert decoded == data
    assert trusted_pieces(decoded, files) == Bitfield.from_indices(n, indices)

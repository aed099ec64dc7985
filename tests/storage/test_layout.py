"""Piece/file geometry: spans, piece sizes, per-file piece ranges (storage.layout)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.errors import LocalProtocolError
from bitswarm.storage.layout import FileSpan, FileSpec, Layout


def _layout(lengths: list[int], piece_length: int, pads: frozenset[int] = frozenset()) -> Layout:
    return Layout(
        [FileSpec(("f", str(i)), n, is_pad=i in pads) for i, n in enumerate(lengths)],
        piece_length,
    )


def test_single_file_geometry() -> None:
    layout = _layout([100], 32)
    assert layout.total_length == 100
    assert layout.num_pieces == 4
    assert [layout.piece_size(i) for i in range(4)] == [32, 32, 32, 4]
    assert layout.spans(3, 0, 4) == [FileSpan(0, 96, 4)]
    assert layout.spans(1, 5, 10) == [FileSpan(0, 37, 10)]


def test_exact_multiple_has_no_short_piece() -> None:
    layout = _layout([64], 32)
    assert layout.num_pieces == 2
    assert layout.piece_size(1) == 32


def test_empty_torrent_has_no_pieces() -> None:
    layout = _layout([0, 0], 16)
    assert layout.num_pieces == 0
    assert layout.file_piece_range(0) == range(0)
    with pytest.raises(LocalProtocolError):
        layout.piece_size(0)


def test_span_crosses_many_files_and_skips_zero_length_ones() -> None:
    # files: 10 bytes, 0 bytes, 3 bytes, 0 bytes, 0 bytes, 20 bytes
    layout = _layout([10, 0, 3, 0, 0, 20], 16)
    assert layout.num_pieces == 3
    assert layout.spans(0, 0, 16) == [FileSpan(0, 0, 10), FileSpan(2, 0, 3), FileSpan(5, 0, 3)]
    assert layout.spans(0, 10, 6) == [FileSpan(2, 0, 3), FileSpan(5, 0, 3)]
    assert layout.spans(2, 0, 1) == [FileSpan(5, 19, 1)]  # file 5 starts at byte 13
    assert layout.file_piece_range(0) == range(1)
    assert layout.file_piece_range(1) == range(0)
    assert layout.file_piece_range(2) == range(1)
    assert layout.file_piece_range(5) == range(3)


def test_zero_length_file_at_piece_boundary_is_never_named() -> None:
    layout = _layout([16, 0, 16], 16)
    assert layout.spans(1, 0, 16) == [FileSpan(2, 0, 16)]
    assert layout.spans(0, 0, 16) == [FileSpan(0, 0, 16)]


def test_pad_files_are_real_spans() -> None:
    # BEP 47: a pad fills the rest of file 0's last piece so file 2 starts on a boundary
    layout = _layout([20, 12, 7], 16, pads=frozenset({1}))
    assert layout.spans(1, 0, 16) == [FileSpan(0, 16, 4), FileSpan(1, 0, 12)]
    assert layout.spans(2, 0, 7) == [FileSpan(2, 0, 7)]
    assert layout.file_piece_range(2) == range(2, 3)
    assert layout.v2_piece_file(1) == (0, 4)
    assert layout.v2_piece_file(2) == (2, 7)


def test_v2_piece_file_refuses_mixed_pieces() -> None:
    layout = _layout([20, 12], 16)  # no padding: piece 1 holds the tail of 0 and start of 1
    with pytest.raises(LocalProtocolError):
        layout.v2_piece_file(1)
    padded_first = _layout([4, 12, 16], 16, pads=frozenset({0}))
    with pytest.raises(LocalProtocolError):
        padded_first.v2_piece_file(0)


def test_pieces_for_byte_range() -> None:
    layout = _layout([100], 32)
    assert layout.pieces_for_byte_range(0, 1) == range(1)
    assert layout.pieces_for_byte_range(31, 2) == range(2)
    assert layout.pieces_for_byte_range(32, 64) == range(1, 3)
    assert layout.pieces_for_byte_range(50, 0) == range(0)
    with pytest.raises(LocalProtocolError):
        layout.pieces_for_byte_range(90, 11)


@pytest.mark.parametrize(
    ("piece", "begin", "length"), [(-1, 0, 1), (4, 0, 1), (3, 0, 5), (0, -1, 2), (0, 30, 3)]
)
def test_out_of_range_requests_refused(piece: int, begin: int, length: int) -> None:
    with pytest.raises(LocalProtocolError):
        _layout([100], 32).spans(piece, begin, length)


def test_bad_geometry_refused() -> None:
    with pytest.raises(LocalProtocolError):
        _layout([1], 0)
    with pytest.raises(LocalProtocolError):
        _layout([-1], 16)


@st.composite
def layouts_and_ranges(draw: st.DrawFn) -> tuple[Layout, int, int, int]:
    lengths = draw(st.lists(st.integers(0, 300), min_size=1, max_size=12))
    if sum(lengths) == 0:
        lengths.append(draw(st.integers(1, 50)))
    pads = frozenset(draw(st.sets(st.integers(0, len(lengths) - 1))))
    layout = _layout(lengths, draw(st.integers(1, 128)), pads)
    piece = draw(st.integers(0, layout.num_pieces - 1))
    size = layout.piece_size(piece)
    begin = draw(st.integers(0, size))
    length = draw(st.integers(0, size - begin))
    return layout, piece, begin, length


@settings(max_examples=300, deadline=None)
@given(layouts_and_ranges())
def test_spans_cover_the_range_exactly_and_lie_inside_files(
    case: tuple[Layout, int, int, int],
) -> None:
    layout, piece, begin, length = case
    spans = layout.spans(piece, begin, length)
    assert sum(s.length for s in spans) == length
    position = piece * layout.piece_length + begin
    for span in spans:
        spec = layout.files[span.file_index]
        assert span.length > 0
        assert span.file_offset >= 0 and span.file_offset + span.length <= spec.length
        # contiguous: each span starts where the previous ended, in the concatenated space
        assert layout.file_offset(span.file_index) + span.file_offset == position
        position += span.length
    # and the pieces of every file named contain this piece
    for span in spans:
        assert piece in layout.file_piece_range(span.file_index)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=1, max_size=10), st.integers(1, 64))
def test_piece_sizes_add_up(lengths: list[int], piece_length: int) -> None:
    layout = _layout(lengths, piece_length)
    assert sum(layout.piece_size(i) for i in range(layout.num_pieces)) == sum(lengths)
    for index, n in enumerate(lengths):
        pieces = layout.file_piece_range(index)
        covered = sum(
            s.length
            for p in pieces
            for s in layout.spans(p, 0, layout.piece_size(p))
            if s.file_index == index
        )
        assert covered == n

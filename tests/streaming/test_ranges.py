"""Range headers (RFC 9110 §14) and media types, as streaming reads them."""

from __future__ import annotations

import pytest

from bitswarm.streaming.ranges import UNSATISFIABLE, ByteRange, content_type, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99, 1000)),
        ("bytes=500-", ByteRange(500, 999, 1000)),
        ("bytes=900-5000", ByteRange(900, 999, 1000)),  # clipped to the end
        ("bytes=-100", ByteRange(900, 999, 1000)),  # the last 100 bytes
        ("bytes=-5000", ByteRange(0, 999, 1000)),  # a suffix longer than the file: all of it
        ("Bytes = 10-19", ByteRange(10, 19, 1000)),
        ("bytes=999-999", ByteRange(999, 999, 1000)),
        ("bytes=1000-", UNSATISFIABLE),
        ("bytes=1000-2000", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=20-10", None),  # invalid: ignored, the whole file
        ("bytes=0-1,5-9", None),  # several ranges: ignored (RFC 9110 §14.2 allows it)
        ("items=0-9", None),
        ("bytes=a-b", None),
        ("bytes=-", None),
        ("bytes", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, 1000) == expected


def test_an_empty_file_has_no_satisfiable_range() -> None:
    assert parse_range("bytes=0-", 0) is UNSATISFIABLE
    assert parse_range("bytes=-1", 0) is UNSATISFIABLE


def test_content_range_and_length() -> None:
    r = ByteRange(900, 999, 1000)
    assert r.length == 100 and r.content_range() == "bytes 900-999/1000"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.mp4", "video/mp4"),
        ("A.MKV", "video/x-matroska"),
        ("b.webm", "video/webm"),
        ("song.mp3", "audio/mpeg"),
        ("x.flac", "audio/flac"),
        ("subs.vtt", "text/vtt"),
        ("readme", "application/octet-stream"),
        ("data.unknownext", "application/octet-stream"),
    ],
)
def test_content_type(name: str, media_type: str) -> None:
    assert content_type(name) == media_type

"""HTTP byte ranges and media types for streaming (pure: RFC 9110 §14).

`parse_range` reads a `Range` header against a file's size: a single range of the `bytes`
unit, in any of its three forms (`a-b`, `a-`, suffix `-n`). A header this server does not
honour (another unit, bad syntax, several ranges) is ignored, as RFC 9110 §14.2 allows
("A server MAY ignore the Range header field"): the whole file is sent with 200. A range
that starts at or past the end is *unsatisfiable* (416 with `Content-Range: bytes */size`).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

__all__ = ["UNSATISFIABLE", "ByteRange", "content_type", "parse_range"]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start` to `end` inclusive of a file of `size` bytes (RFC 9110 §14.1.2)."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self) -> str:
        """The `Content-Range` value of a 206 response."""
        return f"bytes {self.start}-{self.end}/{self.size}"


class _Unsatisfiable:
    def __repr__(self) -> str:
        return "UNSATISFIABLE"


UNSATISFIABLE = _Unsatisfiable()
"""`parse_range`'s answer for a range that selects no byte of the file (416)."""


def parse_range(header: str | None, size: int) -> ByteRange | _Unsatisfiable | None:
    """The range a `Range` header asks of a file of `size` bytes: None for the whole file
    (no header, or one ignored, see the module docstring), or `UNSATISFIABLE`."""
    if header is None:
        return None
    unit, sep, spec = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)  # the last `suffix` bytes (§14.1.2: a suffix longer than the file
        if suffix == 0 or size == 0:  # selects all of it)
            return UNSATISFIABLE
        return ByteRange(max(0, size - suffix), size - 1, size)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored (§14.1.1)
    if start >= size:
        return UNSATISFIABLE
    end = int(last) if last else size - 1
    return ByteRange(start, min(end, size - 1), size)


_MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mov": "video/quicktime",
    ".ts": "video/mp2t",
    ".ogv": "video/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/wav",
    ".mka": "audio/x-matroska",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
}


def content_type(name: str) -> str:
    """The media type of a file from its extension: the common audio and video
    containers by table (the platform's tables differ), others as the platform knows
    them, else `application/octet-stream`."""
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    known = _MEDIA_TYPES.get(ext)
    if known is not None:
        return known
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"

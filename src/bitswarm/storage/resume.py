"""Fast-resume data: which pieces we had, and the files' sizes and mtimes when we saved it.

Saving this lets a restart skip the full recheck of existing data. The saved piece set is
trusted only if every file still has exactly the size and modification time recorded (a file
touched by anyone else since then forces a recheck). Resume files are untrusted input: a
malformed one raises `ResumeError` and the caller rechecks instead.

Format: a bencoded dictionary (BEP 3 bencoding)::

    {"file-format": "bitswarm resume", "file-version": 1, "info-hash": <20 or 32 bytes>,
     "num-pieces": n, "pieces": <bitfield bytes, BEP 3 layout>,
     "files": [[size, mtime_ns] or [] for a missing file, ...],
     "uploaded": n, "downloaded": n, "saved-at": <unix seconds>,
     "name": <the torrent's name, UTF-8>, "save-path": <the download folder, UTF-8>,
     "piece-layers": {<pieces root>: <piece layer>, ...}}

"name" and "save-path" (since issue 12, same file-version: older files lack them and
still load) let `bitswarm resume list|clean` say whose data a file describes and whether
that data is still there; `read_resume` parses a file without knowing its torrent.
"piece-layers" (issue 13, same file-version, optional) holds the BEP 52 piece layers a pure
v2 torrent fetched from peers (a magnet brings only the roots), so a restart does not ask
for them again; the reader checks only their shape, the runtime proves each against its
root before it uses it.

Pure (layer L1): bytes in, bytes out; the caller supplies the wall-clock `saved_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ..bencode import BValue, bdecode, bencode
from ..bitfield import Bitfield
from ..errors import BencodeError, BitswarmError, RemoteProtocolError

__all__ = [
    "FORMAT",
    "VERSION",
    "ResumeData",
    "ResumeError",
    "decode_resume",
    "encode_resume",
    "read_resume",
    "trusted_pieces",
]

FORMAT = b"bitswarm resume"
VERSION = 1
_MAX_RESUME_BYTES = 64 * 2**20  # far above any real torrent's resume data

_T = TypeVar("_T")


class ResumeError(BitswarmError):
    """A fast-resume file that is malformed or belongs to another torrent."""


@dataclass(frozen=True, slots=True)
class ResumeData:
    """One torrent's saved state. `have` is a bitfield in BEP 3 wire layout."""

    info_hash: bytes
    have: bytes
    num_pieces: int
    files: list[tuple[int, int] | None]
    uploaded: int
    downloaded: int
    saved_at: int
    name: str = ""  # "" in files written before these were recorded
    save_path: str = ""
    piece_layers: dict[bytes, bytes] = field(default_factory=dict)  # pure v2, fetched ones


def encode_resume(data: ResumeData) -> bytes:
    """Serialise resume data (bencoded)."""
    files: list[BValue] = [[] if f is None else [f[0], f[1]] for f in data.files]
    top: dict[bytes, BValue] = {
        b"file-format": FORMAT,
        b"file-version": VERSION,
        b"info-hash": data.info_hash,
        b"num-pieces": data.num_pieces,
        b"pieces": data.have,
        b"files": files,
        b"uploaded": data.uploaded,
        b"downloaded": data.downloaded,
        b"saved-at": data.saved_at,
        b"name": data.name.encode("utf-8", "surrogateescape"),
        b"save-path": data.save_path.encode("utf-8", "surrogateescape"),
    }
    if data.piece_layers:
        top[b"piece-layers"] = dict(data.piece_layers)
    return bencode(top)


def decode_resume(raw: bytes, *, info_hash: bytes, num_pieces: int) -> ResumeData:
    """Parse and validate resume data saved for the torrent `info_hash`.

    Raises:
        ResumeError: not bencoding, wrong format or version, another torrent's data, another
            piece count, a bitfield of the wrong size or with spare bits set, or a field of
            the wrong type or sign.
    """
    data = read_resume(raw)
    if data.info_hash != info_hash:
        raise ResumeError("resume data belongs to another torrent")
    if data.num_pieces != num_pieces:
        raise ResumeError("resume data has another number of pieces")
    return data


def read_resume(raw: bytes) -> ResumeData:
    """Parse and validate resume data of whichever torrent it names.

    Raises:
        ResumeError: as `decode_resume`, but for the checks against a known torrent.
    """
    if len(raw) > _MAX_RESUME_BYTES:
        raise ResumeError(f"resume data of {len(raw)} bytes is too large")
    try:
        top = bdecode(raw)
    except BencodeError as exc:
        raise ResumeError(f"resume data is not valid bencoding: {exc}") from exc
    if not isinstance(top, dict):
        raise ResumeError("resume data is not a dictionary")
    if _field(top, b"file-format", bytes) != FORMAT:
        raise ResumeError("not a bitswarm resume file")
    version = _count(top, b"file-version")
    if version != VERSION:
        raise ResumeError(f"resume file version {version} is not supported")
    info_hash = _field(top, b"info-hash", bytes)
    if len(info_hash) not in (20, 32):
        raise ResumeError("resume info-hash is neither 20 nor 32 bytes")
    num_pieces = _count(top, b"num-pieces")
    have = _field(top, b"pieces", bytes)
    try:
        Bitfield.from_bytes(have, num_pieces)
    except RemoteProtocolError as exc:
        raise ResumeError(f"resume piece bitfield: {exc}") from exc
    files: list[tuple[int, int] | None] = []
    for entry in _field(top, b"files", list):
        if entry == []:
            files.append(None)
        elif (
            isinstance(entry, list)
            and len(entry) == 2
            and all(isinstance(v, int) and v >= 0 for v in entry)
        ):
            size, mtime = entry
            assert isinstance(size, int) and isinstance(mtime, int)
            files.append((size, mtime))
        else:
            raise ResumeError("resume file entry is not [size, mtime] or []")
    return ResumeData(
        info_hash=info_hash,
        have=have,
        num_pieces=num_pieces,
        files=files,
        uploaded=_count(top, b"uploaded"),
        downloaded=_count(top, b"downloaded"),
        saved_at=_count(top, b"saved-at"),
        name=_text(top, b"name"),
        save_path=_text(top, b"save-path"),
        piece_layers=_layers(top),
    )


def _layers(top: dict[bytes, BValue]) -> dict[bytes, bytes]:
    """The optional "piece-layers": 32-byte roots to non-empty multiples of 32 bytes."""
    value = top.get(b"piece-layers", {})
    if not isinstance(value, dict):
        raise ResumeError("resume field piece-layers is not a dictionary")
    out: dict[bytes, bytes] = {}
    for root, layer in value.items():
        if len(root) != 32 or not isinstance(layer, bytes) or not layer or len(layer) % 32:
            raise ResumeError("resume piece-layers entry is not a root and its 32-byte hashes")
        out[root] = layer
    return out


def trusted_pieces(
    resume: ResumeData, current_files: Sequence[tuple[int, int] | None]
) -> Bitfield | None:
    """The saved pieces, if every file's (size, mtime_ns) is exactly as saved; else None.

    None means "recheck": some file was changed, truncated, replaced, created or removed
    since the resume data was written, so its pieces may no longer be what we had.
    """
    if len(current_files) != len(resume.files):
        return None
    if any(now != then for now, then in zip(current_files, resume.files, strict=True)):
        return None
    try:
        return Bitfield.from_bytes(resume.have, resume.num_pieces)
    except RemoteProtocolError:
        return None  # a ResumeData built by hand with a bad bitfield: recheck


def _field(top: dict[bytes, BValue], key: bytes, kind: type[_T]) -> _T:
    value = top.get(key)
    if not isinstance(value, kind):
        raise ResumeError(f"resume field {key.decode()} missing or not a {kind.__name__}")
    return value


def _text(top: dict[bytes, BValue], key: bytes) -> str:
    """An optional UTF-8 field ("" when absent); undecodable bytes survive as surrogates."""
    if key not in top:
        return ""
    return _field(top, key, bytes).decode("utf-8", "surrogateescape")


def _count(top: dict[bytes, BValue], key: bytes) -> int:
    value = _field(top, key, int)
    if value < 0:
        raise ResumeError(f"resume field {key.decode()} is negative")
    return value

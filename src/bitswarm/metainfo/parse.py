"""Parse and validate .torrent files (BEP 3, 12, 19, 27, 47, 52) into the frozen model.

The input is hostile until proven otherwise: every rule failure raises `MetainfoError` (or
its `UnsafePathError`) with a message naming the offending entry, and nothing else escapes.
Third-party torrents with small encoding faults (unsorted keys, bytes that are not UTF-8, a
v1 piece length that is not a power of two) are accepted and the fault is recorded in
``issues``; the info-hashes are always taken over the original bytes of ``info`` (BEP 3
"info_hash", BEP 52 "infohash": never a decode-encode round trip on invalid data).
"""

from __future__ import annotations

import hashlib

from ..bencode import BValue, Decoded, decode_spans
from ..errors import BencodeError, MetainfoError
from .files_v1 import check_unique_paths, name_of, text_of, v1_files
from .model import FileEntry, InfoDict, InfoHashes, Metainfo
from .paths import decode_text, safe_relative_path
from .piece_length import check_piece_length
from .v2 import MAX_TOTAL_LENGTH, aligned_offsets, check_piece_layers, walk_file_tree

__all__ = ["MAX_PIECES", "parse_info_dict", "parse_torrent"]

TRAILING_WHITESPACE = b" \t\r\n"
MAX_PIECES = 1 << 21  # libtorrent's default limit (load_torrent_limits::max_pieces)


def parse_torrent(data: bytes) -> Metainfo:
    """Parse a whole .torrent file.

    Raises:
        MetainfoError: the bytes are not a usable torrent; the message says why.
        UnsafePathError: (a MetainfoError) a file path would leave the download folder.
    """
    # A final newline (or other ASCII whitespace) after the top-level dictionary, as some
    # tools save .torrent files, is ignored: libtorrent and anacrolix decode one value and
    # ignore whatever follows. Other trailing bytes stay refused (a damaged or concatenated
    # file). Spans count from the start, so the info-hash is over the same exact bytes.
    body = bytes(data).rstrip(TRAILING_WHITESPACE)
    decoded = _decode(body, "not a torrent file")
    top = decoded.value
    if not isinstance(top, dict):
        raise MetainfoError("not a torrent file: the top level is not a dictionary")
    if b"info" not in top:
        raise MetainfoError("the torrent has no info dictionary")
    start, end = decoded.spans[b"info"]
    info_issues: list[str] = []
    info = _build_info(top[b"info"], body[start:end], info_issues)
    issues = [*decoded.issues, *info_issues]
    if len(body) != len(data):
        issues.append(f"{len(data) - len(body)} bytes of whitespace after the torrent's end")
    layers: dict[bytes, bytes] = {}
    if info.has_v2:
        layers = check_piece_layers(top.get(b"piece layers"), info.files, info.piece_length, issues)
    creation_date = top.get(b"creation date")
    if creation_date is not None and not isinstance(creation_date, int):
        issues.append("creation date is not an integer; it was ignored")
        creation_date = None
    return Metainfo(
        info=info,
        announce_tiers=_announce_tiers(top, issues),
        web_seeds=_web_seeds(top.get(b"url-list"), issues),
        piece_layers=layers,
        comment=text_of(top, b"comment", issues),
        created_by=text_of(top, b"created by", issues),
        creation_date=creation_date,
        issues=tuple(issues),
    )


def parse_info_dict(raw: bytes) -> InfoDict:
    """Parse a bare info dictionary, e.g. metadata received over BEP 9.

    ``piece layers`` are not part of it, so v2 piece layers are not checked here.

    Raises:
        MetainfoError: as `parse_torrent`.
    """
    decoded = _decode(raw, "the metadata is not bencoded")
    issues = list(decoded.issues)
    return _build_info(decoded.value, bytes(raw), issues)


def _decode(data: bytes, what: str) -> Decoded:
    try:
        return decode_spans(data, strict=False)
    except BencodeError as e:
        raise MetainfoError(f"{what}: {e}") from e


def _build_info(info: BValue, raw: bytes, issues: list[str]) -> InfoDict:
    if not isinstance(info, dict):
        raise MetainfoError("the info value is not a dictionary")
    # BEP 52: check the meta version before anything else, so a newer format says so.
    version = info.get(b"meta version")
    if version is not None and not isinstance(version, int):
        raise MetainfoError("meta version is not an integer")
    if isinstance(version, int) and version > 2:
        raise MetainfoError(
            f"this torrent uses meta version {version}, newer than bitswarm understands (2)"
        )
    if version is not None and version != 2:
        raise MetainfoError(f"meta version {version} is not valid (2 is the only one assigned)")
    is_v2 = version == 2
    has_v1 = b"pieces" in info

    name = name_of(info, issues)
    piece_length = info.get(b"piece length")
    if not isinstance(piece_length, int):
        raise MetainfoError("the info dictionary has no integer piece length")
    check_piece_length(piece_length, v2=is_v2, issues=issues)

    if not is_v2:
        if b"file tree" in info:
            issues.append("a file tree without meta version 2 was ignored")
        if not has_v1:
            raise MetainfoError("the info dictionary has no pieces")
    elif b"file tree" not in info:
        raise MetainfoError("meta version 2 but the info dictionary has no file tree")
    elif not has_v1 and (b"files" in info or b"length" in info):
        issues.append("a v1 file list without pieces was ignored")

    files: list[FileEntry]
    single = False
    if has_v1:
        files, single = v1_files(info, name, issues)
    if is_v2:
        # A hybrid's v1 part decides whether it is one file or a folder: a folder holding
        # a single file has a one-entry file tree too (libtorrent makes such torrents).
        files2, single2 = _v2_files(
            info[b"file tree"], name, piece_length, issues, single if has_v1 else None
        )
        if has_v1:
            files = _merge_hybrid(files, files2)
        else:
            files, single = _with_alignment_pads(files2, name, single2), single2
    check_unique_paths(files)

    total = sum(f.length for f in files if not f.is_pad)
    space = max(f.end for f in files if f.length) if total else 0
    if total == 0:
        raise MetainfoError("the torrent holds no data (every file is empty)")
    if space > MAX_TOTAL_LENGTH:
        raise MetainfoError(f"the torrent claims {space} bytes, more than 2**53")
    num_pieces = -(-space // piece_length)
    if num_pieces > MAX_PIECES:
        raise MetainfoError(
            f"the torrent has {num_pieces} pieces, more than the {MAX_PIECES} bitswarm accepts"
        )
    pieces = b""
    if has_v1:
        pieces = _check_pieces(info[b"pieces"], num_pieces, space, piece_length)

    private_value = info.get(b"private")
    if private_value is not None and not isinstance(private_value, int):
        issues.append("private is not an integer; the torrent is treated as public")
    source = text_of(info, b"source", issues)
    hashes = InfoHashes(
        v1=hashlib.sha1(raw).digest() if has_v1 else None,
        v2=hashlib.sha256(raw).digest() if is_v2 else None,
    )
    return InfoDict(
        name=name,
        piece_length=piece_length,
        files=tuple(files),
        total_length=total,
        pieces=pieces,
        num_pieces=num_pieces,
        piece_space_length=space,
        private=private_value == 1,
        meta_version=2 if is_v2 else 1,
        single_file=single,
        raw=raw,
        info_hashes=hashes,
        source=source,
        issues=tuple(issues),
    )


def _check_pieces(pieces: BValue, num_pieces: int, space: int, piece_length: int) -> bytes:
    if not isinstance(pieces, bytes):
        raise MetainfoError("pieces is not a byte string")
    if len(pieces) % 20:
        raise MetainfoError(f"pieces is {len(pieces)} bytes long, not a multiple of 20")
    have = len(pieces) // 20
    if have != num_pieces:
        raise MetainfoError(
            f"pieces has {have} hashes but {_size(space)} at {_size(piece_length)} pieces "
            f"needs {num_pieces}"
        )
    return pieces


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def _v2_files(
    tree: BValue, name: str, piece_length: int, issues: list[str], single: bool | None
) -> tuple[list[FileEntry], bool]:
    """The file tree's files. A pure v2 torrent whose tree is one file at the root is a
    single-file torrent (as libtorrent reads it); a hybrid follows its v1 part (`single`)."""
    found = walk_file_tree(tree, issues)
    if single is None:
        single = len(found) == 1 and len(found[0].path) == 1
    offsets = aligned_offsets([f.length for f in found], piece_length)
    out: list[FileEntry] = []
    for f, offset in zip(found, offsets, strict=True):
        parts: list[str] = []
        for raw in f.path:
            text, replaced = decode_text(raw)
            if replaced:
                issues.append(f"file tree name {text!r} is not UTF-8; bad bytes became U+FFFD")
            parts.append(text)
        path = safe_relative_path(parts if single else [name, *parts])
        out.append(
            FileEntry(
                path=path,
                length=f.length,
                offset=offset,
                is_pad="p" in f.attr,
                attr=f.attr,
                pieces_root=f.pieces_root,
            )
        )
    return out, single


def _with_alignment_pads(files: list[FileEntry], name: str, single: bool) -> list[FileEntry]:
    """A pure v2 torrent's files with the gaps before piece-aligned files made explicit as
    BEP 47 padding files, as a hybrid torrent lists them (and as libtorrent lays out a v2
    torrent internally): the piece space, storage and peers then see one file list for v1,
    hybrid and v2 alike. A gap goes right before the next non-empty file."""
    out: list[FileEntry] = []
    end = 0  # where the data so far ends in the piece space
    for f in files:
        if f.length and f.offset > end:
            gap = f.offset - end
            prefix = () if single else (name,)
            out.append(
                FileEntry(path=(*prefix, ".pad", str(gap)), length=gap, offset=end,
                          is_pad=True, attr="p")
            )  # fmt: skip
        out.append(f)
        if f.length:
            end = f.end
    return out


def _merge_hybrid(v1: list[FileEntry], v2: list[FileEntry]) -> list[FileEntry]:
    """Check that a hybrid's two file lists describe the same aligned files (BEP 52,
    "Upgrade Path") and return the v1 list with the v2 roots filled in."""
    real = [f for f in v1 if not f.is_pad]
    if len(real) != len(v2):
        raise MetainfoError(
            f"hybrid torrent: the v1 file list has {len(real)} files but the file tree has "
            f"{len(v2)}"
        )
    roots: dict[int, FileEntry] = {}
    for i, (a, b) in enumerate(zip(real, v2, strict=True)):
        if a.path != b.path:
            raise MetainfoError(
                f"hybrid torrent: file {i} is {'/'.join(a.path)!r} in the v1 list but "
                f"{'/'.join(b.path)!r} in the file tree"
            )
        if a.length != b.length:
            raise MetainfoError(
                f"hybrid torrent: file {'/'.join(a.path)!r} has {a.length} bytes in the v1 list "
                f"but {b.length} in the file tree"
            )
        if a.length and a.offset != b.offset:
            raise MetainfoError(
                f"hybrid torrent: file {'/'.join(a.path)!r} starts at byte {a.offset} of the "
                f"v1 pieces, not on the piece boundary ({b.offset}) the v2 layout needs"
            )
        roots[id(a)] = b
    merged: list[FileEntry] = []
    for f in v1:
        twin = roots.get(id(f))
        if twin is None:
            merged.append(f)
            continue
        merged.append(
            FileEntry(
                path=f.path,
                length=f.length,
                offset=f.offset,
                is_pad=False,
                attr=f.attr or twin.attr,
                pieces_root=twin.pieces_root,
                symlink_path=f.symlink_path,
            )
        )
    return merged


def _announce_tiers(top: dict[bytes, BValue], issues: list[str]) -> tuple[tuple[str, ...], ...]:
    """BEP 12 tiers from ``announce-list``, with ``announce`` as a last tier if it is new."""
    seen: set[str] = set()
    tiers: list[tuple[str, ...]] = []
    announce_list = top.get(b"announce-list")
    if announce_list is not None and not isinstance(announce_list, list):
        issues.append("announce-list is not a list; it was ignored")
        announce_list = None
    for tier in announce_list or ():
        if isinstance(tier, bytes):
            issues.append("announce-list holds a bare URL instead of a tier; it became a tier")
            tier = [tier]
        if not isinstance(tier, list):
            issues.append("announce-list holds a tier that is not a list; it was ignored")
            continue
        urls: list[str] = []
        for url in tier:
            text = _url(url, issues)
            if text is not None and text not in seen:
                seen.add(text)
                urls.append(text)
        if urls:
            tiers.append(tuple(urls))
    announce = _url(top.get(b"announce"), issues)
    if announce is not None and announce not in seen:
        tiers.append((announce,))
    return tuple(tiers)


def _web_seeds(value: BValue | None, issues: list[str]) -> tuple[str, ...]:
    """BEP 19 ``url-list``: one URL or a list of them."""
    items = [value] if isinstance(value, bytes) else value
    if items is None:
        return ()
    if not isinstance(items, list):
        issues.append("url-list is neither a URL nor a list; it was ignored")
        return ()
    out: list[str] = []
    for item in items:
        text = _url(item, issues)
        if text is not None and text not in out:
            out.append(text)
    return tuple(out)


def _url(value: BValue | None, issues: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, bytes):
        issues.append("a tracker or web seed URL is not a string; it was ignored")
        return None
    text, replaced = decode_text(value)
    text = text.strip()
    if replaced:
        issues.append(f"URL {text!r} is not UTF-8; it was ignored")
        return None
    return text or None

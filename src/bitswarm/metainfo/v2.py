"""BEP 52 metadata: the ``file tree`` of a v2 info dictionary and the ``piece layers``.

`walk_file_tree` turns the nested tree into a flat, ordered list of files and enforces the
tree's own rules (BEP 52, "File tree layout"): the root is not a file, a file node has no
siblings, lengths are non-negative, and every non-empty file carries a 32-byte ``pieces
root``. `aligned_offsets` places the files in the piece space as BEP 52 ("piece length")
aligns them. `check_piece_layers` verifies the layers outside the info dictionary against
the roots inside it, as BEP 52 ("infohash") requires before a torrent is trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..bencode import BValue
from ..errors import MetainfoError
from ..merkle import HASH_SIZE, root_from_piece_layer, split_layer
from .model import FileEntry

__all__ = [
    "MAX_FILES",
    "MAX_TOTAL_LENGTH",
    "TreeFile",
    "aligned_offsets",
    "check_piece_layers",
    "walk_file_tree",
]

MAX_FILES = 1 << 20  # more files than this is no real torrent, only a memory attack
MAX_TOTAL_LENGTH = 2**53  # bytes; beyond this offsets stop being exact in floats elsewhere


@dataclass(frozen=True, slots=True)
class TreeFile:
    """One file found in a ``file tree``, before path sanitising.

    Attributes:
        path: the raw key bytes from the tree's root down to the file.
        length: size in bytes.
        pieces_root: the 32-byte merkle root, None for an empty file.
        attr: BEP 47 attribute letters, "" when absent.
    """

    path: tuple[bytes, ...]
    length: int
    pieces_root: bytes | None
    attr: str


def _show(path: Sequence[bytes]) -> str:
    return "/".join(p.decode("utf-8", "replace") for p in path) or "(root)"


def walk_file_tree(tree: BValue, issues: list[str]) -> list[TreeFile]:
    """Flatten a ``file tree`` in its (key-sorted) order.

    Raises:
        MetainfoError: a malformed tree, with the path of the offending entry.
    """
    if not isinstance(tree, dict):
        raise MetainfoError("file tree is not a dictionary")
    if b"" in tree:
        raise MetainfoError("the file tree's root is itself a file (BEP 52 forbids it)")
    out: list[TreeFile] = []
    _walk(tree, (), out, issues)
    if not out:
        raise MetainfoError("the file tree lists no files")
    return out


def _walk(
    node: dict[bytes, BValue], path: tuple[bytes, ...], out: list[TreeFile], issues: list[str]
) -> None:
    if not node and path:
        issues.append(f"file tree folder {_show(path)!r} is empty")
    for key, child in node.items():
        here = (*path, key)
        if key == b"":
            raise MetainfoError(f"file tree entry {_show(path)!r} is a file with siblings")
        if not isinstance(child, dict):
            raise MetainfoError(f"file tree entry {_show(here)!r} is not a dictionary")
        if b"" in child:
            if len(child) != 1:
                raise MetainfoError(f"file tree entry {_show(here)!r} is a file with siblings")
            out.append(_file(child[b""], here, issues))
            if len(out) > MAX_FILES:
                raise MetainfoError(f"the torrent lists more than {MAX_FILES} files")
        else:
            _walk(child, here, out, issues)


def _file(props: BValue, path: tuple[bytes, ...], issues: list[str]) -> TreeFile:
    shown = _show(path)
    if not isinstance(props, dict):
        raise MetainfoError(f"file tree entry {shown!r} has properties that are not a dictionary")
    length = props.get(b"length")
    if not isinstance(length, int):
        raise MetainfoError(f"file {shown!r} in the file tree has no integer length")
    if length < 0:
        raise MetainfoError(f"file {shown!r} has a negative length ({length})")
    if length > MAX_TOTAL_LENGTH:
        raise MetainfoError(f"file {shown!r} claims {length} bytes, more than 2**53")
    attr = props.get(b"attr", b"")
    attr_text = attr.decode("ascii", "replace") if isinstance(attr, bytes) else ""
    root = props.get(b"pieces root")
    if length == 0:
        if root is not None:
            issues.append(f"empty file {shown!r} has a pieces root, which was ignored")
        return TreeFile(path, 0, None, attr_text)
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise MetainfoError(f"file {shown!r} has no 32-byte pieces root")
    if root == bytes(HASH_SIZE):  # no data hashes to zeros: nothing could ever verify
        raise MetainfoError(f"file {shown!r} has a pieces root of 32 zero bytes")
    return TreeFile(path, length, root, attr_text)


def aligned_offsets(lengths: Sequence[int], piece_length: int) -> list[int]:
    """Each file's start in the piece space when every file starts on a piece boundary.

    BEP 52 only needs non-empty files aligned; empty ones are aligned too, as libtorrent
    places them after its internal padding, so pure v2 and hybrid layouts agree.
    """
    offsets: list[int] = []
    pos = 0
    for length in lengths:
        pos = -(-pos // piece_length) * piece_length
        offsets.append(pos)
        pos += length
    return offsets


def check_piece_layers(
    layers: BValue | None, files: Sequence[FileEntry], piece_length: int, issues: list[str]
) -> dict[bytes, bytes]:
    """Validate ``piece layers`` against the files' roots and keep the entries in use.

    BEP 52: one entry per file larger than one piece, of ``ceil(length / piece_length)``
    hashes, whose merkle completion is the file's ``pieces root``.

    Raises:
        MetainfoError: a missing, short, long or mismatching layer, naming the file.
    """
    if layers is None:
        layers = {}
    if not isinstance(layers, dict):
        raise MetainfoError("piece layers is not a dictionary")
    kept: dict[bytes, bytes] = {}
    for f in files:
        if f.length <= piece_length or f.pieces_root is None:
            continue
        root = f.pieces_root
        if root in kept:
            continue  # identical files share a root and a layer
        layer = layers.get(root)
        shown = "/".join(f.path)
        if layer is None:
            raise MetainfoError(
                f"piece layers has no entry for file {shown!r} (pieces root {root.hex()[:16]}…)"
            )
        if not isinstance(layer, bytes):
            raise MetainfoError(f"the piece layer of file {shown!r} is not a byte string")
        need = -(-f.length // piece_length)
        if len(layer) != need * HASH_SIZE:
            raise MetainfoError(
                f"the piece layer of file {shown!r} has {len(layer) // HASH_SIZE} hashes but "
                f"{f.length} bytes at {piece_length}-byte pieces need {need}"
            )
        if root_from_piece_layer(split_layer(layer), piece_length) != root:
            raise MetainfoError(f"the piece layer of file {shown!r} does not match its pieces root")
        kept[root] = layer
    unused = [k for k in layers if k not in kept]
    if unused:
        issues.append(f"piece layers has {len(unused)} entries for no file; they were ignored")
    return kept

"""Creating torrents: create -> parse round trips, piece hashes checked against the files
themselves, deterministic output, refusals, and one cross-check with libtorrent."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

import pytest

from bitswarm import merkle
from bitswarm.bencode import bdecode, bencode
from bitswarm.create import TorrentCreationError, Version, create_torrent
from bitswarm.errors import MetainfoError, UnsafePathError
from bitswarm.metainfo import Metainfo, parse_torrent

PL = 16384
VERSIONS: tuple[Version, ...] = ("v1", "v2", "hybrid")


def payload(n: int, seed: str) -> bytes:
    return hashlib.shake_256(seed.encode()).digest(n)


def make_tree(root: Path, files: dict[str, int]) -> dict[str, bytes]:
    out = {}
    for rel, size in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(payload(size, rel))
        out[rel] = p.read_bytes()
    return out


def check_against_disk(m: Metainfo, base: Path) -> None:
    """Every v1 and v2 hash of `m` must match the bytes on disk under `base`."""
    info = m.info
    stream = b""
    for f in info.files:
        stream += bytes(f.length) if f.is_pad else (base.joinpath(*f.path)).read_bytes()
    assert len(stream) == info.piece_space_length or not info.has_v1
    for i in range(info.num_pieces):
        if info.has_v1:
            piece = stream[i * info.piece_length : i * info.piece_length + info.piece_size(i)]
            assert hashlib.sha1(piece).digest() == info.piece_hash(i), f"v1 piece {i}"
        if info.has_v2:
            f = info.files[info.v2_file_for_piece(i)]
            data = base.joinpath(*f.path).read_bytes()
            start = i * info.piece_length - f.offset
            chunk = data[start : start + info.piece_length]
            assert len(chunk) == info.piece_data_size(i)
            whole = f.length <= info.piece_length
            got = merkle.hash_piece_v2(chunk, info.piece_length, whole_file=whole)
            assert got == m.piece_hash_v2(i), f"v2 piece {i}"
    for f in info.files:
        if info.has_v2 and not f.is_pad:
            data = base.joinpath(*f.path).read_bytes()
            expected = merkle.file_root(merkle.block_hashes(data)) if data else None
            assert f.pieces_root == expected


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "sizes",
    [
        {"one.bin": PL},  # exactly one piece
        {"one.bin": PL + 1},  # one piece and one byte
        {"one.bin": 5 * PL + 100},
        {"a.bin": 40_000, "empty": 0, "sub/b.bin": PL, "sub/c.bin": PL + 1, "z": 1},
    ],
)
def test_round_trip(tmp_path: Path, version: Version, sizes: dict[str, int]) -> None:
    src = tmp_path / "src"
    make_tree(src, sizes)
    single = len(sizes) == 1
    target = src / "one.bin" if single else src
    data = create_torrent(
        target,
        version=version,
        piece_length=PL,
        creation_date=None,
    )
    m = parse_torrent(data)
    info = m.info
    assert m.issues == ()
    assert (info.has_v1, info.has_v2) == (version != "v2", version != "v1")
    assert info.single_file == single
    assert info.name == ("one.bin" if single else "src")
    real = [f for f in info.files if not f.is_pad]
    expected_paths = [("one.bin",)] if single else [("src", *k.split("/")) for k in sorted(sizes)]
    assert [f.path for f in real] == expected_paths
    assert [f.length for f in real] == [sizes[k] for k in sorted(sizes)]
    assert info.total_length == sum(sizes.values())
    if version != "v1":  # every non-empty file starts on a piece boundary
        assert all(f.offset % PL == 0 for f in real)
    if version == "hybrid":  # pads between files only, never after the last
        assert not info.files[-1].is_pad
        assert all(f.attr == "p" and f.path[-2] == ".pad" for f in info.files if f.is_pad)
    check_against_disk(m, tmp_path / "src" if single else tmp_path)
    assert data == bencode(bdecode(data))  # canonical: sorted keys, re-encodes to itself


def test_top_level_fields(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    data = create_torrent(
        tmp_path / "f",
        trackers=[["http://a/1", "http://a/2"], "udp://b:80"],
        private=True,
        web_seeds="http://seed/",
        comment="hello",
        created_by="me",
        creation_date=1_700_000_000,
    )
    m = parse_torrent(data)
    top = bdecode(data)
    assert isinstance(top, dict) and top[b"announce"] == b"http://a/1"
    assert m.announce_tiers == (("http://a/1", "http://a/2"), ("udp://b:80",))
    assert m.info.private and m.web_seeds == ("http://seed/",)
    assert (m.comment, m.created_by, m.creation_date) == ("hello", "me", 1_700_000_000)
    bare = bdecode(create_torrent(tmp_path / "f", created_by=None))
    assert isinstance(bare, dict) and isinstance(bare[b"info"], dict)
    assert set(bare) == {b"info", b"creation date"} and b"private" not in bare[b"info"]
    assert isinstance(bare[b"creation date"], int) and bare[b"creation date"] > 1_700_000_000


def test_workers_and_progress(tmp_path: Path) -> None:
    make_tree(tmp_path / "d", {f"f{n}": 7000 * n for n in range(12)})
    calls: list[tuple[int, int]] = []
    one = create_torrent(
        tmp_path / "d",
        version="hybrid",
        piece_length=PL,
        workers=1,
        creation_date=None,
        progress=lambda d, t: calls.append((d, t)),
    )
    four = create_torrent(
        tmp_path / "d", version="hybrid", piece_length=PL, workers=4, creation_date=None
    )
    assert one == four  # deterministic whatever the thread count
    total = sum(7000 * n for n in range(12))
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))
    assert len(calls) > 10


def test_automatic_piece_length(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"z" * (40 * PL))
    assert parse_torrent(create_torrent(tmp_path / "f")).info.piece_length == PL
    with pytest.raises(TorrentCreationError, match="not a power of two"):
        create_torrent(tmp_path / "f", piece_length=3 * PL)
    with pytest.raises(TorrentCreationError, match="not a power of two"):
        create_torrent(tmp_path / "f", piece_length=8192)


def test_hidden_files_and_inside_symlinks_are_included(tmp_path: Path) -> None:
    src = tmp_path / "d"
    make_tree(src, {".hidden": 10, "real/file": 20})
    (src / "link").symlink_to(src / "real" / "file")
    (src / "dirlink").symlink_to(src / "real")
    m = parse_torrent(create_torrent(src))
    assert [f.path for f in m.info.files] == [
        ("d", ".hidden"),
        ("d", "dirlink", "file"),
        ("d", "link"),
        ("d", "real", "file"),
    ]
    assert [f.length for f in m.info.files] == [10, 20, 20, 20]


def test_refusals(tmp_path: Path) -> None:
    src = tmp_path / "d"
    make_tree(src, {"ok": 10})
    outside = tmp_path / "secret"
    outside.write_bytes(b"s")
    (src / "escape").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symlink 'escape' points outside the folder"):
        create_torrent(src)
    (src / "escape").unlink()
    (src / "loop").symlink_to(src)
    with pytest.raises(TorrentCreationError, match="symlink loop"):
        create_torrent(src)
    (src / "loop").unlink()
    os.mkfifo(src / "fifo")
    with pytest.raises(TorrentCreationError, match="not a regular file"):
        create_torrent(src)
    (src / "fifo").unlink()
    (src / "CON").write_bytes(b"c")
    with pytest.raises(UnsafePathError, match="reserved Windows device name"):
        create_torrent(src)
    (src / "CON").unlink()
    (src / "back\\slash").write_bytes(b"c")
    with pytest.raises(UnsafePathError, match="separator"):
        create_torrent(src)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(TorrentCreationError, match="holds no files"):
        create_torrent(tmp_path / "empty_dir")
    (tmp_path / "empty_dir" / "zero").write_bytes(b"")
    with pytest.raises(TorrentCreationError, match="holds no data"):
        create_torrent(tmp_path / "empty_dir", version="hybrid")
    with pytest.raises(TorrentCreationError, match="cannot read"):
        create_torrent(tmp_path / "missing")
    with pytest.raises(MetainfoError, match="unknown torrent version"):
        create_torrent(src / "ok", version="v3")  # type: ignore[arg-type]  # a bad version on purpose


def test_libtorrent_agrees(tmp_path: Path) -> None:
    """Our v1 and v2 info-hashes and file layout, as libtorrent computes them."""
    try:
        import libtorrent as lt
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("libtorrent is not installed")
    make_tree(tmp_path / "d", {"a.bin": 40_000, "empty": 0, "sub/b.bin": 70_000, "z": 1000})
    for version in VERSIONS:
        data = create_torrent(tmp_path / "d", version=version, piece_length=PL)
        m = parse_torrent(data)
        ti = lt.torrent_info(data)
        hashes = ti.info_hashes()
        assert hashes.has_v1() == m.info.has_v1 and hashes.has_v2() == m.info.has_v2
        if m.info.has_v1:
            assert hashes.v1.to_bytes() == m.info_hashes.v1
        if m.info.has_v2:
            assert hashes.v2.to_bytes() == m.info_hashes.v2
        layout = ti.layout() if hasattr(ti, "layout") else None
        fs = layout if layout is not None else ti.orig_files()
        theirs = [
            (fs.file_path(i), fs.file_size(i), fs.file_offset(i))
            for i in range(fs.num_files())
            if not fs.file_flags(i) & fs.flag_pad_file
        ]
        ours = [("/".join(f.path), f.length, f.offset) for f in m.info.files if not f.is_pad]
        assert theirs == ours, version
        assert ti.num_pieces() == m.info.num_pieces


def test_hybrid_of_a_folder_with_one_file_keeps_the_folder(tmp_path: Path) -> None:
    """A one-file folder gives a one-entry file tree; the v1 part says it is a folder."""
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "f.bin").write_bytes(b"x" * 40_000)
    meta = parse_torrent(create_torrent(folder, version="hybrid", piece_length=16384))
    assert [f.path for f in meta.info.files if not f.is_pad] == [("content", "f.bin")]
    assert not meta.info.single_file
    v2 = parse_torrent(create_torrent(folder, version="v2", piece_length=16384))
    assert [f.path for f in v2.info.files] == [("f.bin",)]  # as libtorrent reads it

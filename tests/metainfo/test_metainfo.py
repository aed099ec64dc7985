"""Parsing valid torrents: v1 single/multi-file, BEP 47 pads, v2, hybrid, trackers, known vectors.

The torrents here are built by hand in the test (bencode plus hashlib), independently of
`bitswarm.create`, so parser and creator cannot agree on a shared mistake.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any, cast

import pytest

from bitswarm.bencode import bencode
from bitswarm.errors import LocalProtocolError, MetainfoError
from bitswarm.magnet import Magnet
from bitswarm.metainfo import (
    FileEntry,
    InfoHashes,
    auto_piece_length,
    parse_info_dict,
    parse_torrent,
)

KIB16 = 16 * 1024


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def payload(n: int, seed: str = "x") -> bytes:
    return hashlib.shake_256(seed.encode()).digest(n)


def v1_pieces(data: bytes, piece_length: int) -> bytes:
    return b"".join(sha1(data[i : i + piece_length]) for i in range(0, len(data), piece_length))


def naive_root(leaves: list[bytes], width: int) -> bytes:
    layer = leaves + [bytes(32)] * (width - len(leaves))
    while len(layer) > 1:
        layer = [sha256(layer[i] + layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def v2_file(data: bytes, piece_length: int) -> tuple[bytes, bytes | None]:
    """(pieces root, piece layer or None) of one file, from the BEP 52 text."""
    leaves = [sha256(data[i : i + KIB16]) for i in range(0, len(data), KIB16)]
    width = 1
    while width < len(leaves):
        width *= 2
    root = naive_root(leaves, width)
    if len(data) <= piece_length:
        return root, None
    per = piece_length // KIB16
    layer = b"".join(naive_root(leaves[i : i + per], per) for i in range(0, len(leaves), per))
    return root, layer


def hybrid_torrent(
    name: str, files: list[tuple[list[str], bytes]], piece_length: int, **top: Any
) -> bytes:
    """A multi-file hybrid torrent with pads between files, built from first principles."""
    v1_files: list[dict[str, Any]] = []
    tree: dict[str, Any] = {}
    layers: dict[bytes, bytes] = {}
    stream = b""
    for n, (path, data) in enumerate(files):
        v1_files.append({"length": len(data), "path": path})
        stream += data
        pad = -len(data) % piece_length
        if pad and n < len(files) - 1:
            v1_files.append({"attr": "p", "length": pad, "path": [".pad", str(pad)]})
            stream += bytes(pad)
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        props: dict[str, Any] = {"length": len(data)}
        if data:
            root, layer = v2_file(data, piece_length)
            props["pieces root"] = root
            if layer is not None:
                layers[root] = layer
        node[""] = props
    info = {
        "name": name,
        "piece length": piece_length,
        "meta version": 2,
        "file tree": tree,
        "files": v1_files,
        "pieces": v1_pieces(stream, piece_length),
    }
    return bencode({"info": info, "piece layers": layers, **top})


def test_v1_single_file_known_vector() -> None:
    data = payload(100_000)
    info = {
        "name": "file.bin",
        "piece length": 32768,
        "length": len(data),
        "pieces": v1_pieces(data, 32768),
    }
    raw_info = bencode(info)
    m = parse_torrent(
        bencode(
            {
                "announce": "http://t/a",
                "info": info,
                "comment": "hi",
                "created by": "hand",
                "creation date": 1700000000,
            }
        )
    )
    i = m.info
    assert i.info_hashes == InfoHashes(sha1(raw_info), None)
    assert i.info_hashes.wire == sha1(raw_info)
    assert i.info_hashes.hex_v1 == sha1(raw_info).hex() and i.info_hashes.hex_v2 is None
    assert i.raw == raw_info
    assert (i.name, i.single_file, i.total_length, i.num_pieces) == ("file.bin", True, 100_000, 4)
    assert i.is_v1 and i.has_v1 and not (i.is_v2 or i.is_hybrid or i.has_v2)
    assert i.meta_version == 1 and not i.private
    assert i.files == (FileEntry(("file.bin",), 100_000, 0),)
    assert [i.piece_size(n) for n in range(4)] == [32768, 32768, 32768, 100_000 - 3 * 32768]
    assert i.piece_hash(3) == sha1(data[3 * 32768 :])
    assert i.piece_range_for_file(0) == range(4)
    assert (m.comment, m.created_by, m.creation_date) == ("hi", "hand", 1700000000)
    assert m.announce_tiers == (("http://t/a",),) and m.issues == ()
    assert parse_info_dict(raw_info) == i
    with pytest.raises(IndexError):
        i.piece_hash(4)
    with pytest.raises(IndexError):
        i.piece_size(-1)


def test_v1_multi_file_with_bep47_pad() -> None:
    a, b = payload(20_000, "a"), payload(5_000, "b")
    pad = 32768 - len(a)
    stream = a + bytes(pad) + b
    info = {
        "name": "folder",
        "piece length": 32768,
        "pieces": v1_pieces(stream, 32768),
        "private": 1,
        "files": [
            {"length": len(a), "path": ["sub", "a.bin"], "attr": "x"},
            {"length": pad, "attr": "p"},  # BEP 47: a pad may omit its path
            {"length": 0, "path": ["empty"]},
            {"length": len(b), "path": ["b.txt"]},
        ],
    }
    i = parse_torrent(bencode({"info": info})).info
    assert [f.path for f in i.files] == [
        ("folder", "sub", "a.bin"),
        ("folder", ".pad", str(pad)),
        ("folder", "empty"),
        ("folder", "b.txt"),
    ]
    assert [f.offset for f in i.files] == [0, 20_000, 32768, 32768]
    assert [f.is_pad for f in i.files] == [False, True, False, False]
    assert i.files[0].attr == "x"
    assert i.private and not i.single_file
    assert i.total_length == 25_000 and i.piece_space_length == 32768 + 5000
    assert i.num_pieces == 2
    assert i.piece_size(0) == 32768 and i.piece_data_size(0) == 20_000
    assert i.piece_data_size(1) == 5000
    assert list(i.files_in_piece(0)) == [0, 1] and list(i.files_in_piece(1)) == [3]
    assert i.piece_range_for_file(2) == range(0) and i.piece_range_for_file(3) == range(1, 2)
    with pytest.raises(LocalProtocolError):
        i.v2_file_for_piece(0)


def test_pieces_spanning_files() -> None:
    files = [payload(10_000, str(n)) for n in range(5)]
    info = {
        "name": "d",
        "piece length": 16384,
        "pieces": v1_pieces(b"".join(files), 16384),
        "files": [{"length": 10_000, "path": [f"{n}"]} for n in range(5)],
    }
    i = parse_torrent(bencode({"info": info})).info
    assert i.num_pieces == 4
    assert list(i.files_in_piece(1)) == [1, 2, 3]  # bytes 16384..32767
    assert i.piece_range_for_file(1) == range(2)
    assert i.piece_hash(1) == sha1(b"".join(files)[16384:32768])


def test_v2_single_and_multi_file() -> None:
    pl = 32768
    big, small = payload(100_000, "big"), payload(1000, "small")
    big_root, big_layer = v2_file(big, pl)
    small_root, _ = v2_file(small, pl)
    assert big_layer is not None
    info = {
        "name": "v2dir",
        "piece length": pl,
        "meta version": 2,
        "file tree": {
            "a": {"big.bin": {"": {"length": len(big), "pieces root": big_root}}},
            "e": {"": {"length": 0}},
            "z.txt": {"": {"length": len(small), "pieces root": small_root}},
        },
    }
    raw = bencode(info)
    m = parse_torrent(bencode({"info": info, "piece layers": {big_root: big_layer}}))
    i = m.info
    assert i.info_hashes == InfoHashes(None, sha256(raw))
    assert i.info_hashes.wire == sha256(raw)[:20]  # BEP 52: truncated for the wire
    assert i.is_v2 and not i.has_v1 and i.meta_version == 2 and i.pieces == b""
    assert [(f.path, f.length, f.offset) for f in i.files] == [
        (("v2dir", "a", "big.bin"), 100_000, 0),
        (("v2dir", "e"), 0, 131072),  # aligned like every file, as libtorrent places it
        # the gap before an aligned file is an explicit BEP 47 pad, as in a hybrid (issue 13)
        (("v2dir", ".pad", "31072"), 31072, 100_000),
        (("v2dir", "z.txt"), 1000, 131072),
    ]
    assert [f.is_pad for f in i.files] == [False, False, True, False]
    assert i.files[0].pieces_root == big_root and i.files[1].pieces_root is None
    assert i.num_pieces == 5 and i.piece_space_length == 131072 + 1000
    assert i.piece_size(3) == pl and i.piece_data_size(3) == 100_000 - 3 * pl
    assert m.piece_layers == {big_root: big_layer}
    assert m.piece_hash_v2(1) == big_layer[32:64]
    assert m.piece_hash_v2(4) == small_root
    assert i.v2_file_for_piece(4) == 3
    with pytest.raises(LocalProtocolError):
        i.piece_hash(0)
    # the same info dict as BEP 9 metadata: no piece layers needed
    assert parse_info_dict(raw) == i

    single = {
        "name": "one",
        "piece length": pl,
        "meta version": 2,
        "file tree": {"one": {"": {"length": 1000, "pieces root": small_root}}},
    }
    s = parse_torrent(bencode({"info": single})).info
    assert s.single_file and s.files[0].path == ("one",)


def test_hybrid_torrent() -> None:
    files = [
        (["a.bin"], payload(40_000, "a")),
        (["d", "b.bin"], payload(70_000, "b")),
        (["z"], payload(10, "z")),
    ]
    m = parse_torrent(hybrid_torrent("h", files, 16384, announce="http://t/"))
    i = m.info
    assert i.is_hybrid and i.has_v1 and i.has_v2 and i.meta_version == 2
    assert [(f.path, f.offset, f.is_pad) for f in i.files] == [
        (("h", "a.bin"), 0, False),
        (("h", ".pad", "9152"), 40_000, True),
        (("h", "d", "b.bin"), 49152, False),
        (("h", ".pad", "11920"), 119_152, True),
        (("h", "z"), 131072, False),
    ]
    assert all(f.pieces_root is not None for f in i.files if not f.is_pad)
    assert i.num_pieces == 9
    assert i.v2_file_for_piece(2) == 0 and i.v2_file_for_piece(3) == 2
    raw = i.raw
    assert i.info_hashes == InfoHashes(sha1(raw), sha256(raw))
    assert i.info_hashes.wire == sha1(raw)


def test_trackers_web_seeds_and_text_fields() -> None:
    info = {"name": "n", "piece length": 16384, "length": 1, "pieces": sha1(b"x")}
    top = {
        "info": info,
        "announce": "http://solo/announce",
        "announce-list": [["http://a/1", "http://a/2"], [], ["udp://b:80", "http://a/1"]],
        "url-list": "http://seed/",
        "comment": "plain",
        "comment.utf-8": "caf\u00e9",
    }
    m = parse_torrent(bencode(top))
    # BEP 12 tiers first; the lone announce is new, so it is kept as a last tier
    assert m.announce_tiers == (
        ("http://a/1", "http://a/2"),
        ("udp://b:80",),
        ("http://solo/announce",),
    )
    assert m.trackers == ("http://a/1", "http://a/2", "udp://b:80", "http://solo/announce")
    assert m.web_seeds == ("http://seed/",)
    assert m.comment == "caf\u00e9"
    top["announce"] = "http://a/2"
    top["url-list"] = ["http://s1/", "", "http://s2/"]
    m = parse_torrent(bencode(top))
    assert m.announce_tiers[-1] == ("udp://b:80",) and m.web_seeds == ("http://s1/", "http://s2/")
    magnet = Magnet.from_metainfo(m)
    assert magnet.info_hashes == m.info_hashes and magnet.display_name == "n"
    assert magnet.trackers == m.trackers and magnet.web_seeds == m.web_seeds


def test_name_utf8_key_is_preferred_and_bad_utf8_is_replaced_and_recorded() -> None:
    info = {"name": b"caf\xe9", "piece length": 16384, "length": 1, "pieces": sha1(b"x")}
    m = parse_torrent(bencode({"info": info}))
    assert m.info.name == "caf\ufffd" and m.info.files[0].path == ("caf\ufffd",)
    assert any("not UTF-8" in issue for issue in m.issues)
    info["name.utf-8"] = "caf\u00e9"
    assert parse_torrent(bencode({"info": info})).info.name == "caf\u00e9"


def test_unsorted_keys_are_tolerated_and_hashed_as_found() -> None:
    """BEP 52 "infohash": hash the original bytes, never a re-encoding of invalid data."""
    pieces = sha1(b"x")
    raw_info = b"d6:lengthi1e4:name1:n6:pieces20:" + pieces + b"12:piece lengthi16384ee"
    assert raw_info != bencode({"length": 1, "name": "n", "pieces": pieces, "piece length": 16384})
    raw_info_unsorted = raw_info.replace(b"6:lengthi1e4:name1:n", b"4:name1:n6:lengthi1e")
    data = b"d4:info" + raw_info_unsorted + b"e"
    m = parse_torrent(data)
    assert m.info.info_hashes.v1 == sha1(raw_info_unsorted)
    assert m.info.raw == raw_info_unsorted
    assert any("unsorted" in issue for issue in m.issues)


def test_odd_v1_piece_length_is_accepted_with_an_issue() -> None:
    data = payload(50_000)
    info = {
        "name": "n",
        "piece length": 30_000,
        "length": len(data),
        "pieces": v1_pieces(data, 30_000),
    }
    m = parse_torrent(bencode({"info": info}))
    assert m.info.num_pieces == 2
    assert any("not a power of two" in issue for issue in m.issues)


def test_tolerated_oddities_are_recorded() -> None:
    info = {
        "name": "n",
        "piece length": 16384,
        "length": 1,
        "pieces": sha1(b"x"),
        "private": b"yes",
        "file tree": {},
    }
    top = {
        "info": info,
        "creation date": b"today",
        "announce-list": ["http://bare/"],
        "url-list": 7,
    }
    m = parse_torrent(bencode(top))
    assert not m.info.private and m.creation_date is None and m.web_seeds == ()
    assert m.announce_tiers == (("http://bare/",),)
    assert len(m.issues) == 5, m.issues


def test_auto_piece_length() -> None:
    """libtorrent's table (issue 12 replaced the 1000-2000-pieces rule that gave a 17 MiB
    folder 16 KiB pieces); tests/interop/test_piece_size_interop.py checks it against
    libtorrent and mktorrent themselves."""
    assert auto_piece_length(0) == 16384
    assert auto_piece_length(1) == 16384
    assert auto_piece_length(2_684_355) == 16384  # libtorrent's first threshold, inclusive
    assert auto_piece_length(2_684_356) == 32768
    assert auto_piece_length(17 << 20) == 64 << 10  # 17 MiB -> 272 pieces
    assert auto_piece_length(1 << 30) == 512 << 10  # 1 GiB -> 2048 pieces
    assert auto_piece_length(100 << 30) == 4 << 20
    assert auto_piece_length(1 << 40) == 16 << 20  # capped at 16 MiB
    assert auto_piece_length(1 << 50) == 16 << 20
    previous = 0
    for size in (1 << k for k in range(10, 50)):
        length = auto_piece_length(size)
        assert length >= previous and length & (length - 1) == 0
        previous = length
    with pytest.raises(ValueError):
        auto_piece_length(-1)


def test_libtorrent_made_hybrid_with_tail_padding_parses(tmp_path: Path) -> None:
    """libtorrent 2.1 pads after the last file too; that layout must be accepted."""
    try:
        import libtorrent as lt
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("libtorrent is not installed")
    (tmp_path / "lt").mkdir()
    (tmp_path / "lt" / "a").write_bytes(payload(40_000, "a"))
    (tmp_path / "lt" / "b").write_bytes(payload(3_000, "b"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fs = lt.file_storage()
        lt.add_files(fs, str(tmp_path / "lt"))
        ct = lt.create_torrent(fs, 16384)
        lt.set_piece_hashes(ct, str(tmp_path))
        # libtorrent's stub leaves BEP 47's `attr` out of a file's dictionary type
        entry = cast("dict[bytes, Any]", ct.generate())
    assert entry[b"info"][b"files"][-1][b"attr"] == b"p"  # the tail pad is there
    data = lt.bencode(entry)
    m = parse_torrent(data)
    ti = lt.torrent_info(data)
    assert m.info.is_hybrid
    assert m.info.info_hashes.v1 == ti.info_hashes().v1.to_bytes()
    assert m.info.info_hashes.v2 == ti.info_hashes().v2.to_bytes()
    assert [f.offset for f in m.info.files if not f.is_pad] == [0, 49152]
    assert m.info.num_pieces == ti.num_pieces() == 4
    assert m.info.piece_space_length == 65536  # the tail pad is part of the v1 piece space


def test_metainfo_error_is_the_only_failure() -> None:
    with pytest.raises(MetainfoError, match="not a torrent file"):
        parse_torrent(b"this is not bencode")


def test_torrent_file_bytes_round_trip_keeps_the_info_hash(tmp_path: Path) -> None:
    from bitswarm.create import create_torrent
    from bitswarm.metainfo.encode import torrent_file_bytes

    (tmp_path / "f").write_bytes(b"z" * 70_000)
    data = create_torrent(
        tmp_path / "f",
        version="hybrid",
        trackers=[["http://a/x"], ["udp://b:1"]],
        web_seeds=["http://w/"],
        comment="hi",
    )
    meta = parse_torrent(data)
    again = parse_torrent(torrent_file_bytes(meta))
    assert again.info_hashes == meta.info_hashes
    assert again.announce_tiers == meta.announce_tiers
    assert again.web_seeds == meta.web_seeds
    assert torrent_file_bytes(again) == torrent_file_bytes(meta)

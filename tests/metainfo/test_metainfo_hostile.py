"""Hostile torrents: every one is refused with a MetainfoError a person can act on.

Also the property that matters most for a parser of strangers' bytes: whatever the input,
`parse_torrent` returns or raises MetainfoError (a BitswarmError) — never anything else.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitswarm import merkle
from bitswarm.bencode import bdecode, bencode
from bitswarm.errors import BitswarmError, MetainfoError, UnsafePathError
from bitswarm.metainfo import parse_info_dict, parse_torrent, safe_relative_path

KIB16 = 16 * 1024


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def multi(paths: list[list[Any]], name: Any = "t", length: int = 10) -> bytes:
    files = [{"length": length, "path": p} for p in paths]
    total = length * len(paths)
    pieces = bytes(20) * max(1, -(-total // 16384))
    return bencode(
        {"info": {"name": name, "piece length": 16384, "pieces": pieces, "files": files}}
    )


def single(**info: Any) -> bytes:
    base: dict[str, Any] = {"name": "n", "piece length": 16384, "length": 10, "pieces": bytes(20)}
    base.update(info)
    return bencode({"info": {k: v for k, v in base.items() if v is not None}})


def v2(tree: Any, piece_length: int = 16384, piece_layers: Any = None) -> bytes:
    """A v2 torrent of `tree`; `piece_layers`, when given, of any shape, is its top-level
    "piece layers" value."""
    info = {"name": "t", "piece length": piece_length, "meta version": 2, "file tree": tree}
    top = {} if piece_layers is None else {"piece layers": piece_layers}
    return bencode({"info": info, **top})


def decoded(data: bytes) -> dict[bytes, Any]:
    """The top-level dictionary of a torrent, to be reshaped at will."""
    top = bdecode(data)
    assert isinstance(top, dict)
    return top


def leaf(length: int, root: bytes | None = b"r" * 32) -> dict[str, Any]:
    props: dict[str, Any] = {"length": length}
    if root is not None:
        props["pieces root"] = root
    return {"": props}


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        (["..", "etc", "passwd"], "'..'"),
        (["a", "..", "..", "x"], "'..'"),
        (["/etc/passwd"], "separator"),
        (["", "etc", "passwd"], "empty component"),
        (["C:\\x"], "separator"),
        (["C:"], "drive letter"),
        (["c:evil"], "drive letter"),
        (["CON"], "reserved Windows device name"),
        (["con.txt"], "reserved Windows device name"),
        (["dir", "Lpt1.log"], "reserved Windows device name"),
        (["AUX .txt"], "reserved Windows device name"),
        (["COM\u00b9"], "reserved Windows device name"),
        (["."], "'.'"),
        (["a", ""], "empty component"),
        (["a\x00b"], "NUL"),
        (["bell\x07"], "control character"),
        (["..."], "made only of dots and spaces"),
        ([" "], "made only of dots and spaces"),
        (["a\\..\\..\\b"], "separator"),
    ],
)
def test_unsafe_paths_are_refused(path: list[str], needle: str) -> None:
    with pytest.raises(UnsafePathError, match="unsafe file path") as info:
        parse_torrent(multi([path]))
    assert needle in str(info.value)
    assert repr("/".join(["t", *path])) in str(info.value)  # names the whole path


def test_unsafe_name_and_v2_key_and_symlink_target() -> None:
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        parse_torrent(single(name=".."))
    with pytest.raises(UnsafePathError, match="separator"):
        parse_torrent(multi([["ok"]], name="../evil"))
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        parse_torrent(v2({"..": {"x": leaf(10)}}))
    with pytest.raises(UnsafePathError, match="NUL"):
        parse_torrent(v2({"a\x00": leaf(10), "b": leaf(10)}))
    info = decoded(multi([["link"]]))
    info[b"info"][b"files"][0].update({b"attr": b"l", b"symlink path": [b"..", b"..", b"etc"]})
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        parse_torrent(bencode(info))


def test_overlong_utf8_dots_do_not_become_a_traversal() -> None:
    """BEP 52: sanitise after normalising overlong UTF-8; a strict decoder refuses them."""
    overlong_dot = b"\xc0\xae"
    m = parse_torrent(multi([[overlong_dot * 2, b"x"]]))
    assert m.info.files[0].path == ("t", "\ufffd" * 4, "x")
    assert any("not UTF-8" in issue for issue in m.issues)


def test_safe_relative_path_accepts_ordinary_names() -> None:
    ok = ["Star Wars: A New Hope (1977)", "a.b.c", ".hidden", "console.log", "COM10", "ä ö"]
    assert safe_relative_path(ok) == tuple(ok)
    assert safe_relative_path([b"caf\xc3\xa9", b"x\xff"]) == ("caf\u00e9", "x\ufffd")
    with pytest.raises(UnsafePathError, match="empty"):
        safe_relative_path([])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"i3e", "top level is not a dictionary"),
        (b"d3:fooi1ee", "no info dictionary"),
        (bencode({"info": [1]}), "info value is not a dictionary"),
        (single(name=None), "has no name"),
        (single(name=""), "has no name"),
        (single(**{"piece length": None}), "no integer piece length"),
        (single(**{"piece length": b"16384"}), "no integer piece length"),
        (single(**{"piece length": 0}), "must be positive, not 0"),
        (single(**{"piece length": -16384}), "must be positive"),
        (single(**{"piece length": 2**40}), "larger than the 512 MiB"),
        (single(pieces=None), "has no pieces"),
        (single(pieces=5), "pieces is not a byte string"),
        (single(pieces=bytes(21)), "21 bytes long, not a multiple of 20"),
        (single(length=None), "neither length nor files"),
        (single(length=-5), "negative length (-5)"),
        (single(length=b"10"), "no integer length"),
        (single(length=2**60), "more than 2**53"),
        (single(length=0, pieces=b""), "holds no data"),
        (single(files=[]), "both length and files"),
        (single(length=None, files=[]), "files list is empty"),
        (single(length=None, files={}), "files is not a list"),
        (single(length=None, files=[5]), "file 0 is not a dictionary"),
        (multi([["a"], ["b"], ["c"], ["d"]], length=-5), "file 0 has a negative length (-5)"),
        (single(length=None, files=[{"length": 1}]), "file 0 has no path"),
        (single(length=None, files=[{"length": 1, "path": "a/b"}]), "file 0 has no path"),
        (single(length=None, files=[{"length": 1, "path": [1]}]), "file 0 has no path"),
        (
            single(length=None, files=[{"length": 2**52, "path": [str(n)]} for n in range(3)]),
            "more than 2**53",
        ),
        (multi([["a"], ["a"]]), "two files have the same path 't/a'"),
        (multi([["a"], ["a", "b"]]), "'t/a' is both a file and a folder"),
        (multi([["a", "b"], ["a"]]), "'t/a' is both a file and a folder"),
        (single(**{"meta version": 3}), "meta version 3, newer than bitswarm understands"),
        (single(**{"meta version": 1}), "meta version 1 is not valid"),
        (single(**{"meta version": b"2"}), "meta version is not an integer"),
        (single(**{"meta version": 2}), "no file tree"),
    ],
)
def test_malformed_torrents_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(MetainfoError) as info:
        parse_torrent(data)
    assert message in str(info.value)


def test_piece_count_must_match_the_length() -> None:
    data = single(length=1 << 20, pieces=bytes(60), **{"piece length": 256 * 1024})
    with pytest.raises(MetainfoError) as info:
        parse_torrent(data)
    assert str(info.value) == "pieces has 3 hashes but 1 MiB at 256 KiB pieces needs 4"
    with pytest.raises(MetainfoError, match="has 2 hashes but 10 bytes at 16 KiB pieces needs 1"):
        parse_torrent(single(pieces=bytes(40)))


def test_deep_nesting_and_garbage_are_metainfo_errors() -> None:
    deep = b"d4:info" + b"l" * 100 + b"e" * 100 + b"e"
    with pytest.raises(MetainfoError, match="nesting deeper"):
        parse_torrent(deep)
    with pytest.raises(MetainfoError, match="not a torrent file"):
        parse_torrent(b"d4:infod")
    with pytest.raises(MetainfoError, match="metadata is not bencoded"):
        parse_info_dict(b"\xff")


def test_too_many_pieces_are_refused() -> None:
    # a tiny v2 torrent claiming 2**50 bytes at 16 KiB pieces would need a 2**36-bit bitfield
    with pytest.raises(MetainfoError, match="pieces, more than the 2097152"):
        parse_info_dict(
            bencode(
                {
                    "name": "t",
                    "piece length": 16384,
                    "meta version": 2,
                    "file tree": {"f": leaf(2**50)},
                }
            )
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (v2({"f": leaf(10)}, piece_length=8192), "not a power of two of at least 16 KiB"),
        (v2({"f": leaf(10)}, piece_length=3 * 16384), "not a power of two of at least 16 KiB"),
        (v2([]), "file tree is not a dictionary"),
        (v2({}), "lists no files"),
        (v2({"": {"length": 1}}), "root is itself a file"),
        (v2({"f": {"": {"length": 1}, "x": leaf(1)}}), "'f' is a file with siblings"),
        (v2({"f": 5}), "'f' is not a dictionary"),
        (v2({"f": {"": 5}}), "properties that are not a dictionary"),
        (v2({"d": {"f": {"": {}}}}), "'d/f' in the file tree has no integer length"),
        (v2({"f": leaf(-5)}), "negative length (-5)"),
        (v2({"f": leaf(10, None)}), "'f' has no 32-byte pieces root"),
        (v2({"f": leaf(10, b"short")}), "no 32-byte pieces root"),
        (v2({"f": leaf(0, None)}), "holds no data"),
        (v2({"f": leaf(40000)}), "piece layers has no entry for file 'f'"),
        (
            v2({"f": leaf(40000)}, piece_layers={b"r" * 32: bytes(32)}),
            "has 1 hashes but 40000 bytes at 16384-byte pieces need 3",
        ),
        (
            v2({"f": leaf(40000)}, piece_layers={b"r" * 32: bytes(96)}),
            "does not match its pieces root",
        ),
        (v2({"f": leaf(40000)}, piece_layers={b"r" * 32: 5}), "not a byte string"),
        (v2({"f": leaf(40000)}, piece_layers=[]), "piece layers is not a dictionary"),
    ],
)
def test_malformed_v2_torrents_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(MetainfoError) as info:
        parse_torrent(data)
    assert message in str(info.value)


def _hybrid(v1_files: list[dict[str, Any]], tree: dict[str, Any], pieces: int) -> bytes:
    info = {
        "name": "h",
        "piece length": 16384,
        "meta version": 2,
        "file tree": tree,
        "files": v1_files,
        "pieces": bytes(20 * pieces),
    }
    return bencode({"info": info})


def test_hybrid_lists_must_agree() -> None:
    tree = {"a": leaf(100), "b": leaf(100)}
    aligned = [
        {"length": 100, "path": ["a"]},
        {"length": 16284, "path": [".pad", "16284"], "attr": "p"},
        {"length": 100, "path": ["b"]},
    ]
    assert parse_torrent(_hybrid(aligned, tree, 2)).info.is_hybrid
    misaligned = r"'h/b' starts at byte 100 of the v1 pieces, not on the piece boundary \(16384\)"
    with pytest.raises(MetainfoError, match=misaligned):
        parse_torrent(_hybrid([aligned[0], aligned[2]], tree, 1))
    with pytest.raises(MetainfoError, match="v1 file list has 1 files but the file tree has 2"):
        parse_torrent(_hybrid(aligned[:2], tree, 1))
    renamed = [*aligned[:2], {"length": 100, "path": ["c"]}]
    with pytest.raises(MetainfoError, match="file 1 is 'h/c' in the v1 list but 'h/b'"):
        parse_torrent(_hybrid(renamed, tree, 2))
    longer = [*aligned[:2], {"length": 99, "path": ["b"]}]
    with pytest.raises(MetainfoError, match="'h/b' has 99 bytes in the v1 list but 100"):
        parse_torrent(_hybrid(longer, tree, 2))


# -- properties --------------------------------------------------------------------------


def _valid_torrents() -> list[bytes]:
    data = hashlib.shake_256(b"p").digest(50_000)
    v1 = bencode(
        {
            "announce": "http://t/",
            "announce-list": [["http://t/"], ["udp://u:1"]],
            "url-list": ["http://w/"],
            "info": {
                "name": "n",
                "piece length": 16384,
                "files": [
                    {"length": 30_000, "path": ["a", "b"]},
                    {"length": 20_000, "path": ["c"]},
                ],
                "pieces": b"".join(sha1(data[i : i + 16384]) for i in range(0, 50_000, 16384)),
            },
        }
    )
    tree_leaf = hashlib.sha256(data[:100]).digest()
    v2t = v2({"f": leaf(100, tree_leaf), "g": leaf(0, None)})
    # a hybrid: "a" (40000 bytes, 3 pieces, so a piece layer) + pad + "b" (100 bytes)
    a, b = data[:40_000], data[40_000:40_100]
    a_leaves = merkle.block_hashes(a)
    layer = merkle.piece_layer(a_leaves, 16384)
    stream = a + bytes(9152) + b
    hybrid = bencode(
        {
            "piece layers": {merkle.file_root(a_leaves): b"".join(layer)},
            "info": {
                "name": "h",
                "piece length": 16384,
                "meta version": 2,
                "file tree": {
                    "a": leaf(40_000, merkle.file_root(a_leaves)),
                    "b": leaf(100, merkle.file_root(merkle.block_hashes(b))),
                },
                "files": [
                    {"length": 40_000, "path": ["a"]},
                    {"length": 9152, "path": [".pad", "9152"], "attr": "p"},
                    {"length": 100, "path": ["b"]},
                ],
                "pieces": b"".join(
                    sha1(stream[i : i + 16384]) for i in range(0, len(stream), 16384)
                ),
            },
        }
    )
    return [v1, v2t, hybrid]


VALID = _valid_torrents()


def test_the_mutation_seeds_are_valid() -> None:
    kinds = [parse_torrent(data).info for data in VALID]
    assert [(i.is_v1, i.is_v2, i.is_hybrid) for i in kinds] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]


def _only_bitswarm_errors(data: bytes) -> None:
    try:
        parse_torrent(data)
    except BitswarmError as e:
        assert isinstance(e, MetainfoError)
        assert str(e)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_metainfo_error(data: bytes) -> None:
    _only_bitswarm_errors(data)
    try:
        parse_info_dict(data)
    except MetainfoError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(VALID),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(["flip", "insert", "delete"]),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_byte_mutations_of_valid_torrents_only_raise_metainfo_error(
    seed: bytes, edits: list[tuple[int, str, int]]
) -> None:
    data = bytearray(seed)
    for pos, op, byte in edits:
        pos %= len(data) + 1
        if op == "insert":
            data[pos:pos] = bytes([byte])
        elif pos < len(data):
            if op == "flip":
                data[pos] ^= byte or 1
            else:
                del data[pos]
    _only_bitswarm_errors(bytes(data))


_META_KEYS = [
    b"",
    b"length",
    b"path",
    b"name",
    b"attr",
    b"pieces root",
    b"files",
    b"piece length",
    b"x",
]


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # a named function: hypothesis reads a lambda's source to check that it recurses,
    # and cannot read a lambda that spans several lines
    return st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(_META_KEYS), inner, max_size=4
    )


_bvalues = st.recursive(
    st.integers(-(2**63), 2**63 - 1)
    | st.binary(max_size=40)
    | st.sampled_from([b"..", b"", b"CON", b"p", b"/", bytes(32)]),
    _extend,
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None)
@given(seed=st.sampled_from(VALID), choice=st.integers(0, 10_000), replacement=_bvalues)
def test_structural_mutations_only_raise_metainfo_error(
    seed: bytes, choice: int, replacement: Any
) -> None:
    """Replace one node of a valid torrent's tree with an arbitrary bencode value."""
    tree = copy.deepcopy(decoded(seed))
    paths = _paths(tree)[1:]
    path = paths[choice % len(paths)]
    node: Any = tree
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = replacement
    _only_bitswarm_errors(bencode(tree))

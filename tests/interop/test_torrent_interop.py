"""Torrent files across implementations nobody here wrote: libtorrent, Transmission, mktorrent.

* Torrents bitswarm creates (v1 single/multi-file, v2, hybrid, private, several tracker
  tiers) load in libtorrent with the same info-hashes (v1, v2), files, sizes, offsets,
  pad files, pieces roots and trackers, and v1 ones in ``transmission-show``.
* Torrents libtorrent creates (v1, v1 with pad files, v2, hybrid with and without tail
  padding) and mktorrent creates (piece length, private, source, tiers, web seeds) parse
  in bitswarm to the same info-hashes and files.
* With the same content and piece length, bitswarm and libtorrent write byte-identical
  info dictionaries (create.py follows libtorrent's canonical layout on purpose).

Every comparison is also checked against the file system, so two tools cannot agree on
a wrong answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pytest

from bitswarm.bencode import bdecode, bencode
from bitswarm.create import create_torrent
from bitswarm.metainfo import Metainfo, parse_torrent

from .tools import PIECE_LENGTH, Content, program_version, run

pytestmark = pytest.mark.interop

Version = Literal["v1", "v2", "hybrid"]
FileRow = tuple[str, int, int, bool]  # path, size, offset in the piece space, is padding


# --- what each tool says a torrent is ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """A torrent as one implementation understood it."""

    v1: bytes | None
    v2: bytes | None
    name: str
    piece_length: int
    num_pieces: int
    private: bool
    files: list[FileRow]
    roots: dict[str, bytes]  # non-empty v2 files: path -> pieces root
    executable: set[str]
    tiers: tuple[tuple[str, ...], ...]
    web_seeds: tuple[str, ...] = ()

    def data_files(self) -> list[FileRow]:
        return [row for row in self.files if not row[3]]


def libtorrent_view(lt: ModuleType, data: bytes) -> View:
    params = lt.load_torrent_buffer(data)
    ti = params.ti
    hashes = ti.info_hashes()
    fs = ti.layout()
    files: list[FileRow] = []
    roots: dict[str, bytes] = {}
    executable: set[str] = set()
    for i in range(fs.num_files()):
        path = fs.file_path(i)
        flags = int(fs.file_flags(i))
        is_pad = bool(flags & int(fs.flag_pad_file))
        files.append((path, fs.file_size(i), fs.file_offset(i), is_pad))
        if flags & int(fs.flag_executable):
            executable.add(path)
        if hashes.has_v2() and not fs.root(i).is_all_zeros():
            roots[path] = fs.root(i).to_bytes()
    tiers: dict[int, list[str]] = {}
    for url, tier in zip(params.trackers, params.tracker_tiers, strict=True):
        tiers.setdefault(tier, []).append(url)
    return View(
        v1=hashes.v1.to_bytes() if hashes.has_v1() else None,
        v2=hashes.v2.to_bytes() if hashes.has_v2() else None,
        name=ti.name(),
        piece_length=ti.piece_length(),
        num_pieces=ti.num_pieces(),
        private=ti.priv(),
        files=files,
        roots=roots,
        executable=executable,
        tiers=tuple(tuple(tiers[t]) for t in sorted(tiers)),
        web_seeds=tuple(params.url_seeds),
    )


def bitswarm_view(m: Metainfo) -> View:
    info = m.info
    return View(
        v1=info.info_hashes.v1,
        v2=info.info_hashes.v2,
        name=info.name,
        piece_length=info.piece_length,
        num_pieces=info.num_pieces,
        private=info.private,
        files=[("/".join(f.path), f.length, f.offset, f.is_pad) for f in info.files],
        roots={"/".join(f.path): f.pieces_root for f in info.files if f.pieces_root},
        executable={"/".join(f.path) for f in info.files if "x" in f.attr},
        tiers=m.announce_tiers,
        web_seeds=m.web_seeds,
    )


def assert_same_torrent(ours: View, theirs: View, *, v2_only: bool) -> None:
    assert (ours.v1, ours.v2) == (theirs.v1, theirs.v2)
    assert ours.name == theirs.name
    assert ours.piece_length == theirs.piece_length
    assert ours.num_pieces == theirs.num_pieces
    assert ours.private == theirs.private
    assert ours.roots == theirs.roots
    assert ours.executable == theirs.executable
    assert ours.tiers == theirs.tiers
    assert ours.web_seeds == theirs.web_seeds
    if v2_only:
        # A v2 torrent has no pad files; libtorrent shows the alignment gaps as pads.
        assert ours.data_files() == theirs.data_files()
    else:
        assert ours.files == theirs.files


@dataclass(frozen=True, slots=True)
class TransmissionView:
    name: str
    hash: str
    private: bool
    tiers: tuple[tuple[str, ...], ...]
    files: list[tuple[str, float, float]]  # path, size in bytes as shown, rounding slack
    web_seeds: tuple[str, ...] = field(default=())


_UNITS = {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}


def transmission_view(stdout: str) -> TransmissionView:
    """Parse transmission-show's report (sections GENERAL, TRACKERS, WEBSEEDS, FILES)."""
    section = ""
    general: dict[str, str] = {}
    tiers: list[list[str]] = []
    seeds: list[str] = []
    files: list[tuple[str, float, float]] = []
    for line in stdout.splitlines():
        if line and not line.startswith(" ") and line.isupper():
            section = line
            continue
        text = line.strip()
        if not text:
            continue
        if section == "GENERAL" and ": " in text:
            key, _, value = text.partition(": ")
            general[key] = value
        elif section == "TRACKERS":
            if re.fullmatch(r"Tier #\d+", text):
                tiers.append([])
            else:
                tiers[-1].append(text)
        elif section == "WEBSEEDS":
            seeds.append(text)
        elif section == "FILES":
            m = re.fullmatch(r"(.+) \((\d+(?:\.(\d+))?) (B|kB|MB|GB|TB)\)", text)
            assert m is not None, f"unexpected file line {line!r}"
            unit = _UNITS[m.group(4)]
            decimals = len(m.group(3) or "")
            files.append((m.group(1), float(m.group(2)) * unit, unit * 10.0**-decimals))
    return TransmissionView(
        name=general["Name"],
        hash=general["Hash"],
        private=general["Privacy"] == "Private torrent",
        tiers=tuple(tuple(t) for t in tiers),
        files=files,
        web_seeds=tuple(seeds),
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- bitswarm -> libtorrent, transmission ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Make:
    multi: bool
    version: Version
    private: bool = False
    trackers: Sequence[Sequence[str]] = (("http://tracker.test:6969/announce",),)
    web_seeds: Sequence[str] = ()


SEVERAL_TIERS = (
    ("http://a.test/announce", "http://b.test/announce"),
    ("udp://c.test:6969/announce",),
    ("https://d.test/announce",),
)
BITSWARM_CASES = {
    "v1-single": Make(multi=False, version="v1"),
    "v1-multi": Make(multi=True, version="v1"),
    "v2-multi": Make(multi=True, version="v2"),
    "hybrid-single": Make(multi=False, version="hybrid"),
    "hybrid-multi": Make(multi=True, version="hybrid"),
    "v1-private": Make(multi=True, version="v1", private=True),
    "hybrid-private": Make(multi=True, version="hybrid", private=True),
    "v1-trackers": Make(
        multi=True, version="v1", trackers=SEVERAL_TIERS, web_seeds=("http://ws.test/",)
    ),
    "hybrid-trackers": Make(multi=True, version="hybrid", trackers=SEVERAL_TIERS),
}
V1_CASES = [name for name, make in BITSWARM_CASES.items() if make.version == "v1"]


def make_with_bitswarm(content: Content, make: Make) -> bytes:
    return create_torrent(
        content.folder if make.multi else content.single,
        trackers=make.trackers,
        piece_length=PIECE_LENGTH,
        version=make.version,
        private=make.private,
        web_seeds=make.web_seeds,
    )


@pytest.mark.parametrize("case", list(BITSWARM_CASES))
def test_bitswarm_torrents_load_in_libtorrent(lt: ModuleType, content: Content, case: str) -> None:
    make = BITSWARM_CASES[case]
    data = make_with_bitswarm(content, make)
    ours = bitswarm_view(parse_torrent(data))
    theirs = libtorrent_view(lt, data)
    assert_same_torrent(ours, theirs, v2_only=make.version == "v2")

    # ... and both agree with what was asked for and with the file system.
    assert (ours.v1 is not None, ours.v2 is not None) == {
        "v1": (True, False),
        "v2": (False, True),
        "hybrid": (True, True),
    }[make.version]
    assert ours.private == make.private
    assert ours.tiers == tuple(tuple(t) for t in make.trackers)
    assert sorted((p, n) for p, n, _, _ in ours.data_files()) == content.expected_files(
        multi=make.multi
    )
    assert theirs.executable == set()  # bitswarm records no attributes (create.py)
    if make.version != "v1":
        pads = [row for row in theirs.files[:-1] if row[3]]
        if make.multi:
            assert pads, "expected pad files between v2-aligned files"
        for path, size, offset, _pad in theirs.data_files():
            if size:
                assert offset % PIECE_LENGTH == 0, f"{path} is not piece-aligned"


@pytest.mark.parametrize("case", V1_CASES)
def test_bitswarm_v1_torrents_in_transmission_show(
    transmission_show: str, content: Content, tmp_path: Path, case: str
) -> None:
    make = BITSWARM_CASES[case]
    data = make_with_bitswarm(content, make)
    m = parse_torrent(data)
    proc = run([transmission_show, _write(tmp_path / "t.torrent", data)])
    assert proc.returncode == 0, proc.stderr
    shown = transmission_view(proc.stdout)
    assert m.info.info_hashes.v1 is not None
    assert shown.hash == m.info.info_hashes.v1.hex()
    assert shown.name == m.info.name
    assert shown.private == make.private
    assert shown.tiers == tuple(tuple(t) for t in make.trackers)
    assert shown.web_seeds == tuple(make.web_seeds)
    expected = [("/".join(f.path), f.length) for f in m.info.files]
    assert [path for path, _, _ in shown.files] == [path for path, _ in expected]
    for (path, size, slack), (_, length) in zip(shown.files, expected, strict=True):
        assert abs(size - length) <= slack, f"{path}: shown {size}, is {length}"


def test_transmission_300_refuses_v2_and_hybrid_alike(
    lt: ModuleType, transmission_show: str, content: Content, tmp_path: Path
) -> None:
    """Transmission 3.00 predates BEP 52. Its bencode parser refuses an empty dictionary
    key, and BEP 52's ``file tree`` gives every file one (``"": {length, pieces root}``),
    so it refuses every v2 and hybrid torrent. The right outcome for bitswarm's torrents
    is exactly libtorrent's: the same refusal for both, while the v1 torrent of the same
    content is accepted. (Transmission 4 reads hybrids: then the v1 hash must show.)"""
    ours = {v: make_with_bitswarm(content, Make(multi=True, version=v)) for v in ("v2", "hybrid")}
    flags = lt.create_torrent
    theirs = {
        "v2": make_with_libtorrent(lt, content, LtMake(multi=True, flags=flags.v2_only)),
        "hybrid": make_with_libtorrent(lt, content, LtMake(multi=True, flags=0)),
    }
    v1 = make_with_bitswarm(content, Make(multi=True, version="v1"))
    assert run([transmission_show, _write(tmp_path / "v1.torrent", v1)]).returncode == 0
    major = program_version(transmission_show)[:1]
    for who, torrents in (("bitswarm", ours), ("libtorrent", theirs)):
        for version, data in torrents.items():
            proc = run([transmission_show, _write(tmp_path / f"{who}-{version}.torrent", data)])
            v1_hash = parse_torrent(data).info.info_hashes.v1
            if major == (3,):
                assert proc.returncode != 0, (who, version, proc.stdout)
                assert "Error parsing .torrent file" in proc.stderr + proc.stdout
            elif version == "hybrid":
                assert proc.returncode == 0, (who, proc.stderr)
                assert v1_hash is not None and v1_hash.hex() in proc.stdout.lower()
    if major == (3,):
        # The diagnosis: an empty key alone, in a v1 torrent, is enough to be refused.
        top = bdecode(v1)
        assert isinstance(top, dict) and isinstance(top[b"info"], dict)
        top[b"info"][b"x-empty-key"] = {b"": 1}
        proc = run([transmission_show, _write(tmp_path / "empty-key.torrent", bencode(top))])
        assert proc.returncode != 0


# --- libtorrent -> bitswarm ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LtMake:
    multi: bool
    flags: int
    private: bool = False
    sort_and_strip: bool = False  # sorted by UTF-8 components, no attributes: like bitswarm
    tiers: Sequence[Sequence[str]] = (("http://t1.test/announce",), ("http://t2.test/announce",))
    web_seeds: Sequence[str] = ()


def make_with_libtorrent(lt: ModuleType, content: Content, make: LtMake) -> bytes:
    source = content.folder if make.multi else content.single
    entries: list[Any] = lt.list_files(str(source))
    flags = make.flags
    if make.sort_and_strip:
        entries = [
            lt.create_file_entry(e.filename, e.size)
            for e in sorted(entries, key=lambda e: [c.encode() for c in e.filename.split("/")])
        ]
        flags |= lt.create_torrent.no_attributes
    ct = lt.create_torrent(entries, PIECE_LENGTH, flags)
    for tier, urls in enumerate(make.tiers):
        for url in urls:
            ct.add_tracker(url, tier)
    for url in make.web_seeds:
        ct.add_url_seed(url)
    ct.set_priv(make.private)
    ct.set_creator("libtorrent interop test")
    lt.set_piece_hashes(ct, str(content.parent))
    data: bytes = lt.bencode(ct.generate())
    return data


def _lt_cases(lt: ModuleType) -> dict[str, LtMake]:
    c = lt.create_torrent
    return {
        "v1-multi": LtMake(multi=True, flags=c.v1_only),
        "v1-single": LtMake(multi=False, flags=c.v1_only),
        "v1-pad-files": LtMake(multi=True, flags=c.v1_only | c.canonical_files),
        "v2-multi": LtMake(multi=True, flags=c.v2_only),
        "v2-single": LtMake(multi=False, flags=c.v2_only),
        "hybrid-multi": LtMake(multi=True, flags=0),
        "hybrid-single": LtMake(multi=False, flags=0),
        "hybrid-no-tail-padding": LtMake(multi=True, flags=c.canonical_files_no_tail_padding),
        "hybrid-private-webseed": LtMake(
            multi=True, flags=0, private=True, web_seeds=("http://ws.test/data/",)
        ),
    }


LT_CASE_NAMES = [
    "v1-multi", "v1-single", "v1-pad-files", "v2-multi", "v2-single", "hybrid-multi",
    "hybrid-single", "hybrid-no-tail-padding", "hybrid-private-webseed",
]  # fmt: skip


@pytest.mark.parametrize("case", LT_CASE_NAMES)
def test_libtorrent_torrents_parse_in_bitswarm(lt: ModuleType, content: Content, case: str) -> None:
    make = _lt_cases(lt)[case]
    data = make_with_libtorrent(lt, content, make)
    m = parse_torrent(data)
    assert m.issues == ()
    ours = bitswarm_view(m)
    theirs = libtorrent_view(lt, data)
    v2_only = bool(make.flags & int(lt.create_torrent.v2_only))
    assert_same_torrent(ours, theirs, v2_only=v2_only)
    assert sorted((p, n) for p, n, _, _ in ours.data_files()) == content.expected_files(
        multi=make.multi
    )
    assert ours.private == make.private
    assert m.created_by == "libtorrent interop test"
    if make.multi:
        # libtorrent marks the executable file (BEP 47 attr "x"), and bitswarm reads it
        assert ours.executable == {f"content/{content.executable}"}
    if case in ("v1-pad-files", "hybrid-multi"):
        assert ours.files[-1][3], "libtorrent pads the last file too in this mode"
    if case == "hybrid-no-tail-padding":
        assert not ours.files[-1][3]


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
@pytest.mark.parametrize("multi", [True, False], ids=["multi", "single"])
def test_bitswarm_and_libtorrent_write_identical_info(
    lt: ModuleType, content: Content, version: Version, multi: bool
) -> None:
    c = lt.create_torrent
    flags = {"v1": c.v1_only, "v2": c.v2_only, "hybrid": c.canonical_files_no_tail_padding}
    theirs = parse_torrent(
        make_with_libtorrent(
            lt, content, LtMake(multi=multi, flags=flags[version], sort_and_strip=True)
        )
    )
    ours = parse_torrent(make_with_bitswarm(content, Make(multi=multi, version=version)))
    assert ours.info.info_hashes == theirs.info.info_hashes
    assert ours.info.raw == theirs.info.raw
    assert ours.piece_layers == theirs.piece_layers


# --- mktorrent -> bitswarm ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MkMake:
    args: tuple[str, ...]
    multi: bool = True
    piece_exponent: int = 18  # mktorrent's default: 2**18 = 256 KiB
    private: bool = False
    source: str | None = None
    tiers: tuple[tuple[str, ...], ...] = (("http://tracker.test/announce",),)
    web_seeds: tuple[str, ...] = ()


MK_CASES = {
    "default": MkMake(args=("-a", "http://tracker.test/announce")),
    "single-file": MkMake(args=("-a", "http://tracker.test/announce"), multi=False),
    # mktorrent takes 2^15..2^28; 1 MiB puts all the content in one short piece
    "piece-length-2^20": MkMake(args=("-a", "http://tracker.test/announce", "-l", "20"),
                                piece_exponent=20),
    "piece-length-2^15-private": MkMake(
        args=("-a", "http://tracker.test/announce", "-l", "15", "-p"),
        piece_exponent=15, private=True,
    ),
    "tiers-source-webseed": MkMake(
        args=("-a", "http://a.test/ann,http://b.test/ann", "-a", "udp://c.test:80/ann",
              "-s", "SRC-1", "-w", "http://ws.test/", "-l", "16"),
        piece_exponent=16, source="SRC-1",
        tiers=(("http://a.test/ann", "http://b.test/ann"), ("udp://c.test:80/ann",)),
        web_seeds=("http://ws.test/",),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MK_CASES))
def test_mktorrent_torrents_parse_in_bitswarm(
    lt: ModuleType, mktorrent: str, content: Content, tmp_path: Path, case: str
) -> None:
    make = MK_CASES[case]
    out = tmp_path / "mk.torrent"
    source = content.folder if make.multi else content.single
    proc = run([mktorrent, *make.args, "-o", out, source])
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    m = parse_torrent(data)
    assert m.issues == ()
    ours = bitswarm_view(m)
    theirs = libtorrent_view(lt, data)
    assert_same_torrent(ours, theirs, v2_only=False)
    assert ours.v1 is not None and ours.v2 is None
    assert ours.piece_length == 2**make.piece_exponent
    total = sum(size for _, size in content.expected_files(multi=make.multi))
    assert ours.num_pieces == -(-total // ours.piece_length)
    assert sorted((p, n) for p, n, _, _ in ours.files) == content.expected_files(multi=make.multi)
    assert ours.private == make.private
    assert m.info.source == make.source
    assert ours.tiers == make.tiers
    assert ours.web_seeds == make.web_seeds
    assert m.created_by is not None and m.created_by.startswith("mktorrent")


# --- the helpers' CI rule -----------------------------------------------------------------


def test_missing_program_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from .tools import require_module, require_program

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_program("no-such-program-bitswarm-test")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_module("no_such_module_bitswarm_test")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_program("no-such-program-bitswarm-test")
    with pytest.raises(pytest.skip.Exception):
        require_module("no_such_module_bitswarm_test")
    assert require_program("sh").endswith("/sh")

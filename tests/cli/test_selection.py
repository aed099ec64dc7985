"""`--select`, `--exclude` and BEP 53 `so=` as file priorities; `info`'s numbering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bitswarm.cli.selection import content_files, file_priorities, parse_numbers
from bitswarm.create import create_torrent
from bitswarm.errors import BitswarmError
from bitswarm.metainfo import Metainfo, parse_torrent

NAMES = ["Extras/bonus.mkv", "Extras/readme.nfo", "movie.mkv", "movie.nfo", "sample.mkv"]


@pytest.fixture(scope="module")
def meta(tmp_path_factory: pytest.TempPathFactory) -> Metainfo:
    root = tmp_path_factory.mktemp("sel") / "show"
    for i, name in enumerate(NAMES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(bytes([i]) * (20000 + i * 1000))
    return parse_torrent(create_torrent(root, piece_length=16384, version="hybrid"))


def _chosen(meta: Metainfo, prios: list[int] | None) -> list[str]:
    if prios is None:
        return [f.inner for f in content_files(meta)]
    return [f.inner for f in content_files(meta) if prios[f.entry]]


def test_numbers_count_from_one_without_pad_files(meta: Metainfo) -> None:
    files = content_files(meta)
    assert len(meta.info.files) > len(files)  # the hybrid torrent has pad files
    assert [f.number for f in files] == [1, 2, 3, 4, 5]
    assert [f.path for f in files] == [f"show/{n}" for n in NAMES]  # as `info` shows them
    assert [f.inner for f in files] == NAMES


def test_parse_numbers() -> None:
    assert parse_numbers("1,3-5", 5) == {1, 3, 4, 5}
    assert parse_numbers(" 2 , 2-2", 5) == {2}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0", "no file 0"),
        ("6", "no file 6"),
        ("2-9", "no file 9"),
        ("4-2", "runs backwards"),
        ("x", "'x' is not a file number"),
        ("1,,2", "'' is not a file number"),
    ],
)
def test_bad_numbers_name_themselves(text: str, needle: str) -> None:
    with pytest.raises(BitswarmError, match=needle) as info:
        parse_numbers(text, 5)
    assert "\n" not in str(info.value)


def test_select(meta: Metainfo) -> None:
    prios = file_priorities(meta, select=["1,3-4"])
    assert prios is not None and len(prios) == len(meta.info.files)
    assert _chosen(meta, prios) == [NAMES[0], NAMES[2], NAMES[3]]
    assert set(prios) == {0, 4}


def test_exclude_globs_on_paths(meta: Metainfo) -> None:
    assert _chosen(meta, file_priorities(meta, exclude=["*.nfo"])) == [
        NAMES[0],
        NAMES[2],
        NAMES[4],
    ]
    assert _chosen(meta, file_priorities(meta, exclude=["Extras/*"])) == NAMES[2:]
    assert _chosen(meta, file_priorities(meta, exclude=["show/m*"])) == NAMES[:2] + NAMES[4:]


def test_select_minus_exclude(meta: Metainfo) -> None:
    prios = file_priorities(meta, select=["1-4"], exclude=["*.nfo"])
    assert _chosen(meta, prios) == [NAMES[0], NAMES[2]]


def test_everything_chosen_is_none(meta: Metainfo) -> None:
    assert file_priorities(meta) is None
    assert file_priorities(meta, select=["1-5"]) is None


def test_exclude_matching_nothing_names_the_pattern(meta: Metainfo) -> None:
    with pytest.raises(BitswarmError, match=r"--exclude: '\*\.iso' matches no file"):
        file_priorities(meta, exclude=["*.iso"])


def test_nothing_left_is_an_error(meta: Metainfo) -> None:
    with pytest.raises(BitswarmError, match="no file left"):
        file_priorities(meta, select=["2"], exclude=["*.nfo"])


def test_select_only_counts_from_zero_and_select_overrides(meta: Metainfo) -> None:
    assert _chosen(meta, file_priorities(meta, select_only=[0, 4])) == [NAMES[0], NAMES[4]]
    assert _chosen(meta, file_priorities(meta, select_only=[99, 2])) == [NAMES[2]]
    assert _chosen(meta, file_priorities(meta, select=["2"], select_only=[0])) == [NAMES[1]]
    assert _chosen(meta, file_priorities(meta, select_only=[0, 1], exclude=["*.nfo"])) == [NAMES[0]]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bitswarm", *args], capture_output=True, text=True, timeout=60
    )


def test_info_shows_numbers(meta: Metainfo, tmp_path: Path) -> None:
    from bitswarm.metainfo.encode import torrent_file_bytes

    path = tmp_path / "t.torrent"
    path.write_bytes(torrent_file_bytes(meta))
    shown = _cli("info", str(path))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()

    def cells(line: str) -> list[str]:  # the table's words, without its box drawing
        return [w for w in line.split() if w not in ("┃", "│")]

    header = next(line for line in lines if "Path" in line and "Size" in line)
    assert cells(header)[:3] == ["#", "Size", "Path"]
    for number, name in enumerate(NAMES, 1):
        row = next(line for line in lines if f"show/{name} " in line + " ")
        assert cells(row)[0] == str(number)
    files = json.loads(_cli("info", "--json", str(path)).stdout)["files"]
    numbered = [(f["number"], f["path"]) for f in files if not f["pad"]]
    assert numbered == [(i, f"show/{n}") for i, n in enumerate(NAMES, 1)]
    assert all(f["number"] is None for f in files if f["pad"])


def test_download_refuses_a_bad_select_before_starting(meta: Metainfo, tmp_path: Path) -> None:
    from bitswarm.metainfo.encode import torrent_file_bytes

    path = tmp_path / "t.torrent"
    path.write_bytes(torrent_file_bytes(meta))
    out = tmp_path / "out"
    done = _cli("download", str(path), "-o", str(out), "--select", "7", "--no-seed")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "bitswarm: error: --select: there is no file 7: the torrent has files 1-5 "
        "(see `bitswarm info`)"
    ]
    assert not out.exists()

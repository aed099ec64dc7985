"""`create`'s automatic piece size against the programs it follows (issue 12, item 7).

The rule is libtorrent's (metainfo/piece_length.py says why): at every size below,
libtorrent's own `create_torrent` picks the same piece length. Debian's mktorrent (1.1)
always picks 256 KiB; libtorrent's rule picks that too from 164 to 655 MiB, and there
mktorrent, run on real (sparse) files, must agree with `bitswarm create`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bitswarm.bencode import bdecode
from bitswarm.metainfo import auto_piece_length, parse_torrent

pytestmark = pytest.mark.interop

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

SIZES = [
    1,
    1 * MIB,
    2_684_355,  # the edges of libtorrent's table, both sides
    2_684_356,
    10 * MIB,
    17 * MIB,  # the folder of the issue: 16 KiB before, 64 KiB now
    42_949_673,
    42_949_674,
    100 * MIB,
    700 * MIB,
    1 * GIB,
    4 * GIB,
    50 * GIB,
    703_687_441_777,
    703_687_441_778,
    2 << 40,
]


@pytest.mark.parametrize("size", SIZES)
def test_piece_size_is_libtorrents(lt: ModuleType, size: int) -> None:
    entry = lt.create_file_entry("content/data.bin", size)
    theirs = lt.create_torrent([entry]).piece_length()
    assert auto_piece_length(size) == theirs


def _mktorrent_piece_length(mktorrent: str, target: Path, out: Path) -> int:
    subprocess.run(
        [mktorrent, "-a", "http://tracker.test/announce", "-o", str(out), str(target)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    top = bdecode(out.read_bytes())
    assert isinstance(top, dict)
    info = top[b"info"]
    assert isinstance(info, dict)
    length = info[b"piece length"]
    assert isinstance(length, int)
    return length


@pytest.mark.timeout(240)  # mktorrent and bitswarm hash 0.8 GB each (sparse, so no disk)
@pytest.mark.parametrize("size", [171_798_693, 300 * MIB, 687_194_767])
def test_mktorrent_agrees_in_its_band(mktorrent: str, tmp_path: Path, size: int) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    with (folder / "data.bin").open("wb") as f:
        f.truncate(size)
    theirs = _mktorrent_piece_length(mktorrent, folder, tmp_path / "mk.torrent")
    assert theirs == 256 * KIB
    ours = tmp_path / "ours.torrent"
    subprocess.run(
        [sys.executable, "-m", "bitswarm", "create", "-q", "-o", str(ours), str(folder)],
        check=True,
        capture_output=True,
        timeout=200,
    )
    assert parse_torrent(ours.read_bytes()).info.piece_length == theirs


def test_create_picks_larger_pieces_than_before(mktorrent: str, tmp_path: Path) -> None:
    """The issue's 17 MiB folder: libtorrent's 64 KiB (272 pieces), within mktorrent's
    fixed 256 KiB and the 16 KiB bitswarm chose before."""
    folder = tmp_path / "content"
    folder.mkdir()
    for i in range(17):
        (folder / f"part{i:02}.bin").write_bytes(bytes([i]) * MIB)
    ours = tmp_path / "ours.torrent"
    subprocess.run(
        [sys.executable, "-m", "bitswarm", "create", "-q", "-o", str(ours), str(folder)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    meta = parse_torrent(ours.read_bytes())
    assert meta.info.piece_length == 64 * KIB and meta.info.num_pieces == 272
    assert _mktorrent_piece_length(mktorrent, folder, tmp_path / "mk.torrent") == 256 * KIB

"""File selection against a libtorrent seeder: `download --select`, raising a file later,
and a magnet link's BEP 53 `so=`.

The torrent (made by libtorrent) has four files whose boundaries fall inside 16 KiB pieces,
so the pieces on each side of a skipped file straddle it and a wanted neighbour. Only the
chosen files may appear in the download folder, byte-identical to the seeder's; the skipped
neighbours of boundary pieces must not exist (their share of those pieces lives in the
parts file `.<info-hash>.parts`). A second run with a skipped file chosen completes it, and
once every file is chosen the parts file is gone.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.storage.parts import parts_file_name
from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import free_port
from bitswarm_lab.peers.torrent_files import make_torrent

from .tools import missing

PIECE = 16384
# no size a multiple of the piece: in any order, every boundary falls inside a piece
SIZES = {"a.bin": 40_000, "b.bin": 30_000, "c.bin": 50_000, "d.bin": 20_000}
TIMEOUT = 60.0

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Metainfo, int]]:
    """libtorrent seeding the four files on 127.0.0.1: (torrent, its metainfo, port)."""
    reason = LibtorrentPeer.unavailable_reason()
    if reason is not None:
        missing(reason)
    base = tmp_path_factory.mktemp("select")
    content = base / "seed" / "content"
    content.mkdir(parents=True)
    rng = random.Random(53)
    for name, size in SIZES.items():
        (content / name).write_bytes(rng.randbytes(size))
    torrent = make_torrent(content, base / "content.torrent", piece_length=PIECE)
    meta = parse_torrent(torrent.path.read_bytes())
    port = free_port("127.0.0.1")
    spec = PeerSpec(
        Role.SEED, torrent.path, base / "seed", base / "lt-work", Endpoint("127.0.0.1", port)
    )
    with LibtorrentPeer(spec) as seeder:
        seeder.wait_complete(TIMEOUT)
        yield torrent.path, meta, port


def _order(meta: Metainfo) -> list[str]:
    """The files in the torrent's order, as `--select` numbers them (from 1)."""
    names = [f.path[-1] for f in meta.info.files if not f.is_pad]
    assert sorted(names) == sorted(SIZES)
    return names


def _download(
    source: str, out: Path, port: int, state: Path, *extra: str
) -> list[dict[str, object]]:
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    argv = [
        sys.executable, "-m", "bitswarm", "download", source, "-o", str(out), "--no-seed",
        "--json", "--port", "0", "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{port}", *extra,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=TIMEOUT + 30)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _seed_bytes(torrent: Path, name: str) -> bytes:
    return (torrent.parent / "seed" / "content" / name).read_bytes()


def test_select_fetches_only_the_chosen_files_then_a_raised_one(
    seeded: tuple[Path, Metainfo, int], tmp_path: Path
) -> None:
    torrent, meta, port = seeded
    names = _order(meta)
    out, state = tmp_path / "out", tmp_path / "state"
    parts = out / parts_file_name(meta.info.info_hashes.wire)
    first, third = names[0], names[2]
    skipped = [names[1], names[3]]

    _download(str(torrent), out, port, state, "--select", "1,3")
    assert sorted(os.listdir(out / "content")) == sorted([first, third])
    for name in (first, third):
        assert (out / "content" / name).read_bytes() == _seed_bytes(torrent, name)
    for name in skipped:  # each shares a boundary piece with a chosen file
        assert not (out / "content" / name).exists()
    assert parts.exists()  # the skipped files' share of the boundary pieces
    assert sorted(os.listdir(out)) == sorted(["content", parts.name])

    # raise file 2: its bytes from the boundary pieces move in, the rest is downloaded
    _download(str(torrent), out, port, state, "--select", "1-3", "--sequential")
    assert sorted(os.listdir(out / "content")) == sorted(names[:3])
    for name in names[:3]:
        assert (out / "content" / name).read_bytes() == _seed_bytes(torrent, name)
    assert not (out / "content" / names[3]).exists()

    # every file: the parts file is no longer needed
    _download(str(torrent), out, port, state, "--first-last")
    for name in names:
        assert (out / "content" / name).read_bytes() == _seed_bytes(torrent, name)
    assert not parts.exists()
    assert os.listdir(out) == ["content"]


def test_magnet_select_only_and_exclude(seeded: tuple[Path, Metainfo, int], tmp_path: Path) -> None:
    _torrent, meta, port = seeded
    names = _order(meta)
    magnet = f"magnet:?xt=urn:btih:{meta.info.info_hashes.wire.hex()}&so=1-2"  # files 2 and 3
    out = tmp_path / "out"
    events = _download(magnet, out, port, tmp_path / "state", "--exclude", names[2])
    assert any(
        e.get("event") == "note" and "metadata verified" in str(e.get("message")) for e in events
    )
    assert os.listdir(out / "content") == [names[1]]
    assert (out / "content" / names[1]).read_bytes() == _seed_bytes(_torrent, names[1])

    # --select overrides so=
    out2 = tmp_path / "out2"
    _download(magnet, out2, port, tmp_path / "state2", "--select", "4")
    assert os.listdir(out2 / "content") == [names[3]]
    assert (out2 / "content" / names[3]).read_bytes() == _seed_bytes(_torrent, names[3])

"""Pure v2 torrents (BEP 52) between bitswarm and libtorrent, both directions (issue 13).

libtorrent runs in this process (its Python binding, its own threads) on loopback; bitswarm
is a `Session` on the test's loop. The payload is multi-file: a file of several pieces
whose last piece is short (its merkle tree padded with zero hashes), a file of less than a
piece (checked against its root), a file of exactly one piece and an empty file, so the
piece space has alignment gaps. Three ways in:

* a v2-only .torrent made by libtorrent (`create_torrent.v2_only`), with piece layers;
* its ``btmh`` magnet: BEP 9 brings only the info dictionary (pieces roots, no layers), so
  bitswarm asks libtorrent for the layer with hash requests and proves it against the root
  before it downloads the file;
* a torrent made by ``bitswarm create --v2``, seeded by bitswarm to libtorrent.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bitswarm.magnet import parse_magnet
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig
from tests.lt_sessions import loopback_session

pytestmark = pytest.mark.interop

PIECE = 256 * 1024
FILES = {
    "big.bin": 3 * PIECE * 4 + 12_345,  # 13 pieces, the last one short
    "exact.bin": PIECE,
    "small.bin": 5_000,
    "sub/empty.bin": 0,
}
TIMEOUT = 60.0


def _payload(folder: Path) -> Path:
    content = folder / "payload"
    for name, size in FILES.items():
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return content


def _lt_session(lt: ModuleType) -> Any:
    return loopback_session(
        lt, utp=True, plaintext=False, allow_multiple_connections_per_ip=True,
        alert_mask=lt.alert.category_t.error_notification,
    )  # fmt: skip


def _wait(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _same_files(content: Path, got: Path) -> None:
    for name in FILES:
        assert (got / name).read_bytes() == (content / name).read_bytes(), name


def _lt_v2_torrent(lt: ModuleType, content: Path) -> bytes:
    creator = lt.create_torrent(lt.list_files(str(content)), PIECE, lt.create_torrent.v2_only)
    lt.set_piece_hashes(creator, str(content.parent))
    return bytes(lt.bencode(creator.generate()))


def _lt_seed(lt: ModuleType, data: bytes, folder: Path) -> tuple[Any, Any, int]:
    ses = _lt_session(lt)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(data))
    params.save_path = str(folder)
    handle = ses.add_torrent(params)
    _wait(lambda: handle.status().is_seeding, 30, "libtorrent to check its copy")
    return ses, handle, ses.listen_port()


async def _download(data_or_magnet: bytes | str, port: int, dest: Path) -> tuple[int, int]:
    """bitswarm downloads from 127.0.0.1:`port`; returns (pieces, piece layers it holds)."""
    async with Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)) as session:
        peers = [("127.0.0.1", port)]
        if isinstance(data_or_magnet, str):
            meta = await session.fetch_metadata(
                parse_magnet(data_or_magnet), peers=peers, give_up_after=TIMEOUT
            )
            assert meta.info.is_v2 and not meta.piece_layers  # BEP 9 brings no layers
        else:
            meta = parse_torrent(data_or_magnet)
        rt = await session.add(meta, dest, peers=peers)
        async with asyncio.timeout(TIMEOUT):
            await rt.completed.wait()
        status = rt.status()
        assert status.pieces_done == status.num_pieces == meta.info.num_pieces
        return status.num_pieces, len(rt.meta.piece_layers)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["torrent", "magnet"])
def test_libtorrent_v2_only_torrent_downloads_into_bitswarm(
    lt: ModuleType, tmp_path: Path, via: str
) -> None:
    content = _payload(tmp_path / "seed")
    data = _lt_v2_torrent(lt, content)
    meta = parse_torrent(data)
    assert meta.info.is_v2 and len(meta.piece_layers) == 1  # only big.bin has a layer
    assert meta.info.v2_file_for_piece(13) != meta.info.v2_file_for_piece(12)  # aligned
    ses, _, port = _lt_seed(lt, data, content.parent)
    try:
        assert meta.info_hashes.v2 is not None
        source: bytes | str = data
        if via == "magnet":
            source = f"magnet:?xt=urn:btmh:1220{meta.info_hashes.v2.hex()}"
        pieces, layers = asyncio.run(_download(source, port, tmp_path / "dl"))
    finally:
        del ses
    assert pieces == 15 and layers == 1  # the magnet's layer came by hash requests
    _same_files(content, tmp_path / "dl" / "payload")


@pytest.mark.timeout(120)
def test_bitswarm_create_v2_seeds_to_libtorrent(lt: ModuleType, tmp_path: Path) -> None:
    content = _payload(tmp_path / "seed")
    out = tmp_path / "v2.torrent"
    subprocess.run(
        [sys.executable, "-m", "bitswarm", "create", "-q", "--v2", "--piece-size", "256KiB",
         "-o", str(out), str(content)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    data = out.read_bytes()
    assert parse_torrent(data).info.is_v2
    ses = _lt_session(lt)

    async def seed() -> None:
        async with Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)) as session:
            rt = await session.add(parse_torrent(data), content.parent)
            assert rt.completed.is_set()  # the check found every piece
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(lt.bdecode(data))
            params.save_path = str(tmp_path / "lt")
            handle = ses.add_torrent(params)
            handle.connect_peer(("127.0.0.1", session.listen_port))
            async with asyncio.timeout(TIMEOUT):
                while not handle.status().is_seeding:  # noqa: ASYNC110 - polling libtorrent
                    await asyncio.sleep(0.1)
            assert rt.status().uploaded >= sum(FILES.values())

    asyncio.run(seed())
    _same_files(content, tmp_path / "lt" / "payload")


@pytest.mark.timeout(120)
def test_a_peer_that_lies_about_hashes_is_caught(lt: ModuleType, tmp_path: Path) -> None:
    """A bitswarm seeder whose piece layer was tampered with (our own adversary: it answers
    hash requests with hashes that cannot chain up to the root) is asked first; its answer
    fails the proof and is discarded, it is charged, and the layer then comes from an
    honest libtorrent seeder and the download completes."""
    content = _payload(tmp_path / "seed")
    data = _lt_v2_torrent(lt, content)
    meta = parse_torrent(data)
    ((root, layer),) = meta.piece_layers.items()
    ses, _, honest_port = _lt_seed(lt, data, content.parent)

    async def run() -> None:
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0)
        async with Session(config) as liar_session, Session(config) as session:
            liar = await liar_session.add(meta, content.parent)
            assert liar.v2 is not None
            liar.v2._layers[root] = bytes(len(layer))  # every hash a lie
            liar_peer = [("127.0.0.1", liar_session.listen_port)]
            assert meta.info_hashes.v2 is not None
            magnet = parse_magnet(f"magnet:?xt=urn:btmh:1220{meta.info_hashes.v2.hex()}")
            got = await session.fetch_metadata(magnet, peers=liar_peer, give_up_after=TIMEOUT)
            rt = await session.add(got, tmp_path / "dl", peers=liar_peer)
            assert rt.v2 is not None
            async with asyncio.timeout(TIMEOUT):
                while not rt.v2.fetcher.lies:  # noqa: ASYNC110 - polling the fetcher
                    await asyncio.sleep(0.05)
            assert not rt.v2.complete  # the lie was not kept
            rt.add_peers([("127.0.0.1", honest_port)])
            async with asyncio.timeout(TIMEOUT):
                await rt.completed.wait()
            assert rt.meta.piece_layers == {root: layer}
            assert sum(rt.v2.fetcher.lies.values()) == 1

    try:
        asyncio.run(run())
    finally:
        del ses
    _same_files(content, tmp_path / "dl" / "payload")

"""Pure v2 torrents (BEP 52) across restarts, and a peer that lies twice (issue 13).

* A v2 download from a ``btmh`` magnet (BEP 9 brings only the pieces roots; the piece
  layer comes by hash requests) stopped half-way resumes: the layer is in the resume data
  (no hash request again), the verified pieces are trusted (not fetched again); and when
  the files changed since, the recheck verifies them by merkle with that layer.
* A bitswarm seeder whose two piece layers are tampered with answers both hash requests
  with hashes that fail their proof: the second lie bans it (connection closed, address
  not dialled again) and the layers come from an honest libtorrent seeder.

libtorrent runs in this process (its Python binding) on 127.0.0.1; the liar listens on
127.0.0.2, so that banning its address does not ban the honest seeder.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import ModuleType

import pytest

from bitswarm.magnet import parse_magnet
from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.session import Session, SessionConfig

from .test_v2_interop import _lt_seed, _lt_v2_torrent

pytestmark = pytest.mark.interop

PIECE = 256 * 1024
TIMEOUT = 60.0


def _payload(folder: Path, files: dict[str, int]) -> Path:
    content = folder / "payload"
    for name, size in files.items():
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return content


def _magnet(meta: Metainfo) -> str:
    assert meta.info_hashes.v2 is not None
    return f"magnet:?xt=urn:btmh:1220{meta.info_hashes.v2.hex()}"


@pytest.mark.timeout(150)
def test_a_magnet_v2_download_resumes_without_fetching_layers_or_pieces_again(
    lt: ModuleType, tmp_path: Path
) -> None:
    content = _payload(tmp_path / "seed", {"big.bin": 24 * PIECE + 777, "small.bin": 3000})
    data = _lt_v2_torrent(lt, content)
    full = parse_torrent(data)
    ses, _, port = _lt_seed(lt, data, content.parent)
    peers = [("127.0.0.1", port)]
    dest = tmp_path / "dl"
    resume = tmp_path / "v2.resume"
    config = SessionConfig(listen_host="127.0.0.1", listen_port=0)

    async def first() -> tuple[Metainfo, int]:
        async with Session(config) as session:
            meta = await session.fetch_metadata(
                parse_magnet(_magnet(full)), peers=peers, give_up_after=TIMEOUT
            )
            assert not meta.piece_layers  # the magnet brought only roots
            rt = await session.add(meta, dest, peers=peers, resume_path=resume,
                                   download_limit=1.5e6)  # fmt: skip
            async with asyncio.timeout(TIMEOUT):
                while rt.status().pieces_done < 8:  # noqa: ASYNC110 - polling the runtime
                    await asyncio.sleep(0.05)
            assert rt.v2 is not None and rt.v2.complete  # the layer came by hash requests
            await session.remove(rt)  # stopped half-way: resume data saved
            return meta, rt.status().pieces_done

    async def second(meta: Metainfo, saved: int) -> None:
        async with Session(config) as session:
            rt = await session.add(meta, dest, resume_path=resume)  # no peer yet
            assert rt.v2 is not None and rt.v2.complete  # the layer from the resume data
            assert rt.meta.piece_layers == full.piece_layers
            assert rt.status().pieces_done == saved  # trusted, not fetched again
            rt.add_peers(peers)
            async with asyncio.timeout(TIMEOUT):
                await rt.completed.wait()
            missing = full.info.num_pieces - saved
            assert rt.status().downloaded <= missing * PIECE  # verified pieces not re-fetched

    async def third(meta: Metainfo) -> None:
        """Files changed since the resume data: the recheck verifies by merkle."""
        big = dest / "payload" / "big.bin"
        with big.open("r+b") as f:  # corrupt one block of piece 3
            f.seek(3 * PIECE + 5)
            f.write(b"\xff" * 100)
        async with Session(config) as session:
            rt = await session.add(meta, dest, resume_path=resume)
            status = rt.status()
            assert status.pieces_done == full.info.num_pieces - 1  # all but the bad piece
            assert rt.core is not None and not rt.core.have[3]

    try:
        meta, saved = asyncio.run(first())
        assert 8 <= saved < full.info.num_pieces
        asyncio.run(second(meta, saved))
        assert (dest / "payload" / "big.bin").read_bytes() == (content / "big.bin").read_bytes()
        asyncio.run(third(meta))
    finally:
        del ses


@pytest.mark.timeout(150)
def test_a_peer_that_lies_twice_is_banned_and_not_dialled_again(
    lt: ModuleType, tmp_path: Path
) -> None:
    content = _payload(tmp_path / "seed", {"a.bin": 6 * PIECE + 99, "b.bin": 5 * PIECE + 1})
    data = _lt_v2_torrent(lt, content)
    meta = parse_torrent(data)
    assert len(meta.piece_layers) == 2  # two files, two layers, two hash requests
    ses, _, honest_port = _lt_seed(lt, data, content.parent)

    async def run() -> None:
        async with (
            Session(SessionConfig(listen_host="127.0.0.2", listen_port=0)) as liar_session,
            Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)) as session,
        ):
            liar = await liar_session.add(meta, content.parent)
            assert liar.v2 is not None
            for root, layer in meta.piece_layers.items():
                liar.v2._layers[root] = bytes(len(layer))  # every hash a lie
            liar_addr = ("127.0.0.2", liar_session.listen_port)
            got = await session.fetch_metadata(
                parse_magnet(_magnet(meta)), peers=[liar_addr], give_up_after=TIMEOUT
            )
            rt = await session.add(got, tmp_path / "dl", peers=[liar_addr])
            assert rt.v2 is not None
            async with asyncio.timeout(TIMEOUT):
                while "127.0.0.2" not in rt.banned:  # noqa: ASYNC110 - polling the runtime
                    await asyncio.sleep(0.05)
            assert sum(rt.v2.fetcher.lies.values()) == 2
            async with asyncio.timeout(TIMEOUT):  # the connection is closed
                while any(p.address[0] == "127.0.0.2" for p in rt.protocols):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            waiting = rt.status().to_json()["waiting"]  # the one peer refused: stalled
            assert waiting.startswith("waiting for piece hashes of payload/a.bin, payload/b.bin")
            assert waiting.endswith(": no peer has them")
            rt.add_peers([liar_addr, ("127.0.0.1", honest_port)])  # named again: not dialled
            rt.connect_more()
            async with asyncio.timeout(TIMEOUT):
                await rt.completed.wait()
            assert rt.meta.piece_layers == meta.piece_layers
            assert rt.status().waiting is None
            assert not any(p.address[0] == "127.0.0.2" for p in rt.protocols)
            assert liar.status().peers == 0
            assert sum(rt.v2.fetcher.lies.values()) == 2

    try:
        asyncio.run(run())
    finally:
        del ses
    for name in ("a.bin", "b.bin"):
        assert (tmp_path / "dl" / "payload" / name).read_bytes() == (content / name).read_bytes()

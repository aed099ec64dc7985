"""`--direct-io` / `SessionConfig.direct_io`: a download written past the page cache is
byte-identical, including a multi-file torrent whose files end off the 4 KiB grid."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bitswarm.cli.main import build_parser
from bitswarm.cli.transfer_commands import session_config
from bitswarm.session.config import SessionConfig
from bitswarm.storage.filesystem import aligned_piece_buffer

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

MiB = 2**20


def test_download_with_direct_io_is_identical(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [3 * MiB + 4321, 1 * MiB, 777_777])
    meta = make_torrent(content, piece_length=256 * 1024, version="hybrid")

    async def run() -> None:
        seeder = await start_session()
        leecher = await start_session(direct_io=True)
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            assert rt.storage._direct, "the runtime should pass direct_io to its storage"
            assert rt.core is not None and rt.core.piece_buffer is aligned_piece_buffer
            await wait_all_complete([rt], within=30)
        finally:
            await seeder.close()
            await leecher.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


def test_direct_io_flag_reaches_the_session_config() -> None:
    # on by default since issue 15 (less CPU per GiB: bench/RESULTS.md); --no-direct-io
    # writes through the page cache
    parser = build_parser()
    on = parser.parse_args(["download", "x.torrent", "--direct-io"])
    off = parser.parse_args(["download", "x.torrent", "--no-direct-io"])
    default = parser.parse_args(["download", "x.torrent"])
    assert session_config(on).direct_io is True
    assert session_config(off).direct_io is False
    assert session_config(default).direct_io is True
    assert SessionConfig().direct_io is True

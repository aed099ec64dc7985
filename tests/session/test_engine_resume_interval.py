"""`SessionConfig.resume_save_interval`: how often a downloading torrent saves resume data,
and what every save records.

* with a short interval the resume file is replaced several times during a download (the
  default, 30 s, saves once at completion in a download this short);
* every save is consistent with the files it stats: a piece written before the stat is in
  the record (`ResumeKeeper.quiet_disk`), so a start that trusts the record never
  fetches a piece that is on disk again;
* a temporary file a kill left mid-save is removed at the next start.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.session.resume_store import FileResumeStore
from bitswarm.storage.filesystem import FileStorage
from bitswarm.storage.resume import decode_resume

from .helpers import make_multifile, make_torrent, start_session

MiB = 2**20
PIECE = 16 * 1024


def _on_disk(path: Path, meta_hashes: list[bytes]) -> set[int]:
    raw = path.read_bytes()
    return {
        i
        for i, h in enumerate(meta_hashes)
        if hashlib.sha1(raw[i * PIECE : (i + 1) * PIECE]).digest() == h
    }


def _download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interval: float | None
) -> list[tuple[set[int], set[int]]]:
    """Download 2 MiB at 1 MiB/s; for every resume save: (the pieces it names, the pieces
    that verified on disk when it statted the files). Each flush is made 40 ms slower, as
    a busy disk's fsync is, so pieces arrive while a save is under way."""
    content = make_multifile(tmp_path / "seed", [2 * MiB])
    meta = make_torrent(content, piece_length=PIECE, version="v1")
    hashes = [meta.info.piece_hash(i) for i in range(meta.info.num_pieces)]
    resume = tmp_path / "state" / "t.resume"
    resume.parent.mkdir()
    stale = resume.parent / f".{resume.name}.x1y2z3.tmp"
    stale.write_bytes(b"half a save")  # a kill's leftover
    target = tmp_path / "dl" / "content" / "file0.bin"
    at_stat: list[set[int]] = []
    saves: list[tuple[set[int], set[int]]] = []
    flush, stat, save = FileStorage.flush, FileStorage.file_sizes_and_mtimes, FileResumeStore.save

    def slow_flush(self: FileStorage) -> None:
        time.sleep(0.04)  # in the disk pool's thread, as the real fsync
        flush(self)

    def stat_and_look(self: FileStorage) -> list[tuple[int, int] | None]:
        files = stat(self)
        at_stat.append(_on_disk(target, hashes) if target.exists() else set())
        return files

    async def recorded_save(self: FileResumeStore, raw: bytes) -> None:
        data = decode_resume(
            raw, info_hash=meta.info.info_hashes.wire, num_pieces=meta.info.num_pieces
        )
        saves.append((set(Bitfield.from_bytes(data.have, meta.info.num_pieces)), at_stat[-1]))
        await save(self, raw)

    monkeypatch.setattr(FileStorage, "flush", slow_flush)
    monkeypatch.setattr(FileStorage, "file_sizes_and_mtimes", stat_and_look)
    monkeypatch.setattr(FileResumeStore, "save", recorded_save)

    async def run() -> None:
        seeder = await start_session()
        kw = {} if interval is None else {"resume_save_interval": interval}
        leecher = await start_session(**kw)  # type: ignore[arg-type]
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta,
                tmp_path / "dl",
                peers=[("127.0.0.1", seeder.listen_port)],
                resume_path=resume,
                download_limit=MiB,
            )
            assert not stale.exists(), "the start removes a save's leftover temporary file"
            await asyncio.wait_for(rt.wait_complete(), 60)
        finally:
            await leecher.close()
            await seeder.close()

    asyncio.run(run())
    return saves


def test_short_interval_saves_often_and_each_save_names_every_written_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saves = _download(tmp_path, monkeypatch, 0.2)
    assert len(saves) >= 5, f"only {len(saves)} resume saves during a 2 s download"
    for named, held in saves:
        # the record trusts the files as statted: each piece they hold must be named,
        # else a start that trusts it fetches that piece again; and it names no piece
        # the files do not hold
        assert named == held, (sorted(held - named), sorted(named - held))


def test_default_interval_does_not_save_during_a_short_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saves = _download(tmp_path, monkeypatch, None)
    assert len(saves) <= 2, len(saves)  # at completion and at close

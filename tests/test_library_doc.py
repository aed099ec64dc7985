"""docs/library.md's examples, run as they are written: the code blocks are taken from the
Markdown and run as scripts against a bitswarm seed on loopback."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bitswarm import Magnet, Metainfo, Session, SessionConfig, create_torrent, parse_torrent

DOC = Path(__file__).resolve().parent.parent / "docs" / "library.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _block(containing: str) -> str:
    blocks: list[str] = [b for b in BLOCK.findall(DOC.read_text()) if containing in b]
    assert len(blocks) == 1, f"one python block of docs/library.md should hold {containing!r}"
    return blocks[0]


def _content(root: Path) -> Path:
    """A folder of two files, 300 KiB and 40 KiB of varied bytes."""
    folder = root / "album"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(bytes(range(256)) * 1200)
    (folder / "b.bin").write_bytes(bytes(reversed(range(256))) * 160)
    return folder


def _run_with_a_seed(
    meta: Metainfo, seed_dir: Path, script: Path, source: str, out: Path
) -> subprocess.CompletedProcess[str]:
    """Seed `meta` from `seed_dir` in this process while the example runs as a script."""

    async def run() -> subprocess.CompletedProcess[str]:
        async with Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)) as seeder:
            await seeder.add(meta, seed_dir)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-X",
                "faulthandler",  # SIGABRT dumps every thread's stack (a hang, below)
                str(script),
                source,
                str(out),
                f"127.0.0.1:{seeder.listen_port}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            talk = asyncio.ensure_future(proc.communicate())
            try:
                stdout, stderr = await asyncio.wait_for(asyncio.shield(talk), 45)
            except TimeoutError:
                proc.send_signal(signal.SIGABRT)
                stdout, stderr = await talk
                raise AssertionError(
                    f"the example hung; its output: {stdout.decode()!r}, and its stacks:\n"
                    + stderr.decode(errors="replace")
                ) from None
            return subprocess.CompletedProcess(
                [], proc.returncode or 0, stdout.decode(), stderr.decode()
            )

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["torrent", "magnet"])
def test_the_download_example_downloads(kind: str, tmp_path: Path) -> None:
    script = tmp_path / "download.py"
    script.write_text(_block("async def download("))
    content = _content(tmp_path / "seed")
    meta = parse_torrent(create_torrent(content, piece_length=32 * 1024, version="hybrid"))
    torrent_file = tmp_path / "album.torrent"
    torrent_file.write_bytes(create_torrent(content, piece_length=32 * 1024, version="hybrid"))
    assert parse_torrent(torrent_file.read_bytes()).info.raw == meta.info.raw
    source = str(torrent_file) if kind == "torrent" else Magnet.from_metainfo(meta).to_uri()

    result = _run_with_a_seed(meta, tmp_path / "seed", script, source, tmp_path / "out")

    assert result.returncode == 0, result.stderr
    total = meta.info.total_length
    assert result.stdout.strip() == f"album: {total} bytes verified, now seeding"
    for name in ("a.bin", "b.bin"):
        assert (tmp_path / "out" / "album" / name).read_bytes() == (content / name).read_bytes()


def test_the_download_example_reports_a_failed_download_in_one_line(tmp_path: Path) -> None:
    """The example's `except TorrentFailed` branch: the download folder's file is a
    folder already, so the torrent cannot be written."""
    script = tmp_path / "download.py"
    script.write_text(_block("async def download("))
    content = _content(tmp_path / "seed")
    data = create_torrent(content, piece_length=32 * 1024, version="v1")
    (tmp_path / "album.torrent").write_bytes(data)
    meta = parse_torrent(data)
    (tmp_path / "out" / "album" / "a.bin").mkdir(parents=True)  # where a file must go

    result = _run_with_a_seed(
        meta, tmp_path / "seed", script, str(tmp_path / "album.torrent"), tmp_path / "out"
    )

    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "a.bin" in result.stderr, result.stderr


def test_the_create_example_makes_a_torrent(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8" + bytes(5000))
    script = tmp_path / "create.py"
    script.write_text(_block("create_torrent("))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    name, v1, uri = result.stdout.split()
    assert name == "photos"
    assert uri.startswith(f"magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220")

"""Issue 14: inputs read from a path are bounded whatever `stat()` says.

`bitswarm info /dev/zero` used to read without end (4.7 GB in 10 s, then a MemoryError
traceback): the size check trusted `stat()`, which is 0 for devices and pipes. Every file
bitswarm reads from a path now goes through `readlimit.read_limited`.
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bitswarm.bencode import bencode
from bitswarm.daemon.blocklist import Blocklist
from bitswarm.daemon.config import read_toml
from bitswarm.daemon.model import DaemonError
from bitswarm.daemon.watch import read_watch_file
from bitswarm.readlimit import InputTooLarge, gunzip_limited, read_limited

BITSWARM = [sys.executable, "-m", "bitswarm"]
MEMORY_CAP = 1024 * 2**20  # address space for the child: far above the 64 MiB limit


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _info(path: str, pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BITSWARM, "info", path],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_cap_memory,
        check=False,
        pass_fds=pass_fds,
    )


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_info_on_an_endless_device_is_one_clear_line(device: str) -> None:
    result = _info(device)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "too large for a .torrent file" in lines[0]
    assert device in lines[0]


def _feed(fd: int, data: bytes, *, forever: bool) -> threading.Thread:
    def write() -> None:
        try:
            with os.fdopen(fd, "wb") as pipe:
                pipe.write(data)
                while forever:
                    pipe.write(bytes(2**20))
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_info_on_an_endless_pipe_like_process_substitution(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()  # what `<(…)` hands over: /dev/fd/N of a pipe
    try:
        _feed(write_end, b"", forever=True)
        result = _info(f"/dev/fd/{read_end}", pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "too large for a .torrent file" in result.stderr


def test_info_reads_a_whole_torrent_from_a_fifo(tmp_path: Path) -> None:
    torrent = bencode(
        {"info": {"name": "a", "piece length": 16384, "pieces": b"p" * 20, "length": 5}}
    )
    fifo = tmp_path / "in.torrent"
    os.mkfifo(fifo)
    done = threading.Thread(target=fifo.write_bytes, args=(torrent,), daemon=True)
    done.start()
    result = _info(str(fifo))
    assert result.returncode == 0, result.stderr
    assert "a" in result.stdout


def test_every_reader_is_bounded(tmp_path: Path) -> None:
    fifo = tmp_path / "endless.torrent"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR)  # a writer that never ends (opened first: no blocking)
    _feed(os.dup(fd), b"", forever=True)
    try:
        with pytest.raises(DaemonError, match="too large"):
            read_watch_file(fifo)
        with pytest.raises(DaemonError, match="too large"):
            read_toml(fifo)
    finally:
        os.close(fd)
    with pytest.raises(InputTooLarge, match="more than 10 bytes"):
        read_limited("/dev/zero", 10)
    assert read_limited("/dev/null", 10) == b""


def test_a_gzip_bomb_blocklist_is_refused(tmp_path: Path) -> None:
    bomb = gzip.compress(bytes(64 * 2**20))  # 64 MiB of zeros in ~64 KiB
    with pytest.raises(InputTooLarge, match="expands to more than"):
        gunzip_limited(bomb, 2**20, where="x")
    path = tmp_path / "list.p2p.gz"
    path.write_bytes(gzip.compress(b"bad:1.2.3.4-1.2.3.5\n"))
    assert Blocklist.from_file(path).blocked("1.2.3.4")

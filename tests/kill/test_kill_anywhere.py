"""SIGKILL a downloading `bitswarm download` at 20 seeded-random moments (issue 14, point 5).

A seeder runs in this process (a `Session` on its own thread); the downloader is the real
command, killed at a random delay after its start (often during its data check), once the
seeder has sent it a random number of further blocks (mid-write), or as soon as its resume
file starts to change (mid-save), and started again each time. After every kill:

* the resume file, when there is one, parses and names only pieces that verify on disk
  (an atomic replace: never torn, never ahead of the data);
* every piece that verified on disk before a kill still does after the next start (no
  verified piece is lost, so none is fetched twice);

and the last run ends with the data byte-identical to the seeder's.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bitswarm.bitfield import Bitfield
from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig
from bitswarm.storage.resume import decode_resume

from ..cli.cli_helpers import BITSWARM, env_for

KIB = 1024
PIECE = 16 * KIB
SIZE = 6 * 2**20
KILLS = 20


class Seeder:
    """A bitswarm session seeding `data` on loopback, on a thread with its own loop."""

    def __init__(self, torrent: bytes, data: Path) -> None:
        self.meta = parse_torrent(torrent)
        self.data = data
        self.port = 0
        self.uploaded = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0, dht_port=None, lsd=False)
        async with Session(config) as session:
            rt = await session.add(self.meta, self.data)
            self.port = session.listen_port
            self._ready.set()
            while not self._stop.is_set():
                assert rt.core is not None
                self.uploaded = rt.core.uploaded
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.005)
                except TimeoutError:
                    pass

    def __enter__(self) -> Seeder:
        self._thread.start()
        assert self._ready.wait(30), "the seeder did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def _verified(path: Path, hashes: list[bytes]) -> set[int]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return set()
    return {
        i
        for i, h in enumerate(hashes)
        if hashlib.sha1(raw[i * PIECE : (i + 1) * PIECE]).digest() == h
    }


def _resume_state(folder: Path) -> tuple[int, int, bool] | None:
    """(inode, mtime) of the resume file and whether a save's temporary file exists."""
    if not folder.is_dir():
        return None
    names = os.listdir(folder)
    tmp = any(n.endswith(".tmp") for n in names)
    files = [folder / n for n in names if n.endswith(".resume")]
    if not files:
        return (0, 0, tmp)
    st = files[0].stat()
    return (st.st_ino, st.st_mtime_ns, tmp)


def test_sigkill_at_twenty_moments(tmp_path: Path) -> None:
    rng = random.Random(1414)
    source = tmp_path / "seed" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(random.Random(7).randbytes(SIZE))
    raw_torrent = create_torrent(source, piece_length=PIECE)
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(raw_torrent)
    meta = parse_torrent(raw_torrent)
    hashes = [meta.info.piece_hash(i) for i in range(meta.info.num_pieces)]
    out = tmp_path / "dl"
    target = out / "file.bin"
    env = env_for(tmp_path / "state")
    resume_dir = tmp_path / "state" / "bitswarm" / "resume"
    kinds: dict[str, int] = {"delay": 0, "blocks": 0, "resume": 0}

    with Seeder(raw_torrent, source.parent) as seeder:
        args = [
            *BITSWARM, "download", str(torrent), "--output", str(out), "--json", "--no-dht",
            "--port", "0", "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{seeder.port}",
            "--download-limit", "1M", "--no-seed",
        ]  # fmt: skip
        before: set[int] = set()
        finished = False
        for kill in range(KILLS + 1):
            proc = subprocess.Popen(
                args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                if kill == KILLS:  # the last run goes to the end
                    _, err = proc.communicate(timeout=120)
                    assert proc.returncode == 0, err.decode()[-2000:]
                    finished = True
                    break
                kind = "resume" if kill >= KILLS - 2 else rng.choice(["delay", "blocks"])
                start_up, start_state = seeder.uploaded, _resume_state(resume_dir)
                deadline = time.monotonic() + (rng.uniform(0.05, 1.2) if kind == "delay" else 30.0)
                goal = rng.randint(1, 16) * PIECE
                while proc.poll() is None and time.monotonic() < deadline:
                    if kind == "blocks" and seeder.uploaded - start_up >= goal:
                        break
                    if kind == "resume":
                        state = _resume_state(resume_dir)
                        if state is not None and (state != start_state or state[2]):
                            break
                    time.sleep(0.002)  # polling the conditions above, not waiting for time
                if proc.poll() is not None:  # it ended first (complete): no kill this time
                    assert proc.returncode == 0
                    continue
                kinds[kind] += 1
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if proc.stderr is not None:
                    proc.stderr.close()
            on_disk = _verified(target, hashes)
            assert before <= on_disk, f"kill {kill}: verified pieces lost {before - on_disk}"
            before = on_disk
            for path in resume_dir.glob("*.resume") if resume_dir.is_dir() else ():
                data = decode_resume(  # parses: never torn
                    path.read_bytes(),
                    info_hash=meta.info.info_hashes.wire,
                    num_pieces=meta.info.num_pieces,
                )
                saved = set(Bitfield.from_bytes(data.have, meta.info.num_pieces))
                assert saved <= on_disk, f"kill {kill}: resume names pieces not on disk"
        uploaded = seeder.uploaded

    assert finished
    assert target.read_bytes() == source.read_bytes()
    assert sum(kinds.values()) >= KILLS - 3, kinds
    print(f"kills by trigger: {kinds}; seeder uploaded {uploaded} for {SIZE}", file=sys.stderr)

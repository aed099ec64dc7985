"""SIGKILL a downloading `bitswarm download` at 20 seeded-random moments (issue 14, point 5).

A seeder runs in this process (a `Session` on its own thread, which records every block
the downloader asks it for); the downloader is the real command, saving resume data every
0.5 s (``--resume-save-interval``), killed in one of three phases and started again:

* **write**: once the seeder has sent it a random number of further blocks, while pieces
  arrive and are written (it landed there when the data file changed in the last 50 ms);
* **save**: as soon as a resume save's temporary file appears (it landed there when the
  temporary file is still there after the kill: the save was cut short; the next start
  must remove it);
* **check**: during the data check at a start after a kill (the data file is open and the
  process has not dialled the seeder yet: it landed there when no socket beyond its
  listening ones existed at the kill, and the resume file does not record the data file
  as it is, so the start had to hash it).

After every kill:

* the resume file, when there is one, parses and names only pieces that verify on disk:
  the old version or the new one, never torn, never ahead of the data;
* every piece that verified on disk stays verified (no verified piece is lost);
* no piece that verified on disk before a kill is ever asked for again afterwards (the
  seeder's requests per piece, counted once the killed process's connection is gone);

each phase got at least a few kills that landed in it, and the last run ends with the
data byte-identical to the seeder's.
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
from collections.abc import Callable
from pathlib import Path

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig
from bitswarm.storage.resume import decode_resume, read_resume

from ..cli.cli_helpers import BITSWARM, env_for

KIB = 1024
PIECE = 16 * KIB
SIZE = 6 * 2**20
KILLS = 21  # 7 per phase
PHASES = ("write", "save", "check")
AT_LEAST = 3  # kills that must land in each phase


class Seeder:
    """A bitswarm session seeding `data` on loopback, on a thread with its own loop;
    `requests` holds the piece of every block the downloader asked for, in order."""

    def __init__(self, torrent: bytes, data: Path) -> None:
        self.meta = parse_torrent(torrent)
        self.data = data
        self.port = 0
        self.uploaded = 0
        self.peers = 0
        self.requests: list[int] = []
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
            queue_upload: Callable[..., None] = rt.uploads.queue

            def counted(action: object) -> None:  # every block asked for, then served
                self.requests.append(action.piece)  # type: ignore[attr-defined]
                queue_upload(action)

            setattr(rt.uploads, "queue", counted)  # noqa: B010 - instrumenting our seeder
            self.port = session.listen_port
            self._ready.set()
            while not self._stop.is_set():
                assert rt.core is not None
                self.uploaded = rt.core.uploaded
                self.peers = len(rt.protocols)
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


def _temporaries(folder: Path) -> set[str]:
    """The temporary files of resume saves under way (or cut short) in `folder`."""
    try:
        return {n for n in os.listdir(folder) if n.endswith(".tmp")}
    except FileNotFoundError:
        return set()


def _open_files(pid: int) -> tuple[set[str], int]:
    """The paths `pid` holds open, and how many sockets."""
    paths: set[str] = set()
    sockets = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return paths, sockets
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            sockets += 1
        else:
            paths.add(link)
    return paths, sockets


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _wait_for(cond: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # polling a condition, not waiting for time
    return True


@pytest.mark.timeout(180)  # ~30 s alone, ~55 s on a loaded 2-core machine
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
    plan = [PHASES[i % 3] for i in range(KILLS)]
    rng.shuffle(plan)
    tried = dict.fromkeys(PHASES, 0)
    landed = dict.fromkeys(PHASES, 0)
    # (index into the seeder's requests once the killed run was gone, pieces verified then)
    marks: list[tuple[int, set[int]]] = []
    left_behind: set[str] = set()  # temporary files a kill cut short

    with Seeder(raw_torrent, source.parent) as seeder:
        args = [
            *BITSWARM, "download", str(torrent), "--output", str(out), "--json", "--no-dht",
            "--port", "0", "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{seeder.port}",
            "--download-limit", "512K", "--no-seed", "--resume-save-interval", "0.5",
        ]  # fmt: skip
        before: set[int] = set()
        kill = 0
        runs = 0
        while True:
            runs += 1
            proc = subprocess.Popen(
                args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                phase = plan[kill] if kill < len(plan) else None
                if phase == "check" and not before:  # nothing to check yet: download first
                    phase = "write"
                if phase is None:  # the last run goes to the end
                    _, err = proc.communicate(timeout=120)
                    assert proc.returncode == 0, err.decode()[-2000:]
                    break
                hit = _kill_in(phase, proc, seeder, rng, target, resume_dir)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(30)
                if proc.stderr is not None:
                    proc.stderr.close()
            assert _wait_for(lambda: seeder.peers == 0, 30), "the seeder kept the dead peer"
            if hit is None:  # it completed before the kill
                break
            kill += 1
            tried[phase] += 1
            temporaries = _temporaries(resume_dir)
            assert not temporaries & left_behind, "a start left a killed save's file behind"
            if phase == "save" and temporaries:
                hit = True
            left_behind |= temporaries
            landed[phase] += hit
            on_disk = _verified(target, hashes)
            assert before <= on_disk, f"kill {kill}: verified pieces lost {before - on_disk}"
            before = on_disk
            _never_asked_again(marks, seeder.requests)
            marks.append((len(seeder.requests), on_disk))
            for path in resume_dir.glob("*.resume") if resume_dir.is_dir() else ():
                data = decode_resume(  # parses: never torn
                    path.read_bytes(),
                    info_hash=meta.info.info_hashes.wire,
                    num_pieces=meta.info.num_pieces,
                )
                saved = set(Bitfield.from_bytes(data.have, meta.info.num_pieces))
                assert saved <= on_disk, f"kill {kill}: resume names pieces not on disk"
        requests = list(seeder.requests)

    assert kill == KILLS, f"the download ended after {kill} kills"
    assert target.read_bytes() == source.read_bytes()
    assert not _temporaries(resume_dir) & left_behind
    _never_asked_again(marks, requests)
    print(
        f"\nkills tried {tried}, landed {landed}, in {runs} runs; blocks asked for "
        f"{len(requests)} for {SIZE // (16 * KIB)} blocks",
        file=sys.stderr,
    )
    for phase in PHASES:
        assert landed[phase] >= AT_LEAST, (phase, tried, landed)


def _never_asked_again(marks: list[tuple[int, set[int]]], requests: list[int]) -> None:
    """No piece verified on disk at a kill was asked for after that kill."""
    requests = list(requests)
    for n, (mark, verified) in enumerate(marks):
        again = sorted({p for p in requests[mark:] if p in verified})
        assert not again, f"pieces verified before kill {n + 1} were asked for again: {again}"


def _kill_in(
    phase: str,
    proc: subprocess.Popen[bytes],
    seeder: Seeder,
    rng: random.Random,
    target: Path,
    resume_dir: Path,
) -> bool | None:
    """Kill `proc` at a moment of `phase`; whether the kill landed in it (None: the process
    ended first). A save's landing is judged by the caller (the file left behind)."""
    deadline = time.monotonic() + 15
    start_up = seeder.uploaded
    goal = rng.randint(1, 16) * PIECE
    temporaries = _temporaries(resume_dir)
    target_path = str(target)
    listening = -1
    while proc.poll() is None and time.monotonic() < deadline:
        if phase == "write" and seeder.uploaded - start_up >= goal:
            break
        if phase == "save" and _temporaries(resume_dir) - temporaries:
            break
        if phase == "check":
            paths, sockets = _open_files(proc.pid)
            if target_path in paths:
                listening = sockets if listening < 0 else listening
                break
            listening = -1 if sockets == 0 else sockets  # its listening socket(s)
        time.sleep(0.0002 if phase != "write" else 0.002)  # polling, not waiting for time
    if proc.poll() is not None:
        assert proc.returncode == 0
        return None
    sockets_now = _open_files(proc.pid)[1] if phase == "check" else 0
    proc.send_signal(signal.SIGKILL)
    at = time.time()
    if phase == "write":
        mtime = _mtime(target)
        return mtime is not None and at - mtime < 0.05
    if phase == "check":  # before it dialled, at a start that had to hash the data
        return 0 < sockets_now <= listening and _must_check(resume_dir, target)
    return False


def _must_check(resume_dir: Path, target: Path) -> bool:
    """Whether a start now hashes the data: no resume file, or one whose record of the
    data file is not the file as it is (storage/resume.py `trusted_pieces`)."""
    files = list(resume_dir.glob("*.resume")) if resume_dir.is_dir() else []
    if not files:
        return True
    data = read_resume(files[0].read_bytes())
    st = target.stat()
    return data.files[0] != (st.st_size, st.st_mtime_ns)

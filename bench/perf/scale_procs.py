"""The two processes of P6: a bitswarm session seeding many torrents, and many idle peers.

    python bench/perf/scale_procs.py make  --dir DIR --count 1000 --size 64KiB
    python bench/perf/scale_procs.py host  --dir DIR --port P [--max-connections N]
                                           [--profile-out FILE]
    python bench/perf/scale_procs.py peers --dir DIR --port P --count 500

`make` writes COUNT pseudo-random files of SIZE bytes and a v1 torrent for each (16 KiB
pieces, made by bitswarm's own creator). `host` runs one `Session` on 127.0.0.1 that adds
every torrent of DIR (each is checked against its data, as a session does without resume
files) and seeds them; it prints `{"event": "ready", ...}` once all are seeding, and a status
line (connections, torrents seeding, threads) whenever it gets SIGUSR1, so asking costs
nothing while it idles; SIGUSR2 starts cProfile on the event loop's thread and a second
SIGUSR2 stops it and writes the stats to FILE (`{"event": "profiled"}`).

`peers` opens COUNT TCP connections to the host, spread evenly over the torrents, and on
each speaks just enough BitTorrent to be a connected, interested, idle leecher: the BEP 3
handshake (with the BEP 10 extension bit, as real clients set it), an extension handshake,
`interested`, then nothing but a keep-alive every 60 s; everything the host sends is read
and dropped. It never requests a block, so nothing is transferred:
what the host spends is the cost of holding torrents and connections. The wire bytes are
built here from BEP 3 and BEP 10, not with bitswarm's encoder.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import signal
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bitswarm.bencode import bencode
from bitswarm.create import create_torrent
from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.session import Session, SessionConfig, TorrentState

_PIECE = 16 * 1024
_KEEPALIVE_EVERY = 60.0
_CONNECT_AT_ONCE = 64  # stay well inside the host's listen backlog (128)


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def torrent_paths(folder: Path) -> list[Path]:
    return sorted((folder / "torrents").glob("*.torrent"))


# ---------------------------------------------------------------------------- make


def make(folder: Path, count: int, size: int) -> None:
    data, torrents = folder / "data", folder / "torrents"
    data.mkdir(parents=True, exist_ok=True)
    torrents.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name = f"t{index:05d}.bin"
        payload = data / name
        if not payload.is_file() or payload.stat().st_size != size:
            payload.write_bytes(random.Random(index).randbytes(size))
        raw = create_torrent(payload, piece_length=_PIECE, creation_date=None, workers=1)
        (torrents / f"t{index:05d}.torrent").write_bytes(raw)
    emit("made", count=count, size=size)


# ---------------------------------------------------------------------------- host


class LoopProfiler:
    """cProfile of the event loop's thread, switched on and off by SIGUSR2."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.profile: cProfile.Profile | None = None

    def toggle(self) -> None:
        if self.out is None:
            return
        if self.profile is None:
            self.profile = cProfile.Profile()
            self.profile.enable()  # this thread only: the loop's (worker threads are idle)
            emit("profiling")
            return
        self.profile.disable()
        self.profile.dump_stats(self.out)
        self.profile = None
        emit("profiled", path=str(self.out))


async def host(folder: Path, port: int, max_connections: int, profile_out: Path | None) -> int:
    config = SessionConfig(
        listen_host="127.0.0.1", listen_port=port, find_free_port=False,
        max_connections=max_connections,
    )  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Session(config) as session:
        started = time.perf_counter()
        metas: list[Metainfo] = [parse_torrent(p.read_bytes()) for p in torrent_paths(folder)]
        for meta in metas:
            await session.add(meta, folder / "data")
        seconds = time.perf_counter() - started

        def status(event: str = "status") -> None:
            runtimes = list(session.torrents.values())
            emit(
                event,
                port=session.listen_port,
                torrents=len(runtimes),
                seeding=sum(rt.state is TorrentState.SEEDING for rt in runtimes),
                connections=session.connection_count(),
                threads=threading.active_count(),
                add_seconds=round(seconds, 2),
            )

        loop.add_signal_handler(signal.SIGUSR1, status)
        loop.add_signal_handler(signal.SIGUSR2, LoopProfiler(profile_out).toggle)
        status("ready")
        await stop.wait()
    return 0


# ---------------------------------------------------------------------------- peers


def handshake(info_hash: bytes, peer_id: bytes) -> bytes:
    """BEP 3 handshake; reserved bit 20 from the right set: BEP 10 extension protocol."""
    reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0])
    return b"\x13BitTorrent protocol" + reserved + info_hash + peer_id


def message(msg_id: int, payload: bytes = b"") -> bytes:
    """BEP 3: 4-byte big-endian length prefix, one id byte, the payload."""
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


_INTERESTED = 2
_EXTENDED = 20  # BEP 10
_EXT_HANDSHAKE = bencode({b"m": {b"ut_pex": 1}, b"v": b"bitswarm-perf idle peer", b"reqq": 250})


class IdlePeers:
    """COUNT connections, their byte counters, and the keep-alive loop."""

    def __init__(self, host: str, port: int, hashes: list[bytes], count: int) -> None:
        self.host, self.port = host, port
        self.targets = [hashes[i * len(hashes) // count] for i in range(count)]
        self.writers: list[asyncio.StreamWriter] = []
        self.handshakes = 0
        self.failed: list[str] = []
        self.lost = 0
        self.received = 0
        self._readers: set[asyncio.Task[None]] = set()

    async def connect(self, info_hash: bytes, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(handshake(info_hash, b"-PF0001-" + os.urandom(12)))
                reply = await asyncio.wait_for(reader.readexactly(68), 30)
                if reply[28:48] != info_hash:
                    raise ConnectionError("the host answered for another torrent")
                writer.write(message(_EXTENDED, b"\x00" + _EXT_HANDSHAKE))
                writer.write(message(_INTERESTED))
                await writer.drain()
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                self.failed.append(f"{type(exc).__name__}: {exc}")
                return
        self.handshakes += 1
        self.writers.append(writer)
        task = asyncio.get_running_loop().create_task(self._drain(reader))
        self._readers.add(task)

    async def _drain(self, reader: asyncio.StreamReader) -> None:
        while block := await reader.read(65536):
            self.received += len(block)
        self.lost += 1

    async def keepalive(self) -> None:
        while True:
            await asyncio.sleep(_KEEPALIVE_EVERY)
            for writer in self.writers:
                if not writer.is_closing():
                    writer.write(b"\x00\x00\x00\x00")


async def peers(folder: Path, port: int, count: int) -> int:
    hashes = [parse_torrent(p.read_bytes()).info_hashes.wire for p in torrent_paths(folder)]
    swarm = IdlePeers("127.0.0.1", port, hashes, count)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def status(event: str = "status") -> None:
        emit(
            event,
            open=swarm.handshakes - swarm.lost,
            handshakes=swarm.handshakes,
            failed=len(swarm.failed),
            first_failure=swarm.failed[0] if swarm.failed else None,
            lost=swarm.lost,
            received_bytes=swarm.received,
        )

    loop.add_signal_handler(signal.SIGUSR1, status)
    gate = asyncio.Semaphore(_CONNECT_AT_ONCE)
    await asyncio.gather(*(swarm.connect(h, gate) for h in swarm.targets))
    status("connected")
    keeper = loop.create_task(swarm.keepalive())
    await stop.wait()
    keeper.cancel()
    for writer in swarm.writers:
        writer.close()
    return 0


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("role", choices=("make", "host", "peers"))
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--max-connections", type=int, default=1000)
    parser.add_argument("--profile-out", type=Path, default=None)
    args = parser.parse_args(argv)
    match args.role:
        case "make":
            make(args.dir, args.count, args.size)
            return 0
        case "host":
            return asyncio.run(host(args.dir, args.port, args.max_connections, args.profile_out))
        case _:
            return asyncio.run(peers(args.dir, args.port, args.count))


if __name__ == "__main__":
    sys.exit(main())

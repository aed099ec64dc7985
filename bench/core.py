"""The download hot path without sockets, disks or hashing: Python's own cost per block.

A downloading `TorrentCore` over one `PeerConnection`, fed by a second, seeding
`PeerConnection` in memory (bytes shuttled directly, as the sans-IO tests do). Verification
is skipped (every piece "passes" at once), so what is timed is the wire parser, the events,
the picker, request pipelining and block assembly — the per-block work that the loop thread
does in a real download, and the seeding side's framing. Prints µs per 16 KiB block and
the implied ceiling in MB/s for one core; `--profile` adds the top functions.

    .venv/bin/python -m bench core [--size-mib 256] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time

from bitswarm.bitfield import Bitfield
from bitswarm.core.actions import VerifyPiece
from bitswarm.core.torrent import TorrentCore
from bitswarm.wire import PeerConnection
from bitswarm.wire import events as ev

PIECE = 1 << 20
BLOCK = 1 << 14
INFO_HASH = b"\x11" * 20


def run(size: int) -> tuple[float, int]:
    num = size // PIECE
    geometry = {"num_pieces": num, "piece_length": PIECE, "total_length": size}
    core = TorrentCore(have=Bitfield(num), rng=random.Random(1), **geometry)
    ours = PeerConnection(
        info_hash=INFO_HASH, our_peer_id=b"-BS0100-aaaaaaaaaaaa", initiator=True, **geometry
    )
    theirs = PeerConnection(
        info_hash=INFO_HASH, our_peer_id=b"-XX0100-bbbbbbbbbbbb", initiator=False, **geometry
    )
    block = bytes(BLOCK)
    core.add_peer("seed", ours, now=0.0)
    ours.send_handshake()
    now = 0.0
    blocks = 0
    start = time.perf_counter()
    while not core.is_complete:
        now += 0.001
        data = ours.data_to_send()
        if data:
            theirs.receive_data(data, now=now)
        for e in theirs.events():
            match e:
                case ev.HandshakeReceived():
                    theirs.send_bitfield(Bitfield(num, full=True))
                case ev.Interested():
                    theirs.send_unchoke()
                case ev.RequestReceived(index=i, begin=b, length=n):
                    theirs.send_piece(i, b, block[:n])
                    blocks += 1
                case _:
                    pass
        data = theirs.data_to_send()
        if data:
            ours.receive_data(data, now=now)
        for e in ours.events():
            core.handle_peer_event("seed", e, now=now)
        for action in core.actions():
            if isinstance(action, VerifyPiece):
                core.recycle(action.data)
                core.piece_checked(action.piece, True, now=now)
        if core.get_timer() <= now:
            core.handle_timer(now=now)
    return time.perf_counter() - start, blocks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench core", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    size = args.size_mib << 20
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(run, size)
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        return 0
    best = min((run(size) for _ in range(3)), key=lambda r: r[0])
    seconds, blocks = best
    per_block = seconds / blocks * 1e6
    print(
        f"{blocks} blocks of 16 KiB in {seconds:.2f} s: {per_block:.1f} µs per block "
        f"(both sides), ceiling {size / seconds / 1e6:.0f} MB/s on one core"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

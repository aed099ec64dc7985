"""The download hot path without sockets, disks or hashing: Python's own cost per block.

A downloading `TorrentCore` over one `PeerConnection`, fed by a second, seeding
`PeerConnection` in memory (bytes shuttled directly, as the sans-IO tests do). Verification
is skipped (every piece "passes" at once), so what is timed is the wire parser, the events,
the picker, request pipelining and block assembly — the per-block work that the loop thread
does in a real download, and the seeding side's framing. Prints µs per 16 KiB block and
the implied ceiling in MB/s for one core (best of 3 runs), and the CPU time per block (best
of the same 3, steadier than wall time on a busy machine); `--profile` adds the top functions.

By default each output of the seeding connection is fed whole to the downloading one.
`--read-size N` feeds it instead as `PeerProtocol` does: copied into one reused read buffer
of N bytes at a time, a view of that buffer passed to `receive_data`, so some frames
straddle two reads (`PeerProtocol` reads up to 256 KiB at a time once a peer is fast).
`--copies` then counts, in one more run, the copies a block takes on its way from the
buffer it was read into to its piece buffer (see `count_copies`).

    .venv/bin/python -m bench core [--size-mib 256] [--read-size N] [--copies] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bitswarm.bitfield import Bitfield
from bitswarm.core.actions import VerifyPiece
from bitswarm.core.torrent import TorrentCore
from bitswarm.wire import PeerConnection
from bitswarm.wire import events as ev

PIECE = 1 << 20
BLOCK = 1 << 14
INFO_HASH = b"\x11" * 20


@dataclass
class Copies:
    """What `count_copies` saw, block by block."""

    lent: int = 0  # the event's block was the read buffer itself: no copy in the wire
    copied: int = 0  # the event's block was a copy (a bytes object, or assembled elsewhere)
    detached: int = 0  # the piece buffer kept the block once the read buffer was overwritten
    pending: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)

    def report(self) -> str:
        blocks = self.lent + self.copied
        wire = self.copied / blocks
        core = self.detached / blocks
        return (
            f"copies per block, read buffer -> piece buffer: {wire + core:.3f} "
            f"(wire {wire:.3f}: {self.lent} blocks lent from the read buffer, {self.copied} "
            f"copied; core {core:.3f}: {self.detached} of {blocks} piece-buffer writes kept "
            f"the block after the read buffer was overwritten)"
        )


def reads(
    data: bytes, read_size: int | None, rbuf: bytearray, *, writable: bool
) -> Iterator[tuple[memoryview | bytes, bytearray | None]]:
    """`data` as the downloading side receives it, with the buffer it was read into: whole
    (into a fresh buffer if `writable`, else as is), or through the reused read buffer."""
    if read_size is None:
        if not writable:
            yield data, None
            return
        whole = bytearray(data)
        with memoryview(whole) as got:
            yield got, whole
        return
    view = memoryview(rbuf)
    for start in range(0, len(data), read_size):
        chunk = data[start : start + read_size]
        rbuf[: len(chunk)] = chunk  # what the kernel does to PeerProtocol's buffer
        with view[: len(chunk)] as got:
            yield got, rbuf


def count_copies(events: list[ev.Event], rbuf: bytearray, n: int, tally: Copies) -> None:
    """Observe, after the core handled one read's events, whether the wire copied each block.

    Copies are seen, not assumed: the first `n` bytes of the read buffer are overwritten,
    then each block is looked at again. If the event's block changed, it *was* the read
    buffer (the wire lent it: no copy); if not, the wire had copied it. The block's bytes
    are kept to check its piece buffer when the core hands it over (`piece_verified`).
    """
    blocks = [e for e in events if isinstance(e, ev.PieceReceived)]
    before = [bytes(e.data) for e in blocks]
    rbuf[:n] = b"\xa5" * n
    for e, original in zip(blocks, before, strict=True):
        if bytes(e.data) != original:
            tally.lent += 1
        else:
            tally.copied += 1
        tally.pending.setdefault(e.index, []).append((e.begin, original))


def piece_verified(action: VerifyPiece, tally: Copies) -> None:
    """The core handed over a piece buffer: every block still in it, although the read
    buffers it came from were overwritten since, was copied there by the core."""
    for begin, original in tally.pending.pop(action.piece, []):
        if action.data[begin : begin + len(original)] == original:
            tally.detached += 1


def run(
    size: int, read_size: int | None = None, tally: Copies | None = None
) -> tuple[float, float, int]:
    """Download `size` bytes; return wall seconds, CPU seconds and the blocks sent."""
    num = size // PIECE
    core = TorrentCore(
        have=Bitfield(num),
        rng=random.Random(1),
        num_pieces=num,
        piece_length=PIECE,
        total_length=size,
    )
    ours = PeerConnection(
        info_hash=INFO_HASH,
        our_peer_id=b"-BS0100-aaaaaaaaaaaa",
        initiator=True,
        num_pieces=num,
        piece_length=PIECE,
        total_length=size,
    )
    theirs = PeerConnection(
        info_hash=INFO_HASH,
        our_peer_id=b"-XX0100-bbbbbbbbbbbb",
        initiator=False,
        num_pieces=num,
        piece_length=PIECE,
        total_length=size,
    )
    block = bytes(range(256)) * (BLOCK // 256)  # not all zeros: the copy count compares bytes
    rbuf = bytearray(read_size or 0)
    core.add_peer("seed", ours, now=0.0)
    ours.send_handshake()
    now = 0.0
    blocks = 0
    start, cpu_start = time.perf_counter(), time.process_time()
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
        for got, into in reads(data, read_size, rbuf, writable=tally is not None) if data else ():
            ours.receive_data(got, now=now)
            events = ours.events()
            run_of_blocks = [e for e in events if type(e) is ev.PieceReceived]
            for e in events:  # as TorrentRuntime.peer_events: a read's blocks at once
                if type(e) is not ev.PieceReceived:
                    core.handle_peer_event("seed", e, now=now)
            core.handle_blocks("seed", run_of_blocks, now=now)
            if tally is not None and into is not None:
                count_copies(events, into, len(got), tally)
            for action in core.actions():
                if isinstance(action, VerifyPiece):
                    if tally is not None:
                        piece_verified(action, tally)
                    core.recycle(action.data)
                    core.piece_checked(action.piece, True, now=now)
        if core.get_timer() <= now:
            core.handle_timer(now=now)
    return time.perf_counter() - start, time.process_time() - cpu_start, blocks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench core", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--read-size", type=int, default=None, metavar="BYTES")
    parser.add_argument("--copies", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    size = args.size_mib << 20
    timed: Callable[[], tuple[float, float, int]] = lambda: run(size, args.read_size)  # noqa: E731
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(timed)
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        return 0
    runs = [timed() for _ in range(3)]
    seconds, _, blocks = min(runs, key=lambda r: r[0])
    cpu = min(r[1] for r in runs)
    per_block = seconds / blocks * 1e6
    print(
        f"{blocks} blocks of 16 KiB in {seconds:.2f} s: {per_block:.1f} µs per block "
        f"(both sides), ceiling {size / seconds / 1e6:.0f} MB/s on one core; "
        f"CPU {cpu / blocks * 1e6:.1f} µs per block"
    )
    if args.copies:
        tally = Copies()
        run(size, args.read_size, tally)
        print(tally.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

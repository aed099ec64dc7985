"""Transfers for P1–P3: repeated one-to-one runs, and one seeder serving N leechers at once.

One-to-one runs go through bench/transfer/one_to_one.py (`one_run`, hence the interop harness's
`run_transfer`), exactly as `python -m bench transfer SEEDER LEECHER` does. `fan_out` is what the
harness lacks for P2: one seeder and N leechers started together, all on 127.0.0.1 with
distinct ports, each leecher told to dial the seeder and nobody else (no tracker, DHT, PEX
or LSD), so the seeder is the only source and its upload is what is measured. Every
leecher's copy is compared byte for byte with the payload before the peers are stopped.

`fan_out` can also sample the seeder's or the first leecher's Python stacks with py-spy
while the leechers download (`profile=`), to say where a bitswarm peer spends its time.

Each run is watched by `LoadWatch`; a run during which other programs kept more than
`DISTURBED_CORES` busy is run again (up to `retries` times) and flagged if it stays so.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar

from bitswarm_lab.peers.base import Endpoint, HarnessError, Peer, PeerSpec, Role
from bitswarm_lab.peers.netns import free_port
from bitswarm_lab.peers.torrent_files import TorrentFile, files_identical
from bitswarm_lab.peers.transfer import PEER_CLASSES, TransferResult

from .. import OUT
from ..transfer import memory_state
from ..transfer.one_to_one import cached_torrent, check_available, one_run
from .load import LoadFigures, LoadWatch
from .sampling import MemoryTrace, Sampled, StackSampler, TracePoint
from .stress import CpuStress

__all__ = [
    "OUT",
    "FanOutResult",
    "Measured",
    "TransferBench",
    "fan_out",
    "measured",
    "transfer_once",
]

_LOOPBACK = "127.0.0.1"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Measured(Generic[_T]):
    """A result and the load on the machine while it was measured."""

    value: _T
    load: LoadFigures
    attempts: int  # 1 unless earlier attempts were disturbed by other programs

    @property
    def disturbed(self) -> bool:
        return self.load.disturbed


def measured(run: Callable[[], _T], retries: int = 2) -> Measured[_T]:
    """Run `run` under a LoadWatch; re-run it while other programs disturbed it."""
    attempt = 0
    while True:
        attempt += 1
        with LoadWatch() as watch:
            value = run()
        assert watch.figures is not None
        if not watch.figures.disturbed or attempt > retries:
            return Measured(value, watch.figures, attempt)
        print(
            f"perf: other programs kept {watch.figures.other_cores:.2f} cores busy; "
            f"measuring again ({attempt}/{retries})",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(5.0)


def transfer_once(
    seeder: type[Peer], leecher: type[Peer], torrent: TorrentFile, *, netns: bool, timeout: float
) -> TransferResult:
    """One transfer exactly as `python -m bench transfer SEEDER LEECHER` makes it."""
    return one_run(seeder, leecher, torrent, netns, timeout)


@dataclass(frozen=True, slots=True)
class FanOutResult:
    seeder: str
    leecher: str
    size: int
    leecher_seconds: tuple[float, ...]  # each from its start to verified completion
    wall_seconds: float  # first leecher start to last completion
    seeder_cpu_seconds: float  # while the leechers downloaded
    leecher_cpu_seconds: tuple[float, ...]  # each at its completion
    leecher_peak_rss_bytes: tuple[int, ...]  # each at its completion (0: not sampled)
    profile: Sampled | None = None  # py-spy of the seeder or the first leecher
    trace: tuple[TracePoint, ...] = ()  # memory of the first leecher, when traced

    @property
    def leechers(self) -> int:
        return len(self.leecher_seconds)

    def leecher_mb_per_s(self) -> list[float]:
        return [self.size / s / 1e6 for s in self.leecher_seconds]

    @property
    def aggregate_mb_per_s(self) -> float:
        return self.leechers * self.size / self.wall_seconds / 1e6

    @property
    def seeder_cpu_per_gib(self) -> float:
        """Seeder CPU seconds per GiB uploaded."""
        return self.seeder_cpu_seconds / (self.leechers * self.size / (1 << 30))


def _distinct_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(_LOOPBACK)
        if port not in ports:
            ports.append(port)
    return ports


def fan_out(
    seeder_class: type[Peer],
    leecher_class: type[Peer],
    torrent: TorrentFile,
    leechers: int,
    *,
    timeout: float,
    profile: Literal["seeder", "leecher"] | None = None,
    profile_out: Path | None = None,
    trace: bool = False,
) -> FanOutResult:
    """One seeder, `leechers` leechers started together; see the module docstring.

    With `profile`, the seeder (or the first leecher) is sampled by py-spy into
    `profile_out` from the first leecher's start to the last completion. With `trace`,
    the first leecher's memory is sampled (sampling.MemoryTrace) over that time.
    """
    if not leecher_class.dials_peers:
        raise HarnessError(f"{leecher_class.program} cannot be told to dial the seeder")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = OUT / "runs" / f"{stamp}-fanout-{seeder_class.program}-{os.getpid()}"
    seed_dir = workdir / "seed"
    seed_dir.mkdir(parents=True)
    ports = _distinct_ports(leechers + 1)
    try:
        os.link(torrent.path.parent / torrent.name, seed_dir / torrent.name)
        with ExitStack() as stack:
            seed_spec = PeerSpec(
                Role.SEED, torrent.path, seed_dir, workdir / "seeder",
                Endpoint(_LOOPBACK, ports[0]),
            )  # fmt: skip
            seeder = stack.enter_context(seeder_class(seed_spec))
            seeder.wait_complete(timeout)
            memory_state.settle()  # every leecher writes into memory in the same state
            cpu_before = seeder.cpu_seconds()
            started: list[float] = []
            peers: list[Peer] = []
            sampler: StackSampler | None = None
            tracer: MemoryTrace | None = None
            if profile == "seeder" and profile_out is not None:
                sampler = StackSampler(seeder.process.pid if seeder.process else 0, profile_out)
                stack.callback(sampler.stop)
            for index in range(leechers):
                spec = PeerSpec(
                    Role.LEECH, torrent.path, workdir / f"leech{index}-data",
                    workdir / f"leech{index}", Endpoint(_LOOPBACK, ports[index + 1]),
                    peers=(seed_spec.listen,),
                )  # fmt: skip
                started.append(time.monotonic())
                peers.append(stack.enter_context(leecher_class(spec)))
                process = peers[0].process
                if index == 0 and profile == "leecher" and profile_out and process:
                    sampler = StackSampler(process.pid, profile_out)
                    stack.callback(sampler.stop)
                if index == 0 and trace and process:
                    tracer = stack.enter_context(MemoryTrace(process.pid))
            deadline = time.monotonic() + timeout
            try:
                # each completion is timestamped when the peer reports it, so waiting for
                # them one after another does not bend the figures
                seconds = [
                    peer.wait_complete(max(1.0, deadline - time.monotonic())) for peer in peers
                ]
            except HarnessError as exc:
                raise HarnessError(f"{exc}\n--- the seeder:\n{seeder.describe()}") from exc
            cpu_after = seeder.cpu_seconds()
            sampled = None if sampler is None else sampler.stop()
            usages = [peer.usage_at_completion for peer in peers]
            points = tuple(tracer.points) if tracer is not None else ()
            traced = tracer.peak_rss_bytes if tracer is not None else 0
            for peer in peers:
                copy = peer.spec.data_dir / torrent.name
                if not files_identical(seed_dir / torrent.name, copy):
                    raise HarnessError(f"{peer!r} completed but its copy differs")
        wall = max(t + s for t, s in zip(started, seconds, strict=True)) - started[0]
        return FanOutResult(
            seeder=seeder_class.program,
            leecher=leecher_class.program,
            size=torrent.total_size,
            leecher_seconds=tuple(seconds),
            wall_seconds=wall,
            seeder_cpu_seconds=cpu_after - cpu_before,
            leecher_cpu_seconds=tuple(u.cpu_seconds if u else 0.0 for u in usages),
            leecher_peak_rss_bytes=tuple(
                # the harness reads 0 from a leecher that is already a zombie: the trace knows
                max(u.peak_rss_bytes if u else 0, traced if i == 0 else 0)
                for i, u in enumerate(usages)
            ),
            profile=sampled,
            trace=points,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class TransferBench:
    """Cached payloads and memoised runs, so P1 and P3 share their transfers in `all`."""

    def __init__(self, runs: int, piece_size: int, retries: int = 2) -> None:
        self.runs = runs
        self.piece_size = piece_size
        self.retries = retries  # re-runs of a run disturbed by other programs (`measured`)
        self._pairs: dict[tuple[str, str, int, str], list[Measured[TransferResult]]] = {}
        self._profiles: dict[tuple[str, str, int, str], FanOutResult] = {}

    def torrent(self, size: int, meta: str = "v1") -> TorrentFile:
        """The cached payload's torrent: v1 (the default), or v2-only (`meta="v2"`)."""
        if meta == "v2":
            from .v2 import cached_v2_torrent

            return cached_v2_torrent(size, self.piece_size)
        return cached_torrent(size, self.piece_size)

    @staticmethod
    def forget_payload(size: int) -> None:
        """Delete a cached payload and its torrents (bench/out/cache/SIZE)."""
        shutil.rmtree(OUT / "cache" / str(size), ignore_errors=True)

    @staticmethod
    def timeout(size: int) -> float:
        return 120 + size / 2e6  # as `bench transfer`, with more room for slow seeders

    @staticmethod
    def unavailable(seeder: str, leecher: str) -> str | None:
        seeder_class, leecher_class = PEER_CLASSES[seeder], PEER_CLASSES[leecher]
        netns = seeder_class.needs_netns or leecher_class.needs_netns
        return check_available(seeder_class, leecher_class, netns)

    def pair(
        self,
        seeder: str,
        leecher: str,
        size: int,
        runs: int | None = None,
        meta: str = "v1",
        *,
        stress: bool = False,
    ) -> list[Measured[TransferResult]]:
        """`runs` one-to-one transfers (the bench's default count) of the `meta` torrent
        ("v1" or "v2", see `torrent`), memoised. With `stress`, each runs beside
        `stress-ng --cpu 1` (bench/perf/stress.py), started before the seeder."""
        key = (seeder, leecher, size, f"{meta}-stress" if stress else meta)
        wanted = runs or self.runs
        done = self._pairs.setdefault(key, [])
        seeder_class, leecher_class = PEER_CLASSES[seeder], PEER_CLASSES[leecher]
        netns = seeder_class.needs_netns or leecher_class.needs_netns
        torrent = self.torrent(size, meta)

        def run() -> TransferResult:
            with ExitStack() as stack:
                if stress:
                    stack.enter_context(CpuStress())
                return transfer_once(seeder_class, leecher_class, torrent, netns=netns,
                                     timeout=self.timeout(size))  # fmt: skip

        while len(done) < wanted:
            result = measured(run, self.retries)
            done.append(result)
            r = result.value
            print(
                f"perf: {seeder} → {leecher} {size >> 20} MiB {key[3]} run {len(done)}: "
                f"{r.seconds:.2f} s, {r.mb_per_s:.1f} MB/s, leecher CPU {r.cpu_seconds:.2f} s, "
                f"peak RSS {r.peak_rss_bytes >> 20} MiB, other CPU "
                f"{result.load.other_cores:.2f} cores",
                file=sys.stderr,
                flush=True,
            )
        return done[:wanted]

    def fan_outs(
        self,
        seeder: str,
        leecher: str,
        leechers: int,
        size: int,
        runs: int | None = None,
        *,
        trace: bool = False,
    ) -> list[Measured[FanOutResult]]:
        torrent = self.torrent(size)
        results: list[Measured[FanOutResult]] = []
        for index in range(runs or self.runs):
            result = measured(
                lambda: fan_out(PEER_CLASSES[seeder], PEER_CLASSES[leecher], torrent, leechers,
                                timeout=self.timeout(size * leechers), trace=trace),
                self.retries,
            )  # fmt: skip
            results.append(result)
            rates = ", ".join(f"{v:.0f}" for v in result.value.leecher_mb_per_s())
            print(
                f"perf: {seeder} → {leechers} × {leecher} {size >> 20} MiB run {index + 1}: "
                f"MB/s {rates}; aggregate {result.value.aggregate_mb_per_s:.0f}; other CPU "
                f"{result.load.other_cores:.2f} cores",
                file=sys.stderr,
                flush=True,
            )
        return results

    def profiled(
        self,
        seeder: str,
        leecher: str,
        size: int,
        who: Literal["seeder", "leecher"],
        meta: str = "v1",
    ) -> FanOutResult:
        """One more one-to-one transfer of the `meta` torrent with py-spy on `who` (its
        figures are not used)."""
        key = (seeder, leecher, size, f"{who}-{meta}")
        if key in self._profiles:
            return self._profiles[key]
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = OUT / "perf" / f"{stamp}-{seeder}-{leecher}-{who}-{meta}.raw"
        out.parent.mkdir(parents=True, exist_ok=True)
        result = fan_out(
            PEER_CLASSES[seeder],
            PEER_CLASSES[leecher],
            self.torrent(size, meta),
            1,
            timeout=self.timeout(size),
            profile=who,
            profile_out=out,
        )
        self._profiles[key] = result
        return result

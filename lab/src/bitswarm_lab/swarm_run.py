"""One lab run: build the shaped swarm, start every peer, sample progress, measure T_all.

The order of a run (`run_lab`):
1. check that namespaces, `tc`, the tracker and every implementation are available; sweep
   namespaces that dead lab or test runs left behind;
2. write the payload (pseudo-random, one file) and make its v1 torrent with bitswarm;
3. build the network (shaped_network.py): the tracker on an unshaped host, then one host per
   peer with its upload (and download) limit; in a client-server plan each leecher can then
   reach only the tracker and the seeders, so it never serves another leecher;
4. start the tracker and the seeders; wait until every seeder has verified its data and the
   tracker lists them all, so that no leecher waits out an announce interval;
5. start every leecher (each stays and seeds once complete: Kumar–Ross counts every peer's
   upload until the last one is done). t0 is the moment the first one starts;
6. sample every leecher's verified progress `sample_hz` times a second until all are
   complete (T_all = the last completion after t0) or `timeout` passes; read how many bytes
   each host sent from its qdisc counters at that moment;
7. compare every leecher's copy with the payload;
8. stop everything and delete every namespace, also on error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bitswarm.create import create_torrent
from bitswarm.errors import BitswarmError

from .interrupts import signals_deferred, sigterm_raises_interrupt
from .kumar_ross import DistributionBound, efficiency
from .lab_peers import lab_peer_class
from .lab_tracker import make_tracker, tracker_unavailable_reason
from .peers.base import Endpoint, HarnessError, Peer, PeerSpec, Role
from .peers.netns import free_port, sweep_stale_namespaces
from .peers.torrent_files import files_identical, load_torrent, write_payload
from .shaped_network import ShapedHost, ShapedNetwork, shaping_unavailable_reason
from .swarm_plan import LabRole, PeerPlan, SwarmPlan

__all__ = ["LabError", "LabResult", "PeerOutcome", "ProgressHook", "run_lab"]

_SEED_READY_TIMEOUT = 60.0
_SENT = re.compile(r"Sent (\d+) bytes")

# Called about once a second while leechers download: (seconds since t0, {name: progress}).
ProgressHook = Callable[[float, dict[str, float]], None]


class LabError(BitswarmError):
    """The lab cannot run here, or a peer failed to start or to finish."""


@dataclass(frozen=True, slots=True)
class PeerOutcome:
    """What one peer did: `completed` is seconds after t0 (leechers), `sent` its host's
    bytes on the wire and `cpu_seconds` its CPU time until T_all (or the timeout), and
    `samples` its verified progress over time, as (seconds after t0, fraction)."""

    plan: PeerPlan
    address: str
    completed: float | None
    sent_bytes: int | None
    cpu_seconds: float | None
    samples: tuple[tuple[float, float], ...]
    detail: str
    log_dir: Path


@dataclass(frozen=True, slots=True)
class LabResult:
    plan: SwarmPlan
    bound: DistributionBound
    t_all: float | None  # None: not every leecher finished
    seeders_ready: float  # seconds from the seeders' start until all are verified and tracked
    peers: tuple[PeerOutcome, ...]
    namespaces: tuple[str, ...]  # every namespace the run made (all deleted by now)
    failure: str | None = None
    workdir: Path | None = None  # set when the run's folder was kept

    @property
    def efficiency(self) -> float | None:
        return efficiency(self.bound.t_min, self.t_all)

    @property
    def leechers(self) -> tuple[PeerOutcome, ...]:
        return tuple(peer for peer in self.peers if peer.plan.role is LabRole.LEECHER)

    @property
    def seeders(self) -> tuple[PeerOutcome, ...]:
        return tuple(peer for peer in self.peers if peer.plan.role is LabRole.SEEDER)


def unavailable_reason(plan: SwarmPlan) -> str | None:
    """Why `plan` cannot run on this machine (one line a person can act on), or None."""
    reason = shaping_unavailable_reason() or tracker_unavailable_reason(plan.tracker)
    if reason is not None:
        return reason
    for impl in sorted({peer.impl for peer in plan.peers}):
        why = lab_peer_class(impl).unavailable_reason()
        if why is not None:
            return f"{impl}: {why}"
    return None


def run_lab(plan: SwarmPlan, *, on_progress: ProgressHook | None = None) -> LabResult:
    """Run the swarm of `plan` once (see the module docstring); raise LabError if it cannot."""
    reason = unavailable_reason(plan)
    if reason is not None:
        raise LabError(f"the lab cannot run here: {reason}")
    bound = plan.bound()
    sweep_stale_namespaces()
    temporary = plan.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="bitswarm-lab-")) if temporary else plan.workdir
    assert workdir is not None
    keep = plan.keep_workdir or not temporary
    try:
        with sigterm_raises_interrupt():
            result = _Run(plan, bound, workdir).execute(on_progress)
        keep = keep or result.failure is not None
        return _with_workdir(result, workdir if keep else None)
    finally:
        if not keep:
            with signals_deferred():
                shutil.rmtree(workdir, ignore_errors=True)


def _with_workdir(result: LabResult, workdir: Path | None) -> LabResult:
    return LabResult(
        result.plan, result.bound, result.t_all, result.seeders_ready, result.peers,
        result.namespaces, result.failure, workdir,
    )  # fmt: skip


class _Run:
    """The state of one run while it is under way (see run_lab)."""

    def __init__(self, plan: SwarmPlan, bound: DistributionBound, workdir: Path) -> None:
        self.plan = plan
        self.bound = bound
        self.workdir = workdir
        self.hosts: dict[str, ShapedHost] = {}
        self.peers: dict[str, Peer] = {}
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.sent: dict[str, int] = {}
        self.cpu: dict[str, float] = {}
        self.namespaces: tuple[str, ...] = ()

    def execute(self, on_progress: ProgressHook | None) -> LabResult:
        stack = ExitStack()
        network = ShapedNetwork()
        try:
            payload, torrent_path = self._payload()
            torrent = load_torrent(torrent_path)
            stack.enter_context(network)
            tracker_host = network.add_host()
            tracker = stack.enter_context(
                make_tracker(
                    self.plan.tracker, self.workdir / "tracker", host=tracker_host.address,
                    netns=tracker_host.netns, info_hash=torrent.info_hash,
                )
            )  # fmt: skip
            for peer_plan in self.plan.peers:
                self.hosts[peer_plan.name] = network.add_host(
                    up_bps=peer_plan.up_bps, down_bps=peer_plan.down_bps
                )
            if self.plan.client_server:
                servers = [tracker_host, *(self.hosts[p.name] for p in self.plan.seeders)]
                for peer_plan in self.plan.leechers:
                    network.confine(self.hosts[peer_plan.name], servers)
            self.namespaces = network.names
            started = time.monotonic()
            for peer_plan in self.plan.seeders:
                self._start(stack, peer_plan, torrent_path, payload, tracker.announce_url)
            for peer_plan in self.plan.seeders:
                self.peers[peer_plan.name].wait_complete(_SEED_READY_TIMEOUT)
            tracker.wait_for_peers(torrent.info_hash, len(self.plan.seeders), timeout=15)
            ready = time.monotonic() - started
            t0 = time.monotonic()
            for peer_plan in self.plan.leechers:
                self._start(stack, peer_plan, torrent_path, None, tracker.announce_url)
            t_all, failure = self._watch(t0, on_progress)
            if failure is None and self.plan.verify:
                failure = self._verify(payload, torrent.name)
            return LabResult(
                self.plan, self.bound, t_all, ready, self._outcomes(t0), self.namespaces,
                failure,
            )  # fmt: skip
        except HarnessError as exc:
            raise LabError(str(exc)) from exc
        finally:
            self.namespaces = network.names or self.namespaces
            with signals_deferred():
                for peer in self.peers.values():  # all at once: then each stop is quick
                    if peer.process is not None:
                        peer.process.signal(signal.SIGTERM)
                stack.close()
                network.close()

    def _payload(self) -> tuple[Path, Path]:
        """The payload file and its torrent, made fresh in the run's folder."""
        name = f"lab-payload-{self.plan.size}.bin"
        payload = self.workdir / "payload" / name
        if not payload.is_file() or payload.stat().st_size != self.plan.size:
            write_payload(payload, self.plan.size, seed=self.plan.size)
        torrent_path = self.workdir / f"{name}.torrent"
        torrent_path.write_bytes(
            create_torrent(payload, piece_length=self.plan.piece_size, creation_date=None)
        )
        return payload, torrent_path

    def _start(
        self,
        stack: ExitStack,
        peer_plan: PeerPlan,
        torrent: Path,
        payload: Path | None,
        announce: str,
    ) -> None:
        host = self.hosts[peer_plan.name]
        peer_dir = self.workdir / "peers" / peer_plan.name
        data_dir = peer_dir / "data"
        shutil.rmtree(peer_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        if payload is not None:  # a seeder: its own link to the payload
            os.link(payload, data_dir / payload.name)
        role = Role.SEED if peer_plan.role is LabRole.SEEDER else Role.LEECH
        spec = PeerSpec(
            role, torrent, data_dir, peer_dir / "work",
            Endpoint(host.address, free_port(host.address, host.netns)),
            tracker=announce, netns=host.netns, seed_after=True,
        )  # fmt: skip
        peer_class = lab_peer_class(peer_plan.impl, verbose=self.plan.verbose)
        peer = peer_class(spec)
        self.peers[peer_plan.name] = peer
        self.samples[peer_plan.name] = []
        stack.enter_context(peer)

    def _watch(
        self, t0: float, on_progress: ProgressHook | None
    ) -> tuple[float | None, str | None]:
        """Sample until every leecher completes: (T_all or None, failure or None)."""
        period = 1.0 / self.plan.sample_hz
        leechers = [plan.name for plan in self.plan.leechers]
        next_report = 0.0
        while True:
            now = time.monotonic() - t0
            progress: dict[str, float] = {}
            for name in leechers:
                try:
                    status = self.peers[name].poll()
                except HarnessError as exc:
                    return None, f"{name} failed: {exc}"
                progress[name] = status.progress
                self.samples[name].append((now, status.progress))
            for plan in self.plan.seeders:
                seeder = self.peers[plan.name]
                if seeder.process is None or not seeder.process.running():
                    return None, f"seeder {plan.name} exited\n{seeder.describe()}"
            done = [self.peers[name].completed_at for name in leechers]
            if all(at is not None for at in done):
                self._take_counters()
                return max(at - t0 for at in done if at is not None), None
            if now > self.plan.timeout:
                self._take_counters()
                late = [name for name, at in zip(leechers, done, strict=True) if at is None]
                return None, f"not complete after {self.plan.timeout:.0f} s: {', '.join(late)}"
            if on_progress is not None and now >= next_report:
                next_report = now + 1.0
                on_progress(now, progress)
            time.sleep(max(0.0, period - (time.monotonic() - t0 - now)))

    def _take_counters(self) -> None:
        """Bytes each host sent (its upload qdisc's counter) and CPU each peer used, now."""
        for name, peer in self.peers.items():
            if peer.process is not None:
                self.cpu[name] = peer.process.usage().cpu_seconds
        sent: dict[str, int] = {}
        for name, host in self.hosts.items():
            if host.up_bps is None:
                continue
            reply = subprocess.run(
                ["ip", "netns", "exec", host.netns, "tc", "-s", "qdisc", "show", "dev",
                 host.host.link, "handle", "1:"],
                capture_output=True, text=True, timeout=10, check=False,
            )  # fmt: skip
            found = _SENT.search(reply.stdout)
            if found is not None:
                sent[name] = int(found.group(1))
        self.sent = sent

    def _verify(self, payload: Path, name: str) -> str | None:
        wrong = [
            plan.name
            for plan in self.plan.leechers
            if not files_identical(payload, self.peers[plan.name].spec.data_dir / name)
        ]
        if wrong:
            return f"reported complete, but their copies differ from the payload: {wrong}"
        return None

    def _outcomes(self, t0: float) -> tuple[PeerOutcome, ...]:
        outcomes = []
        for plan in self.plan.peers:
            peer = self.peers[plan.name]
            at = peer.completed_at
            samples = self.samples.get(plan.name, [])
            completed = at - t0 if at is not None and plan.role is LabRole.LEECHER else None
            if completed is not None:  # the exact moment it said so, between two samples
                samples = sorted([*samples, (completed, 1.0)])
            try:
                detail = peer.poll().detail if peer.process is not None else "not started"
            except HarnessError as exc:
                detail = str(exc).splitlines()[0]
            outcomes.append(
                PeerOutcome(
                    plan=plan,
                    address=self.hosts[plan.name].address,
                    completed=completed,
                    sent_bytes=self.sent.get(plan.name),
                    cpu_seconds=self.cpu.get(plan.name),
                    samples=tuple(samples),
                    detail=detail,
                    log_dir=peer.spec.workdir,
                )
            )
        return tuple(outcomes)

"""The one interface every peer in the interop harness implements, and what they share.

A `Peer` is one BitTorrent program (libtorrent, aria2, Transmission, bitswarm) seeding or
downloading one torrent as a child process, optionally inside a network namespace. Tests and
the transfer benchmark drive every program the same way:

    with LibtorrentPeer(seed_spec) as seeder:        # start()
        seeder.wait_complete(30)                     # a seeder is "complete" once verified
        with Aria2Peer(leech_spec) as leecher:
            seconds = leecher.wait_complete(60)      # from start() to verified completion
            leecher.usage_at_completion              # CPU seconds and peak RSS right then

A program is supported by writing `_launch` (start the child) and `_query` (ask it how far
it is). `ManagedProcess` owns the child: logs, /proc figures, wait4 rusage, a sure kill.
"""

from __future__ import annotations

import abc
import enum
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import ClassVar, NoReturn

from bitswarm.errors import BitswarmError

from .process import LineHandler, ManagedProcess, ResourceUsage

__all__ = [
    "Endpoint",
    "HarnessError",
    "Peer",
    "PeerExitedError",
    "PeerSpec",
    "PeerStatus",
    "PeerTimeoutError",
    "Role",
]


class HarnessError(BitswarmError):
    """A real peer could not be started, died, or did not finish in time."""


class PeerExitedError(HarnessError):
    """The peer's process ended before it completed."""


class PeerTimeoutError(HarnessError):
    """The peer did not complete within the allowed time."""


class Role(enum.Enum):
    SEED = "seed"
    LEECH = "leech"


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """Everything a peer needs to take part in one transfer.

    `data_dir` holds the payload for a seeder (the torrent's `name` inside it) and receives
    it for a leecher. `workdir` is the peer's private folder (config, logs). `peers` are
    addresses to dial; programs that cannot dial on request rely on `tracker`. A leecher
    with `seed_after` stays and seeds once complete (a swarm's leechers upload to each other
    for the whole run); without it, it may exit as soon as its data is verified.
    """

    role: Role
    torrent: Path
    data_dir: Path
    workdir: Path
    listen: Endpoint
    peers: tuple[Endpoint, ...] = ()
    tracker: str | None = None
    netns: str | None = None
    seed_after: bool = False
    upload_limit: int = 0  # bytes/s, 0: none (libtorrent only: streaming tests and bench)
    # MSE/PE: "" = the program's plain-TCP test setup; "required" = encrypted (RC4) only,
    # both ways; "disabled" = plaintext only (libtorrent, aria2, Transmission, bitswarm)
    encryption: str = ""


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """How far a peer is: `progress` in [0, 1] counts verified data only.

    `completed_at` is the monotonic time the program itself reported completion, when it
    tells us (a JSON line's arrival); otherwise the harness uses the time it noticed.
    """

    progress: float = 0.0
    complete: bool = False
    detail: str = ""
    completed_at: float | None = None


class Peer(abc.ABC):
    """One BitTorrent program seeding or leeching one torrent (see the module docstring)."""

    program: ClassVar[str]
    dials_peers: ClassVar[bool] = True  # False: cannot be told to connect to an address
    needs_netns: ClassVar[bool] = False  # True: refuses loopback peers

    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.process: ManagedProcess | None = None
        self.usage_at_completion: ResourceUsage | None = None
        self._started_at: float | None = None
        self._completed_at: float | None = None
        self._status = PeerStatus(detail="not started")

    # -- what each program provides ----------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls) -> str | None:
        """Why this program cannot run on this machine, or None when it can."""

    @abc.abstractmethod
    def _launch(self) -> ManagedProcess:
        """Start the program (use `self._spawn`) and return its process."""

    def _after_launch(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Finish setting up once the process runs (e.g. hand it the torrent over RPC)."""

    @abc.abstractmethod
    def _query(self) -> PeerStatus:
        """Ask the program how far it is; may raise OSError when it does not answer yet."""

    # -- the interface -----------------------------------------------------------------

    @property
    def role(self) -> Role:
        return self.spec.role

    @property
    def endpoint(self) -> Endpoint:
        return self.spec.listen

    @property
    def started_at(self) -> float | None:
        """The monotonic time of start(), or None before it."""
        return self._started_at

    @property
    def completed_at(self) -> float | None:
        """The monotonic time of verified completion (as of the last poll), or None."""
        return self._completed_at

    def start(self) -> None:
        if self._started_at is not None:
            return
        self.spec.workdir.mkdir(parents=True, exist_ok=True)
        self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        self._started_at = time.monotonic()
        try:
            self.process = self._launch()
            self._after_launch()
        except BaseException:
            self.stop()
            raise

    def poll(self) -> PeerStatus:
        """Refresh and return the status; raises PeerExitedError if the process died early."""
        process = self._require_process()
        returncode = process.poll()
        if self._completed_at is not None:
            return self._status
        try:
            status = self._query()
        except OSError as exc:
            status = replace(self._status, detail=f"no answer: {exc}")
        self._status = status
        if status.complete:
            self._completed_at = status.completed_at or time.monotonic()
            self.usage_at_completion = process.usage()
        elif returncode is not None:
            self._fail(PeerExitedError, f"exited with status {returncode} before completing")
        return status

    def progress(self) -> float:
        return self.poll().progress

    def is_complete(self) -> bool:
        return self.poll().complete

    def wait_complete(self, timeout: float, interval: float = 0.05) -> float:
        """Block until complete; return seconds from start() to completion."""
        deadline = time.monotonic() + timeout
        while not self.poll().complete:
            if time.monotonic() >= deadline:
                self._fail(PeerTimeoutError, f"not complete after {timeout:.0f} s")
            time.sleep(interval)
        assert self._completed_at is not None and self._started_at is not None
        return self._completed_at - self._started_at

    def cpu_seconds(self) -> float:
        """CPU (user + system) the process used so far, or in all once it has ended."""
        return self._require_process().usage().cpu_seconds

    def peak_rss_bytes(self) -> int:
        """The largest resident set the process had so far (VmHWM, or rusage at exit)."""
        return self._require_process().usage().peak_rss_bytes

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def describe(self) -> str:
        """A few lines for a failure message: who, where, last status, log tail."""
        lines = [
            f"{self.program} {self.role.value} on {self.endpoint}"
            f"{' in ' + self.spec.netns if self.spec.netns else ''}: "
            f"progress {self._status.progress:.3f}; {self._status.detail}"
        ]
        if self.process is not None:
            lines.append(self.process.log_tail())
        return "\n".join(lines)

    def __enter__(self) -> Peer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.role.value} {self.endpoint}>"

    # -- helpers for implementations ---------------------------------------------------

    def _spawn(
        self,
        argv: list[str],
        *,
        on_line: LineHandler | None = None,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        process = ManagedProcess(
            argv,
            name=f"{self.program}-{self.role.value}",
            log_dir=self.spec.workdir,
            netns=self.spec.netns,
            cwd=cwd,
            on_line=on_line,
        )
        self.process = process  # before start(): whatever happens next, stop() finds it
        process.start()
        return process

    def _require_process(self) -> ManagedProcess:
        if self.process is None:
            raise HarnessError(f"{self!r} was not started")
        return self.process

    def _fail(self, error: type[HarnessError], reason: str) -> NoReturn:
        raise error(f"{self!r} {reason}\n{self.describe()}")

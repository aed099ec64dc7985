"""One torrent of a `bitswarm download` run: from its source to the end of its seeding.

Rules:
- A job is *preparing* (a magnet link's metadata is being fetched, then the torrent is
  added and its data checked), then *downloading*, then *seeding* once every wanted
  piece is verified, until its seed condition holds; then it is *done* and its torrent is
  taken out of the session (no more uploading), while the other jobs go on.
- The seed condition (`SeedPolicy`): none (``--no-seed``: done when complete), a time
  (``--seed-time``), or a ratio uploaded/size (``--seed-ratio``, 1.0 unless told, as
  aria2). Uploaded bytes count from when the torrent was added to this run.
- A job *fails* when its metadata cannot be had, the torrent cannot be added, or its
  runtime reports an error; the others go on. A signal makes every job not yet over
  *stopped* (the session saves resume data on close).

The run (transfer_commands.py) ends when every job is over: done, failed or stopped.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..metainfo import Metainfo
from ..session import TorrentRuntime, TorrentState, TorrentStatus
from .sources import Source

__all__ = ["Adder", "Fetcher", "Job", "JobState", "SeedPolicy"]

Adder = Callable[["Job"], Awaitable[TorrentRuntime]]


class JobState(enum.Enum):
    """Where a job stands; the last three are over."""

    PREPARING = "preparing"
    DOWNLOADING = "downloading"
    SEEDING = "seeding"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


_OVER = frozenset({JobState.DONE, JobState.FAILED, JobState.STOPPED})


@dataclass(frozen=True, slots=True)
class SeedPolicy:
    """When a complete torrent stops seeding: `ratio`, `seconds`, or at once (neither)."""

    ratio: float | None = 1.0
    seconds: float | None = None

    def reason_to_stop(self, uploaded: int, size: int, seeded_for: float) -> str | None:
        """Why seeding ends now (``seed-ratio``, ``seed-time``, ``no-seed``), or None."""
        if self.ratio is None and self.seconds is None:
            return "no-seed"
        if self.seconds is not None and seeded_for >= self.seconds:
            return "seed-time"
        if self.ratio is not None and uploaded >= self.ratio * max(1, size):
            return "seed-ratio"
        return None


Fetcher = Callable[["Job"], Awaitable[Metainfo]]


class Job:
    """One torrent of the run and where it stands (see the module rules)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.state = JobState.PREPARING
        self.rt: TorrentRuntime | None = None
        self.meta = source.torrent if isinstance(source.torrent, Metainfo) else None
        self.error: str | None = None
        self.reason: str | None = None  # why it is over: done's seed condition, failed, ...
        self.started = time.monotonic()
        self.completed_at: float | None = None  # when every wanted piece was verified
        self.last: TorrentStatus | None = None  # the last status, kept once the torrent is gone
        self.peers_max = 0  # the most peers connected at once, for the summary
        self.task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.meta.info.name if self.meta is not None else self.source.label

    @property
    def info_hash(self) -> str:
        return self.source.info_hash.hex()

    @property
    def over(self) -> bool:
        return self.state in _OVER

    @property
    def succeeded(self) -> bool:
        return self.state is JobState.DONE

    def status(self) -> TorrentStatus | None:
        """The torrent's status now (or its last, once it left the session)."""
        if self.rt is not None and not self.over:
            self.last = self.rt.status()
            self.peers_max = max(self.peers_max, self.last.peers)
        return self.last

    def seconds(self, now: float) -> float:
        """How long it took to download (so far, if not complete)."""
        return (self.completed_at or now) - self.started

    def fail(self, message: str) -> None:
        if not self.over:
            self.state, self.error, self.reason = JobState.FAILED, message, "failed"

    def stop(self) -> None:
        if not self.over:
            self.state, self.reason = JobState.STOPPED, "stopped"

    def added(self, rt: TorrentRuntime) -> None:
        """The torrent is in the session (its data checked): downloading from now."""
        self.rt, self.meta = rt, rt.meta
        if self.state is JobState.PREPARING:
            self.state = JobState.DOWNLOADING

    def advance(self, policy: SeedPolicy, now: float) -> list[str]:
        """Move on as the torrent's state says; returns the transitions made
        (``completed``, ``done``, ``failed``) for the caller to report."""
        rt = self.rt
        if rt is None or self.over:
            return []
        changes: list[str] = []
        st = self.status()
        if rt.state is TorrentState.ERROR:
            self.fail(rt.error or "the torrent stopped on an error")
            return ["failed"]
        if rt.completed.is_set() and self.completed_at is None:
            self.completed_at = now
            self.state = JobState.SEEDING
            changes.append("completed")
        if self.completed_at is not None and st is not None:
            reason = policy.reason_to_stop(st.uploaded, st.wanted_bytes, now - self.completed_at)
            if reason is not None:
                self.state, self.reason = JobState.DONE, reason
                changes.append("done")
        return changes

    async def prepare(self, add: Adder, fetch: Fetcher) -> None:
        """Get the metadata if need be, then add the torrent; a failure fails the job."""
        try:
            if self.meta is None:
                self.meta = await fetch(self)
            if self.over:
                return
            self.added(await add(self))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one torrent's failure is its own: the others go on
            self.fail(str(exc) or type(exc).__name__)

"""BEP 12 multitracker policy: which tracker to announce to next, when, with which event.

Pure policy, no I/O: the driver asks `next_announce(now=...)` for a job, performs it on
whatever transport the URL names, and reports back with `on_success` or `on_failure`.
One job is in flight at a time.

Rules:

* BEP 12: each tier is shuffled once (injected rng), then tried in order. All URLs of a
  tier are tried before the next tier; a tracker that answers moves to the front of its
  tier and ends the round. A new round starts again from the first tier.
* The next regular round is due ``interval`` seconds after a success (BEP 3), never
  sooner than ``min interval``, clamped to [`interval_floor`, `interval_cap`].
* A tracker that fails is backed off for `backoff_base` * 2**(fails-1) seconds, capped
  at `backoff_max` (60 s doubling to 1 h by default); it is skipped while backed off.
  When every tracker failed, the next round waits for the first backoff to end.
* Events (BEP 3), tracked per tracker because a failover tracker has never heard of us:
  ``started`` first; ``completed`` once after the download finishes, but never to a
  tracker that got ``started`` when we were already complete; ``stopped`` on shutdown,
  once, to each tracker that got ``started``, with no retries. An event is announced
  as soon as it happens instead of waiting for the interval.
"""

from __future__ import annotations

import enum
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import LocalProtocolError
from .announce import AnnounceEvent, AnnounceResponse, one_line

__all__ = ["AnnounceJob", "Shuffler", "TrackerStatus", "TrackerTiers", "TrackerView"]


class Shuffler(Protocol):
    """What the policy needs from its rng (`random.Random` fits)."""

    def shuffle(self, x: MutableSequence[Any], /) -> None: ...


class TrackerStatus(enum.Enum):
    """What a tracker looks like to the user."""

    NOT_CONTACTED = "not contacted"
    UPDATING = "updating"
    WORKING = "working"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class AnnounceJob:
    """Announce to `url` with `event`; echo `tracker_id` if set (BEP 3 ``trackerid``)."""

    url: str
    event: AnnounceEvent
    tracker_id: bytes | None


@dataclass(frozen=True, slots=True)
class TrackerView:
    """A snapshot of one tracker's state, for display."""

    url: str
    tier: int
    status: TrackerStatus
    fails: int
    last_error: str | None
    last_announce: float | None
    next_announce: float | None
    interval: int | None
    seeders: int | None
    leechers: int | None
    peers: int | None
    warning: str | None


@dataclass(slots=True)
class _Tracker:
    url: str
    tier: int
    status: TrackerStatus = TrackerStatus.NOT_CONTACTED
    fails: int = 0
    retry_at: float = 0.0
    last_error: str | None = None
    last_announce: float | None = None
    interval: int | None = None
    seeders: int | None = None
    leechers: int | None = None
    peers: int | None = None
    warning: str | None = None
    tracker_id: bytes | None = None
    started_sent: bool = False
    completed_sent: bool = False


class TrackerTiers:
    """The announce schedule of one torrent over its BEP 12 ``announce-list``."""

    def __init__(
        self,
        tiers: Sequence[Sequence[str]],
        *,
        rng: Shuffler,
        complete: bool = False,
        backoff_base: float = 60.0,
        backoff_max: float = 3600.0,
        interval_floor: float = 60.0,
        interval_cap: float = 86400.0,
    ) -> None:
        seen: set[str] = set()
        self._tiers: list[list[_Tracker]] = []
        for urls in tiers:
            tier = []
            for url in urls:
                if url not in seen:  # a URL listed twice is tried once, in its first tier
                    seen.add(url)
                    tier.append(_Tracker(url, len(self._tiers)))
            if tier:
                rng.shuffle(tier)  # BEP 12: "shuffled when first read"
                self._tiers.append(tier)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.interval_floor = interval_floor
        self.interval_cap = interval_cap
        self._complete = complete
        self._stopping = False
        self._stop_queue: list[_Tracker] = []
        self._inflight: tuple[AnnounceJob, _Tracker, bool] | None = None
        self._round_due = 0.0  # the first round starts at once
        self._min_due = 0.0
        self._tried: set[int] = set()

    # -- queries ----------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True after shutdown once every ``stopped`` was sent (or there was none to send)."""
        return self._stopping and not self._stop_queue and self._inflight is None

    def trackers(self) -> list[TrackerView]:
        """Every tracker in the order they would be tried."""
        return [self._view(t) for tier in self._tiers for t in tier]

    def get_timer(self) -> float | None:
        """When to call `next_announce` next (at once if already past); None while a job
        is in flight or nothing is left to do."""
        if self._inflight is not None or self.finished or not self._tiers:
            return None
        return self._round_due

    # -- commands ---------------------------------------------------------------------

    def next_announce(self, *, now: float) -> AnnounceJob | None:
        """The announce to perform now, if one is due. Marks it in flight."""
        if self._inflight is not None or self.finished or not self._tiers:
            return None
        if self._stopping:
            t = self._stop_queue.pop(0)
            return self._dispatch(t, AnnounceEvent.STOPPED)
        if now < self._round_due:
            return None
        for tier in self._tiers:
            for t in tier:
                if id(t) not in self._tried and t.retry_at <= now:
                    return self._dispatch(t, self._event_for(t))
        # The whole list failed (or is backed off): wait for the first tracker to recover.
        self._tried.clear()
        self._round_due = min(t.retry_at for tier in self._tiers for t in tier)
        return None

    def on_success(self, job: AnnounceJob, response: AnnounceResponse, *, now: float) -> None:
        """Record the reply to the job `next_announce` gave out."""
        t, complete_at_dispatch = self._take(job)
        t.status = TrackerStatus.WORKING
        t.fails = 0
        t.retry_at = 0.0
        t.last_error = None
        t.last_announce = now
        t.interval = response.interval
        t.seeders = response.complete
        t.leechers = response.incomplete
        t.peers = len(response.peers)
        t.warning = response.warning
        if response.tracker_id is not None:
            t.tracker_id = response.tracker_id
        match job.event:
            case AnnounceEvent.STARTED:
                t.started_sent = True
                # BEP 3: "No completed is sent if the file was complete when started."
                t.completed_sent = t.completed_sent or complete_at_dispatch
                if self._stopping:
                    self._stop_queue.append(t)
            case AnnounceEvent.COMPLETED:
                t.completed_sent = True
            case AnnounceEvent.STOPPED:
                t.started_sent = False
            case AnnounceEvent.NONE:
                pass
        tier = self._tiers[t.tier]
        tier.remove(t)
        tier.insert(0, t)  # BEP 12: "moved to the front of the tier"
        self._tried.clear()
        lower = max(float(response.min_interval or 0), self.interval_floor)
        self._min_due = now + min(float(response.min_interval or 0), self.interval_cap)
        wait = min(max(float(response.interval), lower), self.interval_cap)
        # An event that happened meanwhile (say, completion) goes out at once.
        self._round_due = now if self._event_for(t) is not AnnounceEvent.NONE else now + wait

    def on_failure(
        self, job: AnnounceJob, error: str, *, now: float, retry_in: float | None = None
    ) -> None:
        """Record that the job failed (`error` is shown to the user); go on to the next URL.

        `retry_in` overrides the backoff when the tracker said how long to wait.
        """
        t, _ = self._take(job)
        t.status = TrackerStatus.ERROR
        t.fails += 1
        t.last_error = one_line(error)
        t.last_announce = now
        if job.event is AnnounceEvent.STOPPED:
            return  # shutdown does not retry
        backoff = min(self.backoff_base * 2 ** min(t.fails - 1, 30), self.backoff_max)
        t.retry_at = now + (retry_in if retry_in is not None else backoff)
        self._tried.add(id(t))

    def download_completed(self, *, now: float) -> None:
        """The download just finished: announce ``completed`` promptly."""
        if self._complete:
            return
        self._complete = True
        self._round_due = min(self._round_due, now)

    def reannounce(self, *, now: float) -> None:
        """Ask for a round soon (say, to get more peers), respecting ``min interval``."""
        self._round_due = min(self._round_due, max(now, self._min_due))

    def announce_now(self, *, now: float) -> None:
        """A round now, as a person asked for one: backoffs, the interval and ``min
        interval`` are not waited for (an announce in flight is this round's first)."""
        if self._stopping:
            return
        for tier in self._tiers:
            for t in tier:
                t.retry_at = 0.0
        self._tried.clear()
        self._round_due = now

    def stop(self, *, now: float) -> None:
        """Shut down: from now on only ``stopped`` announces go out."""
        if self._stopping:
            return
        self._stopping = True
        self._stop_queue = [t for tier in self._tiers for t in tier if t.started_sent]
        self._round_due = now

    # -- internals --------------------------------------------------------------------

    def _event_for(self, t: _Tracker) -> AnnounceEvent:
        if not t.started_sent:
            return AnnounceEvent.STARTED
        if self._complete and not t.completed_sent:
            return AnnounceEvent.COMPLETED
        return AnnounceEvent.NONE

    def _dispatch(self, t: _Tracker, event: AnnounceEvent) -> AnnounceJob:
        job = AnnounceJob(t.url, event, t.tracker_id)
        t.status = TrackerStatus.UPDATING
        self._inflight = (job, t, self._complete)
        return job

    def _take(self, job: AnnounceJob) -> tuple[_Tracker, bool]:
        if self._inflight is None or self._inflight[0] is not job:
            raise LocalProtocolError(f"no announce to {job.url} is in flight")
        _, t, complete = self._inflight
        self._inflight = None
        return t, complete

    def _view(self, t: _Tracker) -> TrackerView:
        front = self._tiers[t.tier][0] is t and t.status is TrackerStatus.WORKING
        if t.retry_at:
            next_at: float | None = t.retry_at
        elif front and not self._stopping:
            next_at = self._round_due
        else:
            next_at = None
        return TrackerView(
            url=t.url,
            tier=t.tier,
            status=t.status,
            fails=t.fails,
            last_error=t.last_error,
            last_announce=t.last_announce,
            next_announce=next_at,
            interval=t.interval,
            seeders=t.seeders,
            leechers=t.leechers,
            peers=t.peers,
            warning=t.warning,
        )

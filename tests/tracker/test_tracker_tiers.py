"""BEP 12 tier policy and BEP 3 event semantics, driven over virtual time."""

from __future__ import annotations

import random
from collections.abc import MutableSequence
from typing import Any

import pytest

from bitswarm.errors import LocalProtocolError
from bitswarm.tracker.announce import AnnounceEvent, AnnounceResponse, PeerAddress
from bitswarm.tracker.tiers import AnnounceJob, TrackerStatus, TrackerTiers

E = AnnounceEvent


class NoShuffle:
    """Keeps the listed order, so tests can name who is tried first."""

    def shuffle(self, x: MutableSequence[Any], /) -> None:
        pass


def reply(
    interval: int = 1800,
    min_interval: int | None = None,
    *,
    tid: bytes | None = None,
    peers: int = 2,
) -> AnnounceResponse:
    return AnnounceResponse(
        interval=interval,
        min_interval=min_interval,
        peers=tuple(PeerAddress("10.0.0.1", 1000 + i) for i in range(peers)),
        complete=3,
        incomplete=4,
        tracker_id=tid,
        warning=None,
    )


def job(t: TrackerTiers, now: float) -> AnnounceJob:
    j = t.next_announce(now=now)
    assert j is not None, f"no job due at {now}"
    return j


def order(t: TrackerTiers) -> list[str]:
    return [v.url for v in t.trackers()]


def test_tiers_shuffled_once_with_injected_rng() -> None:
    tiers = [[f"http://a{i}/announce" for i in range(6)], ["udp://b:1", "udp://c:1"]]
    t1 = TrackerTiers(tiers, rng=random.Random(3))
    t2 = TrackerTiers(tiers, rng=random.Random(3))
    assert order(t1) == order(t2)
    assert sorted(order(t1)[:6]) == sorted(tiers[0]) and order(t1)[:6] != tiers[0]
    assert [v.tier for v in t1.trackers()] == [0] * 6 + [1, 1]


def test_duplicates_and_empty_tiers_are_dropped() -> None:
    t = TrackerTiers([["u1", "u2", "u1"], [], ["u2", "u3"]], rng=NoShuffle())
    assert order(t) == ["u1", "u2", "u3"]
    assert [v.tier for v in t.trackers()] == [0, 0, 1]
    empty = TrackerTiers([], rng=NoShuffle())
    assert empty.next_announce(now=0) is None and empty.get_timer() is None


def test_bep12_example_move_to_front() -> None:
    t = TrackerTiers([["t1", "t2", "t3"]], rng=NoShuffle())
    j = job(t, 0)
    assert j.url == "t1" and j.event is E.STARTED
    assert t.next_announce(now=0) is None  # one job at a time
    t.on_failure(j, "connection refused", now=0)
    j = job(t, 0)
    assert j.url == "t2"
    t.on_success(j, reply(), now=1)
    assert order(t) == ["t2", "t1", "t3"]  # BEP 12: t2, t1, t3
    # later neither t2 nor t1 answers but t3 does -> t3, t2, t1
    now = 1 + 1800.0
    j = job(t, now)
    assert j.url == "t2" and j.event is E.NONE
    t.on_failure(j, "timeout", now=now)
    j = job(t, now)
    assert j.url == "t1", "t1's backoff from t=0 has expired"
    t.on_failure(j, "timeout", now=now)
    j = job(t, now)
    assert j.url == "t3" and j.event is E.STARTED  # t3 never heard of us
    t.on_success(j, reply(), now=now)
    assert order(t) == ["t3", "t2", "t1"]


def test_next_tier_only_after_whole_tier_failed() -> None:
    t = TrackerTiers([["a1", "a2"], ["b1"]], rng=NoShuffle())
    tried = []
    for _ in range(3):
        j = job(t, 0)
        tried.append(j.url)
        if j.url != "b1":
            t.on_failure(j, "down", now=0)
    assert tried == ["a1", "a2", "b1"]
    t.on_success(j, reply(interval=600), now=0)
    # next round starts from the first tier again, skipping trackers still backed off
    assert t.get_timer() == 600
    assert t.next_announce(now=599) is None
    j = job(t, 600)
    assert j.url == "a1"


def test_interval_and_min_interval_are_honoured() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    t.on_success(job(t, 0), reply(interval=100, min_interval=300), now=0)
    assert t.get_timer() == 300  # min interval wins over a shorter interval
    t2 = TrackerTiers([["a"]], rng=NoShuffle(), interval_floor=60)
    t2.on_success(job(t2, 0), reply(interval=0), now=10)
    assert t2.get_timer() == 70  # interval 0 is clamped, we do not hammer the tracker
    t3 = TrackerTiers([["a"]], rng=NoShuffle())
    t3.on_success(job(t3, 0), reply(interval=2**31), now=0)
    assert t3.get_timer() == 86400
    # reannounce: at once, but not before min interval
    t.reannounce(now=50)
    assert t.get_timer() == 300
    t.reannounce(now=400)
    assert t.get_timer() == 300


def test_backoff_doubles_to_an_hour_and_resets_on_success() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    now = 0.0
    waits = []
    for _ in range(9):
        j = job(t, now)
        t.on_failure(j, "refused", now=now)
        assert t.next_announce(now=now) is None  # the only tracker is backed off
        nxt = t.get_timer()
        assert nxt is not None
        waits.append(nxt - now)
        now = nxt
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    (view,) = t.trackers()
    assert view.status is TrackerStatus.ERROR and view.fails == 9
    assert view.last_error == "refused" and view.next_announce == now
    t.on_success(job(t, now), reply(), now=now)
    (view,) = t.trackers()
    assert view.fails == 0 and view.status is TrackerStatus.WORKING and view.last_error is None
    j = job(t, now + 1800)
    t.on_failure(j, "x", now=now + 1800, retry_in=5)
    assert t.next_announce(now=now + 1800) is None
    assert t.get_timer() == now + 1805


def test_completed_once_and_promptly() -> None:
    t = TrackerTiers([["a", "b"]], rng=NoShuffle())
    j = job(t, 0)
    assert j.event is E.STARTED
    t.on_success(j, reply(), now=0)
    t.download_completed(now=100)
    assert t.get_timer() == 100  # not after the interval
    j = job(t, 100)
    assert (j.url, j.event) == ("a", E.COMPLETED)
    t.on_success(j, reply(), now=100)
    t.download_completed(now=150)  # repeated: no second completed
    j = job(t, 1900)
    assert j.event is E.NONE
    t.on_failure(j, "down", now=1900)
    j = job(t, 1900)
    # failover: b never got started; it gets started, and no completed ever (BEP 3)
    assert (j.url, j.event) == ("b", E.STARTED)
    t.on_success(j, reply(), now=1900)
    assert job(t, 1900 + 1800).event is E.NONE


def test_completion_while_announce_in_flight_is_not_delayed() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    j = job(t, 0)
    t.download_completed(now=1)  # finishes while 'started' is on the wire
    t.on_success(j, reply(), now=2)
    assert t.get_timer() == 2
    assert job(t, 2).event is E.COMPLETED


def test_seeding_from_the_start_never_sends_completed() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle(), complete=True)
    j = job(t, 0)
    assert j.event is E.STARTED
    t.on_success(j, reply(), now=0)
    t.download_completed(now=5)
    assert job(t, 1800).event is E.NONE


def test_stop_sends_stopped_once_to_trackers_that_got_started() -> None:
    t = TrackerTiers([["a"], ["b"], ["c"]], rng=NoShuffle())
    j = job(t, 0)
    t.on_success(j, reply(), now=0)  # a: started
    j = job(t, 1800)
    t.on_failure(j, "down", now=1800)
    j = job(t, 1800)
    assert j.url == "b"
    t.on_success(j, reply(), now=1800)  # b: started too
    t.stop(now=2000)
    assert t.get_timer() == 2000
    j1 = job(t, 2000)
    assert (j1.url, j1.event) == ("a", E.STOPPED)
    t.on_failure(j1, "down", now=2000)  # no retry on shutdown
    j2 = job(t, 2000)
    assert (j2.url, j2.event) == ("b", E.STOPPED)
    assert not t.finished
    t.on_success(j2, reply(), now=2001)
    assert t.finished and t.next_announce(now=9999) is None and t.get_timer() is None


def test_stop_before_any_started_is_immediately_finished() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    t.stop(now=0)
    assert t.finished and t.next_announce(now=0) is None


def test_stop_while_started_in_flight_then_succeeds() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    j = job(t, 0)
    t.stop(now=1)
    assert not t.finished
    t.on_success(j, reply(), now=2)
    j = job(t, 2)
    assert j.event is E.STOPPED
    t.on_success(j, reply(), now=3)
    assert t.finished


def test_tracker_id_is_echoed_and_state_shown() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    j = job(t, 0)
    assert j.tracker_id is None
    (v,) = t.trackers()
    assert v.status is TrackerStatus.UPDATING
    t.on_success(j, reply(interval=900, tid=b"T1", peers=5), now=10)
    (v,) = t.trackers()
    assert (v.status, v.seeders, v.leechers, v.peers, v.interval) == (
        TrackerStatus.WORKING,
        3,
        4,
        5,
        900,
    )
    assert v.last_announce == 10 and v.next_announce == 910
    j = job(t, 910)
    assert j.tracker_id == b"T1"
    t.on_success(j, reply(), now=910)  # no tracker id this time: the old one stays
    assert job(t, 910 + 1800).tracker_id == b"T1"


def test_results_must_match_the_job_in_flight() -> None:
    t = TrackerTiers([["a"]], rng=NoShuffle())
    with pytest.raises(LocalProtocolError):
        t.on_success(AnnounceJob("a", E.STARTED, None), reply(), now=0)
    j = job(t, 0)
    t.on_success(j, reply(), now=0)
    with pytest.raises(LocalProtocolError):
        t.on_failure(j, "again", now=0)

"""The in-memory swarm store over virtual time: states, counts, expiry, sampling.

Also a hypothesis model check: after any sequence of announces and clock jumps, the
store's counts equal those of a plain dictionary that recomputes everything, and every
peer returned is a live member of the swarm other than the asker.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats
from bitswarm.tracker_server.config import TrackerConfig
from bitswarm.tracker_server.memory_store import MemorySwarmStore
from bitswarm.tracker_server.store import PeerAnnounce

IH = b"\x01" * 20
IH2 = b"\x02" * 20
TIMEOUT = 3600.0


def store() -> MemorySwarmStore:
    return MemorySwarmStore(TrackerConfig(peer_timeout=TIMEOUT, retain_empty=100.0),
                            random.Random(1))  # fmt: skip


def ann(
    peer: int, *, left: int = 1, event: AnnounceEvent = AnnounceEvent.NONE, ih: bytes = IH,
    v6: bool = False, numwant: int = 50, both: bool = True,
) -> PeerAnnounce:  # fmt: skip
    pid = peer.to_bytes(20, "big")
    low = bytes([peer % 256])
    addr = (b"\x20\x01" + b"\x00" * 13 + low) if v6 else bytes([10, 0, 0]) + low
    req = AnnounceRequest(info_hash=ih, peer_id=pid, port=1000 + peer, uploaded=0,
                          downloaded=0, left=left, event=event, key=0, numwant=numwant)  # fmt: skip
    return PeerAnnounce(req, addr + (1000 + peer).to_bytes(2, "big"), numwant, both)


def test_announces_count_seeders_and_leechers_and_return_the_others() -> None:
    s = store()
    r = s.announce_now(ann(1, left=0, event=AnnounceEvent.STARTED), 0.0)
    assert (r.complete, r.incomplete, r.peers4) == (1, 0, ())  # alone: nobody to meet
    r = s.announce_now(ann(2, event=AnnounceEvent.STARTED), 1.0)
    assert (r.complete, r.incomplete) == (1, 1)
    assert r.peers4 == ((ann(1).request.peer_id, ann(1, left=0).packed),)
    assert s.totals_now().peers == 2 and s.totals_now().swarms == 1


def test_leecher_that_completes_becomes_a_seeder_and_is_counted_once() -> None:
    s = store()
    s.announce_now(ann(1, event=AnnounceEvent.STARTED), 0.0)
    r = s.announce_now(ann(1, left=0, event=AnnounceEvent.COMPLETED), 1.0)
    assert (r.complete, r.incomplete, r.downloaded) == (1, 0, 1)
    r = s.announce_now(ann(1, left=0, event=AnnounceEvent.COMPLETED), 2.0)  # a repeat
    assert r.downloaded == 1
    assert s.scrape_now([IH, IH2], 3.0) == [ScrapeStats(1, 1, 0), ScrapeStats(0, 0, 0)]


def test_stopped_removes_the_peer_and_a_stranger_stopping_changes_nothing() -> None:
    s = store()
    for p in range(3):
        s.announce_now(ann(p), 0.0)
    r = s.announce_now(ann(1, event=AnnounceEvent.STOPPED), 1.0)
    assert (r.incomplete, r.peers4) == (2, ())
    assert s.announce_now(ann(9, event=AnnounceEvent.STOPPED), 1.0).incomplete == 2
    assert s.announce_now(ann(9, event=AnnounceEvent.STOPPED, ih=IH2), 1.0).incomplete == 0
    assert s.totals_now().swarms == 1  # a stop for an unknown swarm creates nothing
    assert {pid for pid, _ in s.peers_of(IH)} == {ann(0).request.peer_id, ann(2).request.peer_id}


def test_peers_expire_exactly_after_the_timeout_without_an_announce() -> None:
    s = store()
    s.announce_now(ann(1), 0.0)
    s.announce_now(ann(2), 100.0)
    assert s.scrape_now([IH], TIMEOUT - 1)[0].incomplete == 2
    assert s.scrape_now([IH], TIMEOUT)[0].incomplete == 1  # peer 1 is gone on the dot
    s.announce_now(ann(2), TIMEOUT)  # refreshed: lives until 2 * TIMEOUT
    r = s.announce_now(ann(3), 2 * TIMEOUT - 1)
    assert [p for p, _ in r.peers4] == [ann(2).request.peer_id]
    r = s.announce_now(ann(3), 2 * TIMEOUT + 1)
    assert (r.incomplete, r.peers4) == (1, ())
    assert s.totals_now().leechers == 1


def test_housekeeping_forgets_dead_swarms_but_keeps_completed_counts_a_while() -> None:
    s = store()
    s.announce_now(ann(1), 0.0)
    s.announce_now(ann(1, ih=IH2, left=0, event=AnnounceEvent.COMPLETED), 0.0)
    assert s.housekeeping_now(TIMEOUT + 1) == 1  # IH had no completions: forgotten
    assert s.scrape_now([IH2], TIMEOUT + 1) == [ScrapeStats(0, 1, 0)]
    assert s.full_scrape_now(10, TIMEOUT + 1) == {IH2: ScrapeStats(0, 1, 0)}
    assert s.housekeeping_now(TIMEOUT + 101) == 1  # retain_empty passed
    assert s.totals_now().swarms == 0


def test_numwant_is_honoured_and_the_sample_is_uniform_and_never_the_asker() -> None:
    s = store()
    for p in range(200):
        s.announce_now(ann(p), 0.0)
    seen: set[bytes] = set()
    for _ in range(200):
        r = s.announce_now(ann(0, numwant=10), 1.0)
        assert len(r.peers4) == 10
        ids = [pid for pid, _ in r.peers4]
        assert len(set(ids)) == 10 and ann(0).request.peer_id not in ids
        seen.update(ids)
    assert len(seen) > 180  # not the same few peers every time
    assert s.announce_now(ann(0, numwant=0), 1.0).peers4 == ()


def test_ipv6_peers_go_to_peers6_and_udp_gets_only_its_own_family() -> None:
    s = store()
    s.announce_now(ann(1), 0.0)
    s.announce_now(ann(2, v6=True), 0.0)
    r = s.announce_now(ann(3), 1.0)  # HTTP: both families
    assert [len(p) for _, p in r.peers4] == [6] and [len(p) for _, p in r.peers6] == [18]
    r = s.announce_now(ann(4, v6=True, both=False), 1.0)  # UDP over IPv6
    assert r.peers4 == () and [len(p) for _, p in r.peers6] == [18]
    # The same peer id over both families is one peer in each list (BEP 7).
    s.announce_now(ann(1, v6=True), 2.0)
    assert s.scrape_now([IH], 2.0)[0].incomplete == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3), st.booleans(),
                          st.floats(0, 600)), max_size=120))  # fmt: skip
def test_counts_match_a_model_after_any_sequence(ops: list[tuple[int, int, bool, float]]) -> None:
    timeout = 1000.0
    s = MemorySwarmStore(TrackerConfig(interval=600, min_interval=60, peer_timeout=timeout),
                         random.Random(0))  # fmt: skip
    model: dict[int, tuple[bool, float]] = {}  # peer -> (seeder, expires)
    completed = 0
    now = 0.0
    events = list(AnnounceEvent)
    for peer, ev, seeder, step in ops:
        now += step
        event = events[ev]
        model = {p: v for p, v in model.items() if v[1] > now}
        r = s.announce_now(ann(peer, left=0 if seeder else 5, event=event), now)
        if event is AnnounceEvent.STOPPED:
            model.pop(peer, None)
        else:
            if event is AnnounceEvent.COMPLETED and not model.get(peer, (False, 0))[0]:
                completed += 1
            model[peer] = (seeder, now + timeout)
        seeders = sum(1 for v in model.values() if v[0])
        assert (r.complete, r.incomplete, r.downloaded) == (seeders, len(model) - seeders,
                                                             completed)  # fmt: skip
        live = {ann(p).request.peer_id: ann(p).packed for p in model if p != peer}
        assert all(live.get(pid) == packed for pid, packed in r.peers4)  # id and address
        if event is not AnnounceEvent.STOPPED:
            assert len(r.peers4) == min(50, len(live))
    totals = s.totals_now()
    s.housekeeping_now(now)
    model = {p: v for p, v in model.items() if v[1] > now}
    assert s.totals_now().peers == len(model) <= totals.peers

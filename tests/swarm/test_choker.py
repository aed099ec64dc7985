"""Choker: tit-for-tat, optimistic rotation with new-peer weighting, snubbing, seeding."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Any

import pytest

from bitswarm.errors import LocalProtocolError
from bitswarm.swarm.choker import ChokeDecision, Choker, PeerStats, SeedingAlgorithm


def stats(key: str, down: float = 0.0, up: float = 0.0, **changes: Any) -> PeerStats:
    """An interested peer connected long ago, with `changes` applied."""
    base = PeerStats(
        key=key, interested=True, download_rate=down, upload_rate=up, connected_at=-1000.0
    )
    return dataclasses.replace(base, **changes)


def test_leeching_unchokes_the_fastest_uploaders_to_us() -> None:
    peers = [stats(f"p{i}", down=r) for i, r in enumerate([50, 900, 10, 700, 800, 5])]
    decision = Choker(slots=4).rechoke(peers, seeding=False, now=0.0, rng=random.Random(1))
    regular = decision.unchoke - {decision.optimistic}
    assert regular == {"p1", "p4", "p3"}  # the 3 regular slots, fastest first
    assert decision.optimistic in {"p0", "p2", "p5"}
    assert len(decision.unchoke) == 4


def test_uninterested_peers_are_never_unchoked_or_counted() -> None:
    peers = [
        stats("fast-but-bored", down=10_000, interested=False),
        stats("a", down=3),
        stats("b", down=2),
        stats("c", down=1),
    ]
    decision = Choker(slots=4).rechoke(peers, seeding=False, now=0.0, rng=random.Random(1))
    assert decision.unchoke == {"a", "b", "c"}
    assert decision.optimistic is None  # nobody left for it


def test_snubbed_peer_loses_its_regular_slot() -> None:
    peers = [
        stats("snubber", down=10_000, snubbed=True, is_choked=False),
        *(stats(f"p{i}", down=100 - i) for i in range(5)),
    ]
    choker = Choker(slots=4)
    seen_optimistic = Counter[object]()
    for t in range(0, 3000, 30):
        decision = choker.rechoke(peers, seeding=False, now=float(t), rng=random.Random(t))
        assert decision.unchoke - {decision.optimistic} == {"p0", "p1", "p2"}
        seen_optimistic[decision.optimistic] += 1
    # it may still be the optimistic unchoke (anti-snubbing, not a ban)
    assert seen_optimistic["snubber"] > 0
    assert set(seen_optimistic) == {"snubber", "p3", "p4"}


def test_equal_rates_prefer_peers_already_unchoked() -> None:
    peers = [stats(f"p{i}", down=100, is_choked=i < 3) for i in range(6)]
    decision = Choker(slots=4).rechoke(peers, seeding=False, now=0.0, rng=random.Random(0))
    assert decision.unchoke - {decision.optimistic} == {"p3", "p4", "p5"}


def test_one_slot_means_no_optimistic() -> None:
    peers = [stats("a", down=1), stats("b", down=2)]
    decision = Choker(slots=1).rechoke(peers, seeding=False, now=0.0, rng=random.Random(0))
    assert decision == ChokeDecision(frozenset({"b"}), None)


def test_decision_helpers() -> None:
    peers = [stats("a", down=5, is_choked=False), stats("b", down=9), stats("c", interested=False,
             is_choked=False)]  # fmt: skip
    decision = Choker(slots=2).rechoke(peers, seeding=False, now=0.0, rng=random.Random(0))
    assert decision.unchoke == {"a", "b"}
    assert decision.to_unchoke(peers) == {"b"}
    assert decision.to_choke(peers) == {"c"}


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        Choker(slots=0)
    with pytest.raises(LocalProtocolError):
        Choker(seeding_algorithm="fastest")  # type: ignore[arg-type]  # unknown on purpose


# ------------------------------------------------------------------------ optimistic


def test_optimistic_unchoke_rotates_every_30_seconds() -> None:
    peers = [stats(f"p{i}", down=100 - i) for i in range(8)]
    choker = Choker(slots=4)
    rng = random.Random(3)
    history = []
    for t in range(0, 300, 10):  # a rechoke every 10 s
        decision = choker.rechoke(peers, seeding=False, now=float(t), rng=rng)
        history.append(decision.optimistic)
        assert decision.optimistic in {"p3", "p4", "p5", "p6", "p7"}
        assert choker.optimistic == decision.optimistic
    # it changes exactly at t = 30, 60, ... and stays in between
    for i in range(0, len(history), 3):
        assert history[i] == history[i + 1] == history[i + 2]
        if i:
            assert history[i] != history[i - 1]


def test_optimistic_is_replaced_when_it_leaves_or_earns_a_slot() -> None:
    peers = [stats(f"p{i}", down=100 - i) for i in range(6)]
    choker = Choker(slots=4)
    rng = random.Random(5)
    first = choker.rechoke(peers, seeding=False, now=0.0, rng=rng).optimistic
    assert first in {"p3", "p4", "p5"}
    remaining = [p for p in peers if p.key != first]
    second = choker.rechoke(remaining, seeding=False, now=10.0, rng=rng).optimistic
    assert second not in (first, None)
    # the optimistic peer turns out to be the fastest: it gets a regular slot, and the
    # optimistic slot goes to someone else at once
    promoted = [dataclasses.replace(p, download_rate=1e6) if p.key == second else p
                for p in remaining]  # fmt: skip
    decision = choker.rechoke(promoted, seeding=False, now=20.0, rng=rng)
    assert second in decision.unchoke
    assert decision.optimistic not in (second, None)


def test_new_peers_are_three_times_as_likely_to_be_optimistic() -> None:
    now = 1000.0
    peers = [stats(f"regular{i}", down=1000 - i) for i in range(3)]
    peers += [dataclasses.replace(stats(f"old{i}"), connected_at=0.0) for i in range(4)]
    peers.append(dataclasses.replace(stats("new"), connected_at=now - 20.0))
    rng = random.Random(1234)
    trials = 4000
    picked = Counter(
        Choker(slots=4).rechoke(peers, seeding=False, now=now, rng=rng).optimistic
        for _ in range(trials)
    )
    # weights: new 3, each old 1 -> P(new) = 3/7 = 0.43 (uniform would be 0.2)
    share = picked["new"] / trials
    assert 0.39 < share < 0.47
    for i in range(4):
        assert 0.11 < picked[f"old{i}"] / trials < 0.17
    # after 60 s the peer is no longer new
    later = Counter(
        Choker(slots=4).rechoke(peers, seeding=False, now=now + 60, rng=rng).optimistic
        for _ in range(trials)
    )
    assert 0.17 < later["new"] / trials < 0.23


# ------------------------------------------------------------------------ seeding


def test_seeding_fastest_upload_ranks_by_what_we_give() -> None:
    peers = [stats(f"p{i}", down=1000 * i, up=u) for i, u in enumerate([5, 50, 500, 1, 70])]
    decision = Choker(slots=4).rechoke(peers, seeding=True, now=0.0, rng=random.Random(0))
    assert decision.unchoke - {decision.optimistic} == {"p2", "p4", "p1"}


def test_seeding_ignores_download_rates_and_snubbing() -> None:
    peers = [stats("a", down=1e9, up=1), stats("b", up=10, snubbed=True), stats("c", up=5)]
    decision = Choker(slots=3).rechoke(peers, seeding=True, now=0.0, rng=random.Random(0))
    assert decision.unchoke - {decision.optimistic} == {"b", "c"}


def test_seeding_anti_leech_favours_the_start_and_the_end() -> None:
    progress = {"fresh": 0.02, "done-ish": 0.97, "half": 0.5, "third": 0.3, "most": 0.8}
    peers = [stats(k, up=1000 if k == "half" else 1, progress=v) for k, v in progress.items()]
    choker = Choker(slots=4, seeding_algorithm="anti_leech")
    decision = choker.rechoke(peers, seeding=True, now=0.0, rng=random.Random(0))
    assert decision.unchoke - {decision.optimistic} == {"fresh", "done-ish", "most"}


def serve_for_ten_minutes(algorithm: SeedingAlgorithm) -> Counter[str]:
    """Rechoke every 10 s for 600 s, applying each decision; count rounds per peer."""
    keys = [f"p{i}" for i in range(9)]
    state = {k: stats(k, up=100.0 * i) for i, k in enumerate(keys)}
    choker = Choker(slots=4, seeding_algorithm=algorithm, round_robin_turn=30.0)
    rng = random.Random(9)
    served: Counter[str] = Counter()
    for t in range(0, 600, 10):
        now = float(t)
        decision = choker.rechoke(list(state.values()), seeding=True, now=now, rng=rng)
        for k in keys:
            s = state[k]
            if k in decision.unchoke:
                served[k] += 1
                since = s.last_unchoked_at if not s.is_choked else now
                state[k] = dataclasses.replace(
                    s, is_choked=False, last_unchoked_at=since, uploaded_total=s.uploaded_total + 1
                )
            else:
                state[k] = dataclasses.replace(s, is_choked=True)
    assert sum(served.values()) == 60 * 4
    return served


def test_seeding_round_robin_gives_everyone_a_turn() -> None:
    fastest = serve_for_ten_minutes("fastest_upload")
    assert min(fastest[k] for k in ("p6", "p7", "p8")) == 60  # always the same three
    assert max(fastest.values()) - min(fastest.values()) > 40
    shared = serve_for_ten_minutes("round_robin")
    assert min(shared.values()) >= 20  # fair share: 60 rounds × 4 slots / 9 = 26.7
    assert max(shared.values()) - min(shared.values()) <= 10


def test_round_robin_keeps_a_peer_for_its_turn() -> None:
    now = 100.0
    peers = [
        stats("mid-turn", is_choked=False, last_unchoked_at=now - 10),
        stats("turn-over", is_choked=False, last_unchoked_at=now - 40),
        stats("waited-long", last_unchoked_at=now - 200),
        stats("never"),
        stats("waited-short", last_unchoked_at=now - 50, uploaded_total=10),
    ]
    choker = Choker(slots=4, seeding_algorithm="round_robin", round_robin_turn=30.0)
    decision = choker.rechoke(peers, seeding=True, now=now, rng=random.Random(0))
    assert decision.unchoke - {decision.optimistic} == {"mid-turn", "never", "waited-long"}


# ------------------------------------------------------------------------ slots and refill


def test_seeding_has_its_own_slot_count() -> None:
    peers = [stats(f"p{i}", up=100.0 * i) for i in range(10)]
    choker = Choker(slots=4, seed_slots=8)
    assert choker.slots_for(seeding=True) == 8 and choker.slots_for(seeding=False) == 4
    seeding = choker.rechoke(peers, seeding=True, now=0.0, rng=random.Random(0))
    assert len(seeding.unchoke) == 8
    leeching = Choker(slots=4, seed_slots=8).rechoke(
        peers, seeding=False, now=0.0, rng=random.Random(0)
    )
    assert len(leeching.unchoke) == 4
    with pytest.raises(LocalProtocolError):
        Choker(seed_slots=0)


def test_refill_fills_free_slots_and_chokes_nobody() -> None:
    # 2 unchoked and interested, 1 unchoked but bored (holds no slot), 3 waiting
    peers = [
        stats("busy1", down=10, is_choked=False),
        stats("busy2", down=20, is_choked=False),
        stats("bored", interested=False, is_choked=False),
        stats("slow", down=1),
        stats("fast", down=500),
        stats("snubber", down=9000, snubbed=True),
    ]
    choker = Choker(slots=4)
    assert choker.refill(peers, seeding=False, now=0.0) == {"fast", "slow"}
    full = [dataclasses.replace(p, is_choked=False) if p.key == "fast" else p for p in peers]
    full.append(stats("other", is_choked=False))
    assert choker.refill(full, seeding=False, now=0.0) == frozenset()


def test_refill_prefers_the_peer_that_waited_longest_on_ties() -> None:
    peers = [
        stats("recent", last_unchoked_at=90.0),
        stats("long-ago", last_unchoked_at=10.0),
        stats("never", connected_at=50.0),
    ]
    got = Choker(slots=1, seed_slots=2).refill(peers, seeding=True, now=100.0)
    assert got == {"long-ago", "never"}


def test_eight_interested_leechers_of_a_seed_are_all_served_at_once() -> None:
    """The P2 situation: 8 leechers want data from one seed; none may wait for a rechoke."""
    choker = Choker(slots=4, seed_slots=8)
    peers: list[PeerStats] = []
    for i in range(8):  # they arrive one by one; each arrival triggers a refill
        peers.append(stats(f"l{i}", connected_at=float(i)))
        for key in choker.refill(peers, seeding=True, now=float(i)):
            peers = [dataclasses.replace(p, is_choked=False) if p.key == key else p
                     for p in peers]  # fmt: skip
    assert all(not p.is_choked for p in peers)
    decision = choker.rechoke(peers, seeding=True, now=10.0, rng=random.Random(0))
    assert decision.unchoke == {p.key for p in peers}

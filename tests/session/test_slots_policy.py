"""The peer-slot policy (session/slots.py), pure: timeouts, replacement, turnover, per IP."""

from __future__ import annotations

from bitswarm.session.slots import (
    GRACE,
    Admission,
    PeerFacts,
    SlotKeeper,
    SlotRules,
    is_loopback,
)


def facts(
    key: str,
    *,
    payload: int = 0,
    connected_at: float = 0.0,
    interested: bool = False,
    peer_interested: bool = False,
    choking: bool = True,
    seed: bool = True,
    host: str = "10.0.0.1",
) -> PeerFacts:
    return PeerFacts(key, host, connected_at, payload, interested, peer_interested, choking, seed)


def test_mutually_uninterested_peers_time_out_only_near_the_limit() -> None:
    keeper = SlotKeeper(SlotRules(inactivity_timeout=600.0), now=0.0)
    peers = [facts("idle"), facts("wants", peer_interested=True, choking=True)]
    keeper.observe(peers, 0.0)
    assert keeper.timed_out(peers, limit=50, now=700.0) == []  # far from the limit of 50
    assert keeper.timed_out(peers, limit=7, now=599.0) == []  # not yet 600 s
    assert keeper.timed_out(peers, limit=7, now=600.0) == [
        ("idle", "neither side interested for too long")
    ]


def test_interest_resets_the_inactivity_clock() -> None:
    keeper = SlotKeeper(SlotRules(inactivity_timeout=10.0), now=0.0)
    keeper.observe([facts("p")], 0.0)
    keeper.observe([facts("p", interested=True)], 5.0)
    keeper.observe([facts("p")], 8.0)
    assert keeper.timed_out([facts("p")], limit=1, now=17.0) == []
    assert keeper.timed_out([facts("p")], limit=1, now=18.0) != []


def test_an_unchoked_peer_that_requests_nothing_is_closed_when_seeding() -> None:
    keeper = SlotKeeper(SlotRules(no_request_timeout=60.0), now=0.0)
    lazy = facts("lazy", peer_interested=True, choking=False)
    busy = facts("busy", peer_interested=True, choking=False, payload=1)
    keeper.observe([lazy, facts("busy", peer_interested=True, choking=False)], 0.0)
    keeper.observe([lazy, busy], 59.0)
    out = keeper.timed_out([lazy, busy], limit=100, now=60.0)
    assert out == [("lazy", "unchoked but requested nothing for too long")]
    leecher = facts("x", peer_interested=True, choking=False, seed=False)
    assert keeper.timed_out([leecher], limit=100, now=1000.0) == []


def test_the_victim_is_an_uninterested_peer_of_any_age_else_an_idle_one() -> None:
    keeper = SlotKeeper(SlotRules(replace_after=60.0), now=0.0)
    peers = [
        facts("uploader", payload=10**6, interested=True),
        facts("idle-old", connected_at=0.0),
        facts("interested", peer_interested=True),
        facts("young", connected_at=50.0),
    ]
    keeper.observe(peers, 0.0)
    assert keeper.victim(peers, now=1.0) == "idle-old"  # no interest: its age is no shield
    interested = [facts("uploader", payload=10**6, interested=True), peers[2]]
    assert keeper.victim(interested, now=30.0) is None  # everyone interested, none idle 60 s
    assert keeper.victim(interested, now=61.0) == "interested"  # interested, yet no payload
    # payload keeps a peer out of reach, however old
    keeper.observe([facts("uploader", payload=2 * 10**6, interested=True)], 100.0)
    assert keeper.victim(peers[:1], now=150.0) is None


def _full(keeper: SlotKeeper, n: int, now: float = 0.0) -> list[PeerFacts]:
    """`n` settled idle peers from distinct addresses, filling a limit of `n`."""
    settled = [facts(f"s{i}", host=f"10.0.1.{i}") for i in range(n)]
    for i, p in enumerate(settled):
        assert keeper.admit(p.key, p.host, [], i, n, now) == Admission()
    keeper.observe(settled, now)
    return settled


def test_a_newcomer_to_a_full_torrent_goes_on_probation_over_the_limit() -> None:
    keeper = SlotKeeper(SlotRules(slack=2), now=0.0)
    settled = _full(keeper, 3)
    hosts = [p.host for p in settled]
    assert keeper.admit("n1", "10.0.2.1", hosts, 3, 3, 1.0) == Admission(probation=True)
    assert keeper.on_probation("n1") and not keeper.on_probation("s0")
    assert keeper.admit("n2", "10.0.2.2", hosts, 4, 3, 1.0).probation
    # the slack is full and both probationers are younger than GRACE: refused
    assert keeper.admit("n3", "10.0.2.3", hosts, 5, 3, 1.5).refused == "too many peers"
    assert keeper.admit("x", "10.0.1.0", hosts, 5, 3, 9.0).refused is not None  # per IP


def test_a_useful_probationer_replaces_an_idle_settled_peer_whatever_its_age() -> None:
    keeper = SlotKeeper(SlotRules(slack=2, probation=5.0), now=0.0)
    settled = _full(keeper, 3, now=99.0)  # young: connected a second ago
    settled[1] = facts("s1", host="10.0.1.1", peer_interested=True, connected_at=99.0)
    keeper.admit("n", "10.0.2.1", [], 3, 3, 100.0)
    useful = facts("n", host="10.0.2.1", peer_interested=True, connected_at=100.0)
    peers = [*settled, useful]
    keeper.observe(peers, 100.0)
    closed = keeper.review(peers, 3, 100.5)
    assert closed == [("s0", "replaced by a useful newcomer")]
    assert not keeper.on_probation("n")  # settled
    # we download: a newcomer with pieces we want is useful the same way
    keeper.admit("m", "10.0.2.2", [], 3, 3, 101.0)
    wanted = facts("m", host="10.0.2.2", interested=True, connected_at=101.0, seed=False)
    rest = [settled[1], settled[2], useful, wanted]
    keeper.observe(rest, 101.0)
    assert keeper.review(rest, 3, 101.2) == [("s2", "replaced by a useful newcomer")]


def test_a_probationer_that_shows_nothing_is_closed_and_its_address_cools_down() -> None:
    keeper = SlotKeeper(SlotRules(slack=2, probation=5.0, cooldown=60.0), now=0.0)
    settled = _full(keeper, 2)
    keeper.admit("idle", "10.0.2.1", [], 2, 2, 10.0)
    peers = [*settled, facts("idle", host="10.0.2.1", connected_at=10.0)]
    keeper.observe(peers, 10.0)
    assert keeper.review(peers, 2, 14.9) == []  # still on probation
    assert keeper.review(peers, 2, 15.0) == [("idle", "showed nothing useful on probation")]
    assert not keeper.on_probation("idle")
    refused = keeper.admit("again", "10.0.2.1", [], 2, 2, 16.0).refused
    assert refused is not None and "showed nothing" in refused
    assert keeper.admit("other", "10.0.2.9", [], 2, 2, 16.0).probation  # others still enter
    assert keeper.admit("free", "10.0.2.1", [], 1, 2, 16.0) == Admission()  # not full: welcome
    # the cooldown ends, and doubles with each further strike
    keeper.forget("other")
    assert keeper.admit("back", "10.0.2.1", [], 2, 2, 75.0).probation
    keeper.observe([*settled, facts("back", host="10.0.2.1", connected_at=75.0)], 75.0)
    assert keeper.review([*settled, facts("back", host="10.0.2.1")], 2, 80.0) != []
    assert keeper.admit("again", "10.0.2.1", [], 2, 2, 80.0 + 119.0).refused is not None
    assert keeper.admit("again", "10.0.2.1", [], 2, 2, 80.0 + 120.0).probation


def test_a_full_slack_makes_room_by_the_oldest_idle_probationer() -> None:
    keeper = SlotKeeper(SlotRules(slack=2, probation=5.0), now=0.0)
    _full(keeper, 1)
    assert keeper.admit("a", "10.0.2.1", [], 1, 1, 0.0).probation
    assert keeper.admit("b", "10.0.2.2", [], 2, 1, 0.5).probation
    verdict = keeper.admit("c", "10.0.2.3", [], 3, 1, 0.5 + GRACE)
    assert verdict == Admission(probation=True, evict="a")  # "a" had GRACE seconds
    assert not keeper.on_probation("a")
    assert keeper.admit("a2", "10.0.2.1", [], 3, 1, 2.0).refused is not None  # struck


def test_a_useful_probationer_without_a_victim_waits_out_its_probation() -> None:
    keeper = SlotKeeper(SlotRules(slack=2, probation=5.0, replace_after=60.0), now=0.0)
    busy = facts("busy", host="10.0.1.1", peer_interested=True)
    keeper.admit("busy", "10.0.1.1", [], 0, 1, 0.0)
    keeper.admit("n", "10.0.2.1", [], 1, 1, 1.0)
    peers = [busy, facts("n", host="10.0.2.1", peer_interested=True, connected_at=1.0)]
    keeper.observe(peers, 1.0)
    assert keeper.review(peers, 1, 2.0) == []
    assert keeper.review(peers, 1, 6.0) == [("n", "too many peers")]
    assert keeper.admit("n2", "10.0.2.1", [], 1, 1, 7.0).probation  # no strike: it was useful
    # a slot that frees settles a probationer, the useful before the older
    keeper.admit("idle", "10.0.2.5", [], 2, 1, 7.0)
    waiting = [
        facts("idle", host="10.0.2.5", connected_at=7.0),
        facts("n2", host="10.0.2.1", peer_interested=True, connected_at=7.0),
    ]
    keeper.observe(waiting, 7.5)
    assert keeper.review(waiting, 1, 7.5) == []
    assert not keeper.on_probation("n2") and keeper.on_probation("idle")


def test_turnover_takes_four_percent_near_the_limit_when_others_wait() -> None:
    keeper = SlotKeeper(SlotRules(), now=0.0)
    peers = [facts(f"p{i}", payload=i) for i in range(50)]
    keeper.observe(peers, 0.0)
    assert keeper.turnover(peers, 50, 100.0, candidates=True) == []  # not yet 300 s
    assert keeper.turnover(peers, 50, 300.0, candidates=True) == ["p0", "p1"]
    assert keeper.turnover(peers, 50, 600.0, candidates=False) == []
    assert keeper.turnover(peers[:40], 50, 900.0, candidates=True) == []  # below 90 %


def test_one_connection_per_address_but_loopback() -> None:
    keeper = SlotKeeper(SlotRules(max_peers_per_ip=1), now=0.0)
    assert keeper.address_allowed("10.0.0.1", ["10.0.0.2"])
    assert not keeper.address_allowed("10.0.0.1", ["10.0.0.1"])
    assert keeper.address_allowed("127.0.0.1", ["127.0.0.1"] * 5)
    assert is_loopback("::1") and is_loopback("::ffff:127.0.0.9") and not is_loopback("x")

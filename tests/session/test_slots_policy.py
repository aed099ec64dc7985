"""The peer-slot policy (session/slots.py), pure: timeouts, replacement, turnover, per IP."""

from __future__ import annotations

from bitswarm.session.slots import PeerFacts, SlotKeeper, SlotRules, is_loopback


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


def test_the_victim_is_the_least_useful_idle_peer() -> None:
    keeper = SlotKeeper(SlotRules(replace_after=60.0), now=0.0)
    peers = [
        facts("uploader", payload=10**6, interested=True),
        facts("idle-old", connected_at=0.0),
        facts("interested", peer_interested=True),
        facts("young", connected_at=50.0),
    ]
    keeper.observe(peers, 0.0)
    assert keeper.victim(peers, now=30.0) is None  # nobody idle for 60 s yet
    assert keeper.victim(peers, now=100.0) == "idle-old"
    # payload keeps a peer out of reach, however old
    keeper.observe([facts("uploader", payload=2 * 10**6, interested=True)], 100.0)
    assert keeper.victim(peers[:1], now=150.0) is None


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

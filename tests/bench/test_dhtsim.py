"""Smoke test of `python -m bench dhtsim` at a tiny scale: the simulator's invariants.

200-300 DhtNode cores in virtual time, no churn: every get_peers must finish, find the
announced peers, end with (nearly all of) the true closest nodes, and stay within
log2(N) + 3 hops; with NAT and loss on too, the unreachable hosts must actually be
unreachable (the NAT counter moves) while lookups still succeed.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from bench.network.dhtsim.model import Latency, session_length
from bench.network.dhtsim.run import main, summarize
from bench.network.dhtsim.scenario import Params, Result, simulate

from bitswarm.dht.routing_table import NodeState

TINY = Params(nodes=300, lookups=24, hashes=6, warmup=300.0, join_spread=60.0, settle=30.0,
              window=60.0, churn=False, nat=0.0, loss=0.0, seed=7)  # fmt: skip


def test_churn_free_network_finds_everything() -> None:
    result = simulate(TINY)
    s = summarize(result)
    assert s.finished == s.lookups == 24
    assert s.found == s.announced == 12
    assert min(s.recalls) >= 0.75 and s.closest_all >= 0.5
    assert max(s.rounds) <= math.log2(300) + 3
    assert result.world.stats.nat_blocked == 0 and result.leaves == 0


def test_nat_and_loss_are_simulated() -> None:
    result = simulate(replace(TINY, nodes=200, nat=0.2, loss=0.02, lookups=12, hashes=3))
    s = summarize(result)
    st = result.world.stats
    assert st.nat_blocked > 0 and st.lost > 0
    assert s.finished == s.lookups
    assert s.found >= 0.9 * s.announced
    assert max(s.rounds) <= math.log2(200) + 3


def test_churn_replaces_hosts() -> None:
    fast_churn = replace(TINY, nodes=150, churn=True, session_median=120.0, arrival_gap=5.0,
                         offline_mean=30.0, lookups=12, hashes=3)  # fmt: skip
    result = simulate(fast_churn)
    assert result.leaves > 30 and result.restarts > 0 and result.joins > 150
    s = summarize(result)
    assert s.finished == s.lookups and s.finished >= 8


def test_models() -> None:
    lat = Latency(rtt_median=0.3, rtt_sigma=0.6, seed=1)
    assert lat.one_way(3, 9) == lat.one_way(9, 3)
    rtts = [2 * lat.one_way(a, a + 1) for a in range(4000)]
    assert 0.25 < sorted(rtts)[2000] < 0.35
    rng = random.Random(1)
    sessions = sorted(session_length(rng, median=3600, shape=0.5) for _ in range(4001))
    assert 3000 < sessions[2000] < 4200


def test_command_line_prints_the_table(capsys: object) -> None:
    assert main(["--nodes", "120", "--lookups", "6", "--hashes", "3", "--warmup", "120",
                 "--no-churn"]) == 0  # fmt: skip
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "| announced peers found (success) | 3/3 (100.0 %) |" in out
    assert "Crosby & Wallach" in out


def _good_natted(result: Result) -> int:
    """Good entries, over the tables of online hosts not behind NAT, that are hosts behind
    NAT. (A NAT'd host can still fool another NAT'd one: its own earlier query, which
    opened the pinhole, was dropped by the other's NAT and never seen.)"""
    natted = {h.addr for h in result.world.hosts if h.nat}
    now = result.world.now
    return sum(
        1
        for h in result.world.online.values()
        if h.node is not None and not h.nat
        for e in h.node.table.live_entries()
        if e.addr in natted and h.node.table.state(e, now) is NodeState.GOOD
    )


def test_natted_hosts_do_not_become_good_in_tables() -> None:
    """The NAT fix (routing_table.py rule 3) on one seed: before it (verify_after=0), hosts
    behind NAT that answered a ping through their own pinhole sat in tables as good;
    after it few do, and lookups wait on fewer timeouts."""
    small = replace(TINY, nodes=200, nat=0.2, lookups=12, hashes=3, warmup=420.0)
    before = simulate(replace(small, verify_after=0.0))
    after = simulate(small)
    good_before, good_after = _good_natted(before), _good_natted(after)
    assert good_before > 20
    assert good_after * 5 <= good_before  # left: queries that crossed ours (rule 3)
    s_before, s_after = summarize(before), summarize(after)
    assert s_after.found == s_after.announced
    assert sum(s_after.timeouts) < sum(s_before.timeouts)

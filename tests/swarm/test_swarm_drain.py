"""SwarmDrain: a seed tells a seed-limited swarm (peers pass pieces on at once) from an
upload-limited one (pieces pile up among its peers) by backlog / trade rate."""

from __future__ import annotations

import math

from bitswarm.swarm.swarm_drain import (
    DRAIN_LIMIT,
    TRADE_SHARE,
    SwarmDrain,
    backlog_copies,
    drain_seconds,
)


def test_backlog_counts_the_copies_missing_among_the_peers_of_held_pieces() -> None:
    # 4 peers: a piece nobody holds is no backlog (only the seed can send it), a piece all
    # hold is done; the others miss 4 - count copies each
    assert backlog_copies([0, 1, 2, 4, 3], peers=4) == 3 + 2 + 0 + 1
    assert backlog_copies([], peers=8) == 0
    assert backlog_copies([0, 0], peers=8) == 0


def test_drain_is_backlog_over_trade_rate() -> None:
    assert drain_seconds(30, 15.0) == 2.0
    assert drain_seconds(0, 0.0) == 0.0  # nothing to spread
    assert drain_seconds(5, 0.0) == math.inf  # peers that never traded: no sign they can


def test_peers_that_pass_pieces_on_at_once_keep_up() -> None:
    """Seed-limited, as in the swarm lab: 8 peers, each piece the seed sends reaches the
    other 7 within a second, so a few pieces are ever half spread."""
    drain = SwarmDrain()
    now = 0.0
    for second in range(6):
        for _ in range(7 * 10):  # 10 pieces/s from the seed, each traded 7 times
            drain.traded(now + second + 0.5)
    now = 6.0
    availability = [8] * 100 + [1, 3, 5, 7] * 3 + [0] * 100  # 12 pieces on their way
    assert drain.update(availability, 8, 10.0, now)  # we send 10 pieces/s
    assert drain.keeps_up and drain.drain < DRAIN_LIMIT
    assert drain.trade_ratio == 1.0  # N - 1 = 7 trades per piece we send


def test_peers_whose_uploads_cannot_keep_up_do_not() -> None:
    """Upload-limited: the seed sent a few seconds' worth of pieces and its slow peers pass
    them on far slower than it sends them: the seed must keep sending held pieces too."""
    drain = SwarmDrain()
    for second in range(6):
        for _ in range(38):  # 8 peers at 10 Mbit/s: ~38 pieces of 256 KiB a second
            drain.traded(second + 0.5)
    availability = [1] * 60 + [2] * 60 + [3] * 40 + [0] * 96
    assert not drain.update(availability, 8, 24.0, 6.0)  # we send 24 pieces/s (50 Mbit/s)
    assert drain.drain > 10 * DRAIN_LIMIT


def test_a_small_backlog_is_not_enough_when_peers_trade_less_than_we_send() -> None:
    """The end of an upload-limited download: few copies are left to make, so they would
    drain soon, but the peers' uploads still carry only about what ours does (Kumar–Ross:
    not seed-limited), so our upload is still needed for pieces they hold."""
    drain = SwarmDrain()
    for _ in range(60):
        drain.traded(2.5)
    availability = [8] * 250 + [7] * 6
    assert not drain.update(availability, 8, 24.0, 4.0)  # 40 trades/s against 7 x 24
    assert drain.drain < DRAIN_LIMIT
    assert drain.trade_ratio < TRADE_SHARE
    assert drain.update(availability, 8, 4.0, 4.0)  # were we sending only 4 pieces/s: yes


def test_no_trades_seen_is_not_keeping_up_and_old_trades_age_out() -> None:
    drain = SwarmDrain()
    assert not drain.keeps_up  # before any measurement every request is served
    assert not drain.update([1, 2], 4, 1.0, 0.0)
    for _ in range(100):
        drain.traded(1.0)
    assert drain.update([1, 2], 4, 1.0, 1.5)
    assert not drain.update([1, 2], 4, 1.0, 30.0)  # the trades were long ago
    drain.traded(30.0)
    assert drain.update([4, 4], 4, 0.0, 30.5)  # we send nothing: any trade is more

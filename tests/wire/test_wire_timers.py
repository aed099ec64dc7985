"""Timers by time travel: handshake timeout, keep-alives, and dropping a silent peer."""

from __future__ import annotations

from bitswarm.wire import (
    HANDSHAKE_TIMEOUT,
    IDLE_TIMEOUT,
    KEEPALIVE_INTERVAL,
    ConnectionClosed,
    ConnectionState,
)

from .wire_pair import make_conn, make_pair


def test_handshake_timeout() -> None:
    conn = make_conn(initiator=True, now=100.0)
    conn.send_handshake()
    assert conn.get_timer() == 100.0 + HANDSHAKE_TIMEOUT == 120.0
    conn.handle_timer(now=119.9)
    assert not conn.closed
    conn.receive_data(conn.data_to_send()[:30])  # a partial handshake does not extend it
    conn.handle_timer(now=conn.get_timer() or 0.0)
    assert conn.events() == [ConnectionClosed("handshake timed out", False)]
    assert conn.get_timer() is None


def test_keepalive_after_90_seconds_of_our_silence() -> None:
    pair = make_pair(now=0.0)
    assert pair.a.get_timer() == KEEPALIVE_INTERVAL == 90.0
    pair.a.handle_timer(now=45.0)  # early: nothing happens
    assert pair.a.data_to_send() == b""
    pair.a.handle_timer(now=90.0)
    assert pair.a.data_to_send() == b"\x00\x00\x00\x00"
    assert pair.a.get_timer() == 180.0  # next keep-alive; the idle deadline is later
    assert not pair.a.closed


def test_keepalives_alone_keep_both_sides_alive() -> None:
    pair = make_pair(now=0.0)
    now = 0.0
    while now < 1000.0:
        now = min(t for t in (pair.a.get_timer(), pair.b.get_timer()) if t is not None)
        pair.a.handle_timer(now=now)
        pair.b.handle_timer(now=now)
        pair.clock = now
        pair.shuttle()
    assert not pair.a.closed and not pair.b.closed
    assert pair.a_events[2:] == [] and pair.b_events[2:] == []  # keep-alives are not events


def test_a_silent_peer_is_dropped_after_180_seconds() -> None:
    pair = make_pair(now=0.0)
    conn = pair.a
    now = 0.0
    while not conn.closed:  # b never sends anything
        deadline = conn.get_timer()
        assert deadline is not None and deadline > now
        now = deadline
        conn.handle_timer(now=now)
        conn.data_to_send()
    assert now == IDLE_TIMEOUT
    assert conn.events() == [ConnectionClosed("nothing received for 180 s", False)]
    assert conn.state is ConnectionState.CLOSED


def test_activity_without_a_timestamp_counts_at_the_next_timer() -> None:
    pair = make_pair(now=0.0)
    pair.b.handle_timer(now=90.0)
    pair.a.receive_data(pair.b.data_to_send())  # a keep-alive at an unknown time
    pair.a.handle_timer(now=90.0)  # a now counts it as seen at 90
    pair.a.data_to_send()
    pair.a.handle_timer(now=180.0)
    pair.a.data_to_send()
    assert not pair.a.closed
    pair.a.handle_timer(now=269.9)
    assert not pair.a.closed
    pair.a.handle_timer(now=270.0)
    assert pair.a.closed


def test_activity_with_a_timestamp_is_exact() -> None:
    pair = make_pair(now=0.0)
    pair.a.receive_data(b"\x00\x00\x00\x00", now=50.0)
    pair.a.handle_timer(now=90.0)
    pair.a.data_to_send()
    assert pair.a.get_timer() == 180.0
    pair.a.handle_timer(now=180.0)
    pair.a.data_to_send()
    assert pair.a.get_timer() == 230.0  # 50 + 180
    pair.a.handle_timer(now=230.0)
    assert pair.a.closed

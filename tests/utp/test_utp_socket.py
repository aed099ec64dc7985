"""The uTP core through a simulated link in virtual time (tests/utp/sim.py)."""

from __future__ import annotations

import random

import pytest

from bitswarm.utp import Closed, Connected, UtpConfig, UtpSocket, UtpState, decode_packet
from bitswarm.utp.ledbat import DelayHistory, Ledbat
from bitswarm.utp.packet import ST_DATA, ST_FIN, ST_STATE, encode_packet

from .sim import LinkSpec, Sim


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def test_connect_and_transfer_in_order() -> None:
    sim = Sim()
    data = payload(300_000)
    sim.transfer(data)
    assert bytes(sim.b.received) == data
    assert sim.a.closed == "closed" and sim.b.closed == "closed"
    assert sim.b.eof
    assert any(isinstance(e, Connected) for e in sim.a.events)
    assert sim.a.sock is not None and sim.a.sock.retransmits == 0


def test_both_directions() -> None:
    sim = Sim()
    up, down = payload(100_000, 1), payload(120_000, 2)
    assert sim.a.sock is not None
    sim.a.sock.send(up)
    sim.run(lambda: sim.b.sock is not None)
    assert sim.b.sock is not None
    sim.b.sock.send(down)
    sim.run(lambda: len(sim.a.received) == len(down) and len(sim.b.received) == len(up))
    assert bytes(sim.a.received) == down and bytes(sim.b.received) == up


@pytest.mark.parametrize("loss", [0.01, 0.05, 0.10])
def test_loss(loss: float) -> None:
    sim = Sim(LinkSpec(loss=loss), seed=int(loss * 1000))
    data = payload(400_000)
    sim.transfer(data, limit=600)
    assert bytes(sim.b.received) == data
    assert sim.b.closed == "closed"
    assert sim.a.sock is not None and sim.a.sock.retransmits > 0


def test_reordering_duplication_and_delay() -> None:
    spec = LinkSpec(delay=0.100, jitter=0.030, dup=0.05, loss=0.01)
    sim = Sim(spec, seed=3)
    data = payload(300_000)
    sim.transfer(data, limit=600)
    assert bytes(sim.b.received) == data
    assert sim.a.sock is not None and sim.a.sock.rtt.mean == pytest.approx(0.2, abs=0.05)


@pytest.mark.parametrize("start", [0xFFF0, 0xFFFF, 0])
def test_sequence_numbers_wrap(start: int) -> None:
    sim = Sim(LinkSpec(loss=0.02), a_seq=start, b_seq=0xFFFE, seed=5)
    data = payload(200_000)  # ~400 packets: past 0xFFFF whatever the start
    sim.run(lambda: sim.b.sock is not None)
    assert sim.a.sock is not None and sim.b.sock is not None
    sim.b.sock.send(data[::-1])
    sim.a.sock.send(data)
    sim.run(lambda: len(sim.a.received) == len(sim.b.received) == len(data), limit=600)
    assert bytes(sim.b.received) == data
    assert bytes(sim.a.received) == data[::-1]
    assert sim.a.sock.seq_nr < 1000 and sim.b.sock.seq_nr < 1000  # both wrapped


def test_reset_ends_both() -> None:
    sim = Sim()
    sim.run(lambda: (sim.b.sock is not None and sim.b.sock.confirmed) or sim.now > 1)
    assert sim.a.sock is not None
    sim.a.sock.send(b"x" * 5000)
    sim.run(lambda: len(sim.b.received) == 5000)
    sim.a.sock.abort()
    sim.run(lambda: sim.b.closed is not None)
    assert sim.a.closed == "aborted"
    assert sim.b.closed == "reset"


def test_connect_timeout_when_nobody_answers() -> None:
    sim = Sim(LinkSpec(loss=1.0))
    sim.run(lambda: sim.a.closed is not None, limit=60)
    assert sim.a.closed == "connect timed out"
    assert 3.0 <= sim.now <= 10.0
    assert sim.sent["a"] == 2  # the SYN and one resend (libtorrent's utp_syn_resends)


def test_dead_peer_after_repeated_timeouts() -> None:
    cut = {"on": False}
    sim = Sim(LinkSpec(drop=lambda _d: cut["on"]))
    assert sim.a.sock is not None
    sim.a.sock.send(payload(10_000))
    sim.run(lambda: len(sim.b.received) == 10_000)
    cut["on"] = True  # the peer vanishes
    sim.a.sock.send(payload(10_000))
    start = sim.now
    sim.run(lambda: sim.a.closed is not None, limit=start + 120)
    assert sim.a.closed == "timed out"
    # 3 resends with backoff 0.5 + 1, 2, 4 s on top: a few seconds, not a minute
    assert 3.0 < sim.now - start < 30.0


def test_incoming_unconfirmed_dies_at_first_timeout() -> None:
    syn = decode_packet(encode_packet(4, 99, timestamp=0, timestamp_diff=0, wnd_size=1 << 20,
                                      seq_nr=5, ack_nr=0))  # fmt: skip
    sock = UtpSocket.accept(syn, seq_nr=50, now=0.0)
    assert sock.datagrams_to_send(0.0)
    sock.send(b"hello")
    sock.datagrams_to_send(0.0)
    timer = sock.get_timer()
    assert timer is not None
    sock.handle_timer(timer)
    assert sock.state is UtpState.CLOSED
    assert Closed("timed out") in sock.events()


def test_fin_with_a_lost_tail() -> None:
    """The FIN arrives before the last data packets: EOF waits for them."""
    dropped: set[int] = set()

    def drop(data: bytes) -> bool:
        pkt = decode_packet(data)
        fresh = pkt.type == ST_DATA and len(dropped) < 2 and pkt.seq_nr not in dropped
        if fresh and pkt.seq_nr % 7 == 0:
            dropped.add(pkt.seq_nr)
            return True
        return False

    sim = Sim(LinkSpec(drop=drop))
    data = payload(50_000)
    sim.transfer(data)
    assert dropped
    assert bytes(sim.b.received) == data and sim.b.eof


def test_fast_resend_on_selective_ack_before_timeout() -> None:
    """One loss in a long burst is repaired by the SACK, long before any timeout."""
    first: set[int] = set()

    def drop(data: bytes) -> bool:
        pkt = decode_packet(data)
        if pkt.type == ST_DATA and pkt.seq_nr == 60 and pkt.seq_nr not in first:
            first.add(pkt.seq_nr)
            return True
        return False

    sim = Sim(LinkSpec(delay=0.05, drop=drop))
    data = payload(500_000)
    sim.transfer(data)
    assert bytes(sim.b.received) == data
    assert sim.a.sock is not None and sim.a.sock.timeouts == 0
    assert sim.a.sock.retransmits >= 1


def test_mtu_probe_finds_the_path() -> None:
    sim = Sim(LinkSpec(max_size=1000))
    data = payload(400_000)
    sim.transfer(data)
    assert bytes(sim.b.received) == data
    sock = sim.a.sock
    assert sock is not None
    assert 980 < sock.mtu.floor <= 1000 < sock.mtu.ceiling + 16  # converged just under the path
    open_sim = Sim()
    open_sim.transfer(data)
    assert open_sim.a.sock is not None and open_sim.a.sock.mtu.floor > 1400


def test_ledbat_keeps_queueing_delay_near_target() -> None:
    rate = 1_000_000  # bytes/s bottleneck
    sim = Sim(LinkSpec(delay=0.020, rate=rate), back=LinkSpec(delay=0.020))
    data = payload(8_000_000)
    assert sim.a.sock is not None
    sim.a.sock.send(data)
    sim.run(lambda: len(sim.b.received) == len(data), limit=120)
    assert bytes(sim.b.received) == data
    late = sim.queue_delays[len(sim.queue_delays) // 2 :]
    mean = sum(late) / len(late)
    assert 0.03 < mean < 0.16, mean  # near the 100 ms target, not a full buffer
    assert sim.now < len(data) / rate * 1.35  # and the link is kept busy


def test_ledbat_window_follows_delay_and_loss() -> None:
    cc = Ledbat(1500)
    cc.slow_start = False
    for _ in range(100):  # below target: grows, at most `gain` bytes per window acked
        cc.on_ack(1500, 0.010, int(cc.cwnd), 1500)
    grown = cc.cwnd
    assert 20_000 < grown <= 1500 + 100 * 3000
    for _ in range(100):  # above target: shrinks
        cc.on_ack(1500, 0.300, int(cc.cwnd), 1500)
    assert cc.cwnd < grown
    cc.cwnd = 100_000
    cc.on_loss(1500)
    assert cc.cwnd == 50_000 and not cc.slow_start
    cc.on_timeout(1500, idle=False)
    assert cc.cwnd == 1500 and cc.slow_start


def test_ledbat_leaves_slow_start_at_target_delay() -> None:
    cc = Ledbat(1500)
    for _ in range(20):
        cc.on_ack(1500, 0.0, int(cc.cwnd), 1500)
    assert cc.slow_start and cc.cwnd >= 1500 + 20 * 1500
    before = cc.cwnd
    cc.on_ack(1500, 0.150, int(cc.cwnd), 1500)
    assert not cc.slow_start and cc.cwnd == cc.ssthresh == before / 2


def test_delay_history_base_is_the_least_of_two_minutes() -> None:
    hist = DelayHistory()
    assert hist.add(5_000_000, 0.0) == 0.0
    assert hist.add(5_050_000, 1.0) == 0.0  # min of the last three
    hist.add(5_060_000, 2.0)
    assert hist.add(5_070_000, 3.0) == pytest.approx(0.05)
    for t in range(4, 200):  # the old minimum ages out after two minutes
        hist.add(5_070_000, float(t))
    assert hist.add(5_070_000, 200.0) == 0.0
    wrapped = DelayHistory()
    wrapped.add(0xFFFFFF00, 0.0)
    assert wrapped.add(0x00010000, 1.0) == 0.0  # min of three still holds the old one
    wrapped.add(0x00010000, 2.0)
    assert wrapped.add(0x00010000, 3.0) == pytest.approx(0x10100 / 1e6)  # later, not earlier


def test_small_writes_are_coalesced() -> None:
    sim = Sim(LinkSpec(delay=0.05))
    sim.run(lambda: sim.b.sock is not None)
    assert sim.a.sock is not None
    before = sim.sent["a"]
    for _ in range(200):
        sim.a.sock.send(b"0123456789")
    sim.run(lambda: len(sim.b.received) == 2000)
    assert sim.sent["a"] - before <= 4


def test_receive_window_throttles_the_sender() -> None:
    cfg = UtpConfig(recv_window=20_000)
    sim = Sim(config=cfg)
    sim.b.close_on_eof = False
    assert sim.a.sock is not None
    sim.a.sock.send(payload(200_000))
    sim.run(lambda: sim.b.sock is not None)
    assert sim.b.sock is not None
    sim.b.sock.set_read_backlog(20_000)  # the reader is not reading
    sim.run(lambda: False, limit=5)
    stuck = len(sim.b.received)
    assert stuck < 60_000
    sim.b.sock.set_read_backlog(0)
    sim.run(lambda: len(sim.b.received) == 200_000, limit=200)
    assert len(sim.b.received) == 200_000


def test_garbage_never_raises() -> None:
    rng = random.Random(9)
    sock = UtpSocket.connect(recv_id=1, seq_nr=1, now=0.0)
    for i in range(3000):
        blob = rng.randbytes(rng.randrange(0, 80))
        if i % 2 and blob:
            blob = bytes([(rng.randrange(5) << 4) | 1]) + blob
        try:
            pkt = decode_packet(blob)
        except Exception as exc:
            assert type(exc).__name__ == "UtpPacketError"
            continue
        sock.receive_packet(pkt, now=i * 0.001)
        sock.datagrams_to_send(i * 0.001)
        sock.events()
    assert isinstance(ST_FIN, int)


def test_idle_connection_sends_keepalives_and_a_silent_peer_is_dead() -> None:
    cut = {"on": False}
    sim = Sim(LinkSpec(drop=lambda _d: cut["on"]), back=LinkSpec())
    assert sim.a.sock is not None
    sim.a.sock.send(payload(5000))
    sim.run(lambda: len(sim.b.received) == 5000)
    sent = dict(sim.sent)
    start = sim.now
    sim.run(lambda: False, limit=start + 300)  # idle, both alive: keepalives both ways
    assert sim.a.closed is None and sim.b.closed is None
    assert 300 // 29 - 1 <= sim.sent["a"] - sent["a"] <= 300 // 29 + 6
    assert 300 // 29 - 1 <= sim.sent["b"] - sent["b"] <= 300 // 29 + 6
    cut["on"] = True  # b stops hearing a: b's keepalives go unanswered
    start = sim.now
    sim.run(lambda: sim.b.closed is not None, limit=start + 300)
    assert sim.b.closed == "timed out"
    assert 29 * 3 < sim.now - start <= 29 * 4 + 10


def test_keepalives_lost_count_as_timeouts() -> None:
    cut = {"on": False}
    both = LinkSpec(drop=lambda _d: cut["on"])
    sim = Sim(both, back=both)
    assert sim.a.sock is not None
    sim.a.sock.send(payload(5000))
    sim.run(lambda: len(sim.b.received) == 5000)
    cut["on"] = True  # the link dies while idle
    start = sim.now
    sim.run(lambda: sim.a.closed is not None, limit=start + 600)
    assert sim.a.closed == "timed out"
    # probes 1, 2, 4, 8, 16 s apart then every 29 s; dead at the first due after four
    # keepalive intervals of silence (116 s)
    assert sim.a.sock is not None and sim.a.sock.keepalives >= 6
    assert 29 * 4 <= sim.now - start <= 29 * 4 + 10


def test_fin_answering_the_syn_is_a_refused_connect() -> None:
    sock = UtpSocket.connect(recv_id=10, seq_nr=100, now=0.0)
    assert sock.datagrams_to_send(0.0)
    fin = decode_packet(encode_packet(ST_FIN, 10, timestamp=0, timestamp_diff=0,
                                      wnd_size=1 << 20, seq_nr=500, ack_nr=100))  # fmt: skip
    sock.receive_packet(fin, 0.01)
    assert sock.state is UtpState.CLOSED
    events = sock.events()
    assert Closed("refused") in events
    assert not any(isinstance(e, Connected) for e in events)
    reset = decode_packet(sock.datagrams_to_send(0.01)[0])
    assert reset.type == 3 and reset.connection_id == 11 and reset.ack_nr == 500


def test_a_fin_that_acks_ours_is_acked_before_closing() -> None:
    """The peer's FIN is the first ack of ours (its bare ack was lost, or it sent none, as
    qBittorrent): it is acked before the connection ends, else the peer resends it to a
    connection that is gone (and gets ST_RESET)."""
    sim = Sim()
    sim.run(lambda: sim.b.sock is not None and sim.b.sock.confirmed)
    assert sim.a.sock is not None and sim.b.sock is not None
    fins = {"b": 0}

    def b_to_a(data: bytes) -> bool:
        ptype = decode_packet(data).type
        fins["b"] += ptype == ST_FIN
        return ptype == ST_STATE and not fins["b"]  # b's acks are lost until its FIN

    sim.spec["a"] = LinkSpec(drop=b_to_a)
    sim.a.sock.close()  # a's FIN; b closes on EOF: its FIN acks a's
    sim.run(lambda: sim.a.closed is not None and sim.b.closed is not None, limit=60)
    assert sim.a.closed == "closed" and sim.b.closed == "closed"
    assert fins["b"] == 1, "b's FIN was resent: a closed without acking it"

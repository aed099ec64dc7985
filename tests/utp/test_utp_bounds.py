"""What a peer that ignores the rules cannot make a uTP connection hold (docs/security.md)."""

from __future__ import annotations

from bitswarm.utp import DataReceived, UtpConfig, UtpSocket, decode_packet, encode_packet
from bitswarm.utp.packet import ST_DATA, ST_FIN, ST_SYN
from bitswarm.utp.receiver import MAX_REORDER, Receiver


def test_the_reorder_buffer_holds_at_most_max_bytes() -> None:
    rx = Receiver(0, max_bytes=3000)
    for seq in (2, 3, 4):  # ahead of a hole at 1
        assert rx.receive(ST_DATA, seq, bytes([seq]) * 1400) == (b"", False)
    assert rx.reorder_bytes == 2800  # the third did not fit
    data, eof = rx.receive(ST_DATA, 1, b"\x01" * 1400)
    assert data == b"\x01" * 1400 + b"\x02" * 1400 + b"\x03" * 1400
    assert rx.ack_nr == 3 and not eof


def test_packets_too_far_ahead_or_after_the_fin_are_dropped() -> None:
    rx = Receiver(0)
    assert rx.receive(ST_DATA, MAX_REORDER + 1, b"x") == (b"", False)
    assert rx.reorder_bytes == 0
    assert rx.receive(ST_FIN, 3, b"") == (b"", False)
    assert rx.receive(ST_DATA, 4, b"after") == (b"", False)
    assert rx.reorder_bytes == 0
    assert rx.receive(ST_DATA, 1, b"a") == (b"a", False)
    assert rx.receive(ST_DATA, 2, b"b") == (b"b", True)


def test_data_beyond_a_shut_window_is_not_taken() -> None:
    config = UtpConfig(recv_window=10_000)
    syn = decode_packet(encode_packet(ST_SYN, 40, timestamp=0, timestamp_diff=0,
                                      wnd_size=1 << 20, seq_nr=100, ack_nr=0))  # fmt: skip
    sock = UtpSocket.accept(syn, seq_nr=7, now=0.0, config=config)
    sock.datagrams_to_send(0.0)
    sock.events()
    sock.set_read_backlog(10_001)  # the reader stopped; the window we advertise is shut

    def data(seq: int) -> None:
        pkt = encode_packet(ST_DATA, 41, timestamp=0, timestamp_diff=0, wnd_size=1 << 20,
                            seq_nr=seq, ack_nr=6, payload=b"y" * 1000)  # fmt: skip
        sock.receive_packet(decode_packet(pkt), 0.1)

    data(101)
    assert not [e for e in sock.events() if isinstance(e, DataReceived)]
    assert sock.ack_nr == 100  # not acked: the peer sends it again later
    sock.set_read_backlog(0)  # the reader caught up
    data(101)
    assert [e.data for e in sock.events() if isinstance(e, DataReceived)] == [b"y" * 1000]
    assert sock.ack_nr == 101

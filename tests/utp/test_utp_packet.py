"""The packet codec against what libtorrent actually sends (utp_stream.cpp)."""

from __future__ import annotations

import struct

from bitswarm.utp import UtpSocket, decode_packet
from bitswarm.utp.packet import ST_DATA, ST_STATE, encode_packet

EXT_CLOSE_REASON = 3  # libtorrent's utp_close_reason


def libtorrent_state(conn_id: int, seq: int, ack: int, sack: bytes) -> bytes:
    """An ST_STATE shaped as libtorrent writes it: a SACK of ``ceil(span / 8)`` bytes (not
    a multiple of 4) followed by its close-reason extension."""
    plain = encode_packet(ST_STATE, conn_id, timestamp=1, timestamp_diff=2,
                          wnd_size=1 << 20, seq_nr=seq, ack_nr=ack)  # fmt: skip
    head = bytearray(plain)
    head[1] = 1  # the first extension: the selective ACK
    sack_ext = bytes((EXT_CLOSE_REASON, len(sack))) + sack
    close_ext = bytes((0, 4)) + struct.pack(">I", 7)
    return bytes(head) + sack_ext + close_ext


def test_a_selective_ack_of_any_length_decodes() -> None:
    pkt = decode_packet(libtorrent_state(5, 100, 41, b"\x07"))
    assert pkt.type == ST_STATE and pkt.ack_nr == 41
    assert pkt.sack == b"\x07"
    assert pkt.payload == b""
    three = decode_packet(libtorrent_state(5, 100, 41, b"\x00\x01\x80"))
    assert three.sack == b"\x00\x01\x80"


def test_libtorrent_sack_repairs_a_hole_without_a_timeout() -> None:
    """Our sender gets libtorrent's one-byte SACK for a hole at the first data packet and
    resends that packet at once (the stall bitswarm had seeding to libtorrent)."""
    sock = UtpSocket.connect(recv_id=10, seq_nr=1000, now=0.0)
    sock.datagrams_to_send(0.0)
    syn_ack = encode_packet(ST_STATE, 11, timestamp=1, timestamp_diff=2, wnd_size=1 << 20,
                            seq_nr=500, ack_nr=1000)  # fmt: skip
    sock.receive_packet(decode_packet(syn_ack), 0.01)
    sock.send(bytes(200_000))
    now = 0.02
    for _ in range(20):  # ack whole bursts until the window lets five packets out at once
        now += 0.01
        data = [p.seq_nr for p in map(decode_packet, sock.datagrams_to_send(now))
                if p.type == ST_DATA]  # fmt: skip
        if len(data) >= 5:
            break
        sock.receive_packet(decode_packet(libtorrent_state(11, 500, data[-1], b"")), now)
    assert len(data) >= 5
    hole = data[0]
    # libtorrent got data[1..4] only: ack_nr = hole - 1, bits 0..3 set (seqs hole+1..hole+4)
    sock.receive_packet(decode_packet(libtorrent_state(11, 500, hole - 1, b"\x0f")), now)
    resent = [decode_packet(d) for d in sock.datagrams_to_send(now)]
    assert hole in [p.seq_nr for p in resent if p.type == ST_DATA]
    assert sock.timeouts == 0 and sock.retransmits >= 1

"""`SendSide`: the send half of `UtpSocket` (BEP 29 "packet loss", LEDBAT), a mixin.

What leaves: new data as the window allows -- min(cwnd, the peer's advertised window)
(ledbat.py), Nagle (a packet shorter than the MTU waits while anything is in flight), a
window of zero probed with one packet after a timeout, an MTU probe now and then (mtu.py),
our FIN after the last byte -- and the resends of packets marked lost. What comes back:
the cumulative ack pops the send window and feeds the round trip (Karn's rule) and
LEDBAT; three duplicate acks, or three packets selectively acked past a hole, resend the
hole at once and halve the window once per window of data.

`UtpSocket` (socket.py) owns the state this reads and writes (declared below); the receive
half is `Receiver` (receiver.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import UtpEvent, Writable
from .packet import HEADER_SIZE, SEQ_MASK, ST_DATA, ST_FIN, ST_STATE, Packet, sack_bits, seq_diff
from .receiver import SACK_BYTES
from .sent import SentPacket
from .state import UtpState

if TYPE_CHECKING:
    from .config import UtpConfig
    from .ledbat import DelayHistory, Ledbat
    from .mtu import MtuSearch
    from .rtt import RttEstimator
    from .sendbuf import SendBuffer

__all__ = ["DUP_ACK_LIMIT", "MAX_OUTSTANDING", "SendSide"]

DUP_ACK_LIMIT = 3
SACK_RESERVE = 2 + SACK_BYTES
MAX_OUTSTANDING = 8192  # packets in flight at most (far below half the 16-bit space)


class SendSide:
    """The send window and the acks that shrink it; see the module docstring."""

    config: UtpConfig
    state: UtpState
    seq_nr: int
    acked_seq: int
    mtu: MtuSearch
    rtt: RttEstimator
    cc: Ledbat
    delays: DelayHistory
    peer_window: int
    in_flight: int
    timeouts: int
    retransmits: int
    _sendbuf: SendBuffer
    send_low_water: int
    _outbuf: dict[int, SentPacket]
    _closing: bool
    _our_fin: int | None
    _dup_acks: int
    _loss_seq: int
    _rto_at: float | None
    _blocked: bool
    _window_probe: bool
    _out: list[bytes]
    _events: list[UtpEvent]

    def _rto(self) -> float:
        raise NotImplementedError

    def _encode(self, ptype: int, seq: int, now: float, payload: bytes = b"",
                padding: int = 0, ack_nr: int | None = None) -> bytes:  # fmt: skip
        raise NotImplementedError

    # ------------------------------------------------------------------ acks
    def _process_ack(self, pkt: Packet, now: float) -> None:
        ack = pkt.ack_nr
        newly = seq_diff(ack, self.acked_seq)
        if seq_diff(ack, (self.seq_nr - 1) & SEQ_MASK) > 0:
            return  # an ack of something never sent
        in_flight_before = self.in_flight
        acked = 0
        if newly > 0:
            for i in range(1, newly + 1):
                sent = self._outbuf.pop((self.acked_seq + i) & SEQ_MASK, None)
                if sent is not None:
                    acked += self._acked(sent, now)
            self.acked_seq = ack
            self._dup_acks = 0
        elif (newly == 0 and pkt.type == ST_STATE and self._outbuf
              and self.state is not UtpState.SYN_SENT):  # fmt: skip
            self._dup_acks += 1
            if self._dup_acks == DUP_ACK_LIMIT:
                first = self._outbuf.get((ack + 1) & SEQ_MASK)
                if first is not None:
                    self._lost(first, now)
        if pkt.sack:
            acked += self._process_sack(ack, pkt.sack, now)
        if acked:
            self.timeouts = 0
            if pkt.timestamp_diff:
                delay = self.delays.add(pkt.timestamp_diff, now)
            else:
                delay = self.cc.delay
            self.cc.on_ack(acked, delay, max(in_flight_before, acked), self.mtu.size)
            self._rto_at = now + self._rto() if self._outbuf else None

    def _process_sack(self, ack: int, mask: bytes, now: float) -> int:
        offsets = sack_bits(mask)
        acked = 0
        for off in offsets:
            sent = self._outbuf.pop((ack + 2 + off) & SEQ_MASK, None)
            if sent is not None:
                acked += self._acked(sent, now)
        if len(offsets) >= DUP_ACK_LIMIT:
            # a hole with three packets received past it is a loss (BEP 29 "packet loss")
            for sent in list(self._outbuf.values()):
                off = seq_diff(sent.seq, ack) - 2
                if off >= offsets[-DUP_ACK_LIMIT]:
                    break
                if not sent.fast_resent:
                    self._lost(sent, now)
        return acked

    def _acked(self, sent: SentPacket, now: float) -> int:
        if sent.transmissions == 1:
            self.rtt.add(now - sent.sent_at)  # Karn: a resent packet's ack is ambiguous
        if self.mtu.probe_seq == sent.seq:
            if sent.transmissions == 1:
                self.mtu.acked()
            else:
                self.mtu.lost()
        if not sent.need_resend:
            self.in_flight -= len(sent.payload)
        return len(sent.payload) or 1

    def _lost(self, sent: SentPacket, now: float) -> None:
        """Fast resend of a packet the acks say is missing; halve cwnd once per window."""
        sent.fast_resent = True
        if self.mtu.probe_seq == sent.seq:
            self.mtu.lost()  # a lost probe: the path may not carry its size
        elif seq_diff(sent.seq, self._loss_seq) > 0:
            self.cc.on_loss(self.mtu.size)
            self._loss_seq = (self.seq_nr - 1) & SEQ_MASK
        if not sent.need_resend:
            self.in_flight -= len(sent.payload)
            sent.need_resend = True
        self._transmit(sent, now)

    # ------------------------------------------------------------------ sending
    def _window(self) -> int:
        return min(int(self.cc.cwnd), self.peer_window)

    def _send_resends(self, now: float) -> None:
        for sent in self._outbuf.values():
            if not sent.need_resend:
                continue
            if self.in_flight and self.in_flight + len(sent.payload) > self._window():
                return
            self._transmit(sent, now)

    def _send_new(self, now: float) -> None:
        max_payload = self.mtu.size - HEADER_SIZE - SACK_RESERVE
        while self._sendbuf and self.state is UtpState.CONNECTED:
            n = min(len(self._sendbuf), max_payload)
            if n < max_payload and self.in_flight and not self._closing:
                break  # Nagle: a short packet waits for the acks of those in flight
            if self.in_flight + n > self._window():
                if self.in_flight:
                    break
                if n > self.peer_window and not self._window_probe:
                    # BEP 29: a window of zero is probed with one packet after a timeout
                    if self._rto_at is None:
                        self._rto_at = now + self._rto()
                    break
            self._window_probe = False
            if len(self._outbuf) >= MAX_OUTSTANDING:
                break
            sent = SentPacket(self.seq_nr, ST_DATA, self._sendbuf.take(n))
            if n == max_payload:
                probe = self.mtu.want_probe()
                if probe:
                    sent.padding = probe - self.mtu.size
                    self.mtu.sent(sent.seq, probe)
            self._outbuf[sent.seq] = sent
            self.seq_nr = (self.seq_nr + 1) & SEQ_MASK
            self._transmit(sent, now)
        if self._blocked and len(self._sendbuf) <= self.send_low_water:
            self._blocked = False
            self._events.append(Writable())
        closing = self._closing and not self._sendbuf and self._our_fin is None
        if closing and self.state is UtpState.CONNECTED:
            fin = SentPacket(self.seq_nr, ST_FIN, b"")
            self._our_fin = fin.seq
            self._outbuf[fin.seq] = fin
            self.seq_nr = (self.seq_nr + 1) & SEQ_MASK
            self.state = UtpState.FIN_SENT
            self._transmit(fin, now)

    def _transmit(self, sent: SentPacket, now: float) -> None:
        if sent.transmissions:
            self.retransmits += 1
            sent.padding = 0  # a resent probe goes at the proven size
        if sent.need_resend or not sent.transmissions:
            self.in_flight += len(sent.payload)
        sent.need_resend = False
        sent.transmissions += 1
        sent.sent_at = now
        self._out.append(self._encode(sent.type, sent.seq, now, sent.payload, sent.padding))
        if self._rto_at is None:
            self._rto_at = now + self._rto()

"""`UtpSocket`: one uTP connection (BEP 29) as a sans-IO state machine.

Rules (BEP 29 "connection setup", "packet loss", "timeouts"):
- The initiator picks `recv_id`, sends ST_SYN with ``connection_id = recv_id`` and sends
  everything after with ``send_id = recv_id + 1``; the acceptor mirrors the two ids and
  answers with ST_STATE acking the SYN. An ST_STATE carries the sequence number the next
  data packet will use and does not consume it (what uTorrent and libtorrent do), so the
  initiator's ``ack_nr`` starts at that number minus one.
- ST_DATA and ST_FIN consume a sequence number; ``ack_nr`` is the last one received in
  order; later ones wait in the reorder buffer and are reported by a selective ACK
  (extension 1). Numbers wrap at 16 bits (`packet.seq_less`).
- Every packet echoes ``timestamp_difference_microseconds`` (our receive time minus the
  peer's send stamp) and advertises ``wnd_size``, the receive buffer space left.
- Sending is limited by min(cwnd, the peer's window) (ledbat.py); a packet not acked for
  a timeout (rtt.py) is resent and the window falls to one packet; three duplicate acks
  or three packets selectively acked past a hole resend it at once and halve the window.
  After `num_resends` timeouts in a row (libtorrent's ``utp_num_resends`` = 3; a SYN or
  FIN twice) the peer is dead. An incoming connection never confirmed by a packet other
  than its SYN dies at its first timeout (libtorrent: its address may be spoofed).
- Nagle: a packet smaller than the MTU leaves only when nothing is in flight.
- ST_FIN: the peer's FIN gives `Eof` once every byte before it was delivered; our `close`
  sends FIN after the last byte and the connection is `Closed` when the FIN is acked.
  ST_RESET ends it at once. A FIN or RESET answering our SYN is a refused connect
  ("refused"): the peer accepted the packet and hung up before any byte.
- Keepalive: a connected socket with nothing in flight that has sent nothing for a while
  sends an ST_STATE whose ack_nr is one less than ours (libutp's keepalive: a stale ack,
  no side effect at the peer). Its first comes `idle_probe` (1 s) after the connection
  went quiet, the next ones twice as far apart up to `keepalive_interval` (29 s, libutp's
  KEEPALIVE_INTERVAL): a dead peer's host answers the first with ICMP port unreachable,
  which the driver turns into `fail` ("unreachable") -- over TCP the dead end's kernel
  resets at once; here this probe is what tells, a second after the last packet rather
  than at the next 29 s tick. Keepalives count as resends whose loss is the peer's
  silence: a peer heard from in none of `num_resends` + 1 keepalive intervals (116 s;
  libutp and we send one every 29 s when idle, libtorrent a BitTorrent keep-alive every
  minute) is dead: "timed out", as for unacked data.
"""

from __future__ import annotations

from .config import UtpConfig
from .events import Closed, Connected, DataReceived, Eof, UtpEvent
from .ledbat import DelayHistory, Ledbat
from .mtu import MtuSearch
from .packet import (
    SEQ_MASK,
    ST_DATA,
    ST_FIN,
    ST_RESET,
    ST_STATE,
    ST_SYN,
    Packet,
    encode_packet,
)
from .receiver import Receiver
from .rtt import RttEstimator
from .sendbuf import SendBuffer
from .sender import SendSide
from .sent import SentPacket
from .state import UtpState

__all__ = ["UtpSocket", "UtpState"]

_U32 = 0xFFFFFFFF


def _micros(now: float) -> int:
    return int(now * 1_000_000) & _U32


class UtpSocket(SendSide):
    """One connection. Build with `connect` or `accept`; feed `receive_packet` and
    `handle_timer`; drain `datagrams_to_send` and `events`."""

    def __init__(self, *, recv_id: int, send_id: int, seq_nr: int, now: float,
                 config: UtpConfig | None = None, incoming: bool) -> None:  # fmt: skip
        self.config = cfg = config or UtpConfig()
        self.recv_id = recv_id & 0xFFFF
        self.send_id = send_id & 0xFFFF
        self.incoming = incoming
        self.state = UtpState.SYN_SENT
        self.seq_nr = seq_nr & SEQ_MASK  # the next one to use
        self._first_seq = self.seq_nr
        self.acked_seq = (seq_nr - 1) & SEQ_MASK  # all up to here are acked
        # the receive side: ack_nr, the reorder buffer, the peer's FIN
        self.rx = Receiver(max_bytes=cfg.recv_window)
        self.confirmed = not incoming
        self.close_reason = ""
        self.mtu = MtuSearch(cfg.mtu_floor, cfg.mtu_ceiling)
        self.rtt = RttEstimator()
        self.cc = Ledbat(cfg.mtu_ceiling, target=cfg.target_delay, gain=cfg.gain)
        self.delays = DelayHistory()
        self.peer_window = cfg.recv_window
        self.in_flight = 0  # payload bytes sent and neither acked nor given up as lost
        self.read_backlog = 0  # bytes delivered that the reader has not taken yet
        self.timeouts = 0
        self.retransmits = 0
        self._sendbuf = SendBuffer()
        self.send_high_water = cfg.send_high_water
        self.send_low_water = cfg.send_low_water
        self._outbuf: dict[int, SentPacket] = {}
        self._closing = False  # close() was called: FIN after the last byte
        self._our_fin: int | None = None
        self._reply_micro = 0
        self._need_ack = False
        self._dup_acks = 0
        self._loss_seq = self.acked_seq
        self._rto_at: float | None = None
        self._blocked = False
        self._window_probe = False
        self._linger_at: float | None = None
        self._last_now = now
        self._last_sent = now  # when a datagram last left (the keepalive clock)
        self._last_heard = now
        self.keepalives = 0  # keepalives in a row since the last other datagram
        self._keepalive_out = False
        self._out: list[bytes] = []
        self._events: list[UtpEvent] = []

    # ------------------------------------------------------------------ construction
    @classmethod
    def connect(cls, *, recv_id: int, seq_nr: int, now: float,
                config: UtpConfig | None = None) -> UtpSocket:  # fmt: skip
        """An outgoing connection: its SYN is the first datagram to send."""
        sock = cls(recv_id=recv_id, send_id=recv_id + 1, seq_nr=seq_nr, now=now,
                   config=config, incoming=False)  # fmt: skip
        syn = SentPacket(sock.seq_nr, ST_SYN, b"")
        sock._outbuf[syn.seq] = syn
        sock.seq_nr = (sock.seq_nr + 1) & SEQ_MASK
        sock._transmit(syn, now)
        return sock

    @classmethod
    def accept(cls, syn: Packet, *, seq_nr: int, now: float,
               config: UtpConfig | None = None) -> UtpSocket:  # fmt: skip
        """An incoming connection from its SYN; it answers with ST_STATE at once."""
        sock = cls(recv_id=syn.connection_id + 1, send_id=syn.connection_id, seq_nr=seq_nr,
                   now=now, config=config, incoming=True)  # fmt: skip
        sock.state = UtpState.CONNECTED
        sock.ack_nr = syn.seq_nr
        sock._syn_seq = syn.seq_nr
        sock.peer_window = syn.wnd_size
        sock._reply_micro = (_micros(now) - syn.timestamp) & _U32
        sock._need_ack = True
        sock._events.append(Connected())
        return sock

    _syn_seq = -1

    @property
    def ack_nr(self) -> int:
        """The last sequence number received in order (the receive side's)."""
        return self.rx.ack_nr

    @ack_nr.setter
    def ack_nr(self, value: int) -> None:
        self.rx.ack_nr = value & SEQ_MASK

    # ------------------------------------------------------------------ user verbs
    def send(self, data: bytes | bytearray | memoryview) -> bool:
        """Queue bytes of the stream; True while the unsent bytes exceed the high-water mark
        (then wait for `Writable`)."""
        if self.state is UtpState.CLOSED or self._closing:
            return False
        self._sendbuf.append(data)
        if len(self._sendbuf) > self.send_high_water:
            self._blocked = True
        return self._blocked

    @property
    def unsent(self) -> int:
        """Bytes queued by `send` and not in a packet yet."""
        return len(self._sendbuf)

    def close(self) -> None:
        """Send FIN after every byte queued; `Closed` comes when it is acked."""
        if self.state is UtpState.CLOSED or self._closing:
            return
        self._closing = True  # while connecting: the FIN follows the handshake

    def abort(self) -> None:
        """End now with ST_RESET (BEP 29)."""
        if self.state is UtpState.CLOSED:
            return
        if self.state is not UtpState.SYN_SENT:
            self._out.append(self._encode(ST_RESET, self.seq_nr, 0.0))
        self._finish("aborted")

    def fail(self, reason: str) -> None:
        """End now without a word to the peer: its host said it is gone (an ICMP error)."""
        self._finish(reason)

    def set_read_backlog(self, nbytes: int) -> None:
        """Bytes delivered but not consumed by the reader: they shrink our window."""
        opened = nbytes < self.read_backlog
        self.read_backlog = nbytes
        if opened and self.state is not UtpState.CLOSED:
            self._need_ack = True  # tell the peer the window opened again

    # ------------------------------------------------------------------ inputs
    def receive_packet(self, pkt: Packet, now: float) -> None:
        """One packet addressed to this connection (the manager matched its id)."""
        if self.state is UtpState.CLOSED:
            return
        self._last_now = now
        self._last_heard = now
        if pkt.type == ST_RESET:
            self._finish("refused" if self.state is UtpState.SYN_SENT else "reset")
            return
        if pkt.type == ST_SYN:
            if self.incoming and pkt.seq_nr == self._syn_seq:
                self._need_ack = True  # our ST_STATE was lost: answer the resent SYN again
            return
        self._reply_micro = (_micros(now) - pkt.timestamp) & _U32
        self.peer_window = pkt.wnd_size
        if self.state is UtpState.SYN_SENT:
            syn_seq = (self.seq_nr - 1) & SEQ_MASK
            if pkt.ack_nr != syn_seq:
                return
            if pkt.type == ST_FIN:  # accepted and hung up at once (qBittorrent does)
                self._out.append(self._encode(ST_RESET, self.seq_nr, now, ack_nr=pkt.seq_nr))
                self._finish("refused")
                return
            self.state = UtpState.CONNECTED
            self.ack_nr = (pkt.seq_nr - 1) & SEQ_MASK
            self._events.append(Connected())
        self.confirmed = True
        self._process_ack(pkt, now)
        if pkt.type in (ST_DATA, ST_FIN) and self.state is not UtpState.CLOSED:
            self._process_data(pkt)
        if self._our_fin is not None and self.acked_seq == self._our_fin:
            if self.rx.eof_sent:
                if self._need_ack:  # the peer's FIN came with (or after) the ack of ours
                    self._out.append(self._encode(ST_STATE, self.seq_nr, now))
                self._finish("closed")
            elif self._linger_at is None:
                # our FIN is acked: wait a little for the peer's, to ack it (else it
                # would resend it to a socket that is gone)
                self._linger_at = now + max(1.0, 2 * self._rto())

    def _process_data(self, pkt: Packet) -> None:
        self._need_ack = True
        if pkt.payload and self.read_backlog > self.config.recv_window:
            return  # the peer ignores our shut window: not taken, not acked (resent later)
        data, eof = self.rx.receive(pkt.type, pkt.seq_nr, pkt.payload)
        if data:
            self._events.append(DataReceived(data))
        if eof:
            self._events.append(Eof())
            if self._linger_at is not None:
                self._out.append(self._encode(ST_STATE, self.seq_nr, self._last_now))
                self._finish("closed")

    def handle_timer(self, now: float) -> None:
        """The retransmission timeout (BEP 29 "timeouts"), when `get_timer` says."""
        if self._linger_at is not None:
            if now >= self._linger_at:
                self._finish("closed")
            return
        if self.state is UtpState.CLOSED:
            return
        if self._rto_at is None:
            due = self._keepalive_due()
            if due is not None and now >= due:
                self._keepalive(now)
            return
        if now < self._rto_at:
            return
        if not self._outbuf:
            self._rto_at = None
            self._window_probe = True  # the peer's window stayed shut: send one packet anyway
            return
        first = next(iter(self._outbuf.values()))
        probe_only = len(self._outbuf) == 1 and self.mtu.probe_seq == first.seq
        if probe_only:
            self.mtu.lost()  # only the probe was out and it never came back: too big
        else:
            self.timeouts += 1
        limit = {UtpState.SYN_SENT: self.config.syn_resends,
                 UtpState.FIN_SENT: self.config.fin_resends}.get(self.state)  # fmt: skip
        if (self.timeouts > self.config.num_resends
                or (limit is not None and first.transmissions >= limit)
                or (self.timeouts and not self.confirmed)):  # fmt: skip
            if self.state is UtpState.SYN_SENT:
                self._finish("connect timed out")
            elif self.state is UtpState.FIN_SENT:
                self._finish("closed")
            else:
                self._finish("timed out")
            return
        if not probe_only:
            self.cc.on_timeout(self.mtu.size, idle=self.in_flight == 0)
            self._loss_seq = (self.seq_nr - 1) & SEQ_MASK
        for sent in self._outbuf.values():
            if not sent.need_resend:
                sent.need_resend = True
                self.in_flight -= len(sent.payload)
            sent.fast_resent = False
        self._transmit(first, now)
        self._rto_at = now + self._rto()

    def get_timer(self) -> float | None:
        """When to call `handle_timer` (None: nothing to wait for)."""
        if self.state is UtpState.CLOSED:
            return None
        if self._linger_at is not None:
            return self._linger_at
        return self._rto_at if self._rto_at is not None else self._keepalive_due()

    def _keepalive_due(self) -> float | None:
        if self.state is not UtpState.CONNECTED or self._outbuf:
            return None
        cfg = self.config
        wait = min(cfg.idle_probe * (1 << min(self.keepalives, 16)), cfg.keepalive_interval)
        return self._last_sent + wait

    def _keepalive(self, now: float) -> None:
        """Nothing sent for a while: an ST_STATE with a stale ack_nr (libutp's), counted as
        a resend that the peer's silence makes lost."""
        cfg = self.config
        if now - self._last_heard >= (cfg.num_resends + 1) * cfg.keepalive_interval:
            self._finish("timed out")
            return
        self.keepalives += 1
        self._keepalive_out = True
        seq = self.seq_nr if self.confirmed else self._first_seq
        self._out.append(self._encode(ST_STATE, seq, now, ack_nr=(self.ack_nr - 1) & SEQ_MASK))

    # ------------------------------------------------------------------ outputs
    def events(self) -> list[UtpEvent]:
        out, self._events = self._events, []
        return out

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Resends, new data the window allows, FIN, and an ack if none of those carried
        one; at most one bare ack per call, so a batch of received packets gets one."""
        before = len(self._out)
        if self.state in (UtpState.CONNECTED, UtpState.FIN_SENT):
            self._send_resends(now)
            self._send_new(now)
        quiet = len(self._out) == before
        if self._need_ack and quiet and self.state in (UtpState.CONNECTED, UtpState.FIN_SENT):
            # until the initiator is heard from, every STATE names our first seq: it
            # takes ack_nr from whichever one arrives first (a lost answer to its SYN)
            seq = self.seq_nr if self.confirmed else self._first_seq
            self._out.append(self._encode(ST_STATE, seq, now))
        self._need_ack = False
        out, self._out = self._out, []
        if out:
            self._last_sent = now
            if not self._keepalive_out:
                self.keepalives = 0
            self._keepalive_out = False
        return out

    def _encode(self, ptype: int, seq: int, now: float, payload: bytes = b"",
                padding: int = 0, ack_nr: int | None = None) -> bytes:  # fmt: skip
        sack = b""
        if ptype != ST_SYN and ack_nr is None:  # a SACK counts from the packet's ack_nr
            sack = self.rx.sack()
        window = self.config.recv_window - self.rx.reorder_bytes - self.read_backlog
        return encode_packet(
            ptype,
            self.recv_id if ptype == ST_SYN else self.send_id,
            timestamp=_micros(now),
            timestamp_diff=self._reply_micro,
            wnd_size=max(0, window),
            seq_nr=seq,
            ack_nr=0 if ptype == ST_SYN else self.ack_nr if ack_nr is None else ack_nr,
            payload=payload,
            sack=sack,
            padding=padding,
        )

    def _rto(self) -> float:
        return self.rtt.timeout(self.timeouts, min_timeout=self.config.min_timeout)

    def _finish(self, reason: str) -> None:
        if self.state is UtpState.CLOSED:
            return
        self.state = UtpState.CLOSED
        self.close_reason = reason
        self._rto_at = None
        self._outbuf.clear()
        self._sendbuf.clear()
        self._events.append(Closed(reason))

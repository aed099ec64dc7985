"""`Receiver`: the receive side of one uTP connection (BEP 29).

ST_DATA and ST_FIN consume a sequence number; ``ack_nr`` is the last one received in
order. A packet ahead of it waits in the reorder buffer (at most `MAX_REORDER` packets
ahead and `max_bytes` bytes in all -- our receive window, which a peer that ignores the
window it is told could otherwise fill with 64 KiB datagrams; the rest is dropped, as
libtorrent drops what its reorder buffer cannot hold) and is delivered with the hole's
filler; the buffer's bytes shrink the window we advertise. The selective ACK
(extension 1) reports what waits there: bit i of the mask is ``ack_nr + 2 + i``,
`SACK_BYTES` bytes of it. The peer's FIN fixes the end: nothing
after it is kept, and `Eof` is due once every byte before it was delivered.
"""

from __future__ import annotations

from .packet import SEQ_MASK, ST_FIN, make_sack, seq_diff

__all__ = ["MAX_REORDER", "SACK_BYTES", "Receiver"]

SACK_BYTES = 4  # our selective ACK covers 32 packets past the hole
MAX_REORDER = 4096  # packets ahead of ack_nr kept for later


class Receiver:
    """In-order delivery of one connection's packets; see the module docstring."""

    __slots__ = ("_reorder", "ack_nr", "eof_sent", "fin_seq", "max_bytes", "reorder_bytes")

    def __init__(self, ack_nr: int = 0, *, max_bytes: int = 1 << 20) -> None:
        self.ack_nr = ack_nr & SEQ_MASK  # the last seq received in order
        self.fin_seq: int | None = None  # the peer's FIN
        self.eof_sent = False
        self._reorder: dict[int, bytes] = {}
        self.reorder_bytes = 0
        self.max_bytes = max_bytes

    def receive(self, ptype: int, seq: int, payload: bytes) -> tuple[bytes, bool]:
        """One ST_DATA or ST_FIN: the bytes now in order (maybe none), and whether the
        stream ended with them (the FIN reached, once)."""
        if ptype == ST_FIN and self.fin_seq is None:
            self.fin_seq = seq
        dist = seq_diff(seq, self.ack_nr)
        if dist <= 0 or dist > MAX_REORDER:
            return b"", False  # a duplicate (acked again) or too far ahead
        if self.fin_seq is not None and seq_diff(seq, self.fin_seq) > 0:
            return b"", False  # nothing comes after a FIN
        if dist > 1:
            room = self.reorder_bytes + len(payload) <= self.max_bytes
            if seq not in self._reorder and room:
                self._reorder[seq] = payload
                self.reorder_bytes += len(payload)
            return b"", False
        chunks = [payload]
        nxt = (seq + 1) & SEQ_MASK
        while nxt in self._reorder:
            later = self._reorder.pop(nxt)
            self.reorder_bytes -= len(later)
            chunks.append(later)
            nxt = (nxt + 1) & SEQ_MASK
        self.ack_nr = (nxt - 1) & SEQ_MASK
        eof = self.fin_seq is not None and self.ack_nr == self.fin_seq and not self.eof_sent
        if eof:
            self.eof_sent = True
        return b"".join(chunks), eof

    def sack(self) -> bytes:
        """The selective ACK mask for a packet acking ``ack_nr`` (empty: no hole)."""
        if not self._reorder:
            return b""
        return make_sack(self.ack_nr, self._reorder, SACK_BYTES)

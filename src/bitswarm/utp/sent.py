"""`SentPacket`: one packet of the send window, kept until it is acked.

`UtpSocket` keeps these by sequence number in send order: the retransmission timeout
resends the first, a duplicate or selective ACK marks one lost (`need_resend`), and an
ack's round trip counts only for a packet sent once (Karn's rule, `transmissions`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SentPacket"]


@dataclass(slots=True)
class SentPacket:
    """One packet in the send window, waiting for its ack."""

    seq: int
    type: int
    payload: bytes
    sent_at: float = 0.0
    transmissions: int = 0
    need_resend: bool = False
    fast_resent: bool = False
    padding: int = 0  # an MTU probe's extra bytes (its first transmission only)

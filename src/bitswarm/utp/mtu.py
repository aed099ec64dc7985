"""Path MTU discovery for uTP (BEP 29 "packet sizes"), as libtorrent does it.

The packet size is searched between a floor that every path carries and a ceiling
(the link's MTU less the IP and UDP headers): the next probe is the middle of the two.
A probe acknowledged raises the floor to its size; a probe lost lowers the ceiling below
it. Unlike libtorrent, a probe carries only a floor-sized payload and is padded to the
probe size with an extension the receiver skips (packet.EXT_PADDING): so its
retransmission, sent without padding, passes any path and a lost probe costs no more
than one resend.
"""

from __future__ import annotations

__all__ = ["MtuSearch"]

FLOOR = 548  # 576 (the least MTU every IPv4 host accepts) - 20 IP - 8 UDP
CEILING = 1472  # 1500 (Ethernet) - 20 IP - 8 UDP
DONE_WITHIN = 16  # stop probing when the bounds are this close


class MtuSearch:
    """Bounds of the uTP packet size (the UDP payload, header included)."""

    __slots__ = ("ceiling", "floor", "probe_seq", "probe_size")

    def __init__(self, floor: int = FLOOR, ceiling: int = CEILING) -> None:
        self.floor = min(floor, ceiling)
        self.ceiling = ceiling
        self.probe_seq: int | None = None
        self.probe_size = 0

    @property
    def size(self) -> int:
        """The packet size to fill now (the floor, proven)."""
        return self.floor

    def want_probe(self) -> int:
        """The size of a probe to send now, or 0 (one in flight, or the search is done)."""
        if self.probe_seq is not None or self.ceiling - self.floor < DONE_WITHIN:
            return 0
        return (self.floor + self.ceiling + 1) // 2

    def sent(self, seq: int, size: int) -> None:
        self.probe_seq = seq
        self.probe_size = size

    def acked(self) -> None:
        self.floor = max(self.floor, self.probe_size)
        self.probe_seq = None

    def lost(self) -> None:
        self.ceiling = max(self.floor, self.probe_size - 1)
        self.probe_seq = None

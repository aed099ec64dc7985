"""Round-trip time and the retransmission timeout, as libtorrent's `utp_stream` computes them.

BEP 29 "timeouts": every acked packet sent once gives a sample (Karn: a resent packet's
ack is ambiguous); ``rtt`` and ``rtt_var`` are smoothed and the timeout is
``max(rtt + rtt_var * 4, 500 ms)``. libtorrent (src/utp_stream.cpp, ``packet_timeout``)
uses its sliding averages with ``mean + 2 * avg_deviation`` and a minimum of
``utp_min_timeout`` = 500 ms, adds 2^(n-1) seconds after n timeouts in a row and caps the
whole at 60 s; a SYN waits 3 s (``utp_connect_timeout``) since nothing is known yet.
We follow libtorrent, whose peers we meet most.
"""

from __future__ import annotations

__all__ = ["RttEstimator"]

MIN_TIMEOUT = 0.5
MAX_TIMEOUT = 60.0
SYN_TIMEOUT = 3.0
GAIN = 16  # libtorrent's sliding_average<16>: the newest sample weighs 1/16 once warm


class RttEstimator:
    """Smoothed RTT (seconds) and mean deviation, and the timeout derived from them."""

    __slots__ = ("deviation", "mean", "samples")

    def __init__(self) -> None:
        self.mean = 0.0
        self.deviation = 0.0
        self.samples = 0

    def add(self, sample: float) -> None:
        """One round trip, in seconds (negative samples from a clock step are dropped)."""
        if sample < 0:
            return
        self.samples += 1
        weight = min(self.samples, GAIN)
        err = sample - self.mean
        self.mean += err / weight
        if self.samples > 1:
            self.deviation += (abs(err) - self.deviation) / weight

    def timeout(self, timeouts: int, *, min_timeout: float = MIN_TIMEOUT) -> float:
        """Seconds before an unacked packet counts as lost, after `timeouts` in a row."""
        if self.samples == 0:
            base = SYN_TIMEOUT
        else:
            base = max(min_timeout, self.mean + 2 * self.deviation)
        if timeouts > 0:
            base += float(1 << min(timeouts - 1, 6))
        return min(base, MAX_TIMEOUT)

"""LEDBAT: the delay-based congestion window of uTP (BEP 29 "congestion control").

The peer echoes, in every packet's ``timestamp_difference_microseconds``, how long our
packets took to reach it by its clock. The clocks differ, so only the change matters:
the smallest value seen over the last two minutes is the *base delay* (the path without
queues), and what a sample has above it is queueing delay that we caused or share. The
window grows while that delay is under the target and shrinks above it::

    off_target = (target - delay) / target
    cwnd += gain * off_target * acked_bytes / bytes_in_flight

so at most `gain` bytes per round trip (libtorrent's ``utp_gain_factor`` = 3000), with
``utp_target_delay`` = 100 ms. Like libtorrent (src/utp_stream.cpp ``do_ledbat``) it
starts in slow start (cwnd grows by the bytes acked) until the delay reaches the target
(then, unlike libtorrent, the window halves: see `on_ack`), grows only when the sender
fills the window, and halves the window on a loss (``utp_loss_multiplier`` = 50 %), at
most once per window of packets.
"""

from __future__ import annotations

__all__ = ["DelayHistory", "Ledbat"]

TARGET_DELAY = 0.100  # seconds, libtorrent's utp_target_delay
GAIN = 3000  # bytes per RTT at most, libtorrent's utp_gain_factor
LOSS_MULTIPLIER = 0.5
HISTORY_BUCKET = 60.0  # seconds per minimum kept; two of them span the 2 minutes of BEP 29
MAX_CWND = 8 * 2**20
_U32 = 0xFFFFFFFF


class DelayHistory:
    """The base delay (the least sample of the last two minutes) and the current delay
    above it (the least of the last three samples, which filters a single late packet).

    Samples are 32-bit microsecond timestamps that wrap, compared modulo 2^32."""

    __slots__ = ("_bucket_start", "_current_min", "_previous_min", "_recent")

    def __init__(self) -> None:
        self._current_min: int | None = None
        self._previous_min: int | None = None
        self._bucket_start = 0.0
        self._recent: list[int] = []

    @staticmethod
    def _lower(a: int | None, b: int) -> int:
        if a is None:
            return b
        return b if (b - a) & _U32 > 0x7FFFFFFF else a

    @property
    def base(self) -> int | None:
        if self._previous_min is None:
            return self._current_min
        if self._current_min is None:
            return self._previous_min
        return self._lower(self._previous_min, self._current_min)

    def add(self, sample: int, now: float) -> float:
        """Record one sample; the queueing delay it implies, in seconds."""
        if self._current_min is None:
            self._bucket_start = now
        elif now - self._bucket_start >= HISTORY_BUCKET:
            self._previous_min = self._current_min
            self._current_min = None
            self._bucket_start = now
        self._current_min = self._lower(self._current_min, sample)
        base = self.base
        assert base is not None
        delay = (sample - base) & _U32
        if delay > 0x7FFFFFFF:
            delay = 0
        self._recent.append(delay)
        if len(self._recent) > 3:
            del self._recent[0]
        return min(self._recent) / 1e6


class Ledbat:
    """The congestion window in bytes, moved by acks, delays and losses."""

    __slots__ = ("cwnd", "delay", "gain", "slow_start", "ssthresh", "target")

    def __init__(self, initial: int, *, target: float = TARGET_DELAY, gain: int = GAIN) -> None:
        self.cwnd = float(initial)
        self.target = target
        self.gain = gain
        self.slow_start = True
        self.ssthresh = 0.0
        self.delay = 0.0  # the last queueing delay seen (seconds)

    def on_ack(self, acked: int, delay: float, in_flight: int, mtu: int) -> None:
        """`acked` bytes were acknowledged while `in_flight` were outstanding; `delay` is
        the current queueing delay (seconds)."""
        if acked <= 0 or in_flight <= 0:
            return
        self.delay = delay
        if delay >= self.target and self.slow_start:
            # Slow start doubled the window each round trip while the delay it caused was
            # still on its way back: the queue it built would take many gain-limited round
            # trips to drain, so the window halves here (libtorrent only sets ssthresh).
            self.ssthresh = self.cwnd / 2
            self.cwnd = max(self.ssthresh, float(mtu))
            self.slow_start = False
            return
        off_target = (self.target - delay) / self.target
        linear = self.gain * off_target * acked / in_flight
        saturated = in_flight + acked + mtu > self.cwnd
        if not saturated:
            return  # the sender does not fill the window: it tells nothing of the path
        gain = linear
        if self.slow_start:
            if self.ssthresh and self.cwnd + acked > self.ssthresh:
                self.slow_start = False
            else:
                gain = max(float(acked), linear)
        self.cwnd = min(max(self.cwnd + gain, float(mtu)), MAX_CWND)

    def on_loss(self, mtu: int) -> None:
        """A packet was lost: multiplicative decrease, and no more slow start."""
        self.cwnd = max(self.cwnd * LOSS_MULTIPLIER, float(mtu))
        self.ssthresh = self.cwnd
        self.slow_start = False

    def on_timeout(self, mtu: int, idle: bool) -> None:
        """No ack for a whole timeout: back to one packet (slow start again), or, when
        the direction was only idle, a decay by a third (libtorrent)."""
        if idle:
            self.cwnd = max(self.cwnd * 2 / 3, float(mtu))
        else:
            self.cwnd = float(mtu)
            self.slow_start = True

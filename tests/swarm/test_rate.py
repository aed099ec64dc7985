"""RateMeter (sliding window) and TokenBucket (rate limits)."""

from __future__ import annotations

import pytest

from bitswarm.errors import LocalProtocolError
from bitswarm.ratelimit import TokenBucket, consume_all, read_allowance
from bitswarm.swarm.rate import RateMeter


def feed(meter: RateMeter, bytes_per_s: float, start: float, end: float, step: float = 0.1) -> None:
    for k in range(round((end - start) / step)):
        meter.add(round(bytes_per_s * step), start + k * step)


def test_steady_rate_is_measured() -> None:
    meter = RateMeter()
    feed(meter, 10_000, 0.0, 20.0)
    for now in (20.0, 20.05):
        assert meter.rate(now) == pytest.approx(10_000, rel=0.03)
    assert meter.total == 200_000


def test_new_meter_is_not_underrated() -> None:
    meter = RateMeter()
    feed(meter, 8_000, 3.0, 4.0)  # one second of traffic, 5 s window
    assert meter.rate(4.0) == pytest.approx(8_000, rel=0.05)
    assert RateMeter().rate(10.0) == 0.0


def test_started_meter_counts_the_silence_before_the_first_byte() -> None:
    meter = RateMeter(start=0.0)
    meter.add(5_000, 2.0)
    assert meter.rate(2.5) == pytest.approx(2_000)  # 5000 bytes in 2.5 s, not in 0.5 s
    later = RateMeter(start=0.0)
    later.add(5_000, 4.5)
    assert later.rate(5.0) == pytest.approx(1_250)  # the window is 4-5 s long


def test_rate_follows_a_change_and_decays_to_zero() -> None:
    meter = RateMeter()
    feed(meter, 50_000, 0.0, 10.0)
    feed(meter, 5_000, 10.0, 20.0)
    assert meter.rate(20.0) == pytest.approx(5_000, rel=0.05)
    assert meter.rate(26.0) == 0.0
    assert meter.total == 550_000


def test_window_and_buckets_are_configurable() -> None:
    meter = RateMeter(window=2.0, buckets=4)
    feed(meter, 1_000, 0.0, 10.0)
    feed(meter, 3_000, 10.0, 12.0)
    assert meter.rate(12.0) == pytest.approx(3_000, rel=0.05)
    with pytest.raises(LocalProtocolError):
        RateMeter(window=0)
    with pytest.raises(LocalProtocolError):
        meter.add(-1, 12.0)


def test_clock_stepping_back_is_held_still() -> None:
    meter = RateMeter()
    meter.add(1_000, 10.0)
    meter.add(1_000, 9.0)  # counted at 10.0
    assert meter.total == 2_000
    assert meter.rate(9.0) == meter.rate(10.0)


# ------------------------------------------------------------------------ token bucket


def test_token_bucket_burst_then_rate() -> None:
    bucket = TokenBucket(rate=1_000, burst=2_000)
    assert bucket.consume(2_000, 0.0) == 0.0
    assert bucket.consume(500, 0.0) == pytest.approx(0.5)  # in debt: wait half a second
    assert bucket.available(0.5) == pytest.approx(0.0)
    assert bucket.available(10.0) == 2_000  # never more than the burst


def test_token_bucket_long_run_throughput_matches_the_limit() -> None:
    """A sender that waits as told sends `rate` bytes per second (plus one burst)."""
    bucket = TokenBucket(rate=50_000, burst=16_384)
    now, sent = 0.0, 0
    while now < 100.0:
        now += bucket.consume(16_384, now)
        sent += 16_384
    assert sent == pytest.approx(50_000 * 100 + 16_384, rel=0.01)


def test_token_bucket_unlimited_and_changes() -> None:
    assert TokenBucket(rate=0, burst=0).consume(10**9, 0.0) == 0.0
    assert TokenBucket(rate=float("inf"), burst=0).consume(10**9, 0.0) == 0.0
    bucket = TokenBucket(rate=100, burst=100)
    assert bucket.consume(300, 0.0) == pytest.approx(2.0)
    bucket.set_rate(200, 0.0)
    assert bucket.consume(0, 0.0) == pytest.approx(1.0)  # the debt is repaid faster
    with pytest.raises(LocalProtocolError):
        bucket.consume(-1, 0.0)


def test_global_and_per_torrent_limits_compose() -> None:
    global_limit = TokenBucket(rate=1_000, burst=1_000)
    torrent_limit = TokenBucket(rate=100, burst=100)
    assert consume_all([global_limit, torrent_limit], 600, 0.0) == pytest.approx(5.0)
    assert global_limit.available(0.0) == 400
    assert consume_all([], 5, 0.0) == 0.0


def test_read_allowance_is_the_tokens_or_one_slice() -> None:
    unlimited, limited = TokenBucket(0, 0), TokenBucket(32 * 1024, burst=64 * 1024)
    assert read_allowance([unlimited], 0.0) is None
    assert read_allowance([], 0.0) is None
    assert read_allowance([unlimited, limited], 0.0) == 64 * 1024  # a full bucket
    limited.consume(64 * 1024 + 10_000, 0.0)  # in debt: one slice, 1/8 s at 32 KiB/s
    assert read_allowance([limited], 0.0) == 4096
    assert read_allowance([TokenBucket(8 * 2**20, burst=0)], 0.0) == 2**20
    tight = TokenBucket(1000, burst=0)  # a slice is never below 4 KiB
    assert read_allowance([tight], 0.0) == 4096
    assert read_allowance([TokenBucket(10**6, burst=50_000), tight], 0.0) == 4096  # the least


def test_reads_within_the_allowance_keep_the_debt_below_a_slice() -> None:
    """However much arrives, reading at most the allowance leaves at most one slice of
    debt: no read makes the other connections on the bucket wait long."""
    bucket, now, longest = TokenBucket(32 * 1024, burst=64 * 1024), 0.0, 0.0
    for _ in range(500):
        allowance = read_allowance([bucket], now)
        assert allowance is not None
        wait = bucket.consume(min(allowance, 256 * 1024), now)  # the peer sends plenty
        longest = max(longest, wait)
        now += wait
    assert longest <= 0.125 + 1e-9

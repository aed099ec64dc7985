"""The send-buffer watermark: half a second of the peer's upload rate, within bounds."""

from __future__ import annotations

import math

import pytest

from bitswarm.errors import LocalProtocolError
from bitswarm.swarm.send_watermark import HIGH, LOW, send_watermark


def test_half_a_second_of_the_rate() -> None:
    assert send_watermark(1_000_000) == 500_000
    assert send_watermark(1_000_000, factor=0.25) == 250_000
    assert send_watermark(400_000, low=1000) == 200_000


def test_a_new_or_slow_peer_gets_the_low_mark() -> None:
    assert send_watermark(0.0) == LOW
    assert send_watermark(-5.0) == LOW
    assert send_watermark(math.nan) == LOW
    assert send_watermark(1000.0) == LOW  # 500 bytes would idle the link between writes
    assert send_watermark(1000.0, low=100) == 500


def test_a_fast_peer_is_capped_at_the_old_high_water_mark() -> None:
    assert HIGH == 4 * 2**20
    assert send_watermark(1e9) == HIGH
    assert send_watermark(math.inf) == HIGH
    assert send_watermark(1e9, high=2**20) == 2**20


def test_the_lab_leechers_link_holds_well_under_a_second() -> None:
    """A 10 Mbit/s link shared by 7 requesters: each peer ~180 kB/s, so ~90 kB ahead
    (0.07 s of the whole link) instead of the 4 MiB (3.4 s) written ahead before."""
    share = 10e6 / 8 / 7
    ahead = send_watermark(share)
    assert LOW <= ahead <= share
    assert ahead * 8 / 10e6 < 0.1


def test_bounds_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        send_watermark(1.0, low=0)
    with pytest.raises(LocalProtocolError):
        send_watermark(1.0, low=10, high=5)
    with pytest.raises(LocalProtocolError):
        send_watermark(1.0, factor=-1.0)

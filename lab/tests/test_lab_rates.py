"""Rates as `bitswarm lab` and tc write them (bitswarm_lab.rates)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.errors import BitswarmError
from bitswarm_lab.rates import RateError, format_rate, parse_rate, tc_rate


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("50mbit", 50_000_000),
        ("50Mbit", 50_000_000),
        (" 1.5mbit ", 1_500_000),
        ("512kbit", 512_000),
        ("2gbit", 2_000_000_000),
        ("800bit", 800),
        ("8000", 8000),
    ],
)
def test_rates_are_decimal_bits_per_second(text: str, bits: int) -> None:
    assert parse_rate(text) == bits


@pytest.mark.parametrize("text", ["0", "0mbit", "none", "unlimited", "Unlimited"])
def test_zero_and_none_mean_no_limit(text: str) -> None:
    assert parse_rate(text) is None


@pytest.mark.parametrize("text", ["6mbps", "10kbps", "1MB/s", "5bps"])
def test_byte_units_are_refused_not_guessed(text: str) -> None:
    # tc's "mbps" is megaBYTES per second: a factor 8 that would falsify every figure.
    with pytest.raises(RateError, match="ambiguous"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["fast", "", "mbit", "10 furlongs", "-5mbit", "7bit"])
def test_nonsense_is_refused_with_a_user_facing_error(text: str) -> None:
    with pytest.raises(BitswarmError):
        parse_rate(text)


def test_format_rate_writes_what_parse_rate_reads() -> None:
    assert format_rate(50_000_000) == "50mbit"
    assert format_rate(1_500_000) == "1.5mbit"
    assert format_rate(512_000) == "512kbit"
    assert format_rate(None) == "unlimited"
    assert tc_rate(50_000_000) == "50000000bit"
    with pytest.raises(ValueError):
        tc_rate(0)


@given(st.integers(min_value=8, max_value=10**11))
def test_format_then_parse_keeps_the_rate_to_a_thousandth(bits: int) -> None:
    again = parse_rate(format_rate(bits))
    assert again is not None
    assert abs(again - bits) <= bits / 1000

"""The Kumar–Ross bound and the efficiency figure of `bitswarm lab` (bitswarm_lab.kumar_ross)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm_lab.kumar_ross import Bottleneck, efficiency, minimum_distribution_time

MiB = 1 << 20
MBIT = 10**6


def test_seed_limited_swarm_is_bound_by_the_seeders_upload() -> None:
    # The seed-limited case: 64 MiB, seeder 20 Mbit/s, 8 leechers at 50 Mbit/s.
    bound = minimum_distribution_time(64 * MiB, [20 * MBIT], [50 * MBIT] * 8)
    bits = 64 * MiB * 8
    assert bound.seed_term == pytest.approx(bits / (20 * MBIT))  # 26.84 s
    assert bound.swarm_term == pytest.approx(8 * bits / (420 * MBIT))  # 10.23 s
    assert bound.download_term == 0.0  # nobody's download is limited
    assert bound.t_min == pytest.approx(26.8435456)
    assert bound.bottleneck is Bottleneck.SEED_UPLOAD


def test_upload_limited_swarm_is_bound_by_all_uploads_together() -> None:
    bound = minimum_distribution_time(64 * MiB, [50 * MBIT], [10 * MBIT] * 8)
    assert bound.t_min == pytest.approx(8 * 64 * MiB * 8 / (130 * MBIT))  # 33.04 s
    assert bound.bottleneck is Bottleneck.SWARM_UPLOAD
    assert bound.seed_term == pytest.approx(64 * MiB * 8 / (50 * MBIT))


def test_the_slowest_download_can_be_the_bottleneck() -> None:
    bound = minimum_distribution_time(
        8 * MiB, [100 * MBIT], [100 * MBIT] * 3, [None, 5 * MBIT, 20 * MBIT]
    )
    assert bound.download_term == pytest.approx(8 * MiB * 8 / (5 * MBIT))
    assert bound.bottleneck is Bottleneck.DOWNLOAD
    assert bound.t_min == bound.download_term


def test_several_seeders_count_as_one_server_of_their_summed_upload() -> None:
    one = minimum_distribution_time(MiB, [20 * MBIT], [MBIT] * 4)
    two = minimum_distribution_time(MiB, [10 * MBIT, 10 * MBIT], [MBIT] * 4)
    assert one == two


@pytest.mark.parametrize(
    ("size", "seeds", "leechers", "downs"),
    [
        (0, [MBIT], [MBIT], []),
        (MiB, [], [MBIT], []),
        (MiB, [0], [MBIT], []),
        (MiB, [MBIT], [], []),
        (MiB, [MBIT], [-1], []),
        (MiB, [MBIT], [MBIT], [0]),
    ],
)
def test_impossible_swarms_are_refused(
    size: int, seeds: list[int], leechers: list[int], downs: list[int | None]
) -> None:
    with pytest.raises(ValueError):
        minimum_distribution_time(size, seeds, leechers, downs)


def test_efficiency_is_t_min_over_t_all() -> None:
    assert efficiency(26.8, 31.0) == pytest.approx(26.8 / 31.0)
    assert efficiency(26.8, None) is None
    assert efficiency(26.8, math.inf) is None
    with pytest.raises(ValueError):
        efficiency(1.0, 0.0)


rates = st.integers(min_value=8, max_value=10**10)


@given(
    size=st.integers(min_value=1, max_value=1 << 40),
    seed=rates,
    ups=st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=50),
    down=st.one_of(st.none(), rates),
)
def test_the_bound_is_the_largest_term_and_scales_inversely_with_rates(
    size: int, seed: int, ups: list[int], down: int | None
) -> None:
    bound = minimum_distribution_time(size, [seed], ups, [down] * len(ups))
    assert bound.t_min == max(bound.seed_term, bound.download_term, bound.swarm_term)
    # No schedule beats sending every bit of the file out of the seeder once.
    assert bound.t_min >= size * 8 / seed
    doubled = minimum_distribution_time(
        size, [2 * seed], [2 * u for u in ups], [None if down is None else 2 * down] * len(ups)
    )
    assert doubled.t_min == pytest.approx(bound.t_min / 2)

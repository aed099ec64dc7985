"""Request pipelining depth from the measured rate, and slow start."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.errors import LocalProtocolError
from bitswarm.swarm.request_queue import RequestQueueSizer, desired_queue_depth


def test_depth_covers_target_seconds_of_data() -> None:
    assert desired_queue_depth(1024 * 1024) == 192  # 3 s × 1 MiB/s / 16 KiB
    assert desired_queue_depth(100_000) == math.ceil(300_000 / 16384)
    assert desired_queue_depth(100_000, target_seconds=1.0) == 7
    assert desired_queue_depth(100_000, 32768) == 10


def test_depth_is_clamped() -> None:
    assert desired_queue_depth(0.0) == 2
    assert desired_queue_depth(10.0) == 2
    assert desired_queue_depth(1e12) == 500
    assert desired_queue_depth(1e12, maximum=64) == 64
    assert desired_queue_depth(10.0, minimum=5) == 5
    assert desired_queue_depth(math.inf) == 500
    assert desired_queue_depth(math.nan) == 2
    with pytest.raises(LocalProtocolError):
        desired_queue_depth(1.0, minimum=10, maximum=5)


def test_slow_start_opens_one_per_block_until_the_rate_stalls() -> None:
    q = RequestQueueSizer(initial=4)
    assert q.depth == 4 and q.slow_start
    for _ in range(10):
        q.block_received()
    assert q.depth == 14
    assert q.tick(100_000) == 19  # the formula already asks for more: 3 s × 100 kB/s
    assert q.tick(200_000) == 37  # still growing: stay in slow start
    assert q.slow_start
    q.tick(205_000)  # < 10% growth: slow start is over
    assert not q.slow_start
    before = q.depth
    q.block_received()
    assert q.depth == before  # no more growth per block
    assert q.tick(50_000) == 10  # now it just follows the rate


def test_snubbed_peer_gets_one_request_then_recovers() -> None:
    q = RequestQueueSizer(minimum=2)
    for _ in range(20):
        q.block_received()
    assert q.snubbed() == 1
    assert q.tick(1e6) == 1  # stays at one while snubbed
    assert q.block_received() == 2  # data again: back to the minimum, then the formula
    assert q.tick(1e6) == desired_queue_depth(1e6)


def test_timeout_halves_the_window() -> None:
    q = RequestQueueSizer(initial=40)
    assert q.timed_out() == 20
    assert not q.slow_start
    assert RequestQueueSizer(initial=3).timed_out() == 2


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["blocks", "tick", "snub", "timeout"]), st.integers(0, 40)),
        max_size=40,
    )
)
def test_a_run_of_blocks_moves_the_depth_as_that_many_single_blocks(
    steps: list[tuple[str, int]],
) -> None:
    run, single = RequestQueueSizer(maximum=60), RequestQueueSizer(maximum=60)
    for what, n in steps:
        if what == "blocks":
            run.blocks_received(n)
            for _ in range(n):
                single.block_received()
        elif what == "tick":
            run.tick(n * 16384.0)
            single.tick(n * 16384.0)
        elif what == "snub":
            run.snubbed()
            single.snubbed()
        else:
            run.timed_out()
            single.timed_out()
        assert run.depth == single.depth
        assert run.slow_start == single.slow_start

"""Swarm descriptions of `bitswarm lab` (bitswarm_lab.swarm_plan, bitswarm_lab.command)."""

from __future__ import annotations

import argparse
from typing import TypedDict

import pytest

from bitswarm.errors import BitswarmError
from bitswarm_lab.command import plan_from_args, register
from bitswarm_lab.kumar_ross import Bottleneck
from bitswarm_lab.swarm_plan import LabRole, PlanError, parse_mix, plan_swarm

MiB = 1 << 20
MBIT = 10**6


def test_a_count_uses_the_default_implementation() -> None:
    assert parse_mix("8", "libtorrent") == [("libtorrent", 8)]
    assert parse_mix(" 3 ", "bitswarm") == [("bitswarm", 3)]


def test_a_mix_names_each_implementation_and_count() -> None:
    assert parse_mix("bitswarm:4,libtorrent:4", "bitswarm") == [
        ("bitswarm", 4),
        ("libtorrent", 4),
    ]
    assert parse_mix("aria2, Transmission:2", "bitswarm") == [("aria2", 1), ("transmission", 2)]


@pytest.mark.parametrize("text", ["utorrent:3", "bitswarm:x", "bitswarm:4,,", "-1"])
def test_bad_mixes_are_refused(text: str) -> None:
    with pytest.raises(PlanError):
        parse_mix(text, "bitswarm")


def test_plan_names_every_peer_and_gives_it_its_role_rates() -> None:
    plan = plan_swarm(
        [("libtorrent", 1)], [("bitswarm", 2), ("aria2", 1)], size=64 * MiB,
        piece_size=256 << 10, up_bps=50 * MBIT, seed_up_bps=20 * MBIT, down_bps=None,
    )  # fmt: skip
    assert [(p.name, p.role, p.impl, p.up_bps) for p in plan.peers] == [
        ("S1", LabRole.SEEDER, "libtorrent", 20 * MBIT),
        ("L1", LabRole.LEECHER, "bitswarm", 50 * MBIT),
        ("L2", LabRole.LEECHER, "bitswarm", 50 * MBIT),
        ("L3", LabRole.LEECHER, "aria2", 50 * MBIT),
    ]
    assert plan.describe() == "1 libtorrent seeder, 2 bitswarm + 1 aria2 leechers"
    assert plan.bound().bottleneck is Bottleneck.SEED_UPLOAD


class PlanArguments(TypedDict, total=False):
    """`plan_swarm`'s arguments that the refusals below vary."""

    seeders: list[tuple[str, int]]
    leechers: list[tuple[str, int]]
    size: int
    piece_size: int
    up_bps: int | None
    seed_up_bps: int | None
    tracker: str
    timeout: float


@pytest.mark.parametrize(
    "change",
    [
        {"seeders": []},
        {"leechers": []},
        {"piece_size": 300_000},
        {"piece_size": 8192},
        {"size": 0},
        {"tracker": "udp-thing"},
        {"timeout": 0.0},
        {"leechers": [("bitswarm", 250)]},
    ],
)
def test_inconsistent_plans_are_refused(change: PlanArguments) -> None:
    arguments: PlanArguments = {
        "seeders": [("bitswarm", 1)], "leechers": [("bitswarm", 2)], "size": MiB,
        "piece_size": 1 << 18, "up_bps": MBIT, "seed_up_bps": MBIT,
    }  # fmt: skip
    arguments.update(change)
    with pytest.raises(PlanError):
        plan_swarm(**arguments)


def test_an_unlimited_seeder_has_no_bound() -> None:
    plan = plan_swarm(
        [("bitswarm", 1)], [("bitswarm", 2)], size=MiB, piece_size=1 << 18,
        up_bps=MBIT, seed_up_bps=None,
    )  # fmt: skip
    with pytest.raises(PlanError, match="--seed-up"):
        plan.bound()


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["lab", *argv])


def test_the_command_line_becomes_a_plan() -> None:
    plan = plan_from_args(
        _args("--leechers", "bitswarm:4,libtorrent:4", "--seeder-impl", "libtorrent",
              "--size", "8MiB", "--piece-size", "512KiB", "--up", "10mbit",
              "--seed-up", "50mbit", "--down", "100mbit", "--tracker", "bitswarm",
              "--timeout", "30")
    )  # fmt: skip
    assert [p.impl for p in plan.seeders] == ["libtorrent"]
    assert [p.impl for p in plan.leechers] == ["bitswarm"] * 4 + ["libtorrent"] * 4
    assert (plan.size, plan.piece_size, plan.tracker, plan.timeout) == (
        8 * MiB, 512 << 10, "bitswarm", 30.0,
    )  # fmt: skip
    assert {p.up_bps for p in plan.leechers} == {10 * MBIT}
    assert {p.down_bps for p in plan.leechers} == {100 * MBIT}
    assert plan.seeders[0].up_bps == 50 * MBIT
    assert plan.bound().bottleneck is Bottleneck.SWARM_UPLOAD


def test_client_server_counts_no_leecher_upload() -> None:
    """Leechers that cannot reach one another: the seeder sends all N copies, N·F/u_s."""
    plan = plan_from_args(
        _args("--leechers", "4", "--size", "8MiB", "--up", "20mbit", "--client-server")
    )
    assert plan.client_server and plan.describe().endswith("(client-server)")
    assert plan.bound().t_min == pytest.approx(4 * 8 * MiB * 8 / (20 * MBIT))
    assert plan.bound().bottleneck is Bottleneck.SWARM_UPLOAD
    peer_to_peer = plan_from_args(_args("--leechers", "4", "--size", "8MiB", "--up", "20mbit"))
    assert not peer_to_peer.client_server
    assert peer_to_peer.bound().t_min == pytest.approx(8 * MiB * 8 / (20 * MBIT))


def test_defaults_are_one_seeder_eight_leechers_at_50_mbit() -> None:
    plan = plan_from_args(_args())
    assert len(plan.seeders) == 1 and len(plan.leechers) == 8
    assert {p.up_bps for p in plan.peers} == {50 * MBIT}
    assert {p.down_bps for p in plan.leechers} == {None}
    assert plan.size == 64 * MiB and plan.piece_size == 256 << 10


@pytest.mark.parametrize("argv", [("--up", "6mbps"), ("--size", "lots"), ("--leechers", "qbit:3")])
def test_command_line_mistakes_are_one_line_errors(argv: tuple[str, ...]) -> None:
    with pytest.raises(BitswarmError):
        plan_from_args(_args(*argv))

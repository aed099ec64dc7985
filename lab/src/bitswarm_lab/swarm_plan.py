"""What a lab run is made of: which programs seed and leech, at which rates, with what payload.

`bitswarm lab` describes a swarm on its command line: a count per role and an implementation
(`--leechers 8 --leecher-impl libtorrent`), or a mix (`--leechers bitswarm:4,libtorrent:4`).
`plan_swarm` turns that into a `SwarmPlan`, one `PeerPlan` a peer with its name, program and
rate limits; the runner (swarm_run.py) builds exactly that and the Kumar–Ross bound is
computed from the same plan. Pure: no processes, no namespaces.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from bitswarm.errors import BitswarmError

from .kumar_ross import DistributionBound, minimum_distribution_time

__all__ = [
    "IMPLEMENTATIONS",
    "TRACKERS",
    "LabRole",
    "PeerPlan",
    "PlanError",
    "SwarmPlan",
    "parse_mix",
    "plan_swarm",
]

IMPLEMENTATIONS: tuple[str, ...] = (
    "bitswarm", "bitswarm-tcp", "libtorrent", "aria2", "transmission",
)  # fmt: skip
TRACKERS: tuple[str, ...] = ("opentracker", "bitswarm")
_MAX_PEERS = 200  # one /24 on the bridge, with room for the tracker


class PlanError(BitswarmError):
    """A swarm description that cannot be built."""


class LabRole(enum.Enum):
    SEEDER = "seeder"
    LEECHER = "leecher"


@dataclass(frozen=True, slots=True)
class PeerPlan:
    """One peer: `name` (S1, L1, ...), its program, and its limits in bits/s (None: none)."""

    name: str
    role: LabRole
    impl: str
    up_bps: int | None
    down_bps: int | None


@dataclass(frozen=True, slots=True)
class SwarmPlan:
    """A whole run: the peers, the payload, the tracker and the limits of the run itself."""

    seeders: tuple[PeerPlan, ...]
    leechers: tuple[PeerPlan, ...]
    size: int  # payload bytes (one file)
    piece_size: int
    tracker: str = "opentracker"
    timeout: float = 120.0  # seconds from the leechers' start until the run gives up
    sample_hz: float = 5.0
    verbose: bool = False
    workdir: Path | None = None  # None: a fresh temporary folder, removed afterwards
    keep_workdir: bool = False
    verify: bool = True  # compare every leecher's copy with the payload at the end
    # Client-server: no leecher can reach another (swarm_run confines their routes), so
    # the seeder alone serves every copy and the bound counts no leecher upload.
    client_server: bool = False

    @property
    def peers(self) -> tuple[PeerPlan, ...]:
        return (*self.seeders, *self.leechers)

    def bound(self) -> DistributionBound:
        """The Kumar–Ross bound of this swarm (every seeder's upload must be limited)."""
        seed_ups = [peer.up_bps for peer in self.seeders]
        if any(rate is None for rate in seed_ups):
            raise PlanError("every seeder needs an upload limit for T_min (--seed-up)")
        return minimum_distribution_time(
            self.size,
            [rate for rate in seed_ups if rate is not None],
            [0 if self.client_server else peer.up_bps or 0 for peer in self.leechers],
            [peer.down_bps for peer in self.leechers],
        )

    def describe(self) -> str:
        """'1 bitswarm seeder, 4 bitswarm + 4 libtorrent leechers' for titles and tables."""

        def group(peers: tuple[PeerPlan, ...], noun: str) -> str:
            counts: dict[str, int] = {}
            for peer in peers:
                counts[peer.impl] = counts.get(peer.impl, 0) + 1
            parts = " + ".join(f"{count} {impl}" for impl, count in counts.items())
            return f"{parts} {noun}{'s' if len(peers) != 1 else ''}"

        mode = " (client-server)" if self.client_server else ""
        return f"{group(self.seeders, 'seeder')}, {group(self.leechers, 'leecher')}{mode}"


def parse_mix(text: str, default_impl: str) -> list[tuple[str, int]]:
    """'8' -> [(default_impl, 8)]; 'bitswarm:4,libtorrent:4' -> [('bitswarm', 4), ...].

    A part without a count ('libtorrent') means one peer of that program.
    """
    _check_impl(default_impl)
    stripped = text.strip()
    if stripped.isdigit():
        return [(default_impl, int(stripped))]
    mix: list[tuple[str, int]] = []
    for part in stripped.split(","):
        impl, _, count_text = part.strip().partition(":")
        impl = impl.strip().lower()
        _check_impl(impl)
        count_text = count_text.strip() or "1"
        if not count_text.isdigit():
            raise PlanError(f"not a peer count: {count_text!r} in {text!r}")
        mix.append((impl, int(count_text)))
    return mix


def plan_swarm(
    seeders: list[tuple[str, int]],
    leechers: list[tuple[str, int]],
    *,
    size: int,
    piece_size: int,
    up_bps: int | None,
    seed_up_bps: int | None,
    down_bps: int | None = None,
    tracker: str = "opentracker",
    timeout: float = 120.0,
    sample_hz: float = 5.0,
    verbose: bool = False,
    workdir: Path | None = None,
    keep_workdir: bool = False,
    verify: bool = True,
    client_server: bool = False,
) -> SwarmPlan:
    """Name and rate every peer (seeders S1.., leechers L1..) and check the whole plan."""
    seed_plans = _peers(seeders, LabRole.SEEDER, "S", seed_up_bps, None)
    leech_plans = _peers(leechers, LabRole.LEECHER, "L", up_bps, down_bps)
    if not seed_plans:
        raise PlanError("a swarm needs at least one seeder")
    if not leech_plans:
        raise PlanError("a swarm needs at least one leecher")
    if len(seed_plans) + len(leech_plans) > _MAX_PEERS:
        raise PlanError(f"at most {_MAX_PEERS} peers fit on the lab's bridge")
    if size <= 0 or piece_size <= 0 or piece_size & (piece_size - 1):
        raise PlanError("the payload needs a positive size and a power-of-two piece size")
    if piece_size < 16384:
        raise PlanError("pieces must be at least 16 KiB (one block, BEP 3)")
    if tracker not in TRACKERS:
        raise PlanError(f"unknown tracker {tracker!r}: choose one of {', '.join(TRACKERS)}")
    if timeout <= 0 or sample_hz <= 0:
        raise PlanError("the timeout and the sampling rate must be positive")
    return SwarmPlan(
        seed_plans, leech_plans, size, piece_size, tracker=tracker, timeout=timeout,
        sample_hz=sample_hz, verbose=verbose, workdir=workdir, keep_workdir=keep_workdir,
        verify=verify, client_server=client_server,
    )  # fmt: skip


def _peers(
    groups: list[tuple[str, int]],
    role: LabRole,
    prefix: str,
    up_bps: int | None,
    down_bps: int | None,
) -> tuple[PeerPlan, ...]:
    plans: list[PeerPlan] = []
    for impl, count in groups:
        _check_impl(impl)
        for _ in range(count):
            plans.append(PeerPlan(f"{prefix}{len(plans) + 1}", role, impl, up_bps, down_bps))
    return tuple(plans)


def _check_impl(impl: str) -> None:
    if impl not in IMPLEMENTATIONS:
        raise PlanError(
            f"unknown implementation {impl!r}: choose one of {', '.join(IMPLEMENTATIONS)}"
        )

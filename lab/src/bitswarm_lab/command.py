"""`bitswarm lab`: a swarm of real peers in network namespaces, measured against Kumar–Ross.

Builds one namespace per peer on a bridge with `tc` rate limits, a tracker (opentracker or
`bitswarm tracker`), S seeders and N leechers of the chosen implementations; runs them until
every leecher holds a verified copy; prints T_all, T_min, the efficiency E = T_min / T_all
and each peer's completion time, and draws each leecher's progress as a PNG (`--plot`).
Needs root (namespaces, tc). Everything it made is removed on exit, Ctrl-C or SIGTERM.
See docs/lab.md.

bitswarm's command line finds `register` through the entry point ``lab`` of the group
``bitswarm.commands`` (lab/pyproject.toml). matplotlib is imported only when a run is to be
plotted, so that every other `bitswarm` command starts as fast with the lab installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bitswarm.errors import BitswarmError

from .lab_report import result_json, result_text
from .peers.torrent_files import parse_size
from .rates import parse_rate
from .swarm_plan import IMPLEMENTATIONS, TRACKERS, SwarmPlan, parse_mix, plan_swarm
from .swarm_run import run_lab

__all__ = ["cmd_lab", "plan_from_args", "register"]

EXIT_UNFINISHED = 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "lab", help="measure swarm efficiency with real peers in network namespaces",
        description="Run a swarm of real peers (bitswarm, libtorrent, aria2, Transmission), "
                    "each in a network namespace with tc rate limits, and compare the time "
                    "until the last leecher completes (T_all) with the Kumar-Ross minimum "
                    "T_min = max(F/u_s, F/d_min, N*F/(u_s + sum u_i)). Needs root.",
    )  # fmt: skip
    impls = "|".join(IMPLEMENTATIONS)
    p.add_argument(
        "--seeders",
        default="1",
        metavar="N|MIX",
        help="seeder count, or a mix such as libtorrent:1 (default 1)",
    )
    p.add_argument(
        "--leechers",
        default="8",
        metavar="N|MIX",
        help="leecher count, or a mix such as bitswarm:4,libtorrent:4 (default 8)",
    )
    p.add_argument(
        "--impl",
        default="bitswarm",
        choices=IMPLEMENTATIONS,
        metavar=impls,
        help="implementation of every peer (default bitswarm)",
    )
    p.add_argument(
        "--seeder-impl",
        choices=IMPLEMENTATIONS,
        metavar=impls,
        help="implementation of the seeders (default: --impl)",
    )
    p.add_argument(
        "--leecher-impl",
        choices=IMPLEMENTATIONS,
        metavar=impls,
        help="implementation of the leechers (default: --impl)",
    )
    p.add_argument("--size", default="64MiB", help="payload size (default 64MiB)")
    p.add_argument("--piece-size", default="256KiB", help="piece size (default 256KiB)")
    p.add_argument(
        "--up",
        default="50mbit",
        metavar="RATE",
        help="each leecher's upload limit, in bits/s as tc writes it (default 50mbit)",
    )
    p.add_argument(
        "--seed-up", default=None, metavar="RATE", help="each seeder's upload limit (default: --up)"
    )
    p.add_argument(
        "--down",
        default="0",
        metavar="RATE",
        help="each leecher's download limit (default 0: unlimited)",
    )
    p.add_argument(
        "--tracker",
        default="opentracker",
        choices=TRACKERS,
        help="the tracker every peer announces to (default opentracker)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="give up S seconds after the leechers start (default 120)",
    )
    p.add_argument(
        "--sample-hz",
        type=float,
        default=5.0,
        metavar="HZ",
        help="progress samples per second (default 5)",
    )
    p.add_argument(
        "--plot",
        type=Path,
        metavar="OUT.png",
        help="write each leecher's progress over time as a PNG chart (default: no chart)",
    )
    p.add_argument(
        "--client-server",
        action="store_true",
        help="the baseline without peer-to-peer: leechers cannot reach one another, so the "
        "seeders serve every copy (T_min = N*F/u_s)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON document (with every sample)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep payload, torrent, peer data and logs in DIR (default: a "
        "temporary folder, removed unless the run fails)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip comparing every leecher's copy with the payload",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="bitswarm peers log at DEBUG level into their folders",
    )
    p.set_defaults(handler=cmd_lab)


def _size(text: str, what: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise BitswarmError(f"{what}: {exc}") from None


def plan_from_args(args: argparse.Namespace) -> SwarmPlan:
    """The SwarmPlan that the command line describes (BitswarmError if it is inconsistent)."""
    up = parse_rate(args.up)
    seed_up = parse_rate(args.seed_up) if args.seed_up is not None else up
    return plan_swarm(
        parse_mix(args.seeders, args.seeder_impl or args.impl),
        parse_mix(args.leechers, args.leecher_impl or args.impl),
        size=_size(args.size, "--size"),
        piece_size=_size(args.piece_size, "--piece-size"),
        up_bps=up,
        seed_up_bps=seed_up,
        down_bps=parse_rate(args.down),
        tracker=args.tracker,
        timeout=args.timeout,
        sample_hz=args.sample_hz,
        verbose=args.verbose,
        workdir=args.workdir,
        keep_workdir=args.keep,
        verify=not args.no_verify,
        client_server=args.client_server,
    )


def _progress_line(seconds: float, progress: dict[str, float]) -> None:
    cells = " ".join(f"{name} {value * 100:3.0f}%" for name, value in progress.items())
    print(f"{seconds:6.1f} s  {cells}", file=sys.stderr, flush=True)


def cmd_lab(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    plan.bound()  # a seeder without an upload limit has no T_min: say so before building
    result = run_lab(plan, on_progress=None if args.json else _progress_line)
    if args.plot is not None:
        from .progress_plot import result_plot  # matplotlib: imported only when plotting

        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.write_bytes(result_plot(result))
    if args.json:
        print(json.dumps(result_json(result), indent=1))
    else:
        print(result_text(result))
        if args.plot is not None:
            print(f"plot: {args.plot}")
    return 0 if result.failure is None else EXIT_UNFINISHED

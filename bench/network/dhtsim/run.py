"""``python -m bench dhtsim``: bitswarm's DHT at internet scale, simulated in virtual time.

    .venv/bin/python -m bench dhtsim [--nodes 10000] [--lookups 200] [--seed 1]
                                     [--warmup 600] [--no-churn] [--write-results RESULTS_MD]

`--nodes` sans-IO `DhtNode` cores (the ones aio/dht.py puts on a socket) on a simulated
network (world.py: per-pair log-normal latency, 1 % loss, 10 % of hosts behind NAT,
Weibull sessions with a one-hour median, restarts with the old id) join through three
routers, run for `--warmup` virtual seconds, then answer get_peers lookups for announced
and random info-hashes (scenario.py). Per lookup: whether the announced peers were found,
how many of the true k closest reachable nodes it ended with, hops (`LookupDone.rounds`),
queries sent, timeouts, and virtual time to the first announced peer and to the end.
The published Mainline DHT figures are printed beside them (see `LITERATURE`).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from .scenario import LookupRecord, Params, Result, simulate

__all__ = ["Summary", "main", "summarize"]

SECTION = "## DHT at internet scale (simulation)"

# What the measurement papers report, with where each figure comes from.
LITERATURE = """\
Published measurements of the real Mainline DHT, for comparison:

- Crosby & Wallach, "An Analysis of BitTorrent's Two Kademlia-Based DHTs" (Rice University
  tech. report, 2007; hdl.handle.net/1911/96357): two weeks of traces of the Mainline and
  Azureus DHTs; the abstract reports "median lookup times of over a minute", and blames
  iterative routing and the lack of a preferential refresh of the local neighbourhood.
- Jimenez, Osmani & Knutsson, "Sub-Second Lookups on a Large-Scale Kademlia-Based Overlay"
  (IEEE P2P 2011, doi 10.1109/P2P.2011.6038665): in the Mainline DHT "many lookups already
  yield results in less than a second, albeit not consistently"; with their
  backwards-compatible changes the median lookup latency falls to 100-200 ms, with
  consistently sub-second lookups. Their earlier P2P'09 paper ("Connectivity Properties of
  Mainline BitTorrent DHT Nodes") states as its hypothesis that hosts behind NATs and
  firewalls are the major cause of the poor lookup performance.
- Wang & Kangasharju, "Measuring Large-Scale Distributed Systems: Case of BitTorrent
  Mainline DHT" (IEEE P2P 2013): 15 to 27 million nodes a day, with a clear daily churn
  pattern (figures as given on the project page, cs.helsinki.fi/u/jakangas/MLDHT).
- Falkner et al., "Profiling a Million User DHT" (IMC 2007, the Azureus DHT): session times
  short on average but heavy-tailed."""


FINDINGS = """\
What the simulation found in the DHT core, and what changed:

- A lookup waited for every query it had sent, even to nodes that had dropped out of its
  k closest, so a dead node asked early cost the whole lookup a full 5 s query timeout.
  Fixed: a lookup ends once its k closest candidates have answered (dht/lookup.py rule 3).
- A host behind NAT that queried us was pinged back through the pinhole its own query had
  opened, answered, and so entered our table as good, from where it was handed to others
  who could not reach it; a lookup with one among its k closest could only end after that
  query's 5 s timeout (Jimenez et al., P2P'09, suspect such entries of slowing Mainline).
  Fixed (dht/routing_table.py rule 3, `DhtConfig.verify_after` = 180 s): an answer
  verifies a node only if nothing came from that address in the `verify_after` seconds
  before our query went out; unverified nodes stay questionable, are handed out only to
  fill a table short of verified ones, and are pinged again once the pinhole would have
  shut. `--verify-after 0` runs the old rule for a before/after on one seed. Its cost: a
  newcomer is named to others only once verified, a few minutes after it joined, so each
  node looks up its own id a second time `verify_after` after joining.
- Cost: lookups re-ranked all their candidates on every datagram (a third of the CPU);
  they now keep them sorted once (bisect on int distances, counted states), checked step
  by step against the old code (tests/dht/test_lookup_equivalence.py). Earlier: the
  routing table's `closest` scanned every entry and replies re-parsed addresses."""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _cell(values: list[float], fmt: str = "{:.0f}") -> str:
    if not values:
        return "–"
    return f"{fmt.format(statistics.median(values))} / {fmt.format(_pct(values, 0.9))}"


class Summary:
    """The figures of one run, as table cells and as numbers the smoke test checks."""

    def __init__(self, result: Result) -> None:
        recs = result.records
        done = [r for r in recs if r.done is not None and r.end is not None]
        # A lookup whose host left before it finished has no result to judge.
        self.abandoned = sum(1 for r in recs if r.done is None and (
            r.host.node is None or r.host.sessions != r.session))  # fmt: skip
        self.lookups = len(recs) - self.abandoned
        self.finished = len(done)
        announced = [r for r in done if r.announced]
        self.announced = len(announced)
        self.found = sum(1 for r in announced if _found(r))
        self.recalls = [_recall(r) for r in done]
        self.rounds = [float(r.done.rounds) for r in done if r.done]
        self.queries = [float(r.done.queries) for r in done if r.done]
        self.timeouts = [float(r.done.timeouts) for r in done if r.done]
        self.first_peer = [r.first_peer - r.start for r in announced if r.first_peer is not None]
        self.total = [r.end - r.start for r in done if r.end is not None]

    @property
    def success(self) -> float:
        return self.found / self.announced if self.announced else float("nan")

    @property
    def closest_all(self) -> float:
        return sum(1 for x in self.recalls if x >= 1.0) / len(self.recalls) if self.recalls else 0.0


def _found(r: LookupRecord) -> bool:
    return r.done is not None and bool(set(r.done.peers) & set(r.announced))


def _recall(r: LookupRecord) -> float:
    """The share of the true k closest reachable nodes among the lookup's k closest."""
    if r.done is None or not r.true_closest:
        return 0.0
    got = {n.node_id for n in r.done.closest}
    return sum(1 for i in r.true_closest if i in got) / len(r.true_closest)


def summarize(result: Result) -> Summary:
    return Summary(result)


def report(result: Result, s: Summary, cpu: float, wall: float, argv: list[str]) -> str:
    p = result.params
    w = result.world
    cmd = "`.venv/bin/python -m bench dhtsim" + ("".join(f" {a}" for a in argv)) + "`"
    tables = result.table_sizes or [0]
    bound = math.log2(max(2, result.online_at_lookups))
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}"
    rows = [
        ("get_peers finished", f"{s.finished}/{s.lookups} ({s.abandoned} more abandoned: "
         "their host left)"),
        ("announced peers found (success)", f"{s.found}/{s.announced} ({100 * s.success:.1f} %)"),
        ("true 8 closest found: mean share / all 8",
         f"{100 * statistics.fmean(s.recalls or [0]):.1f} % / {100 * s.closest_all:.1f} %"),
        ("hops (rounds)", _cell(s.rounds) + f" (max {max(s.rounds or [0]):.0f}; "
         f"log2 N = {bound:.1f})"),
        ("messages (queries sent)", _cell(s.queries)),
        ("timeouts per lookup", _cell(s.timeouts)),
        ("time to first announced peer, ms", _cell([1000 * x for x in s.first_peer])),
        ("time to lookup end, ms", _cell([1000 * x for x in s.total])),
    ]  # fmt: skip
    table = "| per get_peers (median / p90) | bitswarm, simulated |\n|---|---:|\n" + "\n".join(
        f"| {a} | {b} |" for a, b in rows
    )
    st = w.stats
    text = f"""Command: {cmd} (seed {p.seed}; add `--write-results bench/RESULTS.md`), run
{time.strftime("%Y-%m-%d")} on {machine}: {cpu:.0f} s of CPU, {wall:.0f} s wall.

Network (bench/network/dhtsim/): {p.nodes} hosts running bitswarm's sans-IO `DhtNode`
(k = 8, α = 3, query timeout 5 s, slow after 1 s; maintenance every
{w.config.maintenance_interval:.0f} s) plus {p.routers} bootstrap routers, in virtual time.
Round-trip time per pair of hosts: log-normal, median {1000 * p.rtt_median:.0f} ms, σ =
{p.rtt_sigma} (an assumption: none of the papers below gives a pair-RTT law); {100 * p.loss:.0f} %
of datagrams lost; {100 * p.nat:.0f} % of hosts behind an address-restricted NAT (answers
and pings back to whom they just queried pass, nothing else). Sessions: Weibull, shape
{p.session_shape}, median {p.session_median / 60:.0f} min, started at the equilibrium
residual law so churn runs at its steady rate; {100 * p.restart:.0f} % of leavers come back with
their old id and saved table after an exponential gap (mean {p.offline_mean / 60:.0f} min), the
others are replaced by new hosts (fresh id and address). Churn {"on" if p.churn else "off"}.
Hosts joined over {p.join_spread / 60:.0f} min; warm-up {p.warmup / 60:.0f} virtual minutes, then
{p.hashes} info-hashes were announced by {p.announcers} hosts each, and {s.lookups}
get_peers started over {p.window / 60:.0f} min from random online hosts (NAT'd ones included),
half for announced hashes, half for random ones. At the first lookup
{result.online_at_lookups} hosts were online ({result.nat_online_at_lookups} behind NAT);
routing tables held {min(tables)}–{max(tables)}
nodes (median {statistics.median(tables):.0f}). Over the run: {result.joins} joins
({result.restarts} with an old id), {result.leaves} departures; {st.sent:,} datagrams sent,
{st.to_offline:,} to hosts that had left, {st.nat_blocked:,} dropped by NATs, {st.lost:,} lost.

{table}

"Success": the lookup returned at least one of the announcing peers. "True 8 closest":
the 8 online, reachable (not NAT'd) hosts nearest the target when the lookup began,
against the 8 closest nodes the lookup ended with. Hops is `LookupDone.rounds`, the deepest
hop that answered. Times are virtual: network latency and timeouts, no CPU.

{FINDINGS}

{LITERATURE}
"""
    paragraphs = text.split("\n\n")
    return "\n\n".join(
        p
        if p.startswith(("|", "Published", "What the", "- "))
        else textwrap.fill(" ".join(p.split()), 95)
        for p in paragraphs
    )


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench dhtsim",
                                     description="bitswarm's DHT at scale, simulated")  # fmt: skip
    d = Params()
    parser.add_argument("--nodes", type=int, default=d.nodes)
    parser.add_argument("--lookups", type=int, default=d.lookups)
    parser.add_argument("--hashes", type=int, default=d.hashes)
    parser.add_argument("--warmup", type=float, default=d.warmup, help="virtual seconds")
    parser.add_argument("--join-spread", type=float, default=d.join_spread)
    parser.add_argument("--nat", type=float, default=d.nat)
    parser.add_argument("--loss", type=float, default=d.loss)
    parser.add_argument("--no-churn", action="store_true")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--verify-after", type=float, default=d.verify_after,
                        help="DhtConfig.verify_after; 0 trusts answers through a querier's "
                             "own NAT pinhole, as before the fix")  # fmt: skip
    parser.add_argument("--write-results", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(args_in)
    params = replace(d, nodes=args.nodes, lookups=args.lookups, hashes=args.hashes,
                     warmup=args.warmup, join_spread=min(args.join_spread, args.warmup),
                     nat=args.nat, loss=args.loss, churn=not args.no_churn,
                     seed=args.seed, verify_after=args.verify_after)  # fmt: skip
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = simulate(params)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    shown = [a for i, a in enumerate(args_in) if a != "--write-results"
             and (i == 0 or args_in[i - 1] != "--write-results")]  # fmt: skip
    body = report(result, summarize(result), cpu, wall, shown)
    print(body)
    if args.write_results:
        from bench.network.dht import write_section

        write_section(args.write_results, body, section=SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())

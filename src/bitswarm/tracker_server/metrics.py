"""Tracker metrics: counters and a latency histogram, rendered as Prometheus text. Pure.

Each process counts into its own `TrackerMetrics`; the front-ends measure durations and
call `observe_*`. With `--workers N` every worker also writes `snapshot()` to a shared
folder now and then, and whichever worker answers ``/metrics`` merges all snapshots
(`merge`), so Prometheus sees one tracker whose counters only grow.

Exposition format: Prometheus text 0.0.4 (``# HELP``, ``# TYPE``, one sample a line,
histogram buckets cumulative with ``le`` labels ending at ``+Inf``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TypedDict

from .store import StoreTotals

__all__ = ["LATENCY_BUCKETS", "Snapshot", "TrackerMetrics", "merge", "render"]

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5)  # fmt: skip


class Snapshot(TypedDict):
    """JSON-safe counters of one or more processes.

    `hist` holds per protocol one count per bucket (not cumulative), then +Inf, sum, count.
    """

    counters: dict[str, float]
    hist: dict[str, list[float]]


class TrackerMetrics:
    """Counters of one process."""

    __slots__ = ("_counters", "_hist", "_names")

    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._hist: dict[str, list[float]] = {}
        self._names: dict[tuple[str, str], str] = {}  # (proto, event) -> sample name

    def announce(self, proto: str, event: str, seconds: float) -> None:
        name = self._names.get((proto, event))
        if name is None:  # built once per label pair: this runs for every announce
            name = f'bitswarm_tracker_announces_total{{proto="{proto}",event="{event}"}}'
            self._names[proto, event] = name
        self._counters[name] += 1
        hist = self._hist.get(proto)  # `_observe`, inlined: this runs for every announce
        if hist is None:
            hist = self._hist[proto] = [0.0] * (len(LATENCY_BUCKETS) + 3)
        hist[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        hist[-2] += seconds
        hist[-1] += 1

    def scrape(self, proto: str, seconds: float, *, full: bool = False) -> None:
        kind = "full" if full else "hashes"
        self._counters[f'bitswarm_tracker_scrapes_total{{proto="{proto}",kind="{kind}"}}'] += 1
        self._observe(proto, seconds)

    def connect(self) -> None:
        self._counters["bitswarm_tracker_udp_connects_total"] += 1

    def error(self, kind: str, proto: str) -> None:
        """A request refused or dropped; `kind` is malformed, unauthorized, store, ..."""
        self._counters[f'bitswarm_tracker_errors_total{{proto="{proto}",kind="{kind}"}}'] += 1

    def count(self, name: str) -> float:
        """The current value of one counter sample (``name{labels}``), for tests."""
        return self._counters[name]

    def _observe(self, proto: str, seconds: float) -> None:
        hist = self._hist.get(proto)
        if hist is None:
            hist = self._hist[proto] = [0.0] * (len(LATENCY_BUCKETS) + 3)
        # the first bucket whose bound is >= seconds (Prometheus "le"); past the last: +Inf
        hist[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        hist[-2] += seconds
        hist[-1] += 1

    def snapshot(self) -> Snapshot:
        return {"counters": {k: float(v) for k, v in self._counters.items()},
                "hist": {k: list(v) for k, v in self._hist.items()}}  # fmt: skip


def merge(snapshots: Iterable[Snapshot]) -> Snapshot:
    """Sum several processes' snapshots into one."""
    counters: dict[str, float] = {}
    hist: dict[str, list[float]] = {}
    for snap in snapshots:
        for name, value in snap.get("counters", {}).items():
            if isinstance(value, int | float):
                counters[name] = counters.get(name, 0.0) + value
        for proto, values in snap.get("hist", {}).items():
            if not isinstance(values, list) or len(values) != len(LATENCY_BUCKETS) + 3:
                continue
            acc = hist.setdefault(proto, [0.0] * len(values))
            for i, v in enumerate(values):
                acc[i] += float(v)
    return {"counters": dict(counters), "hist": hist}


_HELP = {
    "bitswarm_tracker_announces_total": ("counter", "Announces answered, by protocol and event."),
    "bitswarm_tracker_scrapes_total": ("counter", "Scrapes answered, by protocol."),
    "bitswarm_tracker_udp_connects_total": ("counter", "UDP connection ids handed out."),
    "bitswarm_tracker_errors_total": ("counter", "Requests refused or dropped, by kind."),
}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(snap: Snapshot, totals: StoreTotals | None, gauges: Mapping[str, float]) -> str:
    """The Prometheus text page for a (merged) snapshot plus store totals and gauges."""
    lines: list[str] = []
    counters = snap.get("counters", {})
    for family, (kind, text) in _HELP.items():
        lines += [f"# HELP {family} {text}", f"# TYPE {family} {kind}"]
        samples = sorted(k for k in counters if k == family or k.startswith(family + "{"))
        lines += [f"{k} {_number(counters[k])}" for k in samples]
    name = "bitswarm_tracker_request_seconds"
    lines += [f"# HELP {name} Time to answer an announce or scrape.", f"# TYPE {name} histogram"]
    for proto, values in sorted(snap.get("hist", {}).items()):
        running = 0.0
        for bound, count in zip(LATENCY_BUCKETS, values, strict=False):
            running += count
            lines.append(f'{name}_bucket{{proto="{proto}",le="{bound}"}} {_number(running)}')
        running += values[len(LATENCY_BUCKETS)]
        lines.append(f'{name}_bucket{{proto="{proto}",le="+Inf"}} {_number(running)}')
        lines.append(f'{name}_sum{{proto="{proto}"}} {values[-2]!r}')
        lines.append(f'{name}_count{{proto="{proto}"}} {_number(values[-1])}')
    if totals is not None:
        lines += [
            "# HELP bitswarm_tracker_swarms Swarms the store holds.",
            "# TYPE bitswarm_tracker_swarms gauge",
            f"bitswarm_tracker_swarms {totals.swarms}",
            "# HELP bitswarm_tracker_peers Peers the store holds, by state.",
            "# TYPE bitswarm_tracker_peers gauge",
            f'bitswarm_tracker_peers{{state="seeder"}} {totals.seeders}',
            f'bitswarm_tracker_peers{{state="leecher"}} {totals.leechers}',
        ]
    for gauge, value in sorted(gauges.items()):
        lines += [f"# TYPE {gauge} gauge", f"{gauge} {_number(value)}"]
    return "\n".join(lines) + "\n"

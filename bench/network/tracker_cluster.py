"""The tracker on a Redis Cluster: announces/s by tracker processes and masters, fail-over.

    python -m bench tracker-cluster [--seconds 5] [--trackers 1,2,4] [--masters 1,3]
                                    [--replicas 1] [--swarms 10000] [--peers-per-proc 50000]
                                    [--procs 2] [--window 32] [--failover-seconds 10]
                                    [--json FILE]

For each number of masters (`--masters`, each with `--replicas` replicas) a Redis Cluster
of Debian's redis-server is started on 127.0.0.1 (bench/network/redis_cluster.py), then
for each number of tracker processes (`--trackers`: ``bitswarm tracker --workers N
--store redis+cluster://...``, the N processes sharing the UDP port by SO_REUSEPORT) the
load of ``python -m bench tracker`` runs over UDP for `--seconds`: `--procs` generator
processes, `--swarms` info-hashes, ``procs * peers-per-proc`` peers (100,000 by default),
numwant 50, the realistic mix of events; the swarms are populated once per cluster before
the first case (not timed). After each case `--check` sampled swarms must list exactly
their active peers.

The fail-over run (on the largest cluster, with 2 tracker processes; 0 skips it): the
same load for `--failover-seconds`, a master killed (SIGKILL) a third of the way in; it
reports how long its replica took to take over, the announces refused (the tracker's error
reply) and lost (no reply within the generator's 1 s), and the swarm check afterwards.

Everything shares the machine's cores: the generators, the trackers and every
redis-server (replicas included). The load average is printed with each case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .redis_cluster import LocalRedisCluster
from .tracker import Target, _check, _measure, _pool

__all__ = ["main"]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _case(url: str, trackers: int, workdir: Path, pools: list[Any], hashes: list[bytes],
          args: argparse.Namespace, warm: bool) -> dict[str, Any]:  # fmt: skip
    name = f"cluster-{trackers}"
    target = Target(name, ["--store", url, "--workers", str(trackers)], workdir=workdir)
    target.start(hashes)
    try:
        if warm:
            started = time.monotonic()
            _measure(pools, "udp", target.udp_port, 0, args.window, warm=True)
            print(f"  populated {sum(map(len, pools))} peers in "
                  f"{time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        load_before = _load()
        r = _measure(pools, "udp", target.udp_port, args.seconds, args.window)
        r["load"] = f"{load_before} -> {_load()}"
        r["check"] = _check(pools, target.udp_port, args.check)
        return r
    finally:
        target.stop()


def _failover(cluster: LocalRedisCluster, workdir: Path, pools: list[Any],
              hashes: list[bytes], args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    target = Target("cluster-failover", ["--store", cluster.url, "--workers", "2"],
                    workdir=workdir)  # fmt: skip
    target.start(hashes)
    try:
        result: dict[str, Any] = {}
        seconds = args.failover_seconds
        runner = threading.Thread(target=lambda: result.update(
            _measure(pools, "udp", target.udp_port, seconds, args.window)))  # fmt: skip
        runner.start()
        time.sleep(seconds / 3)
        victim = cluster.kill_master(0)
        result["failover_s"] = cluster.wait_failover(victim)
        runner.join()
        result["load"] = _load()
        result["check"] = _check(pools, target.udp_port, args.check)
        return result
    finally:
        target.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench tracker-cluster",
                                 description=__doc__.split("\n\n")[0])  # fmt: skip
    ap.add_argument("--seconds", type=float, default=5.0, help="per case")
    ap.add_argument("--trackers", default="1,2,4", help="tracker processes (--workers)")
    ap.add_argument("--masters", default="1,3")
    ap.add_argument("--replicas", type=int, default=1, help="per master")
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--swarms", type=int, default=10_000)
    ap.add_argument("--peers-per-proc", type=int, default=50_000)
    ap.add_argument("--window", type=int, default=32, help="UDP requests in flight per process")
    ap.add_argument("--check", type=int, default=200, help="swarms whose peer lists are checked")
    ap.add_argument("--failover-seconds", type=float, default=10.0, help="0: no fail-over run")
    ap.add_argument("--json", type=Path, help="append the figures to this file")
    args = ap.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 2
    import random

    rng = random.Random(42)
    hashes = [rng.randbytes(20) for _ in range(args.swarms)]
    trackers = [int(x) for x in args.trackers.split(",") if x]
    masters_list = [int(x) for x in args.masters.split(",") if x]
    out = Path(tempfile.mkdtemp(prefix="tracker-cluster-bench-"))
    results: dict[str, dict[str, Any]] = {}
    print(f"{os.cpu_count()} CPUs; load average {_load()}", flush=True)
    try:
        for masters in masters_list:
            with LocalRedisCluster(out / f"m{masters}", masters=masters,
                                   replicas=args.replicas) as cluster:  # fmt: skip
                print(f"cluster: {masters} masters, {args.replicas} replica(s) each", flush=True)
                pools = [_pool(7 + i, hashes, args.peers_per_proc) for i in range(args.procs)]
                for i, n in enumerate(trackers):
                    r = _case(cluster.url, n, out / f"m{masters}-t{n}", pools, hashes, args,
                              warm=i == 0)  # fmt: skip
                    results[f"{masters} {n}"] = r
                    c = r["check"]
                    print(f"  {n} tracker(s) on {masters} master(s): {r['per_second']:8.0f}/s "
                          f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms errors "
                          f"{r['errors']} lost {r['lost']}; {c['complete']}/{c['swarms']} "
                          f"swarms complete; load {r['load']}", flush=True)  # fmt: skip
                if args.failover_seconds and masters == max(masters_list):
                    f = _failover(cluster, out / "failover", pools, hashes, args)
                    results["failover"] = f
                    c = f["check"]
                    print(f"  fail-over: replica took over in {f['failover_s']:.2f} s; "
                          f"{f['ok']} ok, {f['errors']} refused, {f['lost']} lost in "
                          f"{args.failover_seconds:g} s; {c['complete']}/{c['swarms']} swarms "
                          f"complete after; load {f['load']}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(out, ignore_errors=True)
    _report(results, trackers, masters_list, args)
    if args.json:
        slim = {k: {x: y for x, y in v.items() if x != "latencies"} for k, v in results.items()}
        with args.json.open("a") as fh:
            fh.write(json.dumps({"when": time.time(), "args": vars(args) | {"json": None},
                                 "results": slim}) + "\n")  # fmt: skip
    return 0


def _report(results: dict[str, dict[str, Any]], trackers: list[int], masters: list[int],
            args: argparse.Namespace) -> None:  # fmt: skip
    print(f"\n{args.procs} generator processes, {args.swarms} swarms, "
          f"{args.procs * args.peers_per_proc} peers, numwant 50, UDP window "
          f"{args.window}/process, {args.seconds:g} s per case, {args.replicas} replica(s) "
          f"per master; {os.cpu_count()} CPUs\n")  # fmt: skip
    print("| tracker processes | " + " | ".join(f"{m} master(s)" for m in masters) + " |")
    print("|---:|" + "---:|" * len(masters))
    for n in trackers:
        cells = []
        for m in masters:
            r = results.get(f"{m} {n}")
            cells.append(f"{r['per_second']:.0f} ({r['check']['complete']}/"
                         f"{r['check']['swarms']})" if r else "–")  # fmt: skip
        print(f"| {n} | " + " | ".join(cells) + " |")
    f = results.get("failover")
    if f:
        print(f"\nfail-over: {f['failover_s']:.2f} s to promote the replica; {f['ok']} ok, "
              f"{f['errors']} refused, {f['lost']} lost; swarms complete after: "
              f"{f['check']['complete']}/{f['check']['swarms']}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

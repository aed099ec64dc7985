"""``python -m bench daemon``: the daemon with N torrents, against Transmission, qBittorrent.

The Daemon issue's speed targets, with N (default 1,000) small torrents loaded: start-up
under 5 s, idle CPU under 2 % of a core, ``torrent-get`` with exactly the fields Debian's
``transmission-remote -l`` asks for under 50 ms, qBittorrent ``sync/maindata`` diffs under
20 ms, and a web UI list update under 100 ms in Chromium. Two loads: "seeding" (the data
is present, every torrent seeds) and "stopped" (added paused).

For each daemon and load: a first start adds the N torrents through the daemon's own API
and waits until every one is in the wanted state, then the daemon is stopped (SIGTERM, so
it saves its state). Each measured run starts it again on that state and takes: the time
from the process start to its ready line (bitswarm) or its API's first answer (the
others), the time until all N are listed in the wanted state, the CPU it uses while idle
(utime + stime from /proc over `--idle-seconds`), its RSS, then the latencies. Figures are
medians over the runs; latencies pool every run's calls. Everything is on loopback with
DHT, LSD, PEX and port mapping off; the torrents have no tracker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bench import OUT
from bench.perf.report import loadavg, machine_line, median
from bench.service.clients import Bitswarm, DaemonUnderTest, Qbittorrent, Transmission
from bench.service.load import Load, make_load
from bench.service.procs import cpu_seconds, install_cleanup, kill_all, rss_mib
from bench.service.remote_fields import remote_list_fields
from bench.service.report import Row, write_section
from bench.service.rpc import Latency, measure

__all__ = ["main"]

CLIENTS: dict[str, type[DaemonUnderTest]] = {
    "bitswarm": Bitswarm,
    "transmission": Transmission,
    "qbittorrent": Qbittorrent,
}
LOADS = ("seeding", "stopped")


@dataclass
class Measured:
    """One daemon under one load, over every run."""

    client: str
    load: str
    ready: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    idle_cpu: list[float] = field(default_factory=list)  # % of one core
    rss: list[float] = field(default_factory=list)
    stop: list[float] = field(default_factory=list)
    torrent_get: list[float] = field(default_factory=list)
    torrent_get_bytes: int = 0
    diff: list[float] = field(default_factory=list)
    diff_bytes: int = 0
    full: list[float] = field(default_factory=list)
    full_bytes: int = 0
    webui: list[float] = field(default_factory=list)  # ms, SSE message to next frame
    webui_sync: list[float] = field(default_factory=list)  # ms inside the page's handler
    webui_note: str = ""
    error: str = ""

    def row(self) -> Row:
        def lat(samples: list[float]) -> tuple[float, float] | None:
            return (Latency(samples, 0).median, Latency(samples, 0).p95) if samples else None

        return Row(
            client=self.client,
            load=self.load,
            ready=median(self.ready) if self.ready else None,
            loaded=median(self.loaded) if self.loaded else None,
            idle_cpu=median(self.idle_cpu) if self.idle_cpu else None,
            rss=median(self.rss) if self.rss else None,
            torrent_get=lat(self.torrent_get),
            torrent_get_bytes=self.torrent_get_bytes,
            diff=lat(self.diff),
            diff_bytes=self.diff_bytes,
            full=lat(self.full),
            webui=lat(self.webui),
            webui_sync=lat(self.webui_sync),
            webui_note=self.webui_note,
            error=self.error,
        )


def idle_cpu(pid: int, seconds: float) -> float:
    """CPU the process used over `seconds`, in % of one core."""
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(pid), time.perf_counter()
    return 100 * (c1 - c0) / (t1 - t0)


def maindata_diffs(d: DaemonUnderTest, calls: int) -> tuple[Latency, Latency] | None:
    """(full updates at rid 0, diffs following each reply's rid)."""
    if d.maindata(0) is None:
        return None
    full = measure(lambda: d.maindata(0) or b"", max(5, calls // 10))
    rid = int(json.loads(d.maindata(0) or b"{}")["rid"])

    def diff() -> bytes:
        nonlocal rid
        reply = d.maindata(rid) or b""
        decoded = json.loads(reply)
        if decoded.get("full_update"):
            raise RuntimeError("sync/maindata sent a full update where a diff was due")
        rid = int(decoded["rid"])
        return reply

    return full, measure(diff, calls, pause=0.01)


FIRST_START_TIMEOUT = 3600.0  # Transmission 3.00 verifies about one new torrent a second


def first_start(d: DaemonUnderTest) -> None:
    """Add the N torrents (started) and wait until every one seeds; save the state."""
    n = len(d.load.torrents)
    print(f"[{d.name}] first start: adding {n} torrents", flush=True)
    d.start()
    t0 = time.perf_counter()
    d.add(paused=False)
    d.wait_states("seeding", FIRST_START_TIMEOUT)
    print(f"  added, checked and seeding in {time.perf_counter() - t0:.1f} s", flush=True)
    d.stop()


def stop_every_torrent(d: DaemonUnderTest) -> None:
    """Turn the saved state into the "stopped" load: every torrent stopped."""
    d.start()
    d.wait_states("seeding")  # Transmission answers before it has loaded its torrents
    d.stop_all()
    d.wait_states("stopped")
    d.stop()


def run_load(d: DaemonUnderTest, m: Measured, args: argparse.Namespace, fields: list[str]) -> None:
    want = m.load
    for run in range(args.runs):
        m.ready.append(d.start())
        m.loaded.append(d.wait_states(want))
        time.sleep(args.settle)
        m.idle_cpu.append(idle_cpu(d.pid, args.idle_seconds))
        m.rss.append(rss_mib(d.pid))
        if d.torrent_get(fields) is not None:
            tg = measure(lambda: d.torrent_get(fields) or b"", args.calls)
            m.torrent_get += tg.samples
            m.torrent_get_bytes = tg.reply_bytes
        md = maindata_diffs(d, args.calls)
        if md is not None:
            m.full += md[0].samples
            m.diff += md[1].samples
            m.full_bytes, m.diff_bytes = md[0].reply_bytes, md[1].reply_bytes
        if isinstance(d, Bitswarm) and args.webui:
            from bench.service.webui import measure_webui

            w = measure_webui(d, args.webui_cycles)
            m.webui += w.frame
            m.webui_sync += w.sync
            m.webui_note = w.note
        m.stop.append(d.stop())
        print(f"  {want} run {run + 1}: {m.row().summary()}", flush=True)


def measure_client(
    name: str,
    loads: list[str],
    load: Load,
    workdir: Path,
    args: argparse.Namespace,
    fields: list[str],
) -> list[Measured]:
    """Every load on one daemon: seeding first, then the same torrents stopped."""
    out = [Measured(name, kind) for kind in LOADS if kind in loads]
    cls = CLIENTS[name]
    if cls is not Bitswarm and shutil.which(cls.program) is None:
        for m in out:
            m.error = f"`{cls.program}` is not installed here"
        return out
    d = cls(workdir / name, load)
    step = "first start"
    try:
        first_start(d)
        for m in out:
            step = m.load
            if m.load == "stopped":
                stop_every_torrent(d)
            run_load(d, m, args, fields)
    except (OSError, RuntimeError, TimeoutError, ValueError, KeyError) as exc:
        error = f"{type(exc).__name__} ({step}): {str(exc).strip().splitlines()[0][:300]}"
        print(f"  {name} failed: {error}", flush=True)
        for m in out:
            if not m.ready or m.load == step:
                m.error = error
    finally:
        with contextlib.suppress(Exception):
            d.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench daemon", description=__doc__.split("\n\n")[0])
    p.add_argument("--torrents", type=int, default=1000, help="N torrents loaded (default 1000)")
    p.add_argument("--runs", type=int, default=3, help="measured starts per daemon and load")
    p.add_argument(
        "--only", default="bitswarm,transmission,qbittorrent", help="daemons, comma-separated"
    )
    p.add_argument("--loads", default=",".join(LOADS), help="seeding, stopped or both")
    p.add_argument("--idle-seconds", type=float, default=30.0, help="idle CPU window (default 30)")
    p.add_argument("--settle", type=float, default=5.0, help="seconds after loading before idle")
    p.add_argument("--calls", type=int, default=200, help="requests per latency series")
    p.add_argument("--no-webui", dest="webui", action="store_false", help="skip Chromium")
    p.add_argument("--webui-cycles", type=int, default=3, help="stop/start-all rounds in the UI")
    p.add_argument("--workdir", type=Path, default=OUT / "daemon", help="scratch folder")
    p.add_argument("--write-results", type=Path, default=None, metavar="RESULTS.md")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    loads = [x.strip() for x in args.loads.split(",") if x.strip()]
    bad = [n for n in names if n not in CLIENTS] + [x for x in loads if x not in LOADS]
    if bad:
        p.error(f"unknown: {', '.join(bad)}")
    restore = install_cleanup()
    fields, fields_source = remote_list_fields()
    started = time.time()
    load = make_load(args.workdir, args.torrents)
    print(f"{args.torrents} torrents, {load.total_size / 2**20:.1f} MiB; fields {fields_source}")
    try:
        results = [
            m
            for name in names
            for m in measure_client(name, loads, load, args.workdir, args, fields)
        ]
        results.sort(key=lambda m: (LOADS.index(m.load), names.index(m.client)))
    finally:
        kill_all()
        restore()
    rows = [m.row() for m in results]
    for r in rows:
        print(r.summary())
    if args.write_results is not None:
        command = "python -m bench daemon " + " ".join(argv if argv is not None else [])
        write_section(
            args.write_results,
            rows,
            n=args.torrents,
            runs=args.runs,
            idle_seconds=args.idle_seconds,
            calls=args.calls,
            command=command.strip(),
            when=date.today().isoformat(),
            machine=machine_line(),
            load_line=f"load average after: {loadavg()}, {time.time() - started:.0f} s in all",
            fields=fields,
            fields_source=fields_source,
        )
        print(f"wrote {args.write_results}")
    return 0 if all(not r.error for r in rows) else 1

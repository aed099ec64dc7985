"""Tracker benchmark: announces per second and latency, bitswarm against opentracker.

    python -m bench tracker [--seconds 10] [--procs 2] [--swarms 10000]
                            [--peers-per-proc 10000] [--window 32] [--conns 16]
                            [--protocols udp,http] [--targets ...] [--memory-peers 100000]
                            [--json FILE]

Targets (all on 127.0.0.1, started by this script on free ports, one after the other):
``bitswarm-mem-1`` (memory store, 1 process), ``bitswarm-mem-2`` (``--workers 2``: each
swarm in one worker), ``bitswarm-redis-1`` and ``bitswarm-redis-2`` (``--store redis://``
on a redis-server started here), and ``opentracker`` (Debian's build; every benchmark hash
is put in its whitelist, which that build requires).

The load: `--procs` generator processes, each with its own pool of peers (random peer ids
spread over `--swarms` info-hashes, 30% seeders). Each pool first announces ``started``
once (not timed: the swarms are populated before measuring), then for `--seconds` picks
peers at random and announces with a realistic mix: 85% regular re-announces, 5%
``completed``, 5% ``stopped`` followed by a ``started`` later, 5% ``started`` of
newcomers; ``numwant`` 50, compact. UDP keeps `--window` requests in flight per process
over 8 sockets (8 source ports, so SO_REUSEPORT spreads them over workers as it would
real clients; each connects first, BEP 15); HTTP keeps `--conns` connections in flight per
process, one request per connection, as real clients do (``Connection: close``; the
generator waits for the server to close so that TIME_WAIT stays on the server's side).
Latency is per request, from send to complete reply, under that load.

Correctness: after each timed case the generators hand back their peers' state (which
are in a swarm after their last announce), and `--check` sampled swarms are asked, from a
fresh UDP socket, for up to 200 peers: every swarm must list exactly its active peers (a
tracker whose workers split a swarm fails this). Requests that failed or were lost leave
a peer's state unknown; their number is printed beside the check.

CPU: user+system seconds of the tracker's processes (supervisor and workers, from
/proc) over each timed case, per announce answered, and of the generators: a figure
less sensitive than announces/s to other load on the machine.

Memory: a fresh target receives `--memory-peers` distinct peers over UDP (10 per swarm);
the tracker's RSS (redis-server's ``used_memory`` for the Redis store) is read before and
after. The generators share the machine's cores with the tracker, for every target alike.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

PROTOCOL_ID = 0x41727101980
_CONNECT = struct.Struct(">QII")
_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")
_EVENT_UDP = {"": 0, "completed": 1, "started": 2, "stopped": 3}


# --- the load ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Peer:
    info_hash: bytes
    peer_id: bytes
    port: int
    left: int
    active: bool = False


def _pool(seed: int, hashes: list[bytes], size: int) -> list[_Peer]:
    rng = random.Random(seed)
    return [
        _Peer(rng.choice(hashes), rng.randbytes(20), 1024 + rng.randrange(60000),
              0 if rng.random() < 0.3 else rng.randrange(1, 1 << 30))
        for _ in range(size)
    ]  # fmt: skip


def _next_event(peer: _Peer, rng: random.Random) -> str:
    """The realistic mix (see the module docstring); updates the peer's state."""
    if not peer.active:
        peer.active = True
        return "started"
    roll = rng.random()
    if roll < 0.05 and peer.left:
        peer.left = 0
        return "completed"
    if roll < 0.10:
        peer.active = False
        return "stopped"
    return ""


def _udp_load(host: str, port: int, seconds: float, pool: list[_Peer], window: int,
              seed: int, warm: bool, sockets: int = 8) -> dict[str, Any]:  # fmt: skip
    """Keep `window` announces in flight over `sockets` UDP sockets (source ports), so a
    tracker with several SO_REUSEPORT workers sees its load spread as real clients'
    would be; each socket connects first (BEP 15) and renews its id after 50 s."""
    rng = random.Random(seed)
    socks = []
    for _ in range(sockets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((host, port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks.append(sock)

    def connect(sock: socket.socket) -> int:
        sock.settimeout(1.0)
        try:
            for _ in range(10):
                sock.send(_CONNECT.pack(PROTOCOL_ID, 0, 7))
                try:
                    data = sock.recv(64)
                except TimeoutError:
                    continue
                return int(struct.unpack_from(">Q", data, 8)[0])
            raise RuntimeError("no connect reply")
        finally:
            sock.setblocking(False)

    cpu_started = time.process_time()
    conn_ids = {sock: connect(sock) for sock in socks}
    connected_at = time.monotonic()
    outstanding: dict[int, float] = {}
    latencies: list[float] = []
    errors = lost = 0
    tid = 1
    order = list(range(len(pool))) if warm else None

    def send_one(sock: socket.socket) -> bool:
        nonlocal tid
        if order is not None:
            if not order:
                return False
            peer = pool[order.pop()]
            peer.active = True
            event = "started"
        else:
            peer = pool[rng.randrange(len(pool))]
            event = _next_event(peer, rng)
        tid = (tid + 1) & 0xFFFFFFFF
        sock.send(_ANNOUNCE.pack(conn_ids[sock], 1, tid, peer.info_hash, peer.peer_id, 0,
                                 peer.left, 0, _EVENT_UDP[event], 0, 0, -1, peer.port))  # fmt: skip
        outstanding[tid] = time.perf_counter()
        return True

    def refill() -> None:
        for i in range(window):
            send_one(socks[i % len(socks)])

    sel = selectors.DefaultSelector()
    for sock in socks:
        sel.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds if not warm else float("inf")
    refill()
    while outstanding:
        if time.monotonic() - connected_at > 50:
            for sock in socks:
                sock.setblocking(True)
                conn_ids[sock] = connect(sock)
            connected_at = time.monotonic()
        ready = sel.select(1.0)
        if not ready:
            lost += len(outstanding)
            outstanding.clear()
            if time.monotonic() < deadline:
                refill()
            continue
        for key, _ in ready:
            ready_sock = key.fileobj
            assert isinstance(ready_sock, socket.socket)
            while True:
                try:
                    data = ready_sock.recv(4096)
                except BlockingIOError:
                    break
                action, got = struct.unpack_from(">II", data)
                sent = outstanding.pop(got, None)
                if sent is None:
                    continue
                if action == 1:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1
                if time.monotonic() < deadline:
                    send_one(ready_sock)
    for sock in socks:
        sock.close()
    return {"ok": len(latencies), "errors": errors, "lost": lost, "latencies": latencies,
            "state": _state(pool), "cpu": time.process_time() - cpu_started}  # fmt: skip


def _state(pool: list[_Peer]) -> list[tuple[bool, int]]:
    return [(p.active, p.left) for p in pool]


def _http_request(host: str, port: int, peer: _Peer, event: str) -> bytes:
    q = (f"info_hash={quote_from_bytes(peer.info_hash, safe='')}"
         f"&peer_id={quote_from_bytes(peer.peer_id, safe='')}&port={peer.port}"
         f"&uploaded=0&downloaded=0&left={peer.left}&compact=1&numwant=50")  # fmt: skip
    if event:
        q += f"&event={event}"
    return (f"GET /announce?{q} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Connection: close\r\n\r\n").encode()  # fmt: skip


def _http_load(host: str, port: int, seconds: float, pool: list[_Peer], conns: int,
               seed: int) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(seed)
    cpu_started = time.process_time()
    sel = selectors.DefaultSelector()
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    # per socket: [request bytes, response buffer, start time]
    state: dict[socket.socket, list[Any]] = {}

    def open_one() -> None:
        peer = pool[rng.randrange(len(pool))]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        state[s] = [_http_request(host, port, peer, _next_event(peer, rng)), bytearray(),
                    time.perf_counter()]  # fmt: skip
        sel.register(s, selectors.EVENT_WRITE)

    def finish(s: socket.socket, ok: bool) -> None:
        nonlocal errors
        _req, buf, started = state.pop(s)
        sel.unregister(s)
        s.close()
        if ok and buf.startswith(b"HTTP/1.1 200") and b"failure reason" not in buf:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
        if time.monotonic() < deadline:
            open_one()

    for _ in range(conns):
        open_one()
    while state:
        for key, mask in sel.select(1.0):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            entry = state[s]
            try:
                if mask & selectors.EVENT_WRITE:
                    s.send(entry[0])
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                chunk = s.recv(65536)
            except OSError:
                finish(s, False)
                continue
            if chunk:
                entry[1] += chunk
            else:
                finish(s, True)
    return {"ok": len(latencies), "errors": errors, "lost": 0, "latencies": latencies,
            "state": _state(pool), "cpu": time.process_time() - cpu_started}  # fmt: skip


def _run_gen(args: tuple[Any, ...]) -> dict[str, Any]:
    proto, host, port, seconds, pool, width, seed, warm = args
    if proto == "udp":
        return _udp_load(host, port, seconds, pool, width, seed, warm)
    return _http_load(host, port, seconds, pool, width, seed)


# --- the trackers under test ------------------------------------------------------------


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_tree(pid: int) -> dict[int, float]:
    """User+system CPU seconds of `pid` and each of its descendants (from /proc)."""
    out: dict[int, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return out


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Target:
    """One tracker process (or supervisor and workers) on 127.0.0.1."""

    def __init__(self, name: str, argv: list[str], *, workdir: Path,
                 redis_port: int | None = None) -> None:  # fmt: skip
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.redis_port = redis_port
        self.http_port = self.udp_port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self, hashes: list[bytes]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{self.name}.log").open("w")
        if self.argv[:1] == ["opentracker"]:
            self.workdir.chmod(0o755)  # it chroots here and drops to `nobody`
            wl = self.workdir / "whitelist.txt"
            wl.write_text("".join(h.hex() + "\n" for h in hashes))
            wl.chmod(0o644)
            self.http_port = _free_port(socket.SOCK_STREAM)
            self.udp_port = _free_port(socket.SOCK_DGRAM)
            argv = ["opentracker", "-i", "127.0.0.1", "-p", str(self.http_port), "-P",
                    str(self.udp_port), "-d", str(self.workdir), "-w", "whitelist.txt"]  # fmt: skip
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, text=True)
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.http_port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("opentracker did not start") from None
                    time.sleep(0.05)
            return
        argv = [sys.executable, "-m", "bitswarm.tracker_server", "--http", "127.0.0.1:0",
                "--udp", "127.0.0.1:0", "--log-level", "warning", *self.argv]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        ready = json.loads(self.proc.stdout.readline())
        self.http_port = int(ready["http"].rsplit(":", 1)[1].split("/")[0])
        self.udp_port = int(ready["udp"].rsplit(":", 1)[1].split("/")[0])

    def cpu(self) -> dict[int, float]:
        """CPU seconds so far of the tracker's processes (supervisor and workers), by pid."""
        assert self.proc is not None
        return _cpu_tree(self.proc.pid)

    def memory(self) -> int:
        """Bytes the tracker's data takes: RSS, or redis-server's used_memory."""
        if self.redis_port is not None:
            import redis

            info = redis.Redis(port=self.redis_port).info("memory")
            return int(info["used_memory"])
        assert self.proc is not None
        return _rss(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = _free_port(socket.SOCK_STREAM)
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


# --- running cases ----------------------------------------------------------------------


def _measure(pool_of: list[list[_Peer]], proto: str, port: int, seconds: float, width: int,
             warm: bool = False, target: Target | None = None) -> dict[str, Any]:  # fmt: skip
    cpu_before = target.cpu() if target is not None else {}
    jobs = [(proto, "127.0.0.1", port, seconds, pool, width, 1000 + i, warm)
            for i, pool in enumerate(pool_of)]  # fmt: skip
    started = time.monotonic()
    with mp.get_context("fork").Pool(len(jobs)) as workers:
        results = workers.map(_run_gen, jobs)
    elapsed = time.monotonic() - started
    cpu_after = target.cpu() if target is not None else {}
    # per process of the tracker, busiest first (a worker restarted meanwhile counts anew)
    cpu = sorted((after - cpu_before.get(pid, 0.0) for pid, after in cpu_after.items()),
                 reverse=True)  # fmt: skip
    for pool, r in zip(pool_of, results, strict=True):  # carry the peers' state on
        for peer, (active, left) in zip(pool, r["state"], strict=True):
            peer.active, peer.left = active, left
    lat = sorted(x for r in results for x in r["latencies"])
    ok = sum(r["ok"] for r in results)
    return {
        "ok": ok, "errors": sum(r["errors"] for r in results),
        "lost": sum(r["lost"] for r in results), "per_second": ok / (seconds or elapsed),
        "elapsed": elapsed,
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
        "tracker_cpu_s": sum(cpu), "tracker_cpu_by_process_s": cpu,
        "tracker_us_per_announce": 1e6 * sum(cpu) / ok if ok else None,
        "generator_cpu_s": sum(r.get("cpu", 0.0) for r in results),
    }  # fmt: skip


def _targets(names: list[str], out: Path, redis: RedisServer | None) -> list[Target]:
    url = f"redis://127.0.0.1:{redis.port}/0" if redis else ""
    rp = redis.port if redis else None
    table = {
        "bitswarm-mem-1": lambda: Target("bitswarm-mem-1", [], workdir=out),
        "bitswarm-mem-2": lambda: Target("bitswarm-mem-2", ["--workers", "2"], workdir=out),
        "bitswarm-redis-1": lambda: Target("bitswarm-redis-1", ["--store", url], workdir=out,
                                           redis_port=rp),
        "bitswarm-redis-2": lambda: Target("bitswarm-redis-2", ["--store", url, "--workers", "2"],
                                           workdir=out, redis_port=rp),
        "opentracker": lambda: Target("opentracker", ["opentracker"], workdir=out / "ot"),
    }  # fmt: skip
    return [table[n]() for n in names]


def _check(pools: list[list[_Peer]], port: int, sample: int) -> dict[str, int]:
    """Ask `sample` swarms for their peers; compare with the generators' active peers."""
    expected: dict[bytes, set[int]] = {}
    for pool in pools:
        for peer in pool:
            ports = expected.setdefault(peer.info_hash, set())
            if peer.active:
                ports.add(peer.port)
    rng = random.Random(5)
    hashes = rng.sample(sorted(h for h, p in expected.items() if len(p) < 190),
                        min(sample, len(expected)))  # fmt: skip
    out = {"swarms": len(hashes), "complete": 0, "missing": 0, "extra": 0}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(2.0)

        def ask(datagram: bytes, tid: int) -> bytes:
            for _ in range(5):
                sock.send(datagram)
                try:
                    while True:
                        reply = sock.recv(4096)
                        if struct.unpack_from(">I", reply, 4)[0] == tid:
                            return reply
                except TimeoutError:
                    continue
            raise RuntimeError("the tracker did not answer the check")

        cid = struct.unpack_from(">Q", ask(_CONNECT.pack(PROTOCOL_ID, 0, 9), 9), 8)[0]
        checker = b"-CHECK0-" + bytes(12)
        for n, ih in enumerate(hashes):
            reply = ask(_ANNOUNCE.pack(cid, 1, 10 + n, ih, checker, 0, 1, 0, 2, 0, 0, 200, 1),
                        10 + n)  # fmt: skip
            body = reply[20:]
            got = {int.from_bytes(body[i + 4 : i + 6], "big") for i in range(0, len(body), 6)}
            got.discard(1)  # the checker itself, should a tracker list it
            ask(_ANNOUNCE.pack(cid, 1, 10 + n, ih, checker, 0, 1, 0, 3, 0, 0, 0, 1), 10 + n)
            missing, extra = len(expected[ih] - got), len(got - expected[ih])
            out["complete"] += missing == 0 and extra == 0
            out["missing"] += missing
            out["extra"] += extra
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench tracker", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--swarms", type=int, default=10_000)
    ap.add_argument("--peers-per-proc", type=int, default=50_000)
    ap.add_argument("--check", type=int, default=200, help="swarms whose peer lists are checked")
    ap.add_argument("--window", type=int, default=32, help="UDP requests in flight per process")
    ap.add_argument("--conns", type=int, default=16, help="HTTP connections per process")
    ap.add_argument("--protocols", default="udp,http")
    ap.add_argument("--targets", default="bitswarm-mem-1,bitswarm-mem-2,bitswarm-redis-1,"
                                         "bitswarm-redis-2,opentracker")  # fmt: skip
    ap.add_argument(
        "--memory-peers", type=int, default=100_000, help="peers for the memory figure (0: skip)"
    )
    ap.add_argument("--json", type=Path, help="append the figures to this file")
    args = ap.parse_args(argv)
    names = [n for n in args.targets.split(",") if n]
    protocols = [p for p in args.protocols.split(",") if p]
    if "opentracker" in names and shutil.which("opentracker") is None:
        print("opentracker is not installed (apt-get install opentracker)", file=sys.stderr)
        return 2
    rng = random.Random(42)
    hashes = [rng.randbytes(20) for _ in range(args.swarms)]
    out = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    redis = RedisServer(out / "redis") if any("redis" in n for n in names) else None
    results: dict[str, dict[str, Any]] = {}
    try:
        for target in _targets(names, out, redis):
            if redis is not None:
                redis.flush()
            target.start(hashes)
            try:
                pools = [_pool(7 + i, hashes, args.peers_per_proc) for i in range(args.procs)]
                _measure(pools, "udp", target.udp_port, 0, args.window, warm=True)
                for proto in protocols:
                    port = target.udp_port if proto == "udp" else target.http_port
                    width = args.window if proto == "udp" else args.conns
                    r = _measure(pools, proto, port, args.seconds, width, target=target)
                    r["check"] = _check(pools, target.udp_port, args.check)
                    results[f"{proto} {target.name}"] = r
                    c = r["check"]
                    print(f"{proto:4} {target.name:17} {r['per_second']:9.0f}/s "
                          f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms "
                          f"errors {r['errors']} lost {r['lost']}; "
                          f"{c['complete']}/{c['swarms']} sampled swarms list all their "
                          f"peers ({c['missing']} peers missing, {c['extra']} extra); CPU: "
                          f"tracker {r['tracker_cpu_s']:.2f} s "
                          f"({' + '.join(f'{x:.2f}' for x in r['tracker_cpu_by_process_s'])}), "
                          f"{r['tracker_us_per_announce']:.1f} us/announce, generators "
                          f"{r['generator_cpu_s']:.2f} s",
                          flush=True)  # fmt: skip
            finally:
                target.stop()
        if args.memory_peers:
            for name in [n for n in ("bitswarm-mem-1", "bitswarm-redis-1", "opentracker")
                         if n in names]:  # fmt: skip
                results[f"memory {name}"] = _memory(name, out, redis, args.memory_peers)
                m = results[f"memory {name}"]
                print(
                    f"mem  {name:17} {m['bytes_per_peer']:.0f} B/peer, "
                    f"{m['mib_per_100k']:.1f} MiB per 100k peers",
                    flush=True,
                )
    finally:
        if redis is not None:
            redis.stop()
        shutil.rmtree(out, ignore_errors=True)
    _report(results, names, protocols, args)
    if args.json:
        with args.json.open("a") as f:
            f.write(json.dumps({"when": time.time(), "args": vars(args) | {"json": None},
                                "results": results}) + "\n")  # fmt: skip
    return 0


def _memory(name: str, out: Path, redis: RedisServer | None, peers: int) -> dict[str, float]:
    swarms = max(1, peers // 10)
    rng = random.Random(99)
    hashes = [rng.randbytes(20) for _ in range(swarms)]
    (target,) = _targets([name], out / "mem", redis)
    if redis is not None:
        redis.flush()
    target.start(hashes)
    try:
        time.sleep(0.5)
        before = target.memory()
        pool = [_Peer(hashes[i // 10], rng.randbytes(20), 1024 + i % 60000, i % 3)
                for i in range(peers)]  # fmt: skip
        half = len(pool) // 2
        _measure([pool[:half], pool[half:]], "udp", target.udp_port, 0, 32, warm=True)
        time.sleep(0.5)
        after = target.memory()
    finally:
        target.stop()
    per_peer = (after - before) / peers
    return {"before": before, "after": after, "bytes_per_peer": per_peer,
            "mib_per_100k": per_peer * 100_000 / (1 << 20)}  # fmt: skip


def _report(results: dict[str, dict[str, Any]], names: list[str], protocols: list[str],
            args: argparse.Namespace) -> None:  # fmt: skip
    print(
        f"\n{args.procs} generator processes, {args.swarms} swarms, "
        f"{args.procs * args.peers_per_proc} peers, {args.seconds:g} s per case, "
        f"UDP window {args.window}/process, HTTP {args.conns} connections/process; "
        f"{os.cpu_count()} CPUs; load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    print(
        "| protocol | tracker | announces/s | × opentracker | p50 ms | p99 ms | errors | lost "
        "| swarms complete | tracker CPU µs/announce | generators' CPU s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for proto in protocols:
        base = results.get(f"{proto} opentracker", {}).get("per_second")
        for name in names:
            r = results.get(f"{proto} {name}")
            if r is None:
                continue
            ratio = f"{r['per_second'] / base:.2f}" if base else "–"
            print(
                f"| {proto.upper()} | {name} | {r['per_second']:.0f} | {ratio} | "
                f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['lost']} | "
                f"{r['check']['complete']}/{r['check']['swarms']} | "
                f"{r['tracker_us_per_announce']:.1f} | {r['generator_cpu_s']:.1f} |"
            )
    mems = [(n, results[f"memory {n}"]) for n in names if f"memory {n}" in results]
    if mems:
        print("\n| tracker | bytes per peer | MiB per 100,000 peers |")
        print("|---|---:|---:|")
        for name, m in mems:
            print(f"| {name} | {m['bytes_per_peer']:.0f} | {m['mib_per_100k']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())

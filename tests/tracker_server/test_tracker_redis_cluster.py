"""The tracker on a real Redis Cluster: 3 masters and 3 replicas of Debian's redis-server.

* ``redis+cluster://`` URLs parse, and bad ones are refused before the tracker binds.
* The cluster store keeps the contract of the other stores (test_tracker_redis.py's).
* Many peers over many swarms, announced over UDP and HTTP to a real ``bitswarm tracker``
  process on the cluster, each see all the other peers of their swarm; the keys of one
  swarm live in one slot on one master, and the swarms spread over every master; full
  scrape and the totals (/metrics) count the swarms of every master.
* Fail-over: a master is killed (SIGKILL) while a load generator announces; its replica
  takes over, the tracker keeps answering, announces fail only for the swarms of the
  dead master and only until the fail-over is done, and afterwards every swarm announced
  (and replicated) before the kill still lists every one of its peers.

The cluster (bench/network/redis_cluster.py) runs on free ports in a temporary folder, so
parallel xdist workers never meet; every wait is on a condition. With ``CI=true`` a
missing redis-server or redis-py fails these tests.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bench.network.redis_cluster import LocalRedisCluster

from bitswarm.aio.tracker_client import announce
from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest
from bitswarm.tracker_server.config import ConfigError

from .tracker_server_helpers import TrackerProcess, http_get, missing, require_program

HAVE_REDIS = importlib.util.find_spec("redis") is not None

_CONNECT = struct.Struct(">QII")
_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")
_PROTOCOL_ID = 0x41727101980

Swarms = dict[bytes, list[tuple[bytes, int]]]  # info-hash -> (peer id, port) of its peers
Job = tuple[bytes, bytes, int, int, int]  # info-hash, peer id, port, left, event (BEP 15)


def _start_cluster(workdir: Path) -> LocalRedisCluster:
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    require_program("redis-server")
    require_program("redis-cli")
    return LocalRedisCluster(workdir, masters=3, replicas=1).start()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """One cluster for the tests that leave it whole (each uses its own key prefix)."""
    c = _start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalRedisCluster]:
    """A cluster for one test alone (it kills a master)."""
    c = _start_cluster(tmp_path / "cluster")
    try:
        yield c
    finally:
        c.stop()


# --- a raw BEP 15 client: one socket, one connection id, many announces in flight -------


@dataclass
class Outcome:
    info_hash: bytes
    sent: float
    kind: str = "timeout"  # "ok", "error" (the tracker's error reply) or "timeout"
    answered: float = 0.0
    ports: set[int] = field(default_factory=set)


class UdpAnnouncer:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(2.0)
        for _ in range(5):
            self.sock.send(_CONNECT.pack(_PROTOCOL_ID, 0, 1))
            try:
                self.cid = struct.unpack_from(">Q", self.sock.recv(64), 8)[0]
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the tracker did not answer a UDP connect")
        self.sock.setblocking(False)
        self.tid = 1

    def run(self, jobs: Iterator[Job], *, window: int = 32,
            timeout: float = 5.0) -> list[Outcome]:  # fmt: skip
        """Announce (info-hash, peer id, port, left, event) with `window` in flight."""
        out: list[Outcome] = []
        pending: dict[int, Outcome] = {}
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        exhausted = False

        def send_next() -> None:
            nonlocal exhausted
            job = next(jobs, None)
            if job is None:
                exhausted = True
                return
            ih, pid, port, left, event = job
            self.tid = (self.tid + 1) & 0xFFFFFFFF
            self.sock.send(_ANNOUNCE.pack(self.cid, 1, self.tid, ih, pid, 0, left, 0, event,
                                          0, 0, 200, port))  # fmt: skip
            pending[self.tid] = Outcome(ih, time.monotonic())

        while len(pending) < window and not exhausted:
            send_next()
        while pending:
            sel.select(0.2)
            now = time.monotonic()
            while True:
                try:
                    data = self.sock.recv(65536)
                except BlockingIOError:
                    break
                action, tid = struct.unpack_from(">II", data)
                got = pending.pop(tid, None)
                if got is None:
                    continue
                got.answered = now
                got.kind = "ok" if action == 1 else "error"
                if action == 1:
                    body = data[20:]
                    got.ports = {int.from_bytes(body[i + 4 : i + 6], "big")
                                 for i in range(0, len(body), 6)}  # fmt: skip
                out.append(got)
            for tid in [t for t, o in pending.items() if now - o.sent > timeout]:
                out.append(pending.pop(tid))
            while len(pending) < window and not exhausted:
                send_next()
        sel.close()
        return out

    def close(self) -> None:
        self.sock.close()


def _swarms(n: int, peers: int, seed: int) -> Swarms:
    rng = random.Random(seed)
    return {rng.randbytes(20): [(rng.randbytes(20), 10_000 + s * peers + p) for p in range(peers)]
            for s in range(n)}  # fmt: skip


def _started(swarms: Swarms) -> Iterator[Job]:
    for ih, peers in swarms.items():
        for pid, port in peers:
            yield ih, pid, port, 100, 2  # left 100, event started


def _listed(udp: UdpAnnouncer, swarms: Swarms) -> dict[bytes, set[int]]:
    """Every swarm's peers as the tracker lists them to a newcomer (who then leaves);
    a swarm whose answer was lost (UDP) is asked again, up to three times."""
    listed: dict[bytes, set[int]] = {}
    for _ in range(3):
        jobs = ((ih, b"-CHECK0-" + ih[:12], 1, 100, 2) for ih in swarms if ih not in listed)
        listed |= {o.info_hash: o.ports - {1} for o in udp.run(jobs) if o.kind == "ok"}
    udp.run((ih, b"-CHECK0-" + ih[:12], 1, 100, 3) for ih in swarms)
    return listed


# --- the tests ---------------------------------------------------------------------------


def test_cluster_urls() -> None:
    if not HAVE_REDIS:
        missing("the Python package 'redis' is not installed")
    from bitswarm.tracker_server.app import make_store
    from bitswarm.tracker_server.config import TrackerConfig
    from bitswarm.tracker_server.redis_cluster_store import ClusterUrl, parse_cluster_url

    assert parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/") == ClusterUrl(
        (("10.0.0.1", 7000), ("10.0.0.2", 7001)))  # fmt: skip
    assert parse_cluster_url("rediss+cluster://u:p%40ss@[::1]:7000,h") == ClusterUrl(
        (("::1", 7000), ("h", 6379)), "u", "p@ss", tls=True)  # fmt: skip
    for bad in ("redis+cluster://", "redis+cluster://h:0", "redis+cluster://h:x",
                "redis+cluster://h:1/0", "redis+cluster://h:1?x=1", "redis://h:1,h:2"):  # fmt: skip
        with pytest.raises(ConfigError):
            parse_cluster_url(bad)
    with pytest.raises(ConfigError, match="redis\\+cluster"):
        make_store("redis+cluster://h:99999", TrackerConfig())


def test_the_store_contract_on_a_cluster(cluster: LocalRedisCluster) -> None:
    from bitswarm.tracker_server.redis_cluster_store import RedisClusterSwarmStore

    from .test_tracker_redis import CONTRACT_CONFIG, check_store_contract

    store = RedisClusterSwarmStore(cluster.url, CONTRACT_CONFIG, prefix="contract")
    asyncio.run(check_store_contract(store))


def test_many_swarms_over_udp_and_http_on_a_cluster(cluster: LocalRedisCluster,
                                                    tmp_path: Path) -> None:  # fmt: skip
    import redis
    from redis.crc import key_slot

    swarms = _swarms(120, 6, seed=1)
    with TrackerProcess("--store", cluster.url, workdir=tmp_path / "t") as tracker:
        assert tracker.ready["store"] == cluster.url
        udp = UdpAnnouncer(tracker.udp_port)
        items = list(swarms.items())
        over_udp = dict(items[::2])
        results = udp.run(_started(over_udp))
        assert [o.kind for o in results].count("ok") == len(results) == 6 * len(over_udp)

        async def over_http() -> None:
            async def one(ih: bytes, pid: bytes, port: int) -> None:
                r = AnnounceRequest(info_hash=ih, peer_id=pid, port=port, uploaded=0,
                                    downloaded=0, left=100, event=AnnounceEvent.STARTED,
                                    key=port)  # fmt: skip
                await announce(tracker.http_url, r, timeout=10)

            jobs = [one(ih, pid, port) for ih, peers in items[1::2] for pid, port in peers]
            for i in range(0, len(jobs), 24):
                await asyncio.gather(*jobs[i : i + 24])

        asyncio.run(over_http())
        listed = _listed(udp, swarms)
        udp.close()
        assert listed == {ih: {port for _, port in peers} for ih, peers in swarms.items()}

        # full scrape (BEP 48) and the totals: every master is scanned
        status, body, _ = http_get(tracker.http_port, "/scrape")
        assert status == 200 and body.count(b"8:completei") == len(swarms)
        _, metrics, _ = http_get(tracker.http_port, "/metrics")
        assert re.search(rb"^bitswarm_tracker_swarms 120$", metrics, re.M), metrics[-600:]
        assert b'bitswarm_tracker_peers{state="leecher"} 720' in metrics

    # the keys of a swarm: one slot, on one master; the swarms: on every master
    where: dict[str, set[int]] = {}
    for master in cluster.master_nodes():
        with redis.Redis(port=master.port) as client:
            for key in client.scan_iter(match="bsw:*", count=1000):
                tag = key.split(b"{", 1)[1].split(b"}", 1)[0].decode()
                where.setdefault(tag, set()).add(master.port)
                assert key_slot(key) == key_slot(f"{{{tag}}}".encode())
    assert set(where) == {ih.hex() for ih in swarms}
    assert all(len(ports) == 1 for ports in where.values())
    assert len({p for ports in where.values() for p in ports}) == 3


@pytest.mark.timeout(90)
def test_a_master_killed_under_load(own_cluster: LocalRedisCluster, tmp_path: Path) -> None:
    from redis.crc import key_slot

    swarms = _swarms(150, 5, seed=2)
    with TrackerProcess("--store", own_cluster.url, workdir=tmp_path / "t") as tracker:
        udp = UdpAnnouncer(tracker.udp_port)
        assert all(o.kind == "ok" for o in udp.run(_started(swarms)))
        # Replication is asynchronous: what the masters hold now reaches the replicas
        # before the kill, the point up to which a fail-over loses nothing.
        own_cluster.wait_replicated()
        victim = own_cluster.master_nodes()[0]
        dead_slots = own_cluster.slots_of(victim)
        on_victim = {ih for ih in swarms if key_slot(f"{{{ih.hex()}}}".encode()) in dead_slots}
        assert 0 < len(on_victim) < len(swarms)

        # the load: peers re-announce (no event) at random, 16 in flight, until stopped
        stop = threading.Event()
        rng = random.Random(3)
        flat = [(ih, pid, port) for ih, peers in swarms.items() for pid, port in peers]

        def jobs() -> Iterator[Job]:
            while not stop.is_set():
                ih, pid, port = rng.choice(flat)
                yield ih, pid, port, 100, 0

        load = UdpAnnouncer(tracker.udp_port)
        outcomes: list[Outcome] = []
        runner = threading.Thread(target=lambda: outcomes.extend(load.run(jobs(), window=16)))
        runner.start()
        try:
            before = time.monotonic() + 1.0
            _wait(lambda: time.monotonic() > before, 2)
            killed_at = time.monotonic()
            own_cluster.kill_master(0)
            took = own_cluster.wait_failover(victim)
            done_at = time.monotonic()
            settle = done_at + 2.0  # and the load goes on for 2 s after the fail-over
            _wait(lambda: time.monotonic() > settle, 3)
        finally:
            stop.set()
            runner.join(30)
        load.close()
        assert tracker.alive()

        by_kind = {k: [o for o in outcomes if o.kind == k] for k in ("ok", "error", "timeout")}
        errors, timeouts = by_kind["error"], by_kind["timeout"]
        during = [o for o in outcomes if killed_at <= o.sent <= done_at]
        print(f"fail-over took {took:.2f} s; {len(outcomes)} announces, "
              f"{len(by_kind['ok'])} ok, {len(errors)} errors, {len(timeouts)} timeouts; "
              f"{len(during)} sent during the fail-over, "
              f"{sum(o.kind == 'ok' for o in during)} of them answered ok")  # fmt: skip
        # The tracker kept answering: the swarms of the other masters were served
        # throughout the fail-over.
        assert any(o.kind == "ok" and o.info_hash not in on_victim for o in during)
        # Announces failed only for the dead master's swarms, and only from the kill
        # until the replica took over plus the client's slot-map refresh (at most one a
        # second) and the store's 0.25 s refusal: 2 s of grace.
        assert all(o.info_hash in on_victim for o in errors + timeouts)
        assert all(killed_at <= o.sent <= done_at + 2.0 for o in errors + timeouts)
        # So the errors are bounded by the dead master's share of the announces sent in
        # that window (each picks a peer at random): a third here, 0.1 of slack.
        window = [o for o in outcomes if killed_at <= o.sent <= done_at + 2.0]
        share = len(on_victim) / len(swarms)
        assert len(errors) <= (share + 0.1) * len(window), (len(errors), len(window), share)
        # No announce is left unanswered for long (a lost datagram, a stuck batch): the
        # store answers every one, refusing at once when it cannot serve it.
        assert len(timeouts) <= 2, [o.sent - killed_at for o in timeouts]
        # After: every swarm still lists every one of its peers, over UDP and HTTP.
        assert all(o.kind == "ok" for o in outcomes if o.sent > done_at + 2.0)
        udp2 = UdpAnnouncer(tracker.udp_port)
        listed = _listed(udp2, swarms)
        udp2.close()
        udp.close()
        assert listed == {ih: {port for _, port in peers} for ih, peers in swarms.items()}
        status, body, _ = http_get(tracker.http_port, "/scrape")
        assert status == 200 and body.count(b"10:incompletei5e") == len(swarms)


def _wait(condition: object, timeout: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

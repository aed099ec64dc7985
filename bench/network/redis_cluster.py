"""A Redis Cluster on 127.0.0.1 made of Debian's redis-server, for tests and benchmarks.

`LocalRedisCluster(workdir, masters=3, replicas=1)` starts ``masters * (1 + replicas)``
redis-server processes in cluster mode (``--cluster-enabled yes``), each on a free data
port and a free cluster-bus port (``--cluster-port``: the default bus port, data port +
10000, could belong to someone else), no persistence, its files in `workdir`. It then
joins them with ``redis-cli --cluster create ... --cluster-replicas N --cluster-yes`` and
waits, by polling conditions (never a fixed sleep), until every node says
``cluster_state:ok``, knows every other node, and every replica's link to its master is up.

`kill_master(i)` sends SIGKILL to a master (no goodbye to the cluster);
`wait_failover(killed)` waits until a replica of it owns its slots and the cluster is
``ok`` again. `wait_replicated()` waits until every replica has received everything its
master wrote so far (replication offsets), the point up to which a failover loses nothing:
Redis replicates asynchronously, so what a master acknowledged after that may be lost.

``cluster-node-timeout`` is short (1000 ms by default) so that a failover takes about
two seconds; ``cluster-replica-validity-factor 0`` lets a replica take over however long
its link was down; ``cluster-require-full-coverage no`` lets the other masters go on
serving their slots while a dead master's are not covered yet (with the default, yes,
every master answers CLUSTERDOWN to everything until the replica has taken over).
The tests and ``python -m bench tracker-cluster`` share this module.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = ["ClusterNodeProcess", "LocalRedisCluster", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ClusterNodeProcess:
    """One redis-server of the cluster."""

    port: int
    bus_port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    node_id: str = ""
    killed: bool = False
    extra: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, node_timeout_ms: int) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--cluster-port", str(self.bus_port),
                "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-replica-validity-factor", "0",
                "--cluster-require-full-coverage", "no",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"), *self.extra]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cli(self, *args: str, timeout: float = 5.0) -> str:
        """Run one redis-cli command against this node; its output as text."""
        argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        return out.stdout

    def info(self, section: str) -> dict[str, str]:
        """INFO `section` as a dict (empty when the node does not answer)."""
        try:
            text = self.cli("INFO", section)
        except subprocess.TimeoutExpired:
            return {}
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class LocalRedisCluster:
    """Masters and replicas on 127.0.0.1; `startup` is ``host:port,host:port,...``."""

    def __init__(self, workdir: Path, *, masters: int = 3, replicas: int = 1,
                 node_timeout_ms: int = 1000) -> None:  # fmt: skip
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise FileNotFoundError("redis-server and redis-cli are needed (Debian redis-server)")
        self.workdir = workdir
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[ClusterNodeProcess] = []

    @property
    def startup(self) -> str:
        """Every live node, as ``redis+cluster://`` takes them."""
        return ",".join(n.address for n in self.nodes if not n.killed)

    @property
    def url(self) -> str:
        return f"redis+cluster://{self.startup}"

    def start(self, timeout: float = 60.0) -> LocalRedisCluster:
        deadline = time.monotonic() + timeout
        for attempt in range(3):  # a free port taken by someone else before redis bound it
            self.nodes = [
                ClusterNodeProcess(free_port(), free_port(), self.workdir / f"n{attempt}-{i}")
                for i in range(self.masters * (1 + self.replicas))
            ]
            for node in self.nodes:
                node.start(self.node_timeout_ms)
            if self._wait(lambda: all(n.cli("PING").strip() == "PONG" for n in self.nodes)
                          or not all(n.alive() for n in self.nodes), deadline) and \
                    all(n.alive() for n in self.nodes):  # fmt: skip
                break
            self.stop()
        else:
            raise RuntimeError("redis-server nodes did not start (ports in use?)")
        if self.masters >= 3:
            create = subprocess.run(
                ["redis-cli", "--cluster", "create", *(n.address for n in self.nodes),
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                capture_output=True, text=True, timeout=max(5.0, deadline - time.monotonic()),
                check=False,
            )  # fmt: skip
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout[-2000:]}")
        else:  # redis-cli wants 3 masters at least: the same steps by hand
            self._create_by_hand(deadline)
        for node in self.nodes:
            node.node_id = node.cli("CLUSTER", "MYID").strip()
        if not self._wait(self._healthy, deadline):
            raise RuntimeError("the cluster did not reach cluster_state:ok")
        return self

    def _create_by_hand(self, deadline: float) -> None:
        """CLUSTER ADDSLOTSRANGE on each master, MEET, then REPLICATE on each replica."""
        masters, replicas = self.nodes[: self.masters], self.nodes[self.masters :]
        for i, node in enumerate(masters):
            first, last = i * 16384 // self.masters, (i + 1) * 16384 // self.masters - 1
            node.cli("CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
        for node in self.nodes[1:]:
            self.nodes[0].cli("CLUSTER", "MEET", "127.0.0.1", str(node.port), str(node.bus_port))
        ids = {n.port: n.cli("CLUSTER", "MYID").strip() for n in self.nodes}

        def everyone_known() -> bool:
            return all(int(_cluster_info(n).get("cluster_known_nodes", "0")) == len(self.nodes)
                       for n in self.nodes)  # fmt: skip

        if not self._wait(everyone_known, deadline):
            raise RuntimeError("the nodes did not meet")
        for i, node in enumerate(replicas):
            master = masters[i % self.masters]
            self._wait(lambda n=node, m=master: n.cli("CLUSTER", "REPLICATE", ids[m.port])
                       .startswith("OK"), deadline)  # fmt: skip

    def _healthy(self) -> bool:
        live = [n for n in self.nodes if not n.killed]
        for node in live:
            info = node.info("replication") | _cluster_info(node)
            if info.get("cluster_state") != "ok":
                return False
            if int(info.get("cluster_known_nodes", "0")) < len(self.nodes):
                return False
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return len(self.master_nodes()) == self.masters

    def master_nodes(self) -> list[ClusterNodeProcess]:
        """The live nodes that are masters now (after a failover: the promoted replica)."""
        return [n for n in self.nodes if not n.killed and n.info("replication").get("role")
                == "master"]  # fmt: skip

    def slots_of(self, node: ClusterNodeProcess) -> set[int]:
        """The slots `node` serves, by CLUSTER SLOTS asked of a live node."""
        import redis

        asker = next(n for n in self.nodes if not n.killed)
        with redis.Redis(port=asker.port) as client:
            slots: set[int] = set()
            for entry in client.execute_command("CLUSTER SLOTS"):
                start, end, master = entry[0], entry[1], entry[2]
                if int(master[1]) == node.port:
                    slots.update(range(int(start), int(end) + 1))
            return slots

    def wait_replicated(self, timeout: float = 20.0) -> None:
        """Until every replica has everything its master wrote so far (by offsets)."""
        targets = {m.port: int(m.info("replication")["master_repl_offset"])
                   for m in self.master_nodes()}  # fmt: skip

        def caught_up() -> bool:
            for master in self.master_nodes():
                info = master.info("replication")
                offsets = [
                    int(v.split("offset=")[1].split(",")[0])
                    for k, v in info.items()
                    if k.startswith("slave") and "offset=" in v
                ]
                if not offsets or min(offsets) < targets.get(master.port, 0):
                    return False
            return True

        if not self._wait(caught_up, time.monotonic() + timeout):
            raise RuntimeError("the replicas did not catch up with their masters")

    def kill_master(self, index: int = 0) -> ClusterNodeProcess:
        """SIGKILL the `index`-th live master; returns it."""
        victim = self.master_nodes()[index]
        victim.stop()
        victim.killed = True
        return victim

    def wait_failover(self, killed: ClusterNodeProcess, timeout: float = 30.0) -> float:
        """Until a replica of `killed` is master and every live node says ok; seconds taken."""
        started = time.monotonic()

        def promoted() -> bool:
            masters = self.master_nodes()
            return len(masters) == self.masters and all(
                _cluster_info(n).get("cluster_state") == "ok"
                for n in self.nodes if not n.killed
            )  # fmt: skip

        if not self._wait(promoted, started + timeout):
            raise RuntimeError(f"no replica took over from {killed.address}")
        return time.monotonic() - started

    @staticmethod
    def _wait(condition: object, deadline: float) -> bool:
        assert callable(condition)
        while True:
            if condition():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _cluster_info(node: ClusterNodeProcess) -> dict[str, str]:
    try:
        text = node.cli("CLUSTER", "INFO")
    except subprocess.TimeoutExpired:
        return {}
    return dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)

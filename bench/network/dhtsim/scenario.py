"""The simulated day: routers, a population with churn, announces, then measured lookups.

1. `routers` well-known public nodes start first and never leave (the bootstrap hosts
   real clients ship with, router.bittorrent.com and friends).
2. `nodes` hosts join through them, spread over `join_spread` seconds; `nat` of them
   (a fraction) sit behind NAT. Their first sessions are drawn from the *equilibrium*
   residual-lifetime law of the session distribution, so churn runs at its steady rate
   from the start instead of the burst a freshly started population would show.
3. Churn: when a session ends the host leaves. With probability `restart` it comes back
   after an exponential offline gap (mean `offline_mean`) with its old id and saved
   table; otherwise a new host (fresh id and address, NAT with the same probability)
   arrives after a short gap, so the population stays near `nodes`.
4. At `warmup` seconds, `hashes` info-hashes are each announced by `announcers` random
   online hosts; `settle` seconds later `lookups` get_peers start at random times over
   `window` seconds from random online hosts: half for announced hashes, half for random
   ones (there only the closest nodes found are judged).
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from functools import partial

from bitswarm.dht import AnnounceDone, DhtConfig, DhtNode, LookupDone, PeersFound
from bitswarm.dht.krpc import Addr
from bitswarm.dht.node_id import id_to_int

from .model import Latency, session_length, weibull_scale
from .world import Host, World

__all__ = ["LookupRecord", "Params", "Result", "simulate"]

PORT = 6881


@dataclass(frozen=True)
class Params:
    nodes: int = 10_000
    routers: int = 3
    nat: float = 0.10
    session_median: float = 3600.0
    session_shape: float = 0.5
    restart: float = 0.3
    offline_mean: float = 1800.0
    arrival_gap: float = 60.0
    rtt_median: float = 0.3
    rtt_sigma: float = 0.6
    loss: float = 0.01
    join_spread: float = 300.0
    warmup: float = 600.0
    settle: float = 60.0
    window: float = 120.0
    lookups: int = 200
    hashes: int = 20
    announcers: int = 3
    churn: bool = True
    seed: int = 1
    verify_after: float = 180.0  # DhtConfig.verify_after; 0 trusts every answer (pre-NAT fix)


@dataclass
class LookupRecord:
    host: Host
    target: bytes
    announced: tuple[Addr, ...]  # the announcers' addresses (empty: a random target)
    start: float
    session: int = 0  # the host's session number when the lookup began
    true_closest: tuple[bytes, ...] = ()  # the k closest reachable online ids at the start
    first_peer: float | None = None
    done: LookupDone | None = None
    end: float | None = None


@dataclass
class Result:
    params: Params
    world: World
    records: list[LookupRecord]
    announces: list[AnnounceDone] = field(default_factory=list)
    online_at_lookups: int = 0
    nat_online_at_lookups: int = 0
    joins: int = 0
    restarts: int = 0
    leaves: int = 0
    table_sizes: list[int] = field(default_factory=list)


def _residual_session(rng: random.Random, p: Params) -> float:
    """A session already under way at a random moment: uniform over a length-biased one.

    For Weibull(shape k, scale s), a length-biased length is s * G ** (1/k) with
    G ~ Gamma(1 + 1/k); the remaining part is a uniform fraction of it.
    """
    k = p.session_shape
    biased = weibull_scale(p.session_median, k) * rng.gammavariate(1 + 1 / k, 1.0) ** (1 / k)
    return float(rng.random() * biased)


def simulate(p: Params, *, config: DhtConfig | None = None) -> Result:
    rng = random.Random(p.seed)
    cfg = config or DhtConfig(rate_limit=0, maintenance_interval=30.0,
                              verify_after=p.verify_after)  # fmt: skip
    world = World(seed=rng.getrandbits(64), config=cfg, loss=p.loss,
                  latency=Latency(rtt_median=p.rtt_median, rtt_sigma=p.rtt_sigma,
                                  seed=p.seed))  # fmt: skip
    records: dict[tuple[int, int], LookupRecord] = {}
    result = Result(p, world, [])

    def on_event(host: Host, event: object) -> None:
        if isinstance(event, PeersFound | LookupDone):
            rec = records.get((host.index, event.handle))
            if rec is None or rec.host.sessions != rec.session:
                return
            if isinstance(event, PeersFound):
                if rec.first_peer is None and set(event.peers) & set(rec.announced):
                    rec.first_peer = world.now
            else:
                rec.done, rec.end = event, world.now
        elif isinstance(event, AnnounceDone):
            result.announces.append(event)

    world.on_event = on_event

    routers = [world.new_host(nat=False) for _ in range(p.routers)]
    router_addrs = [h.addr for h in routers]
    for i, r in enumerate(routers):
        world.start(r, router_addrs[:i])

    def leave(host: Host) -> None:
        if host.node is None:
            return
        world.stop(host)
        result.leaves += 1
        if rng.random() < p.restart:
            world.at(world.now + rng.expovariate(1 / p.offline_mean), lambda: join(host, True))
        else:
            fresh = world.new_host(nat=rng.random() < p.nat)
            world.at(world.now + rng.expovariate(1 / p.arrival_gap), lambda: join(fresh, False))

    def join(host: Host, restart: bool, first: float | None = None) -> None:
        world.start(host, router_addrs, keep_id=restart)
        result.joins += 1
        result.restarts += restart
        if p.churn:
            length = first if first is not None else session_length(
                rng, median=p.session_median, shape=p.session_shape)  # fmt: skip
            world.at(world.now + length, lambda: leave(host))

    for _ in range(p.nodes):
        host = world.new_host(nat=rng.random() < p.nat)
        t = rng.random() * p.join_spread
        first = _residual_session(rng, p) + (p.join_spread - t)
        world.at(t, lambda h=host, f=first: join(h, False, f))  # type: ignore[misc]

    world.run_until(p.warmup)

    # Announces: a few online hosts per info-hash (announce_peer after a get_peers).
    def online_hosts() -> list[Host]:
        return [h for h in world.online.values() if h not in routers]

    hashes: list[tuple[bytes, tuple[Addr, ...]]] = []
    for _ in range(p.hashes):
        info_hash = rng.randbytes(20)
        who = rng.sample(online_hosts(), p.announcers)
        for h in who:
            world.command(h, partial(_announce, info_hash=info_hash, world=world))
        hashes.append((info_hash, tuple((h.addr[0], PORT) for h in who)))
    world.run_until(p.warmup + p.settle)

    # Lookups at random moments of the window.
    starts = sorted(p.warmup + p.settle + rng.random() * p.window for _ in range(p.lookups))
    recs: list[LookupRecord] = []

    def lookup(i: int) -> None:
        if i % 2 == 0:
            target, announced = hashes[(i // 2) % len(hashes)]
        else:
            target, announced = rng.randbytes(20), ()
        host = rng.choice(online_hosts())
        rec = LookupRecord(host, target, announced, world.now, host.sessions)
        rec.true_closest = _true_closest(world, target, cfg.k)
        handle = world.command(host, lambda n: n.get_peers(target, now=world.now))
        records[(host.index, handle)] = rec
        recs.append(rec)
        if i == 0:
            result.online_at_lookups = len(world.online)
            result.nat_online_at_lookups = sum(h.nat for h in world.online.values())
            result.table_sizes = [len(h.node.table) for h in world.online.values()
                                  if h.node is not None]  # fmt: skip

    for i, t in enumerate(starts):
        world.at(t, lambda i=i: lookup(i))  # type: ignore[misc]
    world.run_until(p.warmup + p.settle + p.window + 4 * cfg.query_timeout * math.log2(p.nodes))
    result.records = recs
    return result


def _announce(node: DhtNode, *, info_hash: bytes, world: World) -> int:
    return node.announce_peer(info_hash, PORT, now=world.now)


def _true_closest(world: World, target: bytes, k: int) -> tuple[bytes, ...]:
    """The ids of the k online hosts closest to `target` that anyone can reach (no NAT)."""
    t = id_to_int(target)
    ids = [h.node.node_id for h in world.online.values() if h.node is not None and not h.nat]
    return tuple(heapq.nsmallest(k, ids, key=lambda i: id_to_int(i) ^ t))

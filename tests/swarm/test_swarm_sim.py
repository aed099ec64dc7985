"""A virtual-time swarm: 1 seeder + 6 leechers trading blocks with the picker and choker.

No sockets and no wire codec: each node is a PiecePicker (what to request), a Choker (whom
to serve) and RateMeters, and the "network" is a per-uploader request queue served at a
fixed upload capacity per tick. It shows what the swarm policy is for: every leecher
completes, and because rarest-first spreads different pieces and tit-for-tat rewards
uploaders, the leechers feed each other, so the seeder uploads far less than six copies.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from bitswarm.bitfield import Bitfield
from bitswarm.swarm.choker import Choker, PeerStats
from bitswarm.swarm.picker import BLOCK_SIZE, Block, PiecePicker
from bitswarm.swarm.rate import RateMeter
from bitswarm.swarm.request_queue import desired_queue_depth

NUM_PIECES = 48
BLOCKS_PER_PIECE = 4
PIECE_LENGTH = BLOCKS_PER_PIECE * BLOCK_SIZE
TOTAL = NUM_PIECES * PIECE_LENGTH
TICK = 0.25  # seconds of virtual time per step
UPLOAD_BLOCKS_PER_TICK = 2  # every node: 128 KiB/s up, unlimited down
LEECHERS = 6


@dataclass
class Link:
    """One direction of state that node `me` keeps about a peer."""

    am_choking: bool = True  # we choke them
    last_unchoked_at: float | None = None
    down: RateMeter = field(default_factory=RateMeter)  # they give us
    up: RateMeter = field(default_factory=RateMeter)  # we give them
    queue: deque[Block] = field(default_factory=deque)  # their requests waiting at us


class Node:
    def __init__(self, name: int, *, seed: bool, rng: random.Random) -> None:
        self.name = name
        self.rng = rng
        have = Bitfield(NUM_PIECES, full=seed)
        self.picker = PiecePicker(
            num_pieces=NUM_PIECES, piece_length=PIECE_LENGTH, total_length=TOTAL, rng=rng,
            have=have,
        )  # fmt: skip
        self.choker = Choker(slots=4)
        self.links: dict[int, Link] = {}
        self.uploaded_blocks = 0
        self.completed_at: float | None = 0.0 if seed else None

    @property
    def complete(self) -> bool:
        return self.picker.is_complete()


class Swarm:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.nodes = [Node(0, seed=True, rng=random.Random(rng.random()))]
        self.nodes += [
            Node(i, seed=False, rng=random.Random(rng.random())) for i in range(1, LEECHERS + 1)
        ]
        self.now = 0.0
        for a in self.nodes:
            for b in self.nodes:
                if a is not b:
                    a.links[b.name] = Link()
                    a.picker.peer_joined(b.name, b.picker.have())
        self.rechoke_all()

    def interested(self, a: Node, b: Node) -> bool:
        """Is `a` interested in `b` (BEP 3: b has something a wants)?"""
        return not a.complete and a.picker.peer_is_interesting(b.name)

    def rechoke_all(self) -> None:
        for node in self.nodes:
            stats = [
                PeerStats(
                    key=other.name,
                    interested=self.interested(other, node),
                    download_rate=link.down.rate(self.now),
                    upload_rate=link.up.rate(self.now),
                    is_choked=link.am_choking,
                    connected_at=0.0,
                    last_unchoked_at=link.last_unchoked_at,
                    uploaded_total=link.up.total,
                    downloaded_total=link.down.total,
                )
                for other in self.nodes
                if other is not node
                for link in (node.links[other.name],)
            ]
            decision = node.choker.rechoke(stats, seeding=node.complete, now=self.now, rng=node.rng)
            for other_name, link in node.links.items():
                if other_name in decision.unchoke:
                    if link.am_choking:
                        link.am_choking = False
                        link.last_unchoked_at = self.now
                elif not link.am_choking:
                    # BEP 3 choke: the peer's pending requests are discarded on both sides
                    link.am_choking = True
                    link.queue.clear()
                    self.nodes[other_name].picker.peer_choked(node.name)

    def request(self) -> None:
        for d in self.nodes:
            if d.complete:
                continue
            for u in self.nodes:
                if u is d or u.links[d.name].am_choking or not self.interested(d, u):
                    continue
                depth = desired_queue_depth(d.links[u.name].down.rate(self.now), maximum=16)
                outstanding = len(d.picker.requests_of(u.name))
                for block in d.picker.pick(u.name, depth - outstanding):
                    u.links[d.name].queue.append(block)

    def upload(self) -> None:
        for u in self.nodes:
            budget = UPLOAD_BLOCKS_PER_TICK
            waiting = [n for n, link in u.links.items() if link.queue and not link.am_choking]
            self.rng.shuffle(waiting)
            while budget and waiting:
                for name in list(waiting):
                    link = u.links[name]
                    if not link.queue or not budget:
                        waiting.remove(name)
                        continue
                    block = link.queue.popleft()
                    budget -= 1
                    self.deliver(u, self.nodes[name], block)

    def deliver(self, u: Node, d: Node, block: Block) -> None:
        u.uploaded_blocks += 1
        u.links[d.name].up.add(block.length, self.now)
        d.links[u.name].down.add(block.length, self.now)
        done, cancels = d.picker.block_received(u.name, block)
        for other, cancelled in cancels:  # end-game: cancel the duplicates
            assert isinstance(other, int)
            queue = self.nodes[other].links[d.name].queue
            if cancelled in queue:
                queue.remove(cancelled)
        if done:
            d.picker.piece_passed(block.piece)  # no data, so no hash to fail
            for other in self.nodes:
                if other is not d:
                    other.picker.peer_has(d.name, block.piece)
            if d.complete and d.completed_at is None:
                d.completed_at = self.now

    def run(self, limit: float) -> None:
        next_rechoke = 10.0
        while self.now < limit and not all(n.complete for n in self.nodes):
            self.request()
            self.upload()
            self.now += TICK
            if self.now >= next_rechoke:
                next_rechoke += 10.0
                self.rechoke_all()


@pytest.mark.parametrize("seed", [2024, 4, 10])
def test_every_leecher_completes_and_leechers_share(seed: int) -> None:
    swarm = Swarm(random.Random(seed))
    swarm.run(limit=1200.0)
    seeder, leechers = swarm.nodes[0], swarm.nodes[1:]
    copy_blocks = NUM_PIECES * BLOCKS_PER_PIECE
    finished = {n.name: n.completed_at for n in leechers}
    assert all(t is not None for t in finished.values()), finished
    for node in leechers:
        assert node.picker.have().all()
    # the leechers upload to each other (the last to finish may be needed by nobody) ...
    assert sum(n.uploaded_blocks > copy_blocks // 4 for n in leechers) >= 4
    # ... so the seeder sent much less than the 6 copies a client-server download needs
    assert seeder.uploaded_blocks < 2.5 * copy_blocks
    leecher_upload = sum(n.uploaded_blocks for n in leechers)
    assert leecher_upload > 2 * seeder.uploaded_blocks
    # and with 7 uploaders the swarm beats the seeder alone (6 copies / its capacity)
    seeder_alone = LEECHERS * copy_blocks / UPLOAD_BLOCKS_PER_TICK * TICK
    assert swarm.now < 0.6 * seeder_alone
    print(
        f"\nswarm done at t={swarm.now:.0f}s (seeder alone: {seeder_alone:.0f}s); seeder sent "
        f"{seeder.uploaded_blocks / copy_blocks:.2f} copies, leechers "
        f"{leecher_upload / copy_blocks:.2f}"
    )

"""TorrentCore's upload policy, driven over real (in-memory) peer connections.

Seed slots and at-once slot refill (swarm/choker.py), the seed's piece spread (BEP 6
suggestions, swarm/piece_spread.py), rejects that make a trading peer wait for a piece
another peer is fetching, strict end-game, and no HAVE to a peer still handshaking.
"""

from __future__ import annotations

import random

from bitswarm.bitfield import Bitfield
from bitswarm.core.actions import ReadBlock
from bitswarm.core.torrent import CoreConfig, TorrentCore
from bitswarm.wire import Event, PeerConnection
from bitswarm.wire import events as ev

INFO_HASH = bytes(range(20))
PIECE = 4 * 16384
PIECES = 64


def make_core(*, seed: bool, pieces: int = PIECES, piece: int = PIECE) -> TorrentCore:
    return TorrentCore(
        num_pieces=pieces, piece_length=piece, total_length=pieces * piece,
        have=Bitfield(pieces, full=seed), rng=random.Random(7), config=CoreConfig(),
    )  # fmt: skip


class Remote:
    """A peer at the other end of one of the core's connections, driven by the test."""

    def __init__(self, core: TorrentCore, name: int, *, have: Bitfield | None = None) -> None:
        self.core, self.key = core, name
        self.ours = self._connection(b"-BS0100-core00000000", initiator=False)
        self.conn = self._connection(b"-XX0100-%012d" % name, initiator=True)
        self.events: list[Event] = []
        core.add_peer(name, self.ours, now=0.0)
        self.conn.send_handshake()
        self.pump()
        self.conn.send_bitfield(have if have is not None else Bitfield(core.num_pieces))
        self.pump()

    def _connection(self, peer_id: bytes, *, initiator: bool) -> PeerConnection:
        """A connection of the core's torrent: ours (the core's end) or the remote's."""
        return PeerConnection(
            info_hash=INFO_HASH,
            our_peer_id=peer_id,
            initiator=initiator,
            num_pieces=self.core.num_pieces,
            piece_length=self.core.piece_length,
            total_length=self.core.total_length,
        )

    def pump(self, now: float = 0.0) -> list[Event]:
        new: list[Event] = []
        for _ in range(1000):
            out = self.conn.data_to_send()
            if out:
                self.ours.receive_data(out, now=now)
            for event in self.ours.events():
                self.core.handle_peer_event(self.key, event, now=now)
            back = self.ours.data_to_send()
            if back:
                self.conn.receive_data(back, now=now)
            new += self.conn.events()
            if not out and not back:
                break
        self.events += new
        return new

    @property
    def unchoked(self) -> bool:
        return not self.ours.am_choking

    def suggested(self) -> list[int]:
        return [e.index for e in self.events if isinstance(e, ev.SuggestReceived)]

    def request(self, piece: int, begin: int = 0) -> list[Event]:
        self.conn.send_request(piece, begin, 16384)
        return self.pump()


def interested(remotes: list[Remote]) -> None:
    for r in remotes:
        r.conn.send_interested()
        r.pump()


def test_a_seed_serves_eight_interested_peers_at_once() -> None:
    core = make_core(seed=True)
    remotes = [Remote(core, i) for i in range(8)]
    interested(remotes)
    assert all(r.unchoked for r in remotes)  # no one waits for the 10 s rechoke (P2)
    ninth = Remote(core, 8)
    interested([ninth])
    assert not ninth.unchoked  # 8 seeding slots
    core.handle_timer(now=10.0)
    assert sum(r.unchoked for r in [*remotes, ninth]) == 8


def test_a_freed_slot_is_refilled_at_once() -> None:
    core = make_core(seed=False)
    have = Bitfield(PIECES, full=True)
    slots = CoreConfig().unchoke_slots
    remotes = [Remote(core, i, have=Bitfield.from_indices(PIECES, [0])) for i in range(slots + 2)]
    core.have.add(1)  # we have a piece they want (the core reads `have` for what we serve)
    del have
    interested(remotes)
    assert [r.unchoked for r in remotes] == [True] * slots + [False] * 2  # leeching slots
    # an unchoked peer loses interest: choked, and a waiting peer takes its slot at once
    remotes[0].conn.send_not_interested()
    remotes[0].pump()
    assert not remotes[0].unchoked
    assert sum(r.unchoked for r in remotes[slots:]) == 1
    # an unchoked peer disconnects: the last waiting peer gets its slot at once
    core.handle_peer_event(1, ev.ConnectionClosed("gone", False), now=1.0)
    assert all(r.unchoked for r in remotes[2:])


def test_a_seed_suggests_different_unsent_pieces_to_each_peer_before_unchoking() -> None:
    core = make_core(seed=True)
    remotes = [Remote(core, i) for i in range(4)]
    interested(remotes)
    seen: set[int] = set()
    for r in remotes:
        kinds = [type(e) for e in r.events if isinstance(e, ev.SuggestReceived | ev.Unchoked)]
        assert kinds[-1] is ev.Unchoked and ev.SuggestReceived in kinds[:-1]
        mine = set(r.suggested())
        assert mine and not mine & seen
        seen |= mine
    # asking for a suggested piece tops the peer's suggestions up with new pieces
    first = remotes[0]
    before = len(first.suggested())
    first.request(first.suggested()[0])
    assert len(first.suggested()) > before
    assert not set(first.suggested()[before:]) & seen


def test_a_leecher_picks_the_pieces_a_peer_suggests() -> None:
    core = make_core(seed=False)
    seed = Remote(core, 0, have=Bitfield(PIECES, full=True))
    for piece in (41, 17):
        seed.conn.send_suggest(piece)
    seed.conn.send_unchoke()
    seed.pump()
    asked = {e.index for e in seed.events if isinstance(e, ev.RequestReceived)}
    assert asked and asked <= {17, 41}


def test_a_trading_peer_waits_for_a_piece_another_peer_fetches() -> None:
    core = make_core(seed=True)
    core.upload_saturated = True  # our upload link is the bottleneck
    a, b, c = (Remote(core, i) for i in range(3))
    interested([a, b, c])
    a.request(5)
    assert any(isinstance(x, ReadBlock) and x.peer == 0 for x in core.actions())
    # b announces a piece it did not get from us: it has other sources, so it can wait
    b.conn.send_have(9)
    b.pump()
    rejected = b.request(5)
    assert any(isinstance(e, ev.RejectReceived) and e.index == 5 for e in rejected)
    assert not any(isinstance(x, ReadBlock) for x in core.actions())
    # c got everything from us so far: it is served (it may have no one else)
    c.request(5)
    assert any(isinstance(x, ReadBlock) and x.peer == 2 for x in core.actions())
    # once a has the piece, b can have it from us too
    a.conn.send_have(5)
    a.pump()
    b.request(5)
    assert any(isinstance(x, ReadBlock) and x.peer == 1 for x in core.actions())


def test_end_game_duplicates_go_only_to_idle_peers_one_block_at_a_time() -> None:
    core = make_core(seed=False, pieces=1, piece=8 * 16384)
    first = Remote(core, 0, have=Bitfield(1, full=True))
    first.conn.send_unchoke()
    first.pump()
    asked_first = [e for e in first.events if isinstance(e, ev.RequestReceived)]
    assert len(asked_first) == 4  # slow start: the initial queue depth
    second = Remote(core, 1, have=Bitfield(1, full=True))
    second.conn.send_unchoke()
    second.pump()
    core.handle_timer(now=1.0)
    second.pump(now=1.0)
    # 4 blocks are still free: the second peer takes those, then no duplicates while busy
    asked_second = [e for e in second.events if isinstance(e, ev.RequestReceived)]
    assert len(asked_second) == 4
    assert not {(e.index, e.begin) for e in asked_second} & {
        (e.index, e.begin) for e in asked_first}  # fmt: skip
    # the second peer delivers everything it was asked: idle now, it gets exactly one
    # duplicate of a block the first peer still owes
    for e in asked_second:
        second.conn.send_piece(e.index, e.begin, bytes(e.length))
    second.pump(now=2.0)
    asked_second = [e for e in second.events if isinstance(e, ev.RequestReceived)]
    assert len(asked_second) == 5


def test_no_have_is_sent_to_a_peer_still_handshaking() -> None:
    core = make_core(seed=False, pieces=2)
    Remote(core, 0, have=Bitfield(2, full=True))
    half = PeerConnection(info_hash=INFO_HASH, our_peer_id=b"-BS0100-core00000000",
                          num_pieces=2, piece_length=PIECE, total_length=2 * PIECE,
                          initiator=True)  # fmt: skip
    core.add_peer("dialling", half, now=0.0, outgoing=True)
    half.send_handshake()  # the remote has not answered yet
    core.piece_checked(0, True, now=1.0)  # used to raise LocalProtocolError
    assert 0 in core.have


def test_with_upload_to_spare_every_request_is_served() -> None:
    core = make_core(seed=True)
    assert not core.upload_saturated
    a, b = (Remote(core, i) for i in range(2))
    interested([a, b])
    a.request(5)
    assert any(isinstance(x, ReadBlock) and x.peer == 0 for x in core.actions())
    b.conn.send_have(9)  # b trades elsewhere, but nothing is scarce: it is served
    b.pump()
    answers = b.request(5)
    assert not any(isinstance(e, ev.RejectReceived) for e in answers)
    assert any(isinstance(x, ReadBlock) and x.peer == 1 for x in core.actions())


def _seed_whose_peers_traded(announced: dict[int, range]) -> tuple[TorrentCore, list[Remote]]:
    """A saturated seed with 4 interested peers; peer i announces the pieces `announced[i]`
    (pieces it got elsewhere: trades) at t=0, and the seed measures its swarm at t=1."""
    core = make_core(seed=True)
    core.upload_saturated = True
    remotes = [Remote(core, i) for i in range(4)]
    interested(remotes)
    for i, pieces in announced.items():
        for piece in pieces:
            remotes[i].conn.send_have(piece)
        remotes[i].pump()
    core.handle_timer(now=1.0)
    core.actions()
    return core, remotes


def test_a_seed_whose_peers_pass_pieces_on_fast_sends_only_pieces_none_holds() -> None:
    # every peer announced pieces 0-19 within a second, one announced 30 too: the peers
    # pass pieces on far faster than they pile up (seed-limited)
    core, (a, b, _c, _d) = _seed_whose_peers_traded(
        {0: range(20), 1: range(20), 2: range(20), 3: range(21, 22)}
    )
    a.conn.send_have(30)
    a.pump(now=1.0)
    assert core.drain.keeps_up
    rejected = b.request(30)  # a holds it: b can have it from a
    assert any(isinstance(e, ev.RejectReceived) and e.index == 30 for e in rejected)
    assert not any(isinstance(x, ReadBlock) for x in core.actions())
    served = b.request(40)  # nobody holds 40: only we can send it
    assert not any(isinstance(e, ev.RejectReceived) for e in served)
    assert any(isinstance(x, ReadBlock) and x.piece == 40 for x in core.actions())


def test_a_seed_whose_peers_pass_pieces_on_slowly_sends_held_pieces_too() -> None:
    # one peer announced 3 pieces in a second, 9 copies are missing among 4 peers: 3 s to
    # spread them without us (upload-limited), so our upload goes to held pieces as well
    core, (_a, b, _c, _d) = _seed_whose_peers_traded({0: range(3), 1: range(40, 41)})
    assert not core.drain.keeps_up
    served = b.request(1)  # a holds it, but a cannot pass it on fast enough
    assert not any(isinstance(e, ev.RejectReceived) for e in served)
    assert any(isinstance(x, ReadBlock) and x.piece == 1 for x in core.actions())

"""PieceSpread: a seed's plan to send every piece once before it sends any piece twice.

Why: a seed whose upload is the swarm's bottleneck should send each piece once and let the
leechers pass it on; every piece it sends twice before all were sent once costs a piece's
worth of its upload. Leechers cannot avoid this alone: rarest-first sees every piece that
only the seed has as equally rare, and a leecher learns that another one is fetching a piece
only from its HAVE once the piece is complete, so leechers that fetch from the seed at the
same time pick the same pieces (more often the fewer such pieces remain). In the namespace
swarm lab (1 seed at 20 Mbit/s, 8 leechers at 50) the seed sent 1.25 copies, 1.42 with 8
unchoke slots. The seed, though, sees every request and every HAVE.

What it does (default behaviour, unlike BEP 16 super-seeding it hides nothing): while some
pieces have not yet left the seed, it reserves a few such pieces for each unchoked peer and
tells the peer with BEP 6 `suggest piece` ("you might like to download this piece"), a
different set for each peer. A peer whose picker prefers suggested pieces (bitswarm's does;
libtorrent's picks suggested pieces first too) then fetches disjoint pieces from the seed.
A piece is out of the plan once any peer requests it from us or announces it (HAVE: it got it
elsewhere). Reservations return to the pool when their peer is choked or leaves. Once every
piece has been handed out the plan is done and peers pick rarest-first as usual.

Pure (L1): piece indices, peer keys and an injected rng in, piece lists out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..addresses import PeerKey
from ..bitfield import Bitfield

if TYPE_CHECKING:
    from random import Random

__all__ = ["MAX_AHEAD", "PieceSpread"]

MAX_AHEAD = 32  # most pieces reserved for one peer at a time
_POOL, _RESERVED, _OUT = 0, 1, 2  # a piece's state in the plan


class PieceSpread:
    """Which pieces to suggest to whom until every piece has left the seed once."""

    def __init__(self, num_pieces: int, rng: Random) -> None:
        self._state = bytearray(num_pieces)
        self._pool = list(range(num_pieces))
        rng.shuffle(self._pool)  # a random order, so that two seeds spread different pieces
        self._in_pool = num_pieces  # pieces in state _POOL (the list may hold stale entries)
        self._reserved: dict[PeerKey, list[int]] = {}
        self._holder: dict[int, PeerKey] = {}  # reserved piece -> its peer

    @property
    def done(self) -> bool:
        """Every piece was handed out: nothing left to plan."""
        return not self._in_pool and not self._reserved

    def reserved_for(self, peer: PeerKey) -> list[int]:
        return list(self._reserved.get(peer, ()))

    def top_up(self, peer: PeerKey, peer_has: Bitfield, ahead: int) -> list[int]:
        """Reserve pieces `peer` lacks until it has `ahead` reserved; return the new ones
        (to send as suggestions)."""
        mine = self._reserved.setdefault(peer, [])
        want = min(ahead, MAX_AHEAD) - len(mine)
        new: list[int] = []
        skipped: list[int] = []
        pool = self._pool
        while want > 0 and pool:
            piece = pool.pop()
            if self._state[piece] != _POOL:
                continue  # went out while it sat in the pool (lazy removal)
            if piece in peer_has:
                skipped.append(piece)
                continue
            self._state[piece] = _RESERVED
            self._in_pool -= 1
            self._holder[piece] = peer
            mine.append(piece)
            new.append(piece)
            want -= 1
        pool.extend(reversed(skipped))
        if not mine:
            del self._reserved[peer]
        return new

    def piece_out(self, piece: int) -> None:
        """A peer requested the piece from us, or has it: it is in the swarm now."""
        state = self._state
        if state[piece] == _OUT:
            return
        if state[piece] == _POOL:
            self._in_pool -= 1
        else:
            peer = self._holder.pop(piece)
            mine = self._reserved[peer]
            mine.remove(piece)
            if not mine:
                del self._reserved[peer]
        state[piece] = _OUT

    def release(self, peer: PeerKey) -> None:
        """The peer was choked or left: its unrequested reservations go back to the pool."""
        for piece in self._reserved.pop(peer, ()):
            self._state[piece] = _POOL
            self._in_pool += 1
            del self._holder[piece]
            self._pool.append(piece)  # next in line

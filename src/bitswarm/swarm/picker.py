"""The piece picker: which blocks to request from which peer next (BEP 3, "Algorithms").

A pure data structure (L1), modelled on libtorrent's piece_picker: it tracks how many peers
have each piece, piece priorities (0 = skip, 1..7, default 4), what we have, and the state of
every 16 KiB block of the pieces being downloaded. It never holds a connection; peers are
opaque hashable keys. `pick(peer, n)` chooses, in order: blocks of pieces this peer started
(a whole piece from one peer, so a bad piece has one suspect), new pieces the peer suggested
(BEP 6 `suggest piece`, as libtorrent picks them first: a seed uses it to hand different
pieces to different peers, see `piece_spread`), partial pieces nobody owns,
new pieces (random first, then rarest first, or in index order when sequential), blocks of
other peers' pieces, and in end-game duplicates of blocks already requested elsewhere.
Among new pieces the first-last set (`set_first_last`: the first and last piece of each
wanted file, for previews, as qBittorrent's "first and last piece first") comes before
every priority level; the order inside each set stays the mode's (rarest or sequential).

Representation, chosen so that 100,000 pieces and 200 peers stay cheap in Python: a set of
pieces is an int used as a bit vector over a fixed *rank* order of the pieces. The order is
a random permutation drawn once from the injected rng (byte groups of 8 pieces shuffled, and
a shuffled bit order inside each byte), so the lowest set bit of a candidate set is a stable
random tie-break; in sequential mode it is the identity. Availability is kept *bit-sliced*:
slice j holds bit j of every piece's count, so "the rarest pieces of this set" is a few
big-int ANDs (O(pieces/64) machine words each), never a sort. Seeds are one counter.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from ..addresses import PeerKey
from ..bitfield import Bitfield
from ..errors import LocalProtocolError
from .piece_masks import PieceMasks

if TYPE_CHECKING:
    from random import Random

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_PRIORITY",
    "Block",
    "PiecePicker",
    "PieceState",
    "first_last_pieces",
]

BLOCK_SIZE = 16384  # BEP 3: "All current implementations use 2^14 (16 kiB)"
DEFAULT_PRIORITY = 4
MAX_PRIORITY = 7
ENDGAME_EXTRA_REQUESTERS = 2  # end-game: at most this many duplicate requests per block

_Allowed: TypeAlias = "Collection[int] | None"


class Block(NamedTuple):
    """A request-sized span of a piece: (index, begin, length) of BEP 3 `request`.

    A named tuple, not a dataclass: blocks are hashed and compared in sets on the hot path
    (65,536 per GiB), and a tuple's hash and equality run in C.
    """

    piece: int
    begin: int
    length: int


def first_last_pieces(
    file_ranges: Sequence[tuple[int, int]], priorities: Sequence[int], piece_length: int
) -> set[int]:
    """The first and last piece of every file with priority > 0 (`file_ranges`: each file's
    (offset, length) in the piece space; empty files hold no piece)."""
    if len(file_ranges) != len(priorities):
        raise LocalProtocolError("one priority per file range")
    out: set[int] = set()
    for (offset, length), prio in zip(file_ranges, priorities, strict=True):
        if prio > 0 and length > 0:
            out.add(offset // piece_length)
            out.add((offset + length - 1) // piece_length)
    return out


class PieceState(IntEnum):
    FREE = 0  # wanted or not, nothing requested yet
    PARTIAL = 1  # some blocks requested or received
    RECEIVED = 2  # every block received; waiting for the hash check
    HAVE = 3  # hash checked


_new_tuple = tuple.__new__
_HAVE = int(PieceState.HAVE)  # plain ints for the per-block path: enum lookups cost ~70 ns
_RECEIVED = int(PieceState.RECEIVED)


class _Partial:
    """Block bookkeeping of one piece being downloaded."""

    __slots__ = ("done", "n_done", "n_free", "owner", "requesters")

    def __init__(self, nblocks: int, owner: PeerKey | None) -> None:
        self.done = bytearray(nblocks)
        self.requesters: list[list[PeerKey]] = [[] for _ in range(nblocks)]
        self.n_done = 0
        self.n_free = nblocks  # neither received nor requested
        self.owner = owner


class _Peer:
    __slots__ = ("bits", "mask", "owned", "requests")

    def __init__(self, bits: Bitfield | None, mask: int) -> None:
        self.bits = bits  # None: a seed (has every piece)
        self.mask = mask  # its pieces in rank space
        self.owned: set[int] = set()
        self.requests: set[Block] = set()

    def has(self, piece: int) -> bool:
        return self.bits is None or piece in self.bits


class PiecePicker:
    """Chooses blocks to request; see the module docstring for the policy."""

    def __init__(
        self,
        *,
        num_pieces: int,
        piece_length: int,
        total_length: int,
        rng: Random,
        have: Bitfield | None = None,
        random_first_pieces: int = 4,
        sequential: bool = False,
    ) -> None:
        if piece_length <= 0 or num_pieces != -(-total_length // piece_length):
            raise LocalProtocolError(
                f"{num_pieces} pieces of {piece_length} bytes cannot hold {total_length} bytes"
            )
        if have is not None and have.size != num_pieces:
            raise LocalProtocolError(f"have bitfield of {have.size} for {num_pieces} pieces")
        self.num_pieces = num_pieces
        self.piece_length = piece_length
        self.total_length = total_length
        self._rng = rng
        self._random_first = random_first_pieces
        self._have = have.copy() if have is not None else Bitfield(num_pieces)
        self._prio = bytearray([DEFAULT_PRIORITY]) * num_pieces
        self._state = bytearray(num_pieces)
        for i in self._have:
            self._state[i] = PieceState.HAVE
        self._partials: dict[int, _Partial] = {}
        self._orphans: set[int] = set()  # partial pieces without an owner
        self._peers: dict[PeerKey, _Peer] = {}
        self._m = PieceMasks(num_pieces, rng, sequential=sequential)
        self._first_last: frozenset[int] = frozenset()
        self._first_last_mask = 0  # the same pieces in rank space
        self._rebuild()

    # ----------------------------------------------------------------- geometry
    def piece_size(self, piece: int) -> int:
        if piece == self.num_pieces - 1:
            return self.total_length - piece * self.piece_length
        return self.piece_length

    def blocks_in_piece(self, piece: int) -> int:
        return -(-self.piece_size(piece) // BLOCK_SIZE)

    def _block(self, piece: int, index: int) -> Block:
        begin = index * BLOCK_SIZE
        return Block(piece, begin, min(BLOCK_SIZE, self.piece_size(piece) - begin))

    def is_valid_block(self, block: Block) -> bool:
        """Whether `block` is one of the blocks this picker hands out."""
        return self._valid(*block)

    def _valid(self, piece: int, begin: int, length: int) -> bool:
        if not 0 <= piece < self.num_pieces or begin % BLOCK_SIZE or begin < 0:
            return False
        size = min(self.piece_length, self.total_length - piece * self.piece_length)
        return begin < size and length == min(BLOCK_SIZE, size - begin)

    def _check_piece(self, piece: int) -> None:
        if not 0 <= piece < self.num_pieces:
            raise LocalProtocolError(f"piece {piece} out of range 0..{self.num_pieces - 1}")

    # ----------------------------------------------------------------- our pieces
    def have(self) -> Bitfield:
        return self._have.copy()

    @property
    def num_have(self) -> int:
        return self._have.count()

    def piece_state(self, piece: int) -> PieceState:
        self._check_piece(piece)
        return PieceState(self._state[piece])

    def partial_pieces(self) -> list[int]:
        """Pieces with blocks requested or received, not yet passed (index order)."""
        return sorted(self._partials)

    def is_complete(self) -> bool:
        """Every piece of priority > 0 has passed its hash check."""
        return self._wanted_missing == 0

    def set_have(self, piece: int) -> None:
        """We have `piece` (resume data, or verified by other means)."""
        self._check_piece(piece)
        if self._state[piece] == PieceState.HAVE:
            return
        self._drop_partial(piece)
        self._state[piece] = PieceState.HAVE
        self._have.add(piece)
        self._m.remove_free(piece)
        if self._prio[piece]:
            self._m.remove_wanted(piece)
            self._wanted_missing -= 1
            self._wanted_missing_bytes -= self.piece_size(piece)

    def piece_passed(self, piece: int) -> None:
        """The hash check of `piece` passed."""
        self.set_have(piece)

    def piece_failed(self, piece: int) -> None:
        """The hash check failed: forget every block of `piece`; it is picked again."""
        self._check_piece(piece)
        if self._state[piece] == PieceState.HAVE:
            raise LocalProtocolError(f"piece {piece} failed but we have it")
        self._drop_partial(piece)

    def wanted_remaining_bytes(self) -> int:
        """Bytes of wanted pieces not yet received (pieces awaiting the hash check count 0)."""
        received = 0
        for piece, part in self._partials.items():
            if self._prio[piece] and part.n_done:
                received += part.n_done * BLOCK_SIZE
                last = len(part.done) - 1
                if part.done[last]:
                    received -= BLOCK_SIZE - self._block(piece, last).length
        return self._wanted_missing_bytes - received

    # ----------------------------------------------------------------- priorities
    def piece_priority(self, piece: int) -> int:
        self._check_piece(piece)
        return self._prio[piece]

    def set_piece_priority(self, piece: int, priority: int) -> None:
        """0 = do not download; 1..7, higher first (libtorrent's scale)."""
        self._check_piece(piece)
        if not 0 <= priority <= MAX_PRIORITY:
            raise LocalProtocolError(f"priority {priority} not in 0..{MAX_PRIORITY}")
        old = self._prio[piece]
        if old == priority:
            return
        m = self._m
        m.prio[old] = m.without(m.prio[old], piece)
        m.prio[priority] = m.with_(m.prio[priority], piece)
        self._prio[piece] = priority
        if self._state[piece] == PieceState.HAVE or bool(old) == bool(priority):
            return
        size = self.piece_size(piece)
        if priority:
            m.add_wanted(piece)
            if self._state[piece] == PieceState.FREE:
                m.add_free(piece)
            self._wanted_missing += 1
            self._wanted_missing_bytes += size
        else:
            m.remove_wanted(piece)
            m.remove_free(piece)
            self._wanted_missing -= 1
            self._wanted_missing_bytes -= size

    def set_file_priorities(
        self, file_ranges: Sequence[tuple[int, int]], priorities: Sequence[int]
    ) -> None:
        """Set piece priorities from file priorities.

        `file_ranges` holds each file's (offset, length) in the torrent's byte stream. A piece
        that spans several files takes the highest of their priorities; a piece no file covers
        keeps its priority. Empty files touch no piece.
        """
        if len(file_ranges) != len(priorities):
            raise LocalProtocolError("one priority per file range")
        new = bytearray(self._prio)
        covered = bytearray(self.num_pieces)
        for (offset, length), prio in zip(file_ranges, priorities, strict=True):
            if not 0 <= prio <= MAX_PRIORITY:
                raise LocalProtocolError(f"priority {prio} not in 0..{MAX_PRIORITY}")
            if length <= 0:
                continue
            if offset < 0 or offset + length > self.total_length:
                raise LocalProtocolError(f"file range {offset}+{length} outside the torrent")
            first, last = offset // self.piece_length, (offset + length - 1) // self.piece_length
            for piece in range(first, last + 1):
                if not covered[piece] or prio > new[piece]:
                    new[piece] = prio
                covered[piece] = 1
        self._prio = new
        self._rebuild()

    # ----------------------------------------------------------------- availability
    def peer_joined(self, peer: PeerKey, bitfield: Bitfield) -> None:
        """A peer told us what it has (bitfield, have-all, have-none: BEP 3, BEP 6)."""
        if peer in self._peers:
            raise LocalProtocolError(f"peer {peer!r} joined twice")
        if bitfield.size != self.num_pieces:
            raise LocalProtocolError(f"bitfield of {bitfield.size} for {self.num_pieces} pieces")
        if bitfield.all():
            self._peers[peer] = _Peer(None, self._m.all)
            self._m.seeds += 1
            return
        mask = self._m.from_bitfield(bitfield)
        self._peers[peer] = _Peer(bitfield.copy(), mask)
        self._m.add_counts(mask)

    def peer_has(self, peer: PeerKey, piece: int) -> None:
        """A `have` message. An unknown peer joins with an empty bitfield first."""
        self._check_piece(piece)
        ps = self._peers.get(peer)
        if ps is None:
            self.peer_joined(peer, Bitfield(self.num_pieces))
            ps = self._peers[peer]
        if ps.bits is None or not ps.bits.add(piece):
            return
        ps.mask = self._m.with_(ps.mask, piece)
        self._m.increment(piece)
        if ps.bits.all():
            self._become_seed(ps)

    def peer_has_all(self, peer: PeerKey) -> None:
        """BEP 6 `have all`, or the peer is otherwise known to be a seed."""
        ps = self._peers.get(peer)
        if ps is None:
            self.peer_joined(peer, Bitfield(self.num_pieces, full=True))
        elif ps.bits is not None:
            self._become_seed(ps)

    def _become_seed(self, ps: _Peer) -> None:
        self._m.subtract_counts(ps.mask)
        ps.bits, ps.mask = None, self._m.all
        self._m.seeds += 1

    def peer_left(self, peer: PeerKey) -> None:
        """The peer disconnected: its requests return to the pool, its pieces to nobody."""
        ps = self._peers.get(peer)
        if ps is None:
            return
        self.peer_choked(peer)
        if ps.bits is None:
            self._m.seeds -= 1
        else:
            self._m.subtract_counts(ps.mask)
        del self._peers[peer]

    def availability(self, piece: int) -> int:
        """How many connected peers have `piece`."""
        self._check_piece(piece)
        return self._m.count(piece)

    def availability_counts(self) -> list[int]:
        """`availability` of every piece, in index order (one pass over the slices)."""
        return self._m.counts()

    def is_interesting(self, bitfield: Bitfield) -> bool:
        """Whether a peer with `bitfield` has a wanted piece we lack (BEP 3 interest)."""
        if bitfield.size != self.num_pieces:
            raise LocalProtocolError(f"bitfield of {bitfield.size} for {self.num_pieces} pieces")
        if bitfield.all():
            return self._wanted_missing > 0
        return bool(int.from_bytes(bitfield.to_bytes(), "big") & self._m.wanted_by_index)

    def peer_is_interesting(self, peer: PeerKey) -> bool:
        """`is_interesting` for a joined peer, from what the picker knows it has."""
        ps = self._peers.get(peer)
        return ps is not None and bool(ps.mask & self._m.wanted)

    # ----------------------------------------------------------------- block states
    def requests_of(self, peer: PeerKey) -> frozenset[Block]:
        """The blocks this picker believes are requested from `peer`."""
        ps = self._peers.get(peer)
        return frozenset(ps.requests) if ps is not None else frozenset()

    def block_received(
        self, peer: PeerKey, block: Block
    ) -> tuple[bool, list[tuple[PeerKey, Block]]]:
        """A block arrived. Returns (the piece is now fully received, cancels to send).

        The cancels are the other peers this block was also requested from (end-game, BEP 3:
        "it sends cancels to everyone else every time a piece arrives"). A block that does not
        fit the piece geometry, or of a piece we have, is ignored: (False, []).
        """
        return self.block_arrived(peer, *block)

    def block_arrived(
        self, peer: PeerKey, piece: int, begin: int, length: int
    ) -> tuple[bool, list[tuple[PeerKey, Block]]]:
        """`block_received` of `Block(piece, begin, length)` without building the Block (the
        core's per-block path: a plain tuple hashes and compares as the Block does)."""
        if not self._valid(piece, begin, length):
            return False, []
        key = (piece, begin, length)
        ps = self._peers.get(peer)
        if ps is not None:
            ps.requests.discard(key)
        state = self._state[piece]
        if state >= _RECEIVED:  # RECEIVED or HAVE
            return False, []
        part = self._partials.get(piece)
        if part is None:  # unrequested but useful (BEP 6 lets cancelled requests complete)
            part = self._start(piece, None)
        idx = begin // BLOCK_SIZE
        if part.done[idx]:
            return False, []
        requesters = part.requesters[idx]
        cancels: list[tuple[PeerKey, Block]] = []
        if not requesters:
            part.n_free -= 1
        elif len(requesters) > 1 or requesters[0] != peer:  # end-game duplicates
            block = Block(piece, begin, length)
            for other in requesters:
                if other != peer:
                    ops = self._peers.get(other)
                    if ops is not None:
                        ops.requests.discard(key)
                    cancels.append((other, block))
        if requesters:
            part.requesters[idx] = []
        part.done[idx] = 1
        part.n_done += 1
        complete = part.n_done == len(part.done)
        if complete:
            self._state[piece] = PieceState.RECEIVED
            self._disown(piece, part)
        return complete, cancels

    def block_cancelled(self, peer: PeerKey, block: Block) -> None:
        """We cancelled the request: the block is free again (unless others have it)."""
        self._unrequest(peer, block)

    def block_rejected(self, peer: PeerKey, block: Block) -> None:
        """BEP 6 `reject request`. An owner with nothing left in flight gives the piece up."""
        self._unrequest(peer, block)
        part = self._partials.get(block.piece)
        if part is not None and part.owner == peer and not any(peer in r for r in part.requesters):
            self._disown(block.piece, part)
            self._orphans.add(block.piece)

    def peer_choked(self, peer: PeerKey) -> None:
        """All requests to `peer` are void (BEP 3 choke, snubbed, or leaving)."""
        ps = self._peers.get(peer)
        if ps is None:
            return
        for block in list(ps.requests):
            self._unrequest(peer, block)
        for piece in list(ps.owned):
            part = self._partials[piece]
            self._disown(piece, part)
            self._orphans.add(piece)

    def _unrequest(self, peer: PeerKey, block: Block) -> None:
        ps = self._peers.get(peer)
        if ps is not None:
            ps.requests.discard(block)
        part = self._partials.get(block.piece)
        if part is None or not self.is_valid_block(block):
            return
        reqs = part.requesters[block.begin // BLOCK_SIZE]
        if peer in reqs:
            reqs.remove(peer)
            if not reqs:
                part.n_free += 1

    # ----------------------------------------------------------------- partial pieces
    def _start(self, piece: int, owner: PeerKey | None) -> _Partial:
        part = _Partial(self.blocks_in_piece(piece), owner)
        self._partials[piece] = part
        self._state[piece] = PieceState.PARTIAL
        self._m.remove_free(piece)
        if owner is None:
            self._orphans.add(piece)
        else:
            self._peers[owner].owned.add(piece)
        return part

    def _disown(self, piece: int, part: _Partial) -> None:
        if part.owner is not None:
            ps = self._peers.get(part.owner)
            if ps is not None:
                ps.owned.discard(piece)
            part.owner = None
        self._orphans.discard(piece)

    def _drop_partial(self, piece: int) -> None:
        """Forget every block of `piece` (set_have, piece_failed) and make it FREE."""
        part = self._partials.pop(piece, None)
        if part is not None:
            self._disown(piece, part)
            for idx, reqs in enumerate(part.requesters):
                if reqs:
                    block = self._block(piece, idx)
                    for peer in reqs:
                        ps = self._peers.get(peer)
                        if ps is not None:
                            ps.requests.discard(block)
        self._state[piece] = PieceState.FREE
        if self._prio[piece]:
            self._m.add_free(piece)

    # ----------------------------------------------------------------- picking
    @property
    def endgame(self) -> bool:
        """Every wanted block some peer can give us is requested or received (BEP 3)."""
        if self._wanted_missing == 0:
            return False
        available = self._m.available()
        if self._m.free & available:
            return False
        for piece, part in self._partials.items():
            if (
                part.n_free
                and self._prio[piece]
                and self._state[piece] == PieceState.PARTIAL
                and self._m.contains(available, piece)
            ):
                return False
        return True

    def pick(
        self,
        peer: PeerKey,
        count: int,
        *,
        allowed: Collection[int] | None = None,
        suggested: Sequence[int] = (),
    ) -> list[Block]:
        """Up to `count` blocks to request from `peer` now; they are marked requested by it.

        `allowed` restricts the pieces (a BEP 6 allowed-fast set while the peer chokes us);
        `suggested` are pieces the peer suggested, taken (if still free) before other new ones.
        """
        ps = self._peers.get(peer)
        out: list[Block] = []
        if ps is None or count <= 0:
            return out
        for piece in sorted(ps.owned):
            if allowed is None or piece in allowed:
                self._take_free(peer, ps, piece, count, out)
        for piece in suggested:
            if len(out) >= count:
                break
            if (
                0 <= piece < self.num_pieces
                and self._state[piece] == PieceState.FREE
                and self._prio[piece]
                and ps.has(piece)
                and (allowed is None or piece in allowed)
            ):
                self._start(piece, peer)
                self._take_free(peer, ps, piece, count, out)
        if len(out) < count and self._orphans:
            for piece in self._ordered(self._orphans, ps, allowed):
                part = self._partials[piece]
                self._orphans.discard(piece)
                part.owner = peer
                ps.owned.add(piece)
                self._take_free(peer, ps, piece, count, out)
                if len(out) >= count:
                    break
        if len(out) < count:
            self._pick_new(peer, ps, count, out, allowed)
        if len(out) < count:
            for piece in self._ordered(self._partials, ps, allowed):
                self._take_free(peer, ps, piece, count, out)
                if len(out) >= count:
                    break
        if len(out) < count and self.endgame:
            self._pick_duplicates(peer, ps, count, out, allowed)
        return out

    def pick_in_piece(
        self, peer: PeerKey, piece: int, count: int, *, duplicate: bool = False
    ) -> list[Block]:
        """Up to `count` free blocks of `piece` for `peer`, whoever owns the piece: the
        time-critical requests of `swarm/deadlines.py`, spread over several fast peers.
        A piece started here has no owner and is no orphan, so no peer takes it over.
        With `duplicate`, blocks in flight to one other peer are asked again (a late piece).
        """
        ps = self._peers.get(peer)
        out: list[Block] = []
        if ps is None or count <= 0 or not ps.has(piece) or not self._prio[piece]:
            return out
        if self._state[piece] == PieceState.FREE:
            self._start(piece, None)
            self._orphans.discard(piece)
        if self._state[piece] != PieceState.PARTIAL:
            return out
        self._take_free(peer, ps, piece, count, out)
        part = self._partials[piece]
        for idx, reqs in enumerate(part.requesters):
            if len(out) >= count or not duplicate:
                break
            if not part.done[idx] and len(reqs) == 1 and peer not in reqs:
                reqs.append(peer)
                block = self._block(piece, idx)
                ps.requests.add(block)
                out.append(block)
        return out

    def _ordered(
        self, pieces: Collection[int], ps: _Peer, allowed: Collection[int] | None
    ) -> list[int]:
        """Partial pieces with free blocks the peer has: highest priority, fewest free first."""
        found = [
            p
            for p in pieces
            if self._prio[p]
            and self._state[p] == PieceState.PARTIAL
            and self._partials[p].n_free
            and ps.has(p)
            and (allowed is None or p in allowed)
        ]
        first = self._first_last
        found.sort(
            key=lambda p: (p not in first, -self._prio[p], self._partials[p].n_free, self._m.pos[p])
        )
        return found

    def _take_free(
        self, peer: PeerKey, ps: _Peer, piece: int, count: int, out: list[Block]
    ) -> None:
        part = self._partials[piece]
        if not part.n_free or not self._prio[piece]:
            return
        size = self.piece_size(piece)
        done = part.done
        add = ps.requests.add
        for idx, reqs in enumerate(part.requesters):
            if len(out) >= count:
                return
            if not reqs and not done[idx]:
                reqs.append(peer)
                part.n_free -= 1
                begin = idx * BLOCK_SIZE
                # Block(...) without its Python-level __new__: this runs per block requested
                block = _new_tuple(Block, (piece, begin, min(BLOCK_SIZE, size - begin)))
                add(block)
                out.append(block)
                if not part.n_free:
                    return  # the rest are requested or received

    def _pick_new(
        self, peer: PeerKey, ps: _Peer, count: int, out: list[Block], allowed: _Allowed
    ) -> None:
        m = self._m
        candidates = m.free & ps.mask
        if allowed is not None and candidates:
            candidates &= m.from_pieces(p for p in allowed if 0 <= p < self.num_pieces)
        random_order = m.sequential or self._have.count() < self._random_first
        levels = [m.prio[prio] for prio in range(MAX_PRIORITY, 0, -1)]
        if self._first_last_mask:
            levels.insert(0, self._first_last_mask)
        for mask in levels:
            if not candidates:
                return
            level = candidates & mask
            while level:
                # random first / sequential: lowest rank; otherwise the rarest, lowest rank first
                chosen = level if random_order else m.rarest(level)
                level ^= chosen
                candidates ^= chosen
                while chosen:
                    low = chosen & -chosen
                    chosen ^= low
                    piece = m.piece_at[low.bit_length() - 1]
                    self._start(piece, peer)
                    self._take_free(peer, ps, piece, count, out)
                    if len(out) >= count:
                        return

    def _pick_duplicates(
        self, peer: PeerKey, ps: _Peer, count: int, out: list[Block], allowed: _Allowed
    ) -> None:
        """End-game: blocks requested elsewhere, least-requested first (BEP 3 "endgame mode")."""
        choices: list[tuple[int, int, int]] = []
        for piece, part in self._partials.items():
            if (
                self._state[piece] != PieceState.PARTIAL
                or not self._prio[piece]
                or not ps.has(piece)
                or (allowed is not None and piece not in allowed)
            ):
                continue
            for idx, reqs in enumerate(part.requesters):
                if (
                    not part.done[idx]
                    and peer not in reqs
                    and len(reqs) <= ENDGAME_EXTRA_REQUESTERS
                ):
                    choices.append((len(reqs), piece, idx))
        choices.sort()
        for _n, piece, idx in choices[: count - len(out)]:
            part = self._partials[piece]
            reqs = part.requesters[idx]
            if not reqs:
                part.n_free -= 1
            reqs.append(peer)
            block = self._block(piece, idx)
            ps.requests.add(block)
            out.append(block)

    # ----------------------------------------------------------------- bulk state
    def set_sequential(self, sequential: bool) -> None:
        """Switch between index order and rarest-first (re-ranks every piece)."""
        if sequential == self._m.sequential:
            return
        self._m = PieceMasks(self.num_pieces, self._rng, sequential=sequential)
        self._first_last_mask = self._m.from_pieces(self._first_last)
        self._rebuild()
        self._rebuild_peers()

    @property
    def sequential(self) -> bool:
        return self._m.sequential

    def set_first_last(self, pieces: Collection[int]) -> None:
        """Pieces to start before any other new piece (see `first_last_pieces`); an empty
        collection turns the mode off. Pieces of priority 0 are still never picked."""
        for piece in pieces:
            self._check_piece(piece)
        self._first_last = frozenset(pieces)
        self._first_last_mask = self._m.from_pieces(self._first_last)

    @property
    def first_last(self) -> frozenset[int]:
        return self._first_last

    def _rebuild(self) -> None:
        """Recompute the piece sets and counters from the per-piece arrays."""
        self._m.load_pieces(self._prio, self._state)
        self._wanted_missing = 0
        self._wanted_missing_bytes = 0
        for piece, prio in enumerate(self._prio):
            if prio and self._state[piece] != PieceState.HAVE:
                self._wanted_missing += 1
                self._wanted_missing_bytes += self.piece_length
        last = self.num_pieces - 1
        if last >= 0 and self._prio[last] and self._state[last] != PieceState.HAVE:
            self._wanted_missing_bytes += self.piece_size(last) - self.piece_length

    def _rebuild_peers(self) -> None:
        """Recompute every peer's mask and the availability counts (after a re-rank)."""
        m = self._m
        m.seeds = 0
        m.slices = []
        for ps in self._peers.values():
            if ps.bits is None:
                ps.mask = m.all
                m.seeds += 1
            else:
                ps.mask = m.from_bitfield(ps.bits)
                m.add_counts(ps.mask)

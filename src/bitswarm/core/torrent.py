"""TorrentCore: the sans-IO brain of one torrent, sitting above its peer connections.

Theory of operation (as aioquic's H3Connection sits above QuicConnection):

* The driver owns sockets and hands the core each `PeerConnection` (itself sans-IO) with a
  key. It feeds every wire event in with `handle_peer_event(key, event, now=...)`, disk
  results with `piece_checked` / `block_read`, and the clock with `handle_timer(now=...)`.
* The core decides: what to request (the `PiecePicker`), whom to unchoke (the `Choker`),
  what to read or verify, whom to drop or ban.
* Its effects leave two ways, both drained by the driver after each call into the core:
  messages to peers are queued on their (sans-IO) connections with `send_*`, and the
  peers so touched are reported by `touched_peers()`: the driver flushes `data_to_send()`
  of those, and only those. Everything else (disk reads and verification, disconnects,
  bans, discovered peers, progress) is an action, drained with `actions()`. Queuing on
  the connection at once, not as a `SendX` action, keeps the connection's state (what is
  requested, who is choked) current for the core's next decision in the same call, and
  costs no object per message on the block path.

Rules:
* A block is copied once, into its piece's buffer; a full piece goes out as one
  `VerifyPiece`. Nothing is written before it is verified (BEP 3: pieces are checked by hash).
* A piece that fails its hash goes back to the picker; every peer that sent blocks of it
  is charged, and a peer charged with `ban_threshold` failed pieces is banned (smart ban).
* We only send a block for a request the peer still wants (not cancelled, not choked away).
* Requests are pipelined to a depth sized from each peer's measured rate (`request_queue`).
  End-game is strict (libtorrent's `strict_end_game_mode`): a peer gets a duplicate request
  only when nothing else is in flight to it, one block at a time; requesting a full queue
  of duplicates from every peer wasted ~5% of each leecher's download in the swarm lab.
* Seeding with a saturated upload (`upload_saturated`, which the driver sets while the
  kernel holds back bytes written to any peer's socket), a request for a piece another
  peer is fetching from us is rejected (BEP 6) when the requester has shown it gets pieces
  elsewhere (it announced one we never sent it): it can take that piece from the other
  peer once announced
  (`_another_fetches`). With upload to spare every request is served: in the P2 benchmark
  (8 leechers on loopback) rejecting regardless cost a quarter of the seed's throughput.
  When, besides, our peers pass pieces on among themselves fast (`SwarmDrain`: the swarm
  is seed-limited), a request for a piece some peer already holds is rejected the same way
  (`_others_hold`): our upload goes to pieces nobody has. Upload-limited swarms keep
  getting held pieces from us.
* A seed suggests (BEP 6) a different set of not-yet-sent pieces to each peer it unchokes,
  until every piece left it once (`PieceSpread`); a peer's suggestions steer our picker.
* Streaming (`set_piece_deadlines`, `swarm/deadlines.py`): pieces with a deadline are
  requested before any other, from all but the slowest peers (chosen again every 0.25 s
  from their rates and queues); a piece past its deadline is asked of a second peer. While
  a reader is open the time-critical peers' queues cover 1 s, not 3 s, since a seek's
  pieces wait behind what is queued. Requests are not cancelled to make room: a cancelled
  block asked again may come twice (BEP 6 answers each request once), which the wire
  layer would take for unrequested data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..addresses import PeerKey
from ..bitfield import Bitfield
from ..swarm.choker import Choker, PeerStats, SeedingAlgorithm
from ..swarm.deadlines import DeadlineQueue, PeerLoad, fast_peers, pick_critical, pick_late
from ..swarm.picker import Block, PiecePicker, PieceState
from ..swarm.piece_spread import MAX_AHEAD, PieceSpread
from ..swarm.rate import RateMeter
from ..swarm.request_queue import RequestQueueSizer
from ..swarm.swarm_drain import SwarmDrain
from ..wire import events as ev
from .actions import (
    Action,
    BanPeer,
    DisconnectPeer,
    PeersDiscovered,
    PieceBuffer,
    PieceVerified,
    ReadBlock,
    TorrentCompleted,
    TorrentReopened,
    VerifyPiece,
)
from .extensions import ExtensionHub, PeerAddr

if TYPE_CHECKING:
    from random import Random

    from ..wire.connection import PeerConnection

__all__ = ["BOTH_SEEDS", "CoreConfig", "PeerInfo", "TorrentCore"]

BLOCK = 16 * 1024
BOTH_SEEDS = "both sides are seeds"  # the reason a seed drops a seed
SNUB_SECONDS = 60.0
POOL_BYTES = 48 * 2**20  # free piece buffers kept for reuse while downloading (none once done)
TICK_SECONDS = 1.0
ENDGAME_BLOCKS = 1
STREAM_QUEUE_SECONDS = 1.0  # while streaming: a fast peer's queue covers this much time
STREAM_MIN_DEPTH = 8
RANK_SECONDS = 0.25  # how often the time-critical peers are chosen again from their rates


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Swarm policy settings; the choker's are explained in `swarm/choker.py`."""

    # while leeching: tit-for-tat slots, the optimistic one included. 8 as libtorrent's
    # `unchoke_slots_limit` (BEP 3's client had 4): in the upload-limited swarm lab 4
    # slots left the leechers' curves fanned out (E 0.858/0.860 against 0.869/0.883)
    unchoke_slots: int = 8
    seed_unchoke_slots: int = 8  # while seeding (libtorrent's default unchoke_slots_limit)
    rechoke_interval: float = 10.0
    ban_threshold: int = 2
    max_queue_depth: int = 500
    seeding_algorithm: SeedingAlgorithm = "fastest_upload"


@dataclass(slots=True)
class PeerInfo:
    """What the core knows of one peer, beyond its connection's own state."""

    conn: PeerConnection
    connected_at: float
    down: RateMeter = field(default_factory=RateMeter)
    up: RateMeter = field(default_factory=RateMeter)
    last_block_at: float = 0.0
    last_unchoked_at: float | None = None
    handshaken: bool = False  # we saw its handshake and sent our bitfield: messages may flow
    joined_picker: bool = False
    failed_pieces: int = 0
    queue: RequestQueueSizer = field(default_factory=RequestQueueSizer)
    suggested: list[int] = field(default_factory=list)  # its BEP 6 suggestions, newest last
    fetching: set[int] = field(default_factory=set)  # seeding: pieces it asked us for, not had
    trades: bool = False  # it announced a piece it did not get from us: it has other sources


class TorrentCore:
    """One torrent's swarm logic over many peer connections. No I/O, no clock reads."""

    def __init__(
        self,
        *,
        num_pieces: int,
        piece_length: int,
        total_length: int,
        have: Bitfield,
        rng: Random,
        config: CoreConfig | None = None,
        now: float = 0.0,
        info_raw: bytes | None = None,
        private: bool = False,
        listen_port: int | None = None,
        own_addresses: Iterable[PeerAddr] = (),
    ) -> None:
        self.config = config or CoreConfig()
        self.num_pieces = num_pieces
        self.piece_length = piece_length
        self.total_length = total_length
        self.have = have
        self.rng = rng
        self.picker = PiecePicker(
            num_pieces=num_pieces,
            piece_length=piece_length,
            total_length=total_length,
            rng=rng,
            have=have,
        )
        self.choker = Choker(
            slots=self.config.unchoke_slots,
            seed_slots=self.config.seed_unchoke_slots,
            rechoke_interval=self.config.rechoke_interval,
            seeding_algorithm=self.config.seeding_algorithm,
        )
        self.extensions = ExtensionHub(
            info_raw=info_raw, private=private, own_addresses=own_addresses
        )
        self.listen_port = listen_port
        self.peers: dict[PeerKey, PeerInfo] = {}
        self.down = RateMeter()
        self.up = RateMeter()
        self.downloaded = 0  # payload bytes received (including wasted)
        self.uploaded = 0
        self.wasted = 0
        # pieces being assembled: the buffer, and who sent blocks (the same set as in
        # `_contributors`, which keeps it until the hash check for smart ban)
        self._assembling: dict[int, tuple[PieceBuffer, set[PeerKey]]] = {}
        self._pool: list[PieceBuffer] = []
        self.piece_buffer: Callable[[int], PieceBuffer] = bytearray
        """Makes a piece's assembly buffer of a given size; the runtime sets a page-aligned
        one when the disk writes with O_DIRECT (`storage.filesystem.aligned_piece_buffer`)."""
        self._contributors: dict[int, set[PeerKey]] = {}
        self._verifying: set[int] = set()
        self._actions: list[Action] = []
        self._touched: set[PeerKey] = set()  # peers given messages since `touched_peers()`
        self._next_rechoke = now + self.config.rechoke_interval
        self._next_tick = now + TICK_SECONDS
        self._completed_reported = self.picker.is_complete()
        self.spread: PieceSpread | None = None
        # set by the driver: our upload link is the bottleneck (see the module docstring)
        self.upload_saturated = False
        self._fetcher: dict[int, PeerKey] = {}  # seeding: the peer fetching a piece from us
        self.drain = SwarmDrain()  # seeding: do our peers pass pieces on fast?
        self.deadlines = DeadlineQueue()  # streaming: time-critical pieces
        self._critical_peers: set[PeerKey] = set()  # the peers that get time-critical blocks
        self._rank_due = 0.0  # when to choose them again (rates change)
        if self.is_seed:
            self.spread = PieceSpread(num_pieces, rng)

    # ------------------------------------------------------------------ public surface
    @property
    def is_seed(self) -> bool:
        return self.have.all()

    @property
    def is_complete(self) -> bool:
        """Every wanted piece is verified (what `download --no-seed` waits for)."""
        return self.picker.is_complete()

    def actions(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    def touched_peers(self) -> set[PeerKey]:
        """The peers whose connections were given messages since the last call: the
        driver flushes their `data_to_send()` (no other peer has anything new from us)."""
        out, self._touched = self._touched, set()
        sent = self.extensions.sent
        if sent:
            out |= sent
            sent.clear()
        return out

    def get_timer(self) -> float:
        return min(self._next_rechoke, self._next_tick)

    def set_file_priorities(
        self, file_ranges: Sequence[tuple[int, int]], priorities: Sequence[int], *, now: float
    ) -> None:
        """Set which files to download (0: not at all, 1..7: higher first), live.

        `file_ranges` holds each file's (offset, length) in the piece space; a piece takes
        the highest priority of the files it holds bytes of (`PiecePicker`). When no wanted
        piece is left the torrent completes (`TorrentCompleted`, once until it reopens);
        when pieces we lack become wanted after that, `TorrentReopened`. Either way our
        interest is brought up to date with every peer (BEP 3: interested means "they have
        a piece we want") and requests go out for the newly wanted pieces.
        """
        self.picker.set_file_priorities(file_ranges, priorities)
        complete = self.picker.is_complete()
        if complete and not self._completed_reported:
            self._completed_reported = True
            self._actions.append(TorrentCompleted())
        elif not complete and self._completed_reported:
            self._completed_reported = False
            self._actions.append(TorrentReopened())
        self._request_from_all(now, update_interest=True)

    def set_piece_order(
        self, *, sequential: bool, first_last: Iterable[int] = (), now: float
    ) -> None:
        """Pick new pieces in index order (`sequential`) or rarest first, and start the
        pieces `first_last` before all others (`PiecePicker.set_first_last`), live:
        requests already out stay; the next ones follow the new order."""
        self.picker.set_sequential(sequential)
        self.picker.set_first_last(frozenset(first_last))

    def set_piece_deadlines(
        self, owner: Hashable, deadlines: Mapping[int, float], *, now: float
    ) -> None:
        """`owner` (a reader) needs these pieces by these times (on the `now` clock); it
        replaces what `owner` asked before (a seek moves the window). Pieces we have are
        left out. Requests go out at once, time-critical blocks first."""
        wanted = {p: d for p, d in deadlines.items() if 0 <= p < self.num_pieces}
        wanted = {p: d for p, d in wanted.items() if p not in self.have}
        self.deadlines.set_owner(owner, wanted)
        self._rank_critical(now)
        self._request_from_all(now)

    def _request_from_all(self, now: float, *, update_interest: bool = False) -> None:
        """After a change of what we want: every peer in the swarm is asked again (and,
        with `update_interest`, told whether we are interested now)."""
        for key, info in list(self.peers.items()):
            if info.joined_picker and info.handshaken:
                if update_interest:
                    self._update_interest(key, info)
                self._request_more(key, info, now)

    def release_deadlines(self, owner: Hashable) -> None:
        """`owner` needs nothing any more (a reader closed): its deadlines go."""
        self.deadlines.release(owner)

    def _rank_critical(self, now: float) -> None:
        """Choose the peers that get time-critical blocks (`fast_peers`)."""
        loads = [
            self._load(key, info, now)
            for key, info in self.peers.items()
            if not info.conn.closed and info.joined_picker
        ]
        self._critical_peers = set(fast_peers(loads))
        self._rank_due = now + RANK_SECONDS

    def _request_late(self, now: float) -> None:
        """Blocks of pieces past their deadline asked of a second, fast peer, within the
        room left in its (short) queue."""
        room = {}
        for key in self._ranked_critical(now):
            info = self.peers[key]
            if not info.conn.peer_choking and info.conn.am_interested:
                room[key] = self._stream_depth(info, now) - info.conn.outstanding_count
        for key, block in pick_late(self.picker, self.deadlines, room, now):
            self.peers[key].conn.send_request(block.piece, block.begin, block.length)
            self._touched.add(key)

    def _stream_depth(self, info: PeerInfo, now: float) -> int:
        """A time-critical peer's queue depth while a reader is open: 1 s of its rate."""
        cap = math.ceil(info.down.rate(now) * STREAM_QUEUE_SECONDS / BLOCK)
        return min(info.queue.depth, max(STREAM_MIN_DEPTH, cap))

    def _ranked_critical(self, now: float) -> list[PeerKey]:
        loads = [
            self._load(key, info, now)
            for key in self._critical_peers
            if (info := self.peers.get(key)) is not None and not info.conn.closed
        ]
        return [p.key for p in sorted(loads, key=lambda p: p.queue_time)]

    @staticmethod
    def _load(key: PeerKey, info: PeerInfo, now: float) -> PeerLoad:
        """What `fast_peers` weighs: the bytes a peer owes us and its rate."""
        return PeerLoad(key, info.conn.outstanding_count * BLOCK, info.down.rate(now))

    def piece_map(self) -> tuple[list[int], list[int]]:
        """The pieces partly received, in flight or awaiting their hash check, and how
        many connected peers have each piece: for a piece map display."""
        return self.picker.partial_pieces(), self.picker.availability_counts()

    def is_snubbed(self, info: PeerInfo, now: float) -> bool:
        """The peer owes us blocks and sent none for `SNUB_SECONDS`."""
        return bool(info.conn.outstanding_requests) and now - info.last_block_at > SNUB_SECONDS

    def add_peer(
        self,
        key: PeerKey,
        conn: PeerConnection,
        *,
        now: float,
        outgoing: bool = False,
        address: PeerAddr | None = None,
    ) -> None:
        """A new connection. `address` is the peer's listen address when we dialled it."""
        self.extensions.add_peer(key, conn, outgoing=outgoing, address=address)
        self.peers[key] = PeerInfo(
            conn=conn,
            connected_at=now,
            last_block_at=now,
            queue=RequestQueueSizer(maximum=self.config.max_queue_depth),
        )

    def remove_peer(self, key: PeerKey, *, now: float | None = None) -> None:
        """Forget a peer; with `now`, its upload slot (if it had one) is refilled at once."""
        info = self.peers.pop(key, None)
        self.extensions.remove_peer(key)
        if info is None:
            return
        if info.joined_picker:
            self.picker.peer_left(key)
        if self.spread is not None:
            self.spread.release(key)
        self._forget_fetching(key, info)
        if now is not None and not info.conn.am_choking:
            self._refill(now)

    def listen_address(self, key: PeerKey) -> PeerAddr | None:
        """Where the peer accepts connections: the address we dialled, or for a peer that
        dialled us the port its extension handshake named (BEP 10 "p"); None if unknown."""
        return self.extensions.peer_address(key)

    def handle_peer_event(self, key: PeerKey, event: ev.Event, *, now: float) -> None:
        info = self.peers.get(key)
        if info is None:
            return
        conn = info.conn
        if type(event) is ev.PieceReceived:  # the hot path first: match tries cases in order
            self._on_blocks(key, info, (event,), now)
            return
        match event:
            case ev.HandshakeReceived():
                info.handshaken = True
                self._on_handshake(key, conn)
            case ev.BitfieldReceived(bitfield=bits):
                self._join_picker(key, info, bits)
                if self.is_seed and not bits.none():
                    info.trades = True  # it got those pieces elsewhere
                if self.spread is not None:
                    for index in bits:
                        self.spread.piece_out(index)
            case ev.HaveAllReceived():
                self._join_picker(key, info, Bitfield(self.num_pieces, full=True))
            case ev.HaveNoneReceived():
                self._join_picker(key, info, Bitfield(self.num_pieces))
            case ev.HaveReceived(index=index):
                if not info.joined_picker:
                    self._join_picker(key, info, Bitfield(self.num_pieces))
                self.picker.peer_has(key, index)
                self._update_interest(key, info)
                if self.spread is not None:
                    self.spread.piece_out(index)  # it got the piece: it is in the swarm
                if index in info.fetching:
                    info.fetching.discard(index)
                    if self._fetcher.get(index) == key:
                        del self._fetcher[index]
                else:
                    info.trades = True
                    if self.is_seed:
                        self.drain.traded(now)
            case ev.Unchoked():
                if self.deadlines.active:
                    self._rank_critical(now)
                self._request_more(key, info, now)
            case ev.Choked():
                if not conn.supports_fast:  # BEP 3: a choke discards pending requests;
                    self.picker.peer_choked(key)  # BEP 6: they stay until rejected
            case ev.Interested():
                self._refill(now)
            case ev.NotInterested():
                if not conn.am_choking:  # it wants nothing: its slot goes to someone who does
                    self._choke(key, info)
                    self._refill(now)
            case ev.RequestReceived(index=index, begin=begin, length=length):
                self._on_request(key, info, index, begin, length)
            case ev.RejectReceived(index=index, begin=begin, length=length):
                # Not re-requested at once: a peer that rejects would ping-pong with us.
                # The next tick asks again (BEP 6 allows rejects for any reason).
                self.picker.block_rejected(key, Block(index, begin, length))
            case ev.ExtendedHandshakeReceived(fields=fields):
                self.extensions.on_handshake(key, fields, host=self._host(key), now=now)
            case ev.ExtendedMessageReceived(ext_id=ext_id, payload=payload):
                reason = self.extensions.on_message(key, ext_id, payload, now=now)
                if reason is not None:
                    self._actions.append(DisconnectPeer(key, reason))
                self._report_learned()
            case ev.SuggestReceived(index=index):
                if 0 <= index < self.num_pieces and index not in self.have:
                    info.suggested.append(index)
                    del info.suggested[:-MAX_AHEAD]
            case ev.AllowedFastReceived() | ev.CancelReceived():
                pass  # cancels are tracked by the connection's peer_requests
            case ev.ConnectionClosed():
                self.remove_peer(key, now=now)
            case _:
                pass

    def piece_checked(self, piece: int, ok: bool, *, now: float) -> None:
        """The disk worker's verdict on a `VerifyPiece`."""
        self._verifying.discard(piece)
        contributors = self._contributors.pop(piece, set())
        if ok:
            self.have.add(piece)
            self.picker.piece_passed(piece)
            self.deadlines.discard(piece)
            self._actions.append(PieceVerified(piece))
            touched = self._touched
            for key, info in list(self.peers.items()):
                if info.conn.closed or not info.handshaken:
                    continue  # a peer still handshaking gets the piece in our bitfield
                info.conn.send_have(piece)
                touched.add(key)
                self._update_interest(key, info)
            if not self._completed_reported and self.picker.is_complete():
                self._completed_reported = True
                self._actions.append(TorrentCompleted())
                self._pool.clear()  # a seed assembles no pieces
                self._drop_seeds_if_seed()
                if self.is_seed:
                    self.spread = PieceSpread(self.num_pieces, self.rng)
                self._refill(now)  # a seed has more slots
            return
        self.wasted += self._piece_size(piece)
        self.picker.piece_failed(piece)
        for key in contributors:
            sender = self.peers.get(key)
            if sender is None:
                continue
            sender.failed_pieces += 1
            if sender.failed_pieces >= self.config.ban_threshold:
                self._actions.append(
                    BanPeer(key, f"sent data for {sender.failed_pieces} pieces that failed")
                )
                self.remove_peer(key, now=now)
        for key, info in list(self.peers.items()):
            self._request_more(key, info, now)

    def block_read(self, key: PeerKey, piece: int, begin: int, data: bytes, *, now: float) -> None:
        """The bytes for a `ReadBlock`: send them if the peer still wants them."""
        info = self.peers.get(key)
        if info is None or info.conn.closed:
            return
        if (piece, begin, len(data)) not in info.conn.peer_requests:
            return  # cancelled, or choked away, while we read
        info.conn.send_piece(piece, begin, data)
        self._touched.add(key)
        n = len(data)
        self.uploaded += n
        self.up.add(n, now)
        info.up.add(n, now)

    def handle_timer(self, *, now: float) -> None:
        if now >= self._next_tick:
            self._next_tick = now + TICK_SECONDS
            for key, info in list(self.peers.items()):
                if info.conn.closed:
                    continue
                if info.conn.outstanding_requests and now - info.last_block_at > SNUB_SECONDS:
                    self._snubbed(key, info)
                else:
                    info.queue.tick(info.down.rate(now))
                self._request_more(key, info, now)
            if self.deadlines.active:
                self._rank_critical(now)
                self._request_late(now)
            self.extensions.poll_pex(now=now)
            if self.is_seed and self.upload_saturated:  # the only time the verdict is used
                self._update_drain(now)
            else:
                self.drain.keeps_up = False
        if now >= self._next_rechoke:
            self._next_rechoke = now + self.config.rechoke_interval
            self._rechoke(now)

    # ------------------------------------------------------------------ internals
    def _piece_size(self, piece: int) -> int:
        if piece == self.num_pieces - 1:
            return self.total_length - piece * self.piece_length
        return self.piece_length

    def _on_handshake(self, key: PeerKey, conn: PeerConnection) -> None:
        if conn.supports_extended:
            conn.send_extended_handshake(
                self.extensions.handshake_payload(listen_port=self.listen_port)
            )
        conn.send_bitfield(self.have)
        self._touched.add(key)

    def _host(self, key: PeerKey) -> str:
        """The peer's IP, from its address when the driver gave one (for PEX)."""
        addr = self.extensions.peer_address(key)
        if addr is not None:
            return addr[0]
        host = getattr(key, "address", None)
        return str(host[0]) if isinstance(host, tuple) and host else ""

    def _report_learned(self) -> None:
        learned = self.extensions.take_learned()
        if learned:
            self._actions.append(PeersDiscovered(tuple(learned), "pex"))

    def _join_picker(self, key: PeerKey, info: PeerInfo, bits: Bitfield) -> None:
        if info.joined_picker:
            return
        if self.is_seed and bits.all() and self.num_pieces:
            self._actions.append(DisconnectPeer(key, BOTH_SEEDS))  # nothing to trade
            return
        info.joined_picker = True
        self.picker.peer_joined(key, bits)
        self._update_interest(key, info)

    def _update_interest(self, key: PeerKey, info: PeerInfo) -> None:
        conn = info.conn
        if conn.closed:
            return
        interesting = not self.picker.is_complete() and self.picker.is_interesting(conn.peer_has)
        if interesting and not conn.am_interested:
            conn.send_interested()
            self._touched.add(key)
        elif not interesting and conn.am_interested:
            conn.send_not_interested()
            self._touched.add(key)

    def _drop_seeds_if_seed(self) -> None:
        if not self.is_seed:
            return
        for key, info in list(self.peers.items()):
            if info.conn.peer_has.all():
                self._actions.append(DisconnectPeer(key, BOTH_SEEDS))

    def _refill(self, now: float) -> None:
        """Unchoke at once into free slots, rather than waiting for the next rechoke."""
        seeding = self.is_seed
        slots = self.choker.slots_for(seeding=seeding)
        busy = sum(
            1 for p in self.peers.values() if p.conn.peer_interested and not p.conn.am_choking
        )
        if busy >= slots:
            return  # the common case, without building every peer's statistics
        for key in self.choker.refill(self._stats(now), seeding=seeding, now=now):
            self._unchoke(key, self.peers[key], now)

    def _unchoke(self, key: PeerKey, info: PeerInfo, now: float) -> None:
        self._suggest(key, info)  # before the unchoke, so that its first requests follow them
        info.conn.send_unchoke()
        self._touched.add(key)
        info.last_unchoked_at = now

    def _suggest(self, key: PeerKey, info: PeerInfo) -> None:
        """Top up the pieces reserved for this peer (see `PieceSpread`) and suggest them:
        two pieces beyond what its queued requests to us cover."""
        spread = self.spread
        conn = info.conn
        if spread is None or not conn.supports_fast:
            return
        ahead = 2 + -(-len(conn.peer_requests) * BLOCK // self.piece_length)
        for piece in spread.top_up(key, conn.peer_has, ahead):
            conn.send_suggest(piece)
            self._touched.add(key)
        if spread.done:
            self.spread = None

    def _stats(self, now: float) -> list[PeerStats]:
        return [
            PeerStats(
                key=key,
                interested=info.conn.peer_interested,
                download_rate=info.down.rate(now),
                upload_rate=info.up.rate(now),
                snubbed=self.is_snubbed(info, now),
                is_choked=info.conn.am_choking,
                connected_at=info.connected_at,
                last_unchoked_at=info.last_unchoked_at,
                uploaded_total=info.up.total,
                downloaded_total=info.down.total,
            )
            for key, info in self.peers.items()
            if not info.conn.closed
        ]

    def _rechoke(self, now: float) -> None:
        decision = self.choker.rechoke(
            self._stats(now), seeding=self.is_seed, now=now, rng=self.rng
        )
        for key, info in self.peers.items():
            if info.conn.closed:
                continue
            if key in decision.unchoke:
                if info.conn.am_choking:
                    self._unchoke(key, info, now)
            elif not info.conn.am_choking:
                self._choke(key, info)

    def _choke(self, key: PeerKey, info: PeerInfo) -> None:
        if self.spread is not None:
            self.spread.release(key)
        self._forget_fetching(key, info)
        conn = info.conn
        pending = list(conn.peer_requests)
        conn.send_choke()
        self._touched.add(key)
        if conn.supports_fast:  # BEP 6: a choke must be followed by rejects
            for index, begin, length in pending:
                conn.send_reject(index, begin, length)

    def _on_request(
        self, key: PeerKey, info: PeerInfo, index: int, begin: int, length: int
    ) -> None:
        conn = info.conn
        if conn.am_choking or index not in self.have:
            if conn.supports_fast:
                conn.send_reject(index, begin, length)
                self._touched.add(key)
            return
        if self.is_seed and (
            self._others_hold(key, info, index) or self._another_fetches(key, info, index)
        ):
            conn.send_reject(index, begin, length)
            self._touched.add(key)
            return
        self._actions.append(ReadBlock(key, index, begin, length))
        if self.spread is not None:
            self.spread.piece_out(index)
            self._suggest(key, info)

    def _another_fetches(self, key: PeerKey, info: PeerInfo, index: int) -> bool:
        """Seeding: should this request wait because another peer is fetching the piece
        from us? Only for a peer that can be told so (BEP 6 reject) and that has shown it
        gets pieces from others: it can take this one from that peer once announced, and
        until then our upload is better spent on pieces nobody has. Without those signs
        (e.g. leechers connected to us alone), or with upload to spare, every request is
        served."""
        holder = self._fetcher.get(index)
        if holder is None:
            self._fetcher[index] = key
            info.fetching.add(index)
            return False
        if holder == key:
            return False
        return self.upload_saturated and info.trades and info.conn.supports_fast

    def _others_hold(self, key: PeerKey, info: PeerInfo, index: int) -> bool:
        """Seeding: should this request wait because a peer already holds the piece and
        our peers pass pieces on fast (`SwarmDrain`: the swarm is seed-limited)? The same
        signs as `_another_fetches` are required; a piece the requester is already fetching
        from us is served to the end."""
        return (
            self.drain.keeps_up
            and self.upload_saturated
            and info.trades
            and info.conn.supports_fast
            and self._fetcher.get(index) != key
            and self.picker.availability(index) > 0
        )

    def _update_drain(self, now: float) -> None:
        """About once a second while seeding: how fast do our peers spread pieces?"""
        peers = sum(1 for i in self.peers.values() if i.joined_picker and not i.conn.closed)
        sent = self.up.rate(now) / self.piece_length
        self.drain.update(self.picker.availability_counts(), peers, sent, now)

    def _forget_fetching(self, key: PeerKey, info: PeerInfo) -> None:
        """The peer stops fetching from us (choked, gone): others may ask for its pieces."""
        for index in info.fetching:
            if self._fetcher.get(index) == key:
                del self._fetcher[index]
        info.fetching.clear()

    def handle_blocks(
        self, key: PeerKey, blocks: Sequence[ev.PieceReceived], *, now: float
    ) -> None:
        """A run of blocks from one peer, in the order they arrived: what `handle_peer_event`
        does for each `PieceReceived`, with the per-peer bookkeeping (rate meters, the
        pipelining depth, the next requests) done once for the run rather than per block
        (one read of a fast peer holds ~16 blocks)."""
        info = self.peers.get(key)
        if info is not None and blocks:
            self._on_blocks(key, info, blocks, now)

    def _on_blocks(
        self, key: PeerKey, info: PeerInfo, blocks: Sequence[ev.PieceReceived], now: float
    ) -> None:
        total = 0
        assembling = self._assembling
        arrived = self.picker.block_arrived
        for event in blocks:
            index, begin, data = event.index, event.begin, event.data
            n = len(data)
            total += n
            entry = assembling.get(index)  # a piece being assembled is neither had nor checked
            if entry is None and (index in self.have or index in self._verifying):
                self.wasted += n
                continue
            complete, cancels = arrived(key, index, begin, n)
            if cancels:
                self._send_cancels(cancels)
            if entry is None:
                buf = self._new_buffer(self._piece_size(index))
                entry = assembling[index] = (buf, self._contributors.setdefault(index, set()))
            buf, contributors = entry
            buf[begin : begin + n] = data
            contributors.add(key)
            if complete:
                del assembling[index]
                self._verifying.add(index)
                self._actions.append(VerifyPiece(index, buf))  # the buffer is handed over
        self.downloaded += total
        self.down.add(total, now)
        info.down.add(total, now)
        info.last_block_at = now
        info.queue.blocks_received(len(blocks))
        self._request_more(key, info, now)

    def _send_cancels(self, cancels: list[tuple[PeerKey, Block]]) -> None:
        """End-game: a block arrived, so the other peers asked for it get a cancel (BEP 3)."""
        for other, block in cancels:
            oinfo = self.peers.get(other)
            if oinfo is not None and not oinfo.conn.closed:
                oinfo.conn.send_cancel(block.piece, block.begin, block.length)
                self._touched.add(other)

    def _new_buffer(self, size: int) -> PieceBuffer:
        """A piece buffer, reused when one of the right size is free: fresh large buffers
        cost page faults on every piece. Every block overwrites its part, so no zeroing."""
        pool = self._pool
        for i in range(len(pool) - 1, -1, -1):
            if len(pool[i]) == size:
                return pool.pop(i)
        return self.piece_buffer(size)

    def recycle(self, buffer: PieceBuffer) -> None:
        """Give back a `VerifyPiece` buffer once the disk is done with it. Up to
        `POOL_BYTES` are kept while downloading (the disk backlog's bound: never more than
        was in use at once): writes finish in bursts, and a fresh buffer costs a page
        fault per 4 KiB when it is filled."""
        if self._completed_reported or (len(self._pool) + 1) * len(buffer) > POOL_BYTES:
            return
        self._pool.append(buffer)

    def _snubbed(self, key: PeerKey, info: PeerInfo) -> None:
        """A peer sent nothing for a minute: cancel our requests and give them to others."""
        self.picker.peer_choked(key)
        info.queue.snubbed()
        conn = info.conn
        for index, begin, length in list(conn.outstanding_requests):
            conn.send_cancel(index, begin, length)
            self._touched.add(key)

    def _request_more(self, key: PeerKey, info: PeerInfo, now: float) -> None:
        conn = info.conn
        if conn.closed or conn.peer_choking or not conn.am_interested:
            return
        depth = info.queue.depth
        critical = False
        if self.deadlines.active:
            if now >= self._rank_due:
                self._rank_critical(now)
                self._request_late(now)
            critical = key in self._critical_peers
        if critical:  # a short queue, so that a seek's pieces are not served seconds late
            depth = self._stream_depth(info, now)
        outstanding = conn.outstanding_count
        want = depth - outstanding
        if want <= 0 or (want < depth // 4 and outstanding):
            return  # refill in batches, not one block per arriving block
        if self.picker.endgame:
            if conn.outstanding_requests:
                return
            want = min(want, ENDGAME_BLOCKS)
        suggested = info.suggested
        blocks = []
        if critical and self.deadlines:  # time-critical pieces first
            blocks = pick_critical(self.picker, self.deadlines, key, want)
        if len(blocks) < want:
            blocks += self.picker.pick(key, want - len(blocks), suggested=suggested)
        if blocks:
            conn.send_requests(blocks)
            self._touched.add(key)
        if suggested:
            state = self.picker.piece_state
            info.suggested = [p for p in suggested if state(p) is PieceState.FREE]

"""TorrentRuntime: one torrent inside a running session (L3 composition).

It owns the torrent's sans-IO `TorrentCore`, its storage and disk worker, its peer
sockets and its announcer, and carries out the core's actions: verify-and-write pieces
off the loop, read blocks for uploads with backpressure, disconnect and ban peers. After
each call into the core it flushes the sockets of the peers the core reports touched
(`TorrentCore.touched_peers`), not every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import (
    Callable,
    Coroutine,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any

from ..aio.disk import DiskWorker
from ..aio.peer import Backlog, PeerProtocol
from ..bitfield import Bitfield
from ..core.actions import (
    BanPeer,
    DisconnectPeer,
    PeersDiscovered,
    PieceVerified,
    ReadBlock,
    TorrentCompleted,
    TorrentReopened,
    VerifyPiece,
)
from ..core.torrent import BOTH_SEEDS, CoreConfig, TorrentCore
from ..errors import BitswarmError, MetainfoError, StorageError, TorrentFailed
from ..metainfo import Metainfo, safe_relative_path
from ..ratelimit import consume_all, rate_bucket, read_allowance
from ..storage.filesystem import FileStorage, aligned_piece_buffer
from ..storage.layout import FileSpec, Layout
from ..storage.parts import parts_file_name
from ..swarm.picker import first_last_pieces
from ..wire import events as ev
from ..wire.connection import PeerConnection
from ..wire.mse import encryption_hint
from .announcer import Announcer, AnnounceStats
from .dialer import REFUSED_BY_US, Dialer
from .hash_service import HashService
from .host import SessionHost
from .peer_view import peer_snapshots, piece_states
from .resume_keeper import ResumeKeeper
from .resume_store import FileResumeStore, ResumeStore
from .slots import PeerFacts, SlotKeeper, SlotRules
from .status import (
    FileProgress,
    PeerSnapshot,
    TorrentState,
    TorrentStatus,
    Transfer,
    file_progress,
)
from .uploads import Uploader
from .v2_hashes import V2Hashes
from .wanted import WantedFiles

__all__ = ["TorrentRuntime"]

_HASH_EVENTS = (ev.HashRequestReceived, ev.HashesReceived, ev.HashRejectReceived)
log = logging.getLogger("bitswarm.torrent")

MAX_UNWRITTEN = 48 * 2**20
RESUME_UNWRITTEN = 32 * 2**20  # sockets held for the disk read again below this
HAVE_FLUSH_DELAY = 0.02
"""Seconds a verified piece's haves may wait for another write to the same peer."""
SEED_REDIAL = 30 * 60.0  # a seed we met while seeding is not dialled again before this
FEW_PEERS = 5  # below this many connections a downloader asks trackers for more, sooner
DHT_EVERY = 15 * 60.0  # BEP 5 peers expire after 30 minutes: announce well within that
DHT_EVERY_WHEN_FEW = 60.0


def build_layout(
    meta: Metainfo, file_paths: Sequence[tuple[str, ...] | None] | None = None
) -> Layout:
    """The torrent's files in the piece space; `file_paths` (one per entry of
    `meta.info.files`, None to keep the torrent's own) places files elsewhere below the
    download folder: renamed files (each checked with `safe_relative_path`)."""
    files = meta.info.files
    if file_paths is not None and len(file_paths) != len(files):
        raise BitswarmError(f"{len(file_paths)} file paths for {len(files)} files")
    specs = []
    for i, f in enumerate(files):
        path = f.path
        if file_paths is not None and file_paths[i] is not None and not f.is_pad:
            try:
                path = safe_relative_path(file_paths[i] or ())
            except MetainfoError as exc:
                raise BitswarmError(f"file {i}: {exc}") from None
        specs.append(FileSpec(path=path, length=f.length, is_pad=f.is_pad))
    return Layout(specs, meta.info.piece_length)


class TorrentRuntime:
    """A torrent being downloaded or seeded by a `Session`: what `Session.add` returns.

    Await `wait_complete()` for the download, read `status()` for progress; `stop()` (or
    closing the session) stops it.
    """

    def __init__(
        self,
        session: SessionHost,
        meta: Metainfo,
        save_path: Path,
        *,
        peers: Iterable[tuple[str, int]] = (),
        trackers: Iterable[str] = (),
        resume_path: Path | None = None,
        resume: ResumeStore | None = None,
        upload_limit: float = 0.0,
        download_limit: float = 0.0,
        file_priorities: Sequence[int] | None = None,
        max_peers: int | None = None,
        file_paths: Sequence[tuple[str, ...] | None] | None = None,
        sequential: bool = False,
        first_last: bool = False,
    ) -> None:
        info = meta.info
        # a pure v2 torrent's pieces are checked against merkle hashes (BEP 52)
        self.v2: V2Hashes | None = V2Hashes(meta) if not info.has_v1 else None
        if resume is not None and resume_path is not None:
            raise BitswarmError("give resume data either as a path or as a store, not both")
        self.session = session
        self.meta = meta
        self.info_hash = info.info_hashes.wire
        self.save_path = save_path
        self.save_path_text = os.path.abspath(save_path)  # in resume data: `resume list`
        self.resume_path = resume_path
        self.resume = ResumeKeeper(
            self,
            FileResumeStore(resume_path, session.disk_pool) if resume_path is not None else resume,
        )
        self.layout = build_layout(meta, file_paths)
        self.wanted = WantedFiles(self.layout)
        if file_priorities is not None:  # checked now: a bad list fails `Session.add` at once
            self.wanted.set(file_priorities, Bitfield(info.num_pieces))
        self.max_peers = session.config.max_peers if max_peers is None else max_peers
        self.sequential = sequential
        self.first_last = first_last
        # skipped files stay out of the folder: their share of a piece goes to a parts file
        self.storage = FileStorage(
            save_path,
            self.layout,
            direct_io=session.config.direct_io,
            parts_name=parts_file_name(self.info_hash),
        )
        self.disk = DiskWorker(self.storage, pool=session.disk_pool)
        self.state = TorrentState.CHECKING
        self.error: str | None = None
        self.core: TorrentCore | None = None
        self.protocols: set[PeerProtocol] = set()
        self.dialer = Dialer(session, self, peers, info_hash=self.info_hash)
        self.lost_in_handshake = [0, 0]  # dialled peers gone before their handshake: plain, MSE
        self.lost_since_handshake = [0, 0]  # the same, since a dialled peer's last handshake
        self.completed = asyncio.Event()
        self._ended = asyncio.Event()  # it can no longer complete: failed or stopped
        self.announcer = Announcer(self, [*meta.announce_tiers, *([u] for u in trackers)])
        self.upload_bucket = rate_bucket(upload_limit)
        self.download_bucket = rate_bucket(download_limit)
        self.uploads = Uploader(self)
        self._hash_service: HashService | None = None  # BEP 52 answers (pure v2 only)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._next_dht = 0.0
        self._unwritten = 0  # bytes of verified-to-be pieces not yet hashed and written
        self._held_for_disk: set[PeerProtocol] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # set by the first `_now`
        self._flush_later: set[PeerProtocol] = set()  # messages of a verified piece, see _verify
        self._flush_timer: asyncio.TimerHandle | None = None
        self._backlog = Backlog()  # peers whose sockets may hold unsent bytes
        self._storage_task: asyncio.Task[None] | None = None
        self._storage_again = False
        self.piece_listeners: set[Callable[[int], None]] = set()  # readers (session/stream.py)
        cfg = session.config
        self.slots = SlotKeeper(
            SlotRules(
                inactivity_timeout=cfg.inactivity_timeout,
                no_request_timeout=cfg.no_request_timeout,
                replace_after=cfg.peer_replace_after,
                turnover=cfg.peer_turnover,
                turnover_cutoff=cfg.peer_turnover_cutoff,
                turnover_interval=cfg.peer_turnover_interval,
                max_peers_per_ip=cfg.max_peers_per_ip,
                slack=cfg.peer_slack,
                probation=cfg.peer_probation,
                cooldown=cfg.peer_probation_cooldown,
            ),
            self.now(),
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        have = await self.resume.load_or_check()
        self.core = TorrentCore(
            num_pieces=self.meta.info.num_pieces,
            piece_length=self.meta.info.piece_length,
            total_length=self.meta.info.piece_space_length,
            have=have,
            rng=random.Random(),
            config=CoreConfig(),
            now=self.now(),
            info_raw=self.meta.info.raw,
            private=self.meta.info.private,
            listen_port=self.session.listen_port,
            own_addresses=[(h, self.session.listen_port) for h in self.session.own_hosts],
        )
        if self.session.config.direct_io:  # pieces assembled where O_DIRECT takes them
            self.core.piece_buffer = aligned_piece_buffer
        if not self.wanted.all_wanted:
            self.core.set_file_priorities(*self._picker_input(), now=self.now())
            self.core.actions()  # a completion now is the state set below, not an event
            self.wanted.set(self.wanted.priorities, have)
        elif self.v2 is not None and not self.v2.complete:
            self.core.set_file_priorities(*self._picker_input(), now=self.now())
            self.core.actions()
        self._apply_piece_order()
        self.resume.next_save = self.now() + self.session.config.resume_save_interval
        # after the resume check: it trusted the files as they were when it was saved
        await self.disk.set_file_priorities(self.wanted.priorities)
        await self.disk.create_files()
        if self.core.is_complete and self._layers_known():
            self.state = TorrentState.SEEDING
            self.completed.set()
        else:
            self.state = TorrentState.DOWNLOADING
        self.announcer.start()
        self.connect_more()

    async def stop(self) -> None:
        """Stop cleanly: tell trackers, close peers, flush the disk, save resume data."""
        if self._stopping:
            return
        self._stopping = True
        self._ended.set()
        await self.announcer.stop()
        await self.dialer.close()
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_now()  # the last haves go out before the goodbye
        for proto in list(self.protocols):
            proto.close("torrent stopped")
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.resume.wait_saving()  # a background save finishes first, never beside
        await self.save_resume()
        try:
            await self.disk.close()
        except StorageError as exc:  # the last flush met the fault: already reported
            log.warning("closing %s: %s", self.meta.info.name, exc)
        self.state = TorrentState.STOPPED

    @property
    def stopping(self) -> bool:
        """`stop` has begun."""
        return self._stopping

    def save_resume_soon(self) -> None:
        """Save resume data in the background (`ResumeKeeper.save_soon`)."""
        self.resume.save_soon()

    async def save_resume(self) -> None:
        """Save resume data now, durably (`ResumeKeeper.save`: flushed and statted in the
        disk pool; the event loop never waits on the disk)."""
        await self.resume.save()

    # ------------------------------------------------------------------ PeerOwner
    def peer_connected(self, proto: PeerProtocol) -> PeerConnection:
        core = self.core
        assert core is not None
        info = self.meta.info
        conn = PeerConnection(
            info_hash=self.info_hash,
            our_peer_id=self.session.peer_id,
            num_pieces=info.num_pieces,
            piece_length=info.piece_length,
            total_length=info.piece_space_length,
            initiator=proto.outgoing,
            now=self.now(),
            enable_v2=self.v2 is not None,
        )
        refused = self._refusal(proto)
        if refused is not None:
            conn.close(refused)
            return conn
        self.protocols.add(proto)
        core.add_peer(
            proto,
            conn,
            now=self.now(),
            outgoing=proto.outgoing,
            address=proto.address if proto.outgoing else None,
        )
        if proto.outgoing:
            conn.send_handshake()
        return conn

    def _refusal(self, proto: PeerProtocol) -> str | None:
        """Why a new peer cannot have a slot (None: it can). A full torrent admits it on
        probation over the limit (`SlotKeeper.admit`), maybe in place of an older
        probationer that showed nothing."""
        host = proto.address[0]
        if host in self.banned:
            return "banned peer"
        verdict = self.slots.admit(
            proto,
            host,
            (p.address[0] for p in self.protocols),
            len(self.protocols),
            self.max_peers,
            self.now(),
        )
        if isinstance(verdict.evict, PeerProtocol):
            verdict.evict.close("showed nothing useful on probation")
        return verdict.refused

    def _peer_facts(self) -> list[PeerFacts]:
        core = self.core
        if core is None:
            return []
        seed = core.is_seed
        facts = []
        for proto in self.protocols:
            info = core.peers.get(proto)
            if info is None:
                continue
            conn = info.conn
            facts.append(
                PeerFacts(
                    key=proto,
                    host=proto.address[0],
                    connected_at=info.connected_at,
                    payload=info.down.total + info.up.total,
                    am_interested=conn.am_interested,
                    peer_interested=conn.peer_interested,
                    am_choking=conn.am_choking,
                    seed=seed,
                )
            )
        return facts

    def _keep_slots(self, now: float) -> None:
        """Settle or close the peers on probation, close the settled peers the slot policy
        times out or turns over (session/slots.py)."""
        facts = self._peer_facts()
        self.slots.observe(facts, now)
        closing = self.slots.review(facts, self.max_peers, now)
        closing += self.slots.timed_out(facts, self.max_peers, now)
        if self.dialer.known:
            candidates = self.dialer.has_candidates()
            turned = self.slots.turnover(facts, self.max_peers, now, candidates=candidates)
            closing += [(key, "turned over for a new peer") for key in turned]
        for key, reason in closing:
            if isinstance(key, PeerProtocol):
                key.close(reason)

    def peer_events(self, proto: PeerProtocol, events: list[ev.Event]) -> None:
        core = self.core
        if core is None:
            return
        now = self.now()
        if core.is_seed:  # the core spends a saturated upload on pieces nobody has yet
            core.upload_saturated = self._backlog.any()
        v2 = self.v2
        blocks: list[ev.PieceReceived] = []  # a run of blocks, handled at once
        for event in events:
            if type(event) is ev.PieceReceived:
                blocks.append(event)
                continue
            if blocks:
                core.handle_blocks(proto, blocks, now=now)
                blocks = []
            if isinstance(event, ev.HandshakeReceived):
                if proto.outgoing:
                    self.lost_since_handshake = [0, 0]
                if self._keep_one(proto, event.peer_id):
                    return
            if v2 is not None and isinstance(event, _HASH_EVENTS):
                self._hash_event(proto, v2, event, now)
                continue
            core.handle_peer_event(proto, event, now=now)
        if blocks:
            core.handle_blocks(proto, blocks, now=now)
        conn = proto.conn
        if v2 is not None and not v2.complete and conn is not None and v2.ask(conn, proto, now=now):
            proto.flush()
        self._process()
        self._hold_for_disk(proto)

    def _hash_event(self, proto: PeerProtocol, v2: V2Hashes, event: ev.Event, now: float) -> None:
        """BEP 52 hash messages: serve a request, or take an answer to ours."""
        conn = proto.conn
        if conn is None:
            return
        if isinstance(event, ev.HashRequestReceived):
            if self._hash_service is None:
                self._hash_service = HashService(v2, self._have, self.disk.block_hashes)
            self._hash_service.request(proto, event)  # answered in turn, with backpressure
            return
        assert isinstance(event, ev.HashesReceived | ev.HashRejectReceived)
        verdict = v2.on_answer(proto, event)
        if verdict.ban:
            log.warning("banning %s: piece-layer hashes that fail their proof", proto.address[0])
            self.banned.add(proto.address[0])
            proto.close("sent hashes that fail their proof")
        elif not verdict.lied and v2.ask(conn, proto, now=now):
            proto.flush()
        if verdict.completed is not None:
            self.meta = v2.metainfo
            self._layers_arrived()

    def _have(self) -> Bitfield:
        assert self.core is not None
        return self.core.have

    def _layers_known(self) -> bool:
        return self.v2 is None or self.v2.complete

    def _picker_input(self) -> tuple[list[tuple[int, int]], list[int]]:
        """The file priorities the core works with: the chosen ones, with a pure v2
        torrent's files whose piece layer is not known yet held back (their pieces
        could not be checked; they are fetched once `V2Hashes` has the layer)."""
        ranges, prios = self.wanted.picker_input()
        if self.v2 is not None:
            for i in self.v2.blocked_files():
                prios[i] = 0
        return ranges, prios

    def _layers_arrived(self) -> None:
        """A file's piece layer is in: its pieces may now be downloaded."""
        core = self.core
        if core is None:
            return
        core.set_file_priorities(*self._picker_input(), now=self.now())
        if self._layers_known():
            self.save_resume_soon()

    def peer_lost(self, proto: PeerProtocol, reason: str) -> None:
        if self.v2 is not None:
            self.v2.peer_lost(proto)
        if self._hash_service is not None:
            self._hash_service.peer_lost(proto)
        self.protocols.discard(proto)
        self.slots.forget(proto)
        self._held_for_disk.discard(proto)
        self._backlog.discard(proto)
        self.uploads.forget(proto)
        if self.core is not None:
            self.core.remove_peer(proto, now=self.now())
            self._process()
        if proto.outgoing and not proto.handshake_done.result() and reason not in REFUSED_BY_US:
            self.lost_in_handshake[proto.encryption == "mse"] += 1
            self.lost_since_handshake[proto.encryption == "mse"] += 1
        if proto.outgoing and reason == BOTH_SEEDS:
            self.dialer.retry_later(proto.address, SEED_REDIAL)
        log.debug("peer %s:%d gone: %s", *proto.address, reason)

    def peer_backlogged(self, proto: PeerProtocol) -> None:
        """A write to `proto` left bytes the kernel did not take (see `PeerOwner`)."""
        if proto in self.protocols:
            self._backlog.add(proto)

    def download_delay(self, nbytes: int) -> float:
        """Seconds to stop reading after `nbytes` arrived, for the download limits."""
        return consume_all((self.download_bucket, self.session.download_bucket), nbytes, self.now())

    def read_allowance(self) -> int | None:
        """The most bytes one socket read may take under the download limits (None: no
        limit), so that no read leaves the buckets deep in debt (`bitswarm/ratelimit.py`)."""
        return read_allowance((self.download_bucket, self.session.download_bucket), self.now())

    def _hold_for_disk(self, proto: PeerProtocol) -> None:
        """While more than `MAX_UNWRITTEN` bytes of whole pieces wait to be hashed and
        written, stop reading from the peer: a disk slower than the network must not make
        memory grow with the torrent's size (libtorrent does the same with its disk
        queue). The sockets are read again as soon as the backlog is below
        `RESUME_UNWRITTEN`, not after a fixed wait, so a disk that catches up fast is not
        left idle.
        """
        if self._unwritten > MAX_UNWRITTEN and proto not in self._held_for_disk:
            self._held_for_disk.add(proto)
            proto.hold_reading("disk")

    def _release_disk_holds(self) -> None:
        if self._held_for_disk and self._unwritten <= RESUME_UNWRITTEN:
            held, self._held_for_disk = self._held_for_disk, set()
            for proto in held:
                proto.release_reading("disk")

    def _keep_one(self, proto: PeerProtocol, peer_id: bytes) -> bool:
        """A second connection to the same peer (both dialled each other): keep the one
        dialled by the side with the smaller peer id, so both sides keep the same one, and
        close the other. True when that is `proto`.

        The same peer dialling us again from the same address while we still hold its
        first connection means that one is dead on its side (a peer never dials twice):
        the old one is replaced, else a connection whose end died silently -- a uTP peer
        killed between two packets -- would lock the peer out until our timeouts.
        libtorrent drops the newer one here (peer_list.cpp ``new_connection``), which is
        safe over TCP only, where the dead end's kernel resets the old connection."""
        other = next(
            (
                p
                for p in self.protocols
                if p is not proto and p.conn is not None and p.conn.remote_peer_id == peer_id
            ),
            None,
        )
        if other is None:
            return False
        if proto.outgoing == other.outgoing:
            if not proto.outgoing and proto.address[0] == other.address[0]:
                other.close("replaced by a new connection from the same peer")
                return False
            proto.close("already connected to this peer")  # we dialled twice: keep the first
            return True
        we_dial = self.session.peer_id < peer_id  # the smaller id's dial survives
        loser = proto if proto.outgoing != we_dial else other
        loser.close("already connected to this peer")
        return loser is proto

    # ------------------------------------------------------------------ actions
    def _process(self, *, flush_later: bool = False) -> None:
        """Carry out the core's actions, then write what it queued for its peers: at once,
        or with `flush_later` within `HAVE_FLUSH_DELAY` (see `_verify`)."""
        core = self.core
        assert core is not None
        for action in core.actions():
            match action:
                case VerifyPiece():
                    self._unwritten += len(action.data)
                    self._spawn(self._verify(action))
                case ReadBlock():
                    self.uploads.queue(action)
                case DisconnectPeer(peer=peer, reason=reason):
                    if isinstance(peer, PeerProtocol):
                        peer.close(reason)
                case BanPeer(peer=peer, reason=reason):
                    if isinstance(peer, PeerProtocol):
                        log.warning("banning %s: %s", peer.address[0], reason)
                        self.banned.add(peer.address[0])
                        peer.close(reason)
                case PeersDiscovered(addresses=addresses):
                    if not self.meta.info.private:  # BEP 27: tracker peers only
                        self.add_peers(addresses)
                case PieceVerified(piece=piece):
                    self.resume.dirty = True
                    self._save_resume_when_due()
                    self.wanted.piece_verified(piece)
                    for listener in list(self.piece_listeners):
                        listener(piece)
                case TorrentCompleted() if self._layers_known():
                    if self.state is TorrentState.DOWNLOADING:
                        self.state = TorrentState.SEEDING
                    self.completed.set()
                    self.save_resume_soon()
                    self.announcer.completed()  # BEP 3 `completed`: the tiers send it once
                case TorrentReopened():
                    if self.state is TorrentState.SEEDING:
                        self.state = TorrentState.DOWNLOADING
                    self.completed.clear()
        touched = core.touched_peers()
        if flush_later:
            self._flush_soon(touched)
            return
        for peer in touched:
            if isinstance(peer, PeerProtocol):
                peer.flush()

    def _flush_soon(self, peers: Iterable[Hashable]) -> None:
        """Write these peers' queued messages within `HAVE_FLUSH_DELAY`, in one timer for
        all. A peer we download from is flushed by its next refill of requests well before
        (every ~2 MiB), which then carries the have along: one send instead of two."""
        later = self._flush_later
        later.update(peer for peer in peers if isinstance(peer, PeerProtocol))
        if later and self._flush_timer is None and not self._stopping:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(HAVE_FLUSH_DELAY, self._flush_now)

    def _flush_now(self) -> None:
        self._flush_timer = None
        peers, self._flush_later = self._flush_later, set()
        for peer in peers:
            peer.flush()  # nothing to write (already flushed, or closed): no system call

    async def _verify(self, action: VerifyPiece) -> None:
        core = self.core
        assert core is not None
        info = self.meta.info
        try:
            if self.v2 is None:
                sha1, v2_hash = info.piece_hash(action.piece), None
            else:
                sha1, v2_hash = None, self.v2.expected(action.piece)
                assert v2_hash is not None  # a file is downloaded only once its layer is known
            async with self.resume.writing():  # waits while a resume save stats the files
                ok = await self.disk.hash_and_write(action.piece, action.data, sha1, v2_hash)
        except StorageError as exc:
            self.fail(str(exc))
            return
        finally:
            self._unwritten -= len(action.data)
            self._release_disk_holds()
        core.recycle(action.data)
        core.piece_checked(action.piece, ok, now=self.now())
        if not ok:
            log.warning("piece %d failed its hash check", action.piece)
        # the haves (and any interest change) go out with the next refill of requests, or
        # within HAVE_FLUSH_DELAY: one send per piece and peer cost ~10 % of the loop's CPU
        self._process(flush_later=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def fail(self, message: str) -> None:
        """A disk error: pause the torrent (keep verified data), report it, and wake
        `wait_complete` with it."""
        if self.state is TorrentState.ERROR:
            return
        log.info("torrent %s paused: %s", self.meta.info.name, message)  # the owner reports it
        self.error = message
        self.state = TorrentState.ERROR
        self._ended.set()
        for proto in list(self.protocols):
            proto.close("torrent paused")
        self.save_resume_soon()

    # ------------------------------------------------------------------ timers, peers
    def now(self) -> float:
        """The event loop's clock (what the core's timers count in)."""
        loop = self._loop
        if loop is None:  # the loop the runtime runs in (3.11 asks getpid() per lookup)
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    def tick(self) -> None:
        """Once a second, from the session's one timer for all its torrents."""
        if self._stopping:
            return
        now = self.now()
        core = self.core
        if core is not None and self.state is not TorrentState.ERROR:
            for proto in list(self.protocols):
                conn = proto.conn
                if conn is not None:
                    deadline = conn.get_timer()
                    if deadline is not None and deadline <= now:
                        conn.handle_timer(now=now)
                        proto.flush()
                    if self.v2 is not None and self.v2.ask(conn, proto, now=now):
                        proto.flush()  # runs that timed out elsewhere
            if core.get_timer() <= now:
                core.handle_timer(now=now)
            self._keep_slots(now)
            self._process()
            self.connect_more()
            self._dht_maybe(now)
            self._save_resume_when_due()

    def _save_resume_when_due(self) -> None:
        """Save a dirty state once `SessionConfig.resume_save_interval` has passed since
        the last save began (from a tick, or at once when a piece verifies after that)."""
        self.resume.save_when_due(self.now(), self.session.config.resume_save_interval)

    def _dht_maybe(self, now: float) -> None:
        """Look ourselves up in the DHT and announce there (never for private torrents,
        BEP 27): every 15 minutes, every minute while we have few peers."""
        if self.meta.info.private or self.session.dht is None or now < self._next_dht:
            return
        few = self.announce_stats().wants_peers
        self._next_dht = now + (DHT_EVERY_WHEN_FEW if few else DHT_EVERY)
        self.session.dht_lookup(self.info_hash, self.add_peers, announce=True)

    def add_peers(self, addrs: Iterable[tuple[str, int]]) -> None:
        self.dialer.add(addrs)
        self.connect_more()

    @property
    def banned(self) -> set[str]:
        return self.dialer.banned

    def connect_more(self) -> None:
        if self._stopping or self.state in (TorrentState.ERROR, TorrentState.CHECKING):
            return
        # A seed dials too (as libtorrent and Transmission do): a leecher that announced
        # before us, or that cannot accept connections, is only reached that way. Seeds it
        # meets are dropped at their bitfield and not dialled again for a while.
        # A peer that dialled us and named its listen port is connected too: dialling that
        # port would only open a duplicate that `_keep_one` closes (libtorrent likewise
        # files an incoming peer under the port of its extension handshake).
        if not self.dialer.known:  # nobody to dial: the common case of an idle seed
            return
        core = self.core
        connected = {p.address for p in self.protocols if p.outgoing}
        if core is not None:
            connected.update(
                addr
                for p in self.protocols
                if not p.outgoing
                if (addr := core.listen_address(p)) is not None
            )
        self.dialer.connect_more(
            connected=connected,
            count=len(self.protocols),
            limit=self.max_peers,
        )

    # ------------------------------------------------------------------ status
    def announce_stats(self) -> AnnounceStats:
        info = self.meta.info
        core = self.core
        if core is None:
            return AnnounceStats(0, 0, info.total_length, False, True)
        wanted = self.wanted.wanted()
        if core.is_complete:
            left = 0
        elif wanted is not None:  # BEP 3 "left": what we still mean to download
            left = max(0, wanted[0] - wanted[1])
        else:
            left = max(0, info.total_length - core.have.count() * info.piece_length)
        return AnnounceStats(
            core.uploaded,
            core.downloaded,
            left,
            core.is_complete,
            not core.is_seed and len(self.protocols) < FEW_PEERS,
        )

    def transfer(self) -> Transfer:
        """What the core counts now, for `status` (zeros while checking)."""
        core = self.core
        if core is None:
            return Transfer()
        now = self.now()
        conns = [p.conn for p in self.protocols if p.conn is not None]
        return Transfer(
            pieces_done=core.have.count(),
            download_rate=core.down.rate(now),
            upload_rate=core.up.rate(now),
            downloaded=core.downloaded,
            uploaded=core.uploaded,
            wasted=core.wasted,
            peers=len(conns),
            seeds=sum(1 for c in conns if c.peer_has.all()),
            utp_peers=sum(
                1 for p in self.protocols if p.conn is not None and p.transport_name == "utp"
            ),
        )

    def status(self) -> TorrentStatus:
        """A snapshot of the torrent's state, progress, rates and peers."""
        transfer = self.transfer()
        plain_lost, mse_lost = self.lost_since_handshake
        return TorrentStatus.of(
            self.meta.info,
            state=self.state,
            transfer=transfer,
            handshake_failures=sum(self.lost_in_handshake),
            hint=encryption_hint(
                self.session.config.encryption,
                plain_lost=plain_lost,
                mse_lost=mse_lost,
                peers=transfer.peers,
            ),
            error=self.error,
            tracker_message=self.announcer.message,
            banned=len(self.banned),
            wanted=self.wanted.wanted(),
            waiting=self._waiting(),
        )

    def _waiting(self) -> str | None:
        """Why the download waits, when it is for something no peer gives (see status)."""
        v2 = self.v2
        if v2 is None or v2.complete or self.state is not TorrentState.DOWNLOADING:
            return None
        peers = [p for p in self.protocols if p.conn is not None]
        return v2.stalled(peers)

    def file_progress(self) -> list[FileProgress]:
        """Verified bytes of each file, for displays."""
        have = self.core.have if self.core is not None else None
        return file_progress(self.meta.info, self.layout, have)

    async def wait_complete(self) -> None:
        """Wait until every wanted piece is verified; return at once if they already are.

        Raises:
            TorrentFailed: the torrent can no longer complete: it stopped on an error (a
                disk error; `error` and the status say which) or was stopped first.
        """
        if not self.completed.is_set() and not self._ended.is_set():
            waiters = [asyncio.ensure_future(e.wait()) for e in (self.completed, self._ended)]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if self.completed.is_set():
            return
        reason = self.error or "stopped before it completed"
        raise TorrentFailed(f"{self.meta.info.name}: {reason}", reason)

    # ------------------------------------------------------------------ live settings
    @property
    def file_priorities(self) -> tuple[int, ...]:
        """One priority per entry of `meta.info.files` (0: skipped; pad files' ignored)."""
        return self.wanted.priorities

    def set_file_priorities(self, priorities: Sequence[int]) -> None:
        """Choose the files to download, live: one int 0..7 per entry of
        `meta.info.files` (pad files included, their value ignored); 0 skips the file,
        higher values are fetched first, 4 is the default.

        When every wanted piece is verified the torrent completes (`completed` is set, the
        state becomes SEEDING; trackers hear `completed` once in the torrent's life); a
        file wanted again afterwards takes it back to DOWNLOADING and clears `completed`.
        A piece shared with a wanted file is still downloaded, so a skipped file may get
        some bytes.

        Raises:
            BitswarmError: not one priority per file, or one outside 0..7.
        """
        core = self.core
        self.wanted.set(priorities, core.have if core is not None else Bitfield(0))
        if core is None:  # still checking: `start` applies them
            return
        core.set_file_priorities(*self._picker_input(), now=self.now())
        if self.first_last:
            self._apply_piece_order()
        self._process()
        self.connect_more()
        self._storage_again = True
        if self._storage_task is None or self._storage_task.done():
            self._storage_task = asyncio.get_running_loop().create_task(self._storage_priorities())
            self._tasks.add(self._storage_task)
            self._storage_task.add_done_callback(self._tasks.discard)

    async def _storage_priorities(self) -> None:
        """Hand the latest priorities to the storage (parking skipped files, moving the
        bytes of chosen ones out of the parts file) until they stop changing."""
        while self._storage_again and not self._stopping:
            self._storage_again = False
            try:
                await self.disk.set_file_priorities(self.wanted.priorities)
            except StorageError as exc:
                self.fail(str(exc))
                return

    def set_sequential(self, sequential: bool) -> None:
        """Fetch new pieces in index order (for a player, or a slow disk) or, with False,
        rarest first; live. Requests already sent stay."""
        self.sequential = sequential
        self._apply_piece_order()

    def set_first_last(self, first_last: bool) -> None:
        """Fetch the first and last piece of every wanted file before the others (for
        previews); live."""
        self.first_last = first_last
        self._apply_piece_order()

    def _apply_piece_order(self) -> None:
        core = self.core
        if core is None:  # still checking: `start` applies it
            return
        pieces: set[int] = set()
        if self.first_last:
            pieces = first_last_pieces(*self.wanted.picker_input(), self.layout.piece_length)
        core.set_piece_order(sequential=self.sequential, first_last=pieces, now=self.now())
        if not self._stopping:
            self._process()

    def set_piece_deadlines(self, owner: Hashable, deadlines: Mapping[int, float]) -> None:
        """Streaming: `owner` (a reader) needs these pieces within these many seconds from
        now; replaces what `owner` asked before. Time-critical pieces are requested first,
        from the fastest peers (`swarm/deadlines.py`). Ignored before the check is done."""
        core = self.core
        if core is None or self._stopping:
            return
        now = self.now()
        core.set_piece_deadlines(owner, {p: now + d for p, d in deadlines.items()}, now=now)
        self._process()

    def release_deadlines(self, owner: Hashable) -> None:
        """`owner` needs no piece any more (a reader closed)."""
        if self.core is not None:
            self.core.release_deadlines(owner)

    @property
    def ended(self) -> bool:
        """Stopped, or failed: no piece will arrive any more."""
        return self._ended.is_set()

    def set_rate_limits(self, upload: float, download: float) -> None:
        """This torrent's upload and download limits in bytes/s (0: none), on top of the
        session's; they apply from the next block on."""
        self.upload_bucket = rate_bucket(upload)
        self.download_bucket = rate_bucket(download)

    def set_max_peers(self, n: int) -> None:
        """Connect to at most `n` peers; above it, the peers that sent us least lately are
        disconnected now.

        Raises:
            BitswarmError: `n` is below 1.
        """
        if n < 1:
            raise BitswarmError(f"a torrent needs at least 1 peer connection, not {n}")
        self.max_peers = n
        extra = len(self.protocols) - n
        if extra > 0:
            core, now = self.core, self.now()

            def worth(p: PeerProtocol) -> float:
                info = core.peers.get(p) if core is not None else None
                return info.down.rate(now) if info is not None else -1.0

            for proto in sorted(self.protocols, key=worth)[:extra]:
                proto.close("too many peers")
        self.connect_more()

    def reannounce(self) -> None:
        """Announce to the trackers now (a new BEP 12 round, skipping waits for intervals
        and backoffs), and look the torrent up in the DHT when the session runs one (not
        for private torrents, BEP 27)."""
        if self._stopping:
            return
        self.announcer.reannounce()
        self._next_dht = 0.0
        self._dht_maybe(self.now())

    # ------------------------------------------------------------------ inspection
    def peers(self) -> list[PeerSnapshot]:
        """The connected peers, for a peer table (no disk access: cheap to call often)."""
        return peer_snapshots(list(self.protocols), self.core, self.now())

    def piece_states(self) -> tuple[bytes, list[int], list[int]]:
        """(our have-bitfield in BEP 3 wire layout, the pieces partly received or in
        flight, how many connected peers have each piece), for a piece map."""
        return piece_states(self.core, self.meta.info.num_pieces)

"""`ManagedTorrent`: one torrent of the daemon, with or without a running runtime.

A torrent the daemon knows is always here, whatever it is doing: stopped, queued, fetching
its metadata (a magnet link), checking, downloading or seeding. Its saved `TorrentRecord`
is the truth across restarts; the `TorrentRuntime` (when it runs) is the truth about now.
This module turns the two into the views the APIs show, and keeps the totals ("ever"
counters, seconds active) that outlive one run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ..magnet import Magnet
from ..metainfo import Metainfo
from ..session import TorrentRuntime, TorrentState
from .model import (
    PRIORITY_NORMAL,
    Activity,
    FileView,
    PeerView,
    TorrentView,
    TrackerInfo,
)
from .store import TorrentRecord

__all__ = ["ManagedTorrent", "peer_flags"]

_STATE_ACTIVITY = {
    TorrentState.CHECKING: Activity.CHECKING,
    TorrentState.DOWNLOADING: Activity.DOWNLOADING,
    TorrentState.SEEDING: Activity.SEEDING,
    TorrentState.ERROR: Activity.ERROR,
    TorrentState.STOPPED: Activity.STOPPED,
}


@dataclass(slots=True)
class _RunTotals:
    """The runtime's counters when the daemon last folded them into the record."""

    downloaded: int = 0
    uploaded: int = 0
    wasted: int = 0


class ManagedTorrent:
    """One torrent the daemon keeps. `runtime` is set while it runs in the session."""

    def __init__(self, record: TorrentRecord, meta: Metainfo | None, magnet: Magnet | None):
        self.record = record
        self.meta = meta
        self.magnet = magnet
        self.runtime: TorrentRuntime | None = None
        self.task: asyncio.Task[None] | None = None  # starting, fetching metadata, moving
        self.waiter: asyncio.Task[None] | None = None  # wakes the upkeep when it completes
        self.busy: str | None = None  # what `task` does, for the views ("metadata", ...)
        # set while `halt` takes the runtime out of the session (its last resume save):
        # a second halt waits for it, so nothing moves the files under that save
        self.halting: asyncio.Future[None] | None = None
        self.queued = False  # wants to run, waiting for a queue slot
        self.forced = False  # started with "start now": the queue does not hold it
        self.check_requested = False  # the next start hashes the data (resume ignored)
        self.stop_after_check = False  # verify of a stopped torrent: stop again once checked
        self.data_dir: str | None = None  # where its data is while it runs
        self.last_upload_at = 0.0  # for the idle seeding limit
        self.started_at = 0.0  # when the queue last started it (for "stalled")
        self._folded = _RunTotals()
        self._magnet_uri: str | None = None
        self._magnet_for: tuple[Magnet | None, Metainfo | None] = (None, None)

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> int:
        return self.record.id

    @property
    def info_hash(self) -> str:
        return self.record.info_hash

    @property
    def name(self) -> str:
        if self.record.options.name:
            return self.record.options.name
        if self.meta is not None:
            return self.meta.info.name
        if self.magnet is not None and self.magnet.display_name:
            return self.magnet.display_name
        return self.record.name or self.record.info_hash

    @property
    def is_complete(self) -> bool:
        """Every wanted piece verified, as far as the daemon knows (also when stopped)."""
        rt = self.runtime
        if rt is not None and rt.core is not None:
            return rt.completed.is_set()
        return self.record.done_at > 0

    # ------------------------------------------------------------------ counters
    def fold_counters(self) -> bool:
        """Add what the runtime moved since the last fold to the record's totals; True
        when anything changed (the record then needs saving)."""
        rt = self.runtime
        if rt is None or rt.core is None:
            return False
        core = rt.core
        d = core.downloaded - self._folded.downloaded
        u = core.uploaded - self._folded.uploaded
        w = core.wasted - self._folded.wasted
        if not (d or u or w):
            return False
        self.record.downloaded_ever += max(0, d)
        self.record.uploaded_ever += max(0, u)
        self.record.corrupt_ever += max(0, w)
        self._folded = _RunTotals(core.downloaded, core.uploaded, core.wasted)
        return True

    def totals(self) -> tuple[int, int, int]:
        """(downloaded, uploaded, corrupt) bytes ever, the runtime's unfolded part included."""
        rec = self.record
        d, u, w = rec.downloaded_ever, rec.uploaded_ever, rec.corrupt_ever
        rt = self.runtime
        if rt is not None and rt.core is not None:
            core, f = rt.core, self._folded
            d += max(0, core.downloaded - f.downloaded)
            u += max(0, core.uploaded - f.uploaded)
            w += max(0, core.wasted - f.wasted)
        return d, u, w

    def runtime_started(self, rt: TorrentRuntime) -> None:
        self.runtime = rt
        self._folded = _RunTotals()

    # ------------------------------------------------------------------ views
    def activity(self) -> Activity:
        rt = self.runtime
        if rt is not None:
            if rt.state is TorrentState.STOPPED and self.record.error:
                return Activity.ERROR
            return _STATE_ACTIVITY[rt.state]
        if self.busy == "metadata":
            return Activity.METADATA
        if self.busy is not None:
            return Activity.CHECKING if self.check_requested else Activity.DOWNLOADING
        if self.record.error:
            return Activity.ERROR
        if self.queued:
            if self.check_requested:
                return Activity.CHECK_WAIT
            return Activity.SEED_WAIT if self.is_complete else Activity.DOWNLOAD_WAIT
        return Activity.STOPPED

    def wanted_flags(self) -> list[bool]:
        """Per non-pad file: is it wanted."""
        return [p > 0 for p in self.priorities()]

    def priorities(self) -> list[int]:
        """Per non-pad file, 0..7 (files never set are normal)."""
        n = len(self.content_files())
        given = self.record.options.file_priorities
        return [given[i] if i < len(given) else PRIORITY_NORMAL for i in range(n)]

    def content_files(self) -> list[tuple[int, str, int]]:
        """(entry index in `meta.info.files`, path joined by "/", length) of each non-pad
        file; empty before metadata."""
        if self.meta is None:
            return []
        renamed = self.record.options.file_paths
        out: list[tuple[int, str, int]] = []
        for i, f in enumerate(self.meta.info.files):
            if f.is_pad:
                continue
            n = len(out)
            path = renamed[n] if n < len(renamed) and renamed[n] else "/".join(f.path)
            out.append((i, path, f.length))
        return out

    def entry_paths(self) -> list[tuple[str, ...] | None] | None:
        """The renamed paths as the runtime takes them (None: nothing renamed)."""
        if self.meta is None or not any(self.record.options.file_paths):
            return None
        out: list[tuple[str, ...] | None] = [None] * len(self.meta.info.files)
        for entry, path, _length in self.content_files():
            out[entry] = tuple(path.split("/"))
        return out

    def entry_priorities(self) -> list[int]:
        """The priorities as the runtime takes them: one per entry of `meta.info.files`
        (padding files get 0; they are never written)."""
        assert self.meta is not None
        out = [0] * len(self.meta.info.files)
        for (entry, _path, _length), prio in zip(
            self.content_files(), self.priorities(), strict=True
        ):
            out[entry] = prio
        return out

    def files(self) -> list[FileView]:
        rt = self.runtime
        progress = rt.file_progress() if rt is not None and rt.core is not None else None
        views = []
        for index, ((_entry, path, length), prio) in enumerate(
            zip(self.content_files(), self.priorities(), strict=True)
        ):
            if progress is not None:
                done = progress[index].done
            else:
                done = length if self.record.done_at > 0 and prio > 0 else 0
            views.append(FileView(index=index, path=path, length=length, done=done, priority=prio))
        return views

    def wanted_length(self) -> int:
        """Bytes of the wanted files (the whole torrent before metadata: 0)."""
        rt = self.runtime
        if rt is not None and rt.core is not None:
            return rt.status().wanted_bytes
        return sum(
            length
            for (_entry, _path, length), prio in zip(
                self.content_files(), self.priorities(), strict=True
            )
            if prio
        )

    def ratio(self) -> float:
        """Uploaded over downloaded ever (over the wanted size when nothing was downloaded,
        as for a torrent added with its data), without building the whole view: the
        upkeep asks it of every seed each second for the ratio limit."""
        downloaded, uploaded, _corrupt = self.totals()
        if not uploaded:
            return 0.0
        return _ratio(downloaded, uploaded, 0 if downloaded else self.wanted_length())

    def view(self, now: float) -> TorrentView:
        rec = self.record
        meta = self.meta
        rt = self.runtime
        status = rt.status() if rt is not None else None
        info = meta.info if meta is not None else None
        total = info.total_length if info is not None else 0
        wanted = total
        done_wanted = 0
        have_valid = 0
        if status is not None:
            wanted = status.wanted_bytes
            done_wanted = status.wanted_done_bytes
            have_valid = status.done_bytes
        elif info is not None:
            wanted = sum(
                length
                for (_entry, _path, length), prio in zip(
                    self.content_files(), self.priorities(), strict=True
                )
                if prio
            )
            if rec.done_at > 0:
                done_wanted = have_valid = wanted
        downloaded_ever, uploaded_ever, corrupt_ever = self.totals()
        ratio = _ratio(downloaded_ever, uploaded_ever, wanted)
        peers = [] if rt is None else rt.peers()
        return TorrentView(
            id=rec.id,
            info_hash=rec.info_hash,
            name=self.name,
            activity=self.activity(),
            error=rec.error or (status.error if status is not None else None),
            has_metadata=meta is not None,
            total_size=total,
            wanted_size=wanted,
            done_wanted=done_wanted,
            have_valid=have_valid,
            progress=done_wanted / wanted if wanted else (1.0 if meta is not None else 0.0),
            download_rate=status.download_rate if status is not None else 0.0,
            upload_rate=status.upload_rate if status is not None else 0.0,
            downloaded_ever=downloaded_ever,
            uploaded_ever=uploaded_ever,
            corrupt_ever=corrupt_ever,
            ratio=ratio,
            eta=status.eta if status is not None else None,
            peers_connected=len(peers),
            peers_sending=sum(1 for p in peers if p.download_rate > 0),
            peers_receiving=sum(1 for p in peers if p.upload_rate > 0),
            seeds_connected=status.seeds if status is not None else 0,
            piece_count=info.num_pieces if info is not None else 0,
            piece_size=info.piece_length if info is not None else 0,
            pieces_done=status.pieces_done if status is not None else 0,
            private=bool(info is not None and info.private),
            comment=(meta.comment or "") if meta is not None else "",
            creator=(meta.created_by or "") if meta is not None else "",
            created=(meta.creation_date or 0) if meta is not None else 0,
            magnet_link=self.magnet_link(),
            added_at=rec.added_at,
            done_at=rec.done_at,
            activity_at=rec.activity_at,
            queue_position=rec.queue_position,
            options=rec.options,
            tracker_message=status.tracker_message if status is not None else None,
            seconds_downloading=rec.seconds_downloading,
            seconds_seeding=rec.seconds_seeding,
            metadata_progress=1.0 if meta is not None else 0.0,
            forced=self.forced,
        )

    def magnet_link(self) -> str:
        """The torrent's magnet URI (made once: views ask for it every poll)."""
        made_for = self._magnet_for  # compared by identity: equality would walk the info
        if (
            self._magnet_uri is None
            or made_for[0] is not self.magnet
            or made_for[1] is not self.meta
        ):
            if self.magnet is not None:
                self._magnet_uri = self.magnet.to_uri()
            elif self.meta is not None:
                self._magnet_uri = Magnet.from_metainfo(self.meta).to_uri()
            else:
                self._magnet_uri = ""
            self._magnet_for = (self.magnet, self.meta)
        return self._magnet_uri

    def peers(self) -> list[PeerView]:
        rt = self.runtime
        if rt is None:
            return []
        return [
            PeerView(
                host=p.host,
                port=p.port,
                client=p.client,
                progress=p.progress,
                download_rate=p.download_rate,
                upload_rate=p.upload_rate,
                downloaded=p.downloaded,
                uploaded=p.uploaded,
                am_choking=p.am_choking,
                am_interested=p.am_interested,
                peer_choking=p.peer_choking,
                peer_interested=p.peer_interested,
                outgoing=p.outgoing,
                encrypted=p.encrypted,
                transport=p.transport,
                flags=peer_flags(
                    am_choking=p.am_choking,
                    am_interested=p.am_interested,
                    peer_choking=p.peer_choking,
                    peer_interested=p.peer_interested,
                    outgoing=p.outgoing,
                    downloading=p.download_rate > 0,
                    uploading=p.upload_rate > 0,
                ),
            )
            for p in rt.peers()
        ]

    def trackers(self) -> list[TrackerInfo]:
        urls: list[tuple[int, str]] = []
        if self.meta is not None:
            urls = [(t, u) for t, tier in enumerate(self.meta.announce_tiers) for u in tier]
        elif self.magnet is not None:
            urls = [(t, u) for t, u in enumerate(self.magnet.trackers)]
        base = len(urls)
        urls += [(base + i, u) for i, u in enumerate(self.record.options.extra_trackers)]
        live = {}
        if self.runtime is not None:
            live = {v.url: v for v in self.runtime.announcer.trackers()}
        out = []
        for index, (tier, url) in enumerate(urls):
            v = live.get(url)
            if v is None:
                status = "not contacted" if self.runtime is not None else "inactive"
                out.append(TrackerInfo(index, url, tier, status, "", 0.0, 0.0, -1, -1, -1))
                continue
            out.append(
                TrackerInfo(
                    id=index,
                    url=url,
                    tier=tier,
                    status=v.status.value if hasattr(v.status, "value") else str(v.status),
                    message=v.last_error or v.warning or "",
                    last_announce=_wall(v.last_announce),
                    next_announce=_wall(v.next_announce),
                    seeders=v.seeders if v.seeders is not None else -1,
                    leechers=v.leechers if v.leechers is not None else -1,
                    downloads=-1,
                )
            )
        return out


def _ratio(downloaded: int, uploaded: int, wanted: int) -> float:
    if downloaded:
        return uploaded / downloaded
    if wanted and uploaded:
        return uploaded / wanted
    return 0.0


def _wall(loop_time: float | None) -> float:
    """A loop-clock time as Unix seconds (0 when None)."""
    if loop_time is None:
        return 0.0
    return time.time() + (loop_time - asyncio.get_running_loop().time())


def peer_flags(
    *,
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    outgoing: bool,
    downloading: bool,
    uploading: bool,
) -> str:
    """Transmission's peer flag letters (its web client and transmission-remote show them):
    D/d downloading from it / we want to, U/u uploading to it / it wants to, K it unchoked
    us but we are not interested, ? we unchoked it but it is not interested, I incoming."""
    flags = ""
    if downloading:
        flags += "D"
    elif am_interested and peer_choking:
        flags += "d"
    if uploading:
        flags += "U"
    elif peer_interested and am_choking:
        flags += "u"
    if not peer_choking and not am_interested:
        flags += "K"
    if not am_choking and not peer_interested:
        flags += "?"
    if not outgoing:
        flags += "I"
    return flags

"""One torrent being rendered for torrent-get: its view, and the rest fetched when needed."""

from __future__ import annotations

from ..api import DaemonApi
from ..model import FileView, PeerView, PieceMap, TorrentView, TrackerInfo
from ..settings import DaemonSettings
from .names import Style

__all__ = ["Row"]


class Row:
    """One torrent being rendered: its view, and the rest fetched lazily and kept."""

    __slots__ = ("_files", "_peers", "_pieces", "_trackers", "api", "legacy", "now", "view")

    def __init__(self, api: DaemonApi, view: TorrentView, style: Style, now: float) -> None:
        self.api = api
        self.view = view
        self.legacy = style is Style.LEGACY
        self.now = now
        self._files: list[FileView] | None = None
        self._peers: list[PeerView] | None = None
        self._trackers: list[TrackerInfo] | None = None
        self._pieces: PieceMap | None = None

    @property
    def settings(self) -> DaemonSettings:
        return self.api.settings

    def files(self) -> list[FileView]:
        if self._files is None:
            self._files = self.api.files(self.view.id)
        return self._files

    def peers(self) -> list[PeerView]:
        if self._peers is None:
            self._peers = self.api.peers(self.view.id)
        return self._peers

    def trackers(self) -> list[TrackerInfo]:
        if self._trackers is None:
            self._trackers = self.api.trackers(self.view.id)
        return self._trackers

    def pieces(self) -> PieceMap:
        if self._pieces is None:
            self._pieces = self.api.pieces(self.view.id)
        return self._pieces

    def key(self, snake_name: str, legacy_name: str) -> str:
        return legacy_name if self.legacy else snake_name

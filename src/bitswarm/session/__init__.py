"""The session layer (L3): torrents running in one process over the asyncio drivers."""

from __future__ import annotations

from .session import PortInUseError, Session, SessionConfig
from .status import FileProgress, TorrentState, TorrentStatus
from .torrent import TorrentRuntime

__all__ = [
    "FileProgress",
    "PortInUseError",
    "Session",
    "SessionConfig",
    "TorrentRuntime",
    "TorrentState",
    "TorrentStatus",
]

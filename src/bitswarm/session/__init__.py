"""The session layer (L3): torrents running in one process over the asyncio drivers."""

from __future__ import annotations

from .config import SessionConfig
from .session import PortInUseError, Session
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

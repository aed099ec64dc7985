"""The session layer (L3): torrents running in one process over the asyncio drivers."""

from __future__ import annotations

from .config import SessionConfig
from .resume_store import FileResumeStore, ResumeStore
from .session import PortInUseError, Session
from .status import FileProgress, PeerSnapshot, TorrentState, TorrentStatus
from .torrent import TorrentRuntime

__all__ = [
    "FileProgress",
    "FileResumeStore",
    "PeerSnapshot",
    "PortInUseError",
    "ResumeStore",
    "Session",
    "SessionConfig",
    "TorrentRuntime",
    "TorrentState",
    "TorrentStatus",
]

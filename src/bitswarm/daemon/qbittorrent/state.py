"""What the qBittorrent front-end keeps between calls: web sessions and tags.

A web session is qBittorrent's: a random id in the `SID` cookie, ended by `auth/logout`
or after an hour without a request (qBittorrent's default `web_ui_session_timeout`). At
most `MAX_SESSIONS` live at once; starting one more ends the least recently used, as
qBittorrent does, so a client that never keeps its cookie cannot grow memory without
bound. Each session owns its `sync/maindata` and `sync/torrentPeers` histories (sync.py),
themselves bounded.

Tags: bitswarm keeps a torrent's tags as its labels. qBittorrent also has tags that no
torrent carries yet (`torrents/createTags`); those live here, in memory only.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .sync import SyncHistory

__all__ = [
    "MAX_SESSIONS",
    "QBT_KEY",
    "SESSION_TIMEOUT",
    "QbtState",
    "SessionStore",
    "WebSession",
]

SESSION_TIMEOUT = 3600.0  # seconds without a request
MAX_SESSIONS = 64
_PEER_HISTORIES = 8  # torrents whose peer lists one session follows at once


@dataclass(slots=True, eq=False)
class WebSession:
    """One logged-in client."""

    sid: str
    last_used: float
    maindata: SyncHistory = field(default_factory=SyncHistory)
    peers: OrderedDict[str, SyncHistory] = field(default_factory=OrderedDict)
    new: bool = False  # started by this request: the reply sets the cookie

    def peer_history(self, torrent_hash: str) -> SyncHistory:
        """The `sync/torrentPeers` history of one torrent (the least recent one dropped)."""
        history = self.peers.pop(torrent_hash, None) or SyncHistory()
        self.peers[torrent_hash] = history
        while len(self.peers) > _PEER_HISTORIES:
            self.peers.popitem(last=False)
        return history


class SessionStore:
    """Live web sessions by id, least recently used first."""

    def __init__(
        self,
        *,
        timeout: float = SESSION_TIMEOUT,
        limit: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self._timeout = timeout
        self._limit = limit
        self._clock = clock

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, sid: str) -> WebSession | None:
        """The live session `sid`, touched; None when unknown or expired (and then gone)."""
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_used > self._timeout:
            del self._sessions[sid]
            return None
        session.last_used = now
        self._sessions.move_to_end(sid)
        return session

    def start(self) -> WebSession:
        now = self._clock()
        for sid in [s for s, v in self._sessions.items() if now - v.last_used > self._timeout]:
            del self._sessions[sid]
        while len(self._sessions) >= self._limit:
            self._sessions.popitem(last=False)
        session = WebSession(sid=secrets.token_urlsafe(24), last_used=now, new=True)
        self._sessions[session.sid] = session
        return session

    def end(self, sid: str) -> None:
        self._sessions.pop(sid, None)


@dataclass(slots=True)
class QbtState:
    """The front-end's own state, kept in the aiohttp app under `QBT_KEY`."""

    sessions: SessionStore = field(default_factory=SessionStore)
    created_tags: set[str] = field(default_factory=set)  # tags no torrent has (yet)
    # info-hash -> (the view a row was made from, the settings it used, the row)
    row_memo: dict[str, tuple[Any, tuple[Any, ...], tuple[Any, ...]]] = field(default_factory=dict)


QBT_KEY = web.AppKey("qbittorrent", QbtState)

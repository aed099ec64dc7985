"""`SqliteResume`: a torrent's resume data kept in the daemon's state database.

The runtime saves resume data only after flushing the pieces it records (session/torrent.py),
so what the database says is on disk is on disk; an empty value means "check the data".
"""

from __future__ import annotations

from .store import StateStore

__all__ = ["SqliteResume"]


class SqliteResume:
    """The session's `ResumeStore` for one torrent, backed by the `StateStore`."""

    def __init__(self, store: StateStore, info_hash: str) -> None:
        self.store = store
        self.info_hash = info_hash

    async def load(self) -> bytes | None:
        raw = await self.store.get_resume(self.info_hash)
        return raw or None

    async def save(self, raw: bytes) -> None:
        await self.store.put_resume(self.info_hash, raw)

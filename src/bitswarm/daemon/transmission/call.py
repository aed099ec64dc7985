"""What every Transmission RPC method handler is handed, and the argument checks they share.

Rules:
- A `Call` holds one request's arguments with snake_case keys (`names.snake`), the
  protocol it came in (`Style`), the `DaemonApi`, the session id the client presented,
  and the front-end's `ActivityMemory` (what "recently-active" means).
- `ids` follows the spec's 3.1: absent = every torrent, a number, a list of numbers and
  info-hashes, or "recently-active". Unknown ids are skipped, as Transmission skips them.
- A bad argument raises `RpcError(INVALID_PARAMS)` naming the argument (legacy spelling,
  which is what most clients send).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..api import DaemonApi, TorrentRef
from ..model import TorrentView
from .names import ErrorCode, RpcError, Style, snake

__all__ = ["RECENT_SECONDS", "ActivityMemory", "Call"]

RECENT_SECONDS = 60.0  # Transmission's window for "recently-active" and `removed`


class ActivityMemory:
    """When each torrent last changed as this front-end saw it, and which were removed.

    Transmission's "recently-active" asks for the torrents that changed in the last
    minute, and for the ids removed in that time; the web client polls with it. The
    daemon keeps neither, so the front-end remembers a small signature per torrent and
    compares it at each look. Bounded by the number of torrents (removed ids are
    forgotten after a minute)."""

    def __init__(self) -> None:
        self._signature: dict[int, tuple[object, ...]] = {}
        self._changed_at: dict[int, float] = {}
        self._removed_at: dict[int, float] = {}

    @staticmethod
    def _sign(view: TorrentView) -> tuple[object, ...]:
        return (
            view.activity,
            view.error,
            view.tracker_message,
            view.name,
            view.has_metadata,
            view.done_wanted,
            view.wanted_size,
            view.queue_position,
            view.peers_connected,
            int(view.download_rate),
            int(view.upload_rate),
        )

    def observe(self, views: Iterable[TorrentView], now: float) -> None:
        """Note every torrent's state; the ones gone since the last look count as removed."""
        current = set()
        for view in views:
            current.add(view.id)
            sign = self._sign(view)
            if self._signature.get(view.id) != sign:
                self._signature[view.id] = sign
                self._changed_at[view.id] = now
        for gone in self._signature.keys() - current:
            self.forget(gone, now)
        cutoff = now - RECENT_SECONDS
        for old in [i for i, t in self._removed_at.items() if t < cutoff]:
            del self._removed_at[old]

    def touch(self, ids: Iterable[int], now: float) -> None:
        """These torrents were just changed through this front-end."""
        for i in ids:
            self._changed_at[i] = now

    def forget(self, torrent_id: int, now: float) -> None:
        self._signature.pop(torrent_id, None)
        self._changed_at.pop(torrent_id, None)
        self._removed_at[torrent_id] = now

    def recently_active(self, views: list[TorrentView], now: float) -> list[TorrentView]:
        self.observe(views, now)
        cutoff = now - RECENT_SECONDS
        return [
            v for v in views if self._changed_at.get(v.id, now) >= cutoff or v.activity_at >= cutoff
        ]

    def removed(self, now: float) -> list[int]:
        cutoff = now - RECENT_SECONDS
        return sorted(i for i, t in self._removed_at.items() if t >= cutoff)


@dataclass(slots=True)
class Call:
    api: DaemonApi
    args: dict[str, Any]  # snake_case keys
    style: Style
    session_id: str
    memory: ActivityMemory
    now: float

    @property
    def legacy(self) -> bool:
        return self.style is Style.LEGACY

    def name(self, snake_name: str, legacy_name: str) -> str:
        """A reply key, spelled for the protocol of this call."""
        return legacy_name if self.legacy else snake_name

    # ------------------------------------------------------------------ ids
    def wants_recent(self) -> bool:
        ids = self.args.get("ids")
        return isinstance(ids, str) and snake(ids) == "recently_active"

    def refs(self) -> list[TorrentRef] | None:
        """The `ids` argument as refs (None: every torrent)."""
        if "ids" not in self.args:
            return None
        ids = self.args["ids"]
        items = ids if isinstance(ids, list) else [ids]
        refs: list[TorrentRef] = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | str):
                raise RpcError(
                    ErrorCode.INVALID_PARAMS,
                    "ids must be a torrent id, an info-hash, a list of them, or recently-active",
                )
            if isinstance(item, str) and snake(item) == "recently_active":
                refs.extend(v.id for v in self.recent_views())
            else:
                refs.append(item)
        return refs

    def ids(self) -> list[int] | None:
        """The torrent ids the call is about (None: all of them)."""
        refs = self.refs()
        return None if refs is None else self.api.resolve(refs)

    def resolved_ids(self) -> list[int]:
        """Like `ids`, with "all" spelled out."""
        ids = self.ids()
        return self.api.resolve(None) if ids is None else ids

    def recent_views(self) -> list[TorrentView]:
        return self.memory.recently_active(self.api.torrents(), self.now)

    # ------------------------------------------------------------------ arguments
    def arg_bool(self, key: str, legacy: str) -> bool | None:
        value = self.args.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # 3.00-era clients send 0/1 at times
            return bool(value)
        raise RpcError(ErrorCode.INVALID_PARAMS, f"{legacy} must be true or false")

    def arg_int(
        self, key: str, legacy: str, *, low: int = 0, high: int | None = None
    ) -> int | None:
        value = self.args.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{legacy} must be a whole number >= {low}")
        if high is not None and value > high:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{legacy} must be at most {high}")
        return value

    def arg_float(self, key: str, legacy: str) -> float | None:
        value = self.args.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{legacy} must be a number >= 0")
        return float(value)

    def arg_str(self, key: str, legacy: str) -> str | None:
        value = self.args.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{legacy} must be a string")
        return value

    def arg_path(self, key: str, legacy: str) -> str | None:
        path = self.arg_str(key, legacy)
        if path is not None and not path.startswith("/"):
            raise RpcError(ErrorCode.PATH_NOT_ABSOLUTE, f"{legacy} is not an absolute path: {path}")
        return path

    def arg_indices(self, key: str, legacy: str) -> list[int] | None:
        value = self.args.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or any(
            isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in value
        ):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{legacy} must be a list of file indices")
        return value

    def arg_labels(self) -> list[str] | None:
        value = self.args.get("labels")
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise RpcError(ErrorCode.INVALID_PARAMS, "labels must be a list of strings")
        if any("," in s for s in value):
            raise RpcError(ErrorCode.INVALID_PARAMS, "labels cannot contain comma (,) character")
        return [s.strip() for s in value if s.strip()]

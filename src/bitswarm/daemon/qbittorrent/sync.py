"""`sync/*` diffs: what changed since the reply a client last received (pure).

Rules (qBittorrent 5.0, src/webui/api/synccontroller.cpp):
- Every reply carries `rid`, counting 1..1,000,000 and round again, per web session. The
  client sends back the last `rid` it received.
- When that `rid` is 0, or not one this session still remembers, the reply is whole and
  says `"full_update": true`.
- Otherwise only what changed since that reply is sent: for a keyed table (`torrents`,
  `categories`, `peers`) a new row whole, a changed row as only its changed fields, and
  the keys of rows that went under `<table>_removed`; for a list (`tags`) the new items,
  and the ones that went under `tags_removed`; for a record (`server_state`) its changed
  fields; a scalar when it changed. Empty parts are left out.
qBittorrent remembers two replies per session (the last sent and the last accepted).
`SyncHistory` remembers the last `KEEP` of them, so a client that retries with an older
`rid` still gets a diff, and memory stays bounded.

Rows are tuples in a fixed field order: unchanged rows compare equal in one C-level
tuple comparison, so a thousand idle torrents cost microseconds. A row equal to the one
in the base snapshot is replaced by that older tuple, so snapshots share unchanged rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KEEP", "Snapshot", "SyncHistory", "Table", "sync_reply"]

KEEP = 3
_RID_CYCLE = 1_000_000

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows by key, each a tuple in the order of `fields`."""

    fields: tuple[str, ...]
    rows: dict[str, Row]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one `sync/*` reply describes."""

    tables: Mapping[str, Table] = field(default_factory=dict)
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    records: Mapping[str, tuple[tuple[str, ...], Row]] = field(default_factory=dict)
    scalars: Mapping[str, Any] = field(default_factory=dict)


class SyncHistory:
    """The snapshots last sent to one client, by `rid` (the last `keep` of them)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._sent: OrderedDict[int, Snapshot] = OrderedDict()
        self._keep = keep
        self._last_rid = 0

    def base(self, rid: int | None) -> Snapshot | None:
        """The snapshot the client holds, or None for a full update."""
        if not rid or rid <= 0:
            return None
        return self._sent.get(rid)

    def record(self, snapshot: Snapshot) -> int:
        """Remember `snapshot` as sent; return its `rid`."""
        rid = self._last_rid % _RID_CYCLE + 1
        self._last_rid = rid
        self._sent.pop(rid, None)
        self._sent[rid] = snapshot
        while len(self._sent) > self._keep:
            self._sent.popitem(last=False)
        return rid

    def __len__(self) -> int:
        return len(self._sent)


def sync_reply(base: Snapshot | None, new: Snapshot, rid: int) -> dict[str, Any]:
    """The reply that brings a client holding `base` (None: nothing) to `new`."""
    out: dict[str, Any] = {"rid": rid}
    if base is None:
        out["full_update"] = True
        for name, table in new.tables.items():
            fields = table.fields
            if table.rows:
                out[name] = {k: dict(zip(fields, r, strict=True)) for k, r in table.rows.items()}
        for name, items in new.lists.items():
            if items:
                out[name] = list(items)
        for name, (fields, values) in new.records.items():
            out[name] = dict(zip(fields, values, strict=True))
        out.update(new.scalars)
        return out

    for name, table in new.tables.items():
        old = base.tables.get(name)
        changed, removed = _diff_table(old.rows if old is not None else {}, table)
        if changed:
            out[name] = changed
        if removed:
            out[name + "_removed"] = removed
    for name, items in new.lists.items():
        before = base.lists.get(name, ())
        if before != items:
            old_set, new_set = set(before), set(items)
            added = [t for t in items if t not in old_set]
            gone = [t for t in before if t not in new_set]
            if added:
                out[name] = added
            if gone:
                out[name + "_removed"] = gone
    for name, (fields, values) in new.records.items():
        old_record = base.records.get(name)
        if old_record is None:
            out[name] = dict(zip(fields, values, strict=True))
        elif old_record[1] != values:
            out[name] = {
                f: v for f, v, o in zip(fields, values, old_record[1], strict=True) if v != o
            }
    out.update(
        (name, value)
        for name, value in new.scalars.items()
        if name not in base.scalars or base.scalars[name] != value
    )
    return out


def _diff_table(old_rows: dict[str, Row], table: Table) -> tuple[dict[str, Any], list[str]]:
    fields = table.fields
    rows = table.rows
    changed: dict[str, Any] = {}
    get = old_rows.get
    for key, row in rows.items():
        old = get(key)
        if old is None:
            changed[key] = dict(zip(fields, row, strict=True))
        elif old is row:
            continue
        elif old == row:
            rows[key] = old  # share the older tuple: same value, one copy in memory
        else:
            changed[key] = {f: v for f, v, o in zip(fields, row, old, strict=True) if v != o}
    removed = [key for key in old_rows if key not in rows]
    return changed, removed

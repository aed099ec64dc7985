"""File selection and priorities: Transmission's wanted flags and -1/0/1 priorities on
bitswarm's one 0..7 scale.

Rules:
- bitswarm has one scale where 0 is "not downloaded"; Transmission keeps a wanted flag and
  a low/normal/high priority apart. files-wanted makes a skipped file normal,
  files-unwanted skips it, priority-* changes the priority of wanted files and leaves
  skipped ones skipped (bitswarm does not remember the priority of a skipped file).
- An empty list means every file, as the spec says; an index past the last file is an
  error (FILE_IDX_OOR) and changes nothing.
"""

from __future__ import annotations

from ..model import PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NORMAL
from .call import Call
from .names import ErrorCode, RpcError

__all__ = ["FILE_KEYS", "file_lists", "new_priorities", "sparse_priorities"]

FILE_KEYS = (
    ("files_wanted", "files-wanted"),
    ("files_unwanted", "files-unwanted"),
    ("priority_high", "priority-high"),
    ("priority_low", "priority-low"),
    ("priority_normal", "priority-normal"),
)
PRIORITY = {
    "priority_high": PRIORITY_HIGH,
    "priority_low": PRIORITY_LOW,
    "priority_normal": PRIORITY_NORMAL,
}


def file_lists(call: Call) -> dict[str, list[int]]:
    lists = {}
    for key, legacy in FILE_KEYS:
        indices = call.arg_indices(key, legacy)
        if indices is not None:
            lists[key] = indices
    return lists


def new_priorities(current: list[int], lists: dict[str, list[int]]) -> dict[int, int]:
    """file index -> new 0..7 priority for the files these lists change."""
    count = len(current)
    new = list(current)
    for key, indices in lists.items():
        if any(i >= count for i in indices):
            raise RpcError(ErrorCode.FILE_IDX_OOR, f"file index out of range in {key}")
    for key in ("files_wanted", "files_unwanted"):
        if key in lists:
            for i in lists[key] or range(count):
                if key == "files_unwanted":
                    new[i] = 0
                elif new[i] == 0:
                    new[i] = PRIORITY_NORMAL
    for key, priority in PRIORITY.items():
        if key in lists:
            for i in lists[key] or range(count):
                if new[i] != 0:
                    new[i] = priority
    return {i: p for i, (p, old) in enumerate(zip(new, current, strict=True)) if p != old}


def sparse_priorities(lists: dict[str, list[int]]) -> dict[int, int]:
    """The same, before the file count is known (a magnet being added): named files only."""
    out: dict[int, int] = {}
    for i in lists.get("files_wanted", []):
        out[i] = PRIORITY_NORMAL
    for i in lists.get("files_unwanted", []):
        out[i] = 0
    for key, priority in PRIORITY.items():
        for i in lists.get(key, []):
            if out.get(i, PRIORITY_NORMAL) != 0:
                out[i] = priority
    return out

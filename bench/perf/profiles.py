"""Turn a profile into the few lines a report needs: where the time goes, how often.

Two sources. A cProfile dump of an idle process (`profile_table`) is read two ways: by own
time (`tottime`: which functions burn the CPU) and by cumulative time of bitswarm's
functions (which timer or callback the work hangs from), each with calls per second, so a
reader can tell "1,000 per-torrent timers a second" from "one expensive choker every 10 s".
py-spy's collapsed stacks of a busy process (`stacks_table`, `py-spy record -f raw`) are
read by own samples per function and by samples that pass through each bitswarm function.
Both give percentages of one core over the profiled window.
"""

from __future__ import annotations

import pstats
from dataclasses import dataclass
from pathlib import Path

from .sampling import PYSPY_RATE, Sampled

__all__ = ["ProfileLine", "profile_table", "read_profile", "read_stacks", "stacks_table"]

# pstats keys: (file, line, function); values: (primitive calls, calls, tottime, cumtime, callers)
_Key = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class ProfileLine:
    where: str  # "bitswarm/session/torrent.py:321 _on_timer"
    calls: int
    own_seconds: float
    cumulative_seconds: float


def _where(key: _Key) -> str:
    file, line, function = key
    if file == "~":  # a built-in: pstats names it "<built-in method ...>"
        return function
    parts = Path(file).parts
    for anchor in ("bitswarm", "asyncio", "concurrent", "selectors.py"):
        if anchor in parts:
            return f"{'/'.join(parts[parts.index(anchor) :])}:{line} {function}"
    return f"{Path(file).name}:{line} {function}"


def read_profile(path: Path) -> tuple[float, list[ProfileLine]]:
    """Total profiled own time and every function's line, largest own time first."""
    stats = pstats.Stats(str(path))
    # pstats keeps its table in an undocumented attribute that typeshed leaves out
    table: dict[_Key, tuple[int, int, float, float, object]] = vars(stats)["stats"]
    lines = [
        ProfileLine(_where(key), calls, own, cumulative)
        for key, (_primitive, calls, own, cumulative, _callers) in table.items()
    ]
    lines.sort(key=lambda entry: entry.own_seconds, reverse=True)
    total = sum(entry.own_seconds for entry in lines)
    return total, lines


def _is_idle_wait(entry: ProfileLine) -> bool:
    """The loop waiting in epoll is idle time, not work."""
    return "'select.epoll'" in entry.where


def profile_table(path: Path, window_seconds: float, top: int = 12) -> tuple[str, str]:
    """Two Markdown tables (own time; bitswarm entry points by cumulative time) and a note.

    Percentages are of one core over the profiled window, excluding the epoll wait.
    """
    _total, lines = read_profile(path)
    busy = [entry for entry in lines if not _is_idle_wait(entry)]
    busy_seconds = sum(entry.own_seconds for entry in busy)

    def pct(seconds: float) -> str:
        return f"{100 * seconds / window_seconds:.2f}"

    own_rows = [
        f"| `{e.where}` | {e.calls / window_seconds:,.0f} | {pct(e.own_seconds)} |"
        for e in busy[:top]
    ]
    engine = [e for e in lines if e.where.startswith("bitswarm/")]
    engine.sort(key=lambda entry: entry.cumulative_seconds, reverse=True)
    cum_rows = [
        f"| `{e.where}` | {e.calls / window_seconds:,.0f} | {pct(e.cumulative_seconds)} |"
        for e in engine[:top]
    ]
    own = "\n".join(
        ["| function (own time) | calls/s | % of a core |", "|---|---:|---:|", *own_rows]
    )
    cumulative = "\n".join(
        ["| bitswarm function (with callees) | calls/s | % of a core |", "|---|---:|---:|",
         *cum_rows]
    )  # fmt: skip
    note = (
        f"cProfile of the event loop's thread for {window_seconds:.0f} s: "
        f"{pct(busy_seconds)} % of a core busy under the profiler (its overhead included; "
        "the epoll wait left out)."
    )
    return own + "\n\n" + cumulative, note


def _frame_function(frame: str) -> str:
    """'func (bitswarm/aio/peer.py:120)' -> 'bitswarm/aio/peer.py func' (lines merged)."""
    name, _, where = frame.rpartition(" (")
    if not name:
        return frame
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    for anchor in ("bitswarm", "asyncio", "concurrent", "hashlib"):
        if anchor in parts:
            file = "/".join(parts[parts.index(anchor) :])
            break
    return f"{file} {name}"


def read_stacks(path: Path) -> tuple[int, dict[str, int], dict[str, int]]:
    """Samples in all, own samples per function, samples through each bitswarm function."""
    total = 0
    own: dict[str, int] = {}
    through: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_function(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for name in {f for f in frames if f.startswith("bitswarm/")}:
            through[name] = through.get(name, 0) + count
    return total, own, through


def stacks_table(sampled: Sampled, top: int = 12) -> tuple[str, str]:
    """Markdown tables of a py-spy collapsed-stack file, and a note with the CPU split."""
    total, own, through = read_stacks(sampled.path)
    window = max(PYSPY_RATE * sampled.seconds, 1.0)

    def rows(counts: dict[str, int]) -> list[str]:
        ordered = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:top]
        return [f"| `{name}` | {100 * n / window:.1f} |" for name, n in ordered]

    own_table = "\n".join(["| function (own samples) | % of a core |", "|---|---:|",
                           *rows(own)])  # fmt: skip
    through_table = "\n".join(["| bitswarm function (with callees) | % of a core |", "|---|---:|",
                               *rows(through)])  # fmt: skip
    seconds = max(sampled.seconds, 1e-9)
    note = (
        f"py-spy, {PYSPY_RATE:.0f} samples/s for {sampled.seconds:.1f} s over every thread: "
        f"{total} samples of threads not idle, {100 * total / window:.0f} % of a core. py-spy "
        "counts a thread inside a system call (pwrite, pread, send, recv) as busy, also "
        "while it only waits; the process's own CPU over the same interval was "
        f"{100 * sampled.user_seconds / seconds:.0f} % of a core in user mode and "
        f"{100 * sampled.system_seconds / seconds:.0f} % in the kernel."
    )
    return own_table + "\n\n" + through_table, note

"""The end of a `download` or `seed` run: one paragraph for a person, or a ``summary``
event for scripts, and the exit status both report.

The paragraph says, as aria2's end report does, what became of each torrent and how it
went: size, time, average rate, the most peers at once, uploaded bytes and the ratio.

Exit status (documented in README.md and docs/json-events.md):
  0    every torrent is done (its seed condition met), or the run was stopped by SIGTERM
       (resume data saved: a service manager asked, nothing failed);
  1    at least one torrent failed (no metadata, a disk error, ...);
  130  stopped by Ctrl-C (SIGINT) before every torrent was done.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from . import events
from .jobs import Job, JobState
from .live import format_eta
from .render import format_size

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "exit_code", "print_summary", "summary_json"]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

_REASONS = {
    "no-seed": "downloaded",
    "seed-ratio": "seed ratio reached",
    "seed-time": "seed time over",
    "failed": "failed",
    "stopped": "stopped",
}


def exit_code(jobs: Sequence[Job], stopped_by: int | None) -> int:
    """The run's exit status (see the module docstring)."""
    if any(job.state is JobState.FAILED for job in jobs):
        return EXIT_FAILED
    if all(job.succeeded for job in jobs) or stopped_by == signal.SIGTERM:
        return 0
    return EXIT_INTERRUPTED


def _numbers(job: Job, now: float) -> dict[str, Any]:
    st = job.last
    size = st.wanted_bytes if st is not None else 0
    downloaded = st.downloaded if st is not None else 0
    uploaded = st.uploaded if st is not None else 0
    seconds = job.seconds(now)
    return {
        "name": job.name,
        "info_hash": job.info_hash,
        "result": job.state.value,
        "reason": job.reason,
        "error": job.error,
        "total_bytes": size,
        "downloaded": downloaded,
        "uploaded": uploaded,
        "ratio": round(uploaded / max(1, size), 4),
        "seconds": round(seconds, 3),
        "average_rate": round(downloaded / seconds, 1) if seconds > 0 else 0.0,
        "peers_max": job.peers_max,
    }


def summary_json(jobs: Sequence[Job], started: float, code: int) -> dict[str, Any]:
    now = time.monotonic()
    per = [_numbers(job, now) for job in jobs]
    return {
        "torrents": per,
        "succeeded": sum(job.succeeded for job in jobs),
        "total_bytes": sum(p["total_bytes"] for p in per),
        "downloaded": sum(p["downloaded"] for p in per),
        "uploaded": sum(p["uploaded"] for p in per),
        "seconds": round(now - started, 3),
        "exit_code": code,
    }


def _sentence(p: dict[str, Any], seeding: bool) -> str:
    what = _REASONS.get(p["reason"] or "", p["result"])
    if p["result"] == "failed":
        return f"{p['name']}: failed ({p['error']})."
    done = "seeded" if seeding else f"{format_size(p['total_bytes'])}"
    rate = f", {format_size(p['average_rate'])}/s on average" if p["downloaded"] else ""
    took = "" if seeding else f" in {format_eta(p['seconds'])}{rate}"
    return (
        f"{p['name']}: {what}; {done}{took}, up to {p['peers_max']} peers; "
        f"uploaded {format_size(p['uploaded'])}, ratio {p['ratio']:.2f}."
    )


def print_summary(
    jobs: Sequence[Job], started: float, code: int, *, console: Console, seeding: bool = False
) -> None:
    """The end paragraph on `console` (stderr): one sentence per torrent, then the run."""
    data = summary_json(jobs, started, code)
    sentences = [_sentence(p, seeding) for p in data["torrents"]]
    n = len(jobs)
    if n > 1:
        sentences.append(
            f"{data['succeeded']} of {n} torrents done in {format_eta(data['seconds'])}; "
            f"downloaded {format_size(data['downloaded'])}, uploaded "
            f"{format_size(data['uploaded'])}."
        )
    sentences.append(f"Exit status {code}.")
    console.print(" ".join(sentences), highlight=False, markup=False)


def emit_summary(jobs: Sequence[Job], started: float, code: int) -> None:
    events.emit("summary", **summary_json(jobs, started, code))

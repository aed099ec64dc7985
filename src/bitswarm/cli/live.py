"""LiveView: the torrents of a run on the terminal (rich), as lines, or as JSON events.

On a terminal each torrent has a status line fitted to the terminal's width (the parts
that matter least are left out first, then the name is shortened: the line never wraps),
a progress bar as wide as the terminal, and at most one short line for an error or the
trackers' complaints. Without a terminal it prints each torrent's status line every five
seconds (80 columns unless COLUMNS says otherwise); with ``--json``, one ``status`` event
per torrent a second (docs/json-events.md); with ``-q``, nothing. `close` leaves a last
frame that says what became of each torrent; the end summary is summary.py's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ..session import TorrentStatus
from . import events
from .jobs import Job, JobState
from .render import format_size

__all__ = ["LiveView", "fit_line", "format_eta", "short_tracker_message", "status_line"]

PLAIN_EVERY = 5.0  # seconds between status lines when stderr is no terminal


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def ratio_of(st: TorrentStatus) -> float:
    """Uploaded bytes over the size of what is downloaded: what ``--seed-ratio`` compares."""
    return st.uploaded / max(1, st.wanted_bytes)


def fit_line(name: str, parts: Sequence[tuple[int, str]], width: int) -> str:
    """``name`` then `parts` (priority, text), two spaces apart, in at most `width` columns.

    Parts of the highest priority number go first while the line is too wide (0: always
    kept); then the name is cut short with an ellipsis, down to nothing.
    """
    kept = list(parts)

    def length(name_len: int) -> int:
        return name_len + sum(len(t) + 2 for _, t in kept)

    floor = min(len(name), 12)
    while length(floor) > width and any(p > 0 for p, _ in kept):
        worst = max(p for p, _ in kept)
        drop = max(i for i, (p, _) in enumerate(kept) if p == worst)
        del kept[drop]
    room = width - length(0)
    if room < len(name):
        name = name[: max(0, room - 1)] + "…" if room > 1 else ""
    line = "  ".join([name, *(t for _, t in kept)]) if name else "  ".join(t for _, t in kept)
    return line[:width]


def status_line(st: TorrentStatus, width: int = 200, *, word: str | None = None) -> str:
    """One torrent's state in one line of at most `width` columns (see `fit_line`)."""
    utp = f", {st.utp_peers} uTP" if st.utp_peers else ""  # BEP 29; the rest are TCP
    parts = [
        (0, f"{st.progress * 100:5.1f}%"),
        (0, word or st.state.value),
        (1, f"↓ {format_size(st.download_rate)}/s"),
        (2, f"↑ {format_size(st.upload_rate)}/s"),
        (3, f"up {format_size(st.uploaded)}"),
        (1, f"ratio {ratio_of(st):.2f}"),
        (4, f"peers {st.peers} ({st.seeds} seeds{utp})"),
        (2, f"ETA {format_eta(st.eta)}"),
    ]
    return fit_line(st.name, parts, width)


def short_tracker_message(message: str, width: int) -> str:
    """The trackers' errors as one short line: the first tracker's host and the gist."""
    parts = [p.strip() for p in message.replace("\n", " ").split("; ") if p.strip()]
    if not parts:
        return ""
    scheme, sep, rest = parts[0].partition("://")
    url, error = "", parts[0]
    if sep:  # "udp://host:port/announce: error" -> "host:port: error"
        where, _, error = rest.partition(": ")
        url = urlsplit(f"{scheme}://{where}").netloc or where
    if error.startswith("tracker ") and ": " in error:  # "tracker URL: what" says URL twice
        error = error.partition(": ")[2]
    gist = error.split(" [")[0].strip() or error
    more = f" (+{len(parts) - 1} more)" if len(parts) > 1 else ""
    text = f"tracker {url}: {gist}" if url else f"tracker: {gist}"
    text = " ".join(text.split())
    if len(text) + len(more) > width:
        text = text[: max(0, width - len(more) - 1)] + "…"
    return text + more


_WORDS = {
    JobState.PREPARING: "fetching metadata",
    JobState.DONE: "done",
    JobState.FAILED: "failed",
    JobState.STOPPED: "stopped",
}


def word_of(job: Job) -> str | None:
    """What the status line says the torrent is doing (None: the torrent's own state)."""
    if job.state is JobState.PREPARING and job.meta is not None:
        return "checking"
    return _WORDS.get(job.state)


class LiveView:
    """Shows the jobs of a run (see the module docstring)."""

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        port: int,
        json_lines: bool,
        verbose: bool = False,
        quiet: bool = False,
        console: Console | None = None,
    ) -> None:
        self.jobs = list(jobs)
        self.port = port
        self.json_lines = json_lines
        self.verbose = verbose
        self.quiet = quiet
        self.console = console or Console(stderr=True, highlight=False)
        self._live: Live | None = None
        self._last_plain = 0.0
        if not json_lines and not quiet and self.console.is_terminal:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()

    def update(self) -> None:
        """Once a second: a frame, a JSON status per running torrent, or plain lines."""
        if self.json_lines:
            for job in self.jobs:
                if not job.over and job.rt is not None:
                    self.emit_status(job)
        elif self._live is not None:
            self._live.update(self._render())
        elif not self.quiet:
            now = time.monotonic()
            if now - self._last_plain >= PLAIN_EVERY:
                self._last_plain = now
                for line in self._lines():
                    self.console.print(line, no_wrap=True, overflow="ellipsis", crop=True)

    def emit_status(self, job: Job) -> None:
        st = job.status()
        if st is None:
            return
        d: dict[str, Any] = st.to_json()
        d["ratio"] = round(ratio_of(st), 4)
        d["port"] = self.port
        if self.verbose and job.rt is not None:
            d["files"] = [asdict(f) for f in job.rt.file_progress()]
        events.emit("status", **d)

    def note(self, message: str) -> None:
        """A remark for a person: a ``note`` event with --json, else a line on stderr."""
        if self.json_lines:
            events.emit("note", message=message)
        elif not self.quiet:
            self.console.print(message, highlight=False, markup=False)

    def close(self) -> None:
        """The last frame: what became of each torrent (done, seeding, stopped, failed)."""
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None
        elif not self.json_lines and not self.quiet:
            for line in self._lines():
                self.console.print(line, no_wrap=True, overflow="ellipsis", crop=True)

    def _lines(self) -> list[str]:
        width = self.console.width
        out = []
        for job in self.jobs:
            st = job.status()
            if st is None:
                out.append(fit_line(job.name, [(0, word_of(job) or "")], width))
            else:
                out.append(status_line(st, width, word=word_of(job)))
            if job.error:
                out.append(_cut(f"error: {job.error}", width))
            elif st is not None and st.waiting and not job.over:
                out.append(_cut(st.waiting, width))
        return out

    def _render(self) -> Group:
        width = self.console.width
        parts: list[RenderableType] = []
        for job in self.jobs:
            st = job.status()
            word = word_of(job)
            if st is None:
                parts.append(_text(fit_line(job.name, [(0, word or "")], width), "bold"))
                parts.append(_Bar(ProgressBar(total=1.0, completed=0.0, width=width, pulse=True)))
            else:
                parts.append(_text(status_line(st, width, word=word), "bold"))
                parts.append(_Bar(ProgressBar(total=1.0, completed=st.progress, width=width)))
            if job.error:
                parts.append(_text(_cut(f"error: {job.error}", width), "red"))
            elif st is not None and st.hint and not job.over:
                parts.append(_text(_cut(st.hint, width), "yellow"))
            elif st is not None and st.waiting and not job.over:
                parts.append(_text(_cut(st.waiting, width), "yellow"))
            elif st is not None and st.tracker_message and not job.over:
                parts.append(_text(short_tracker_message(st.tracker_message, width), "yellow"))
            if self.verbose and job.rt is not None and not job.over:
                parts.append(_files_table(job))
        return Group(*parts)


class _Bar:
    """A progress bar on a line of its own: rich's `ProgressBar` ends without a newline,
    so in a `Group` the next line would be appended to the bar's and cropped away."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.bar
        yield Segment.line()


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _text(line: str, style: str) -> Text:
    return Text(line, style=style, no_wrap=True, overflow="ellipsis")


def _files_table(job: Job) -> Table:
    assert job.rt is not None
    table = Table(box=None, pad_edge=False)
    table.add_column("Done", justify="right")
    table.add_column("Size", justify="right")
    table.add_column("File", overflow="ellipsis", no_wrap=True)
    for f in job.rt.file_progress():
        pct = 100.0 * f.done / f.length if f.length else 100.0
        table.add_row(f"{pct:.0f}%", format_size(f.length), f.path)
    return table

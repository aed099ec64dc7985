"""LiveView: a torrent's progress on the terminal (rich) or as JSON lines for scripts."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..session import TorrentRuntime, TorrentStatus
from .render import format_size

__all__ = ["LiveView", "format_eta", "status_line"]


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def status_line(st: TorrentStatus) -> str:
    return (
        f"{st.progress * 100:5.1f}%  ↓ {format_size(st.download_rate)}/s  "
        f"↑ {format_size(st.upload_rate)}/s  peers {st.peers} ({st.seeds} seeds)  "
        f"ETA {format_eta(st.eta)}  {st.state.value}"
    )


class LiveView:
    """Shows one torrent: a live bar on a terminal, a line a second otherwise or with --json."""

    def __init__(self, rt: TorrentRuntime, *, json_lines: bool, verbose: bool) -> None:
        self.rt = rt
        self.json_lines = json_lines
        self.verbose = verbose
        self.console = Console(stderr=True, highlight=False)
        self._live: Live | None = None
        self._last_plain = 0.0
        if not json_lines and self.console.is_terminal:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()

    def update(self) -> None:
        st = self.rt.status()
        if self.json_lines:
            d = st.to_json()
            d["port"] = self.rt.session.listen_port
            d["time"] = round(time.time(), 3)
            if self.verbose:
                d["files"] = [asdict(f) for f in self.rt.file_progress()]
            sys.stdout.write(json.dumps(d) + "\n")
            sys.stdout.flush()
        elif self._live is not None:
            self._live.update(self._render())
        else:
            now = time.monotonic()
            if now - self._last_plain >= 5 or (st.progress >= 1.0 and self._last_plain == 0):
                self._last_plain = now
                self.console.print(f"{st.name}: {status_line(st)}")

    def note(self, message: str) -> None:
        if self.json_lines:
            sys.stdout.write(json.dumps({"event": "note", "message": message}) + "\n")
            sys.stdout.flush()
        elif self._live is not None:
            self._live.console.print(message)
        else:
            self.console.print(message)

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None

    def _render(self) -> Group:
        st = self.rt.status()
        head = Text.assemble((st.name, "bold"), "  ", status_line(st))
        parts: list[Table | Text | ProgressBar] = [
            head,
            ProgressBar(total=1.0, completed=st.progress, width=60),
        ]
        if st.error:
            parts.append(Text(f"error: {st.error}", style="red"))
        if st.tracker_message:
            parts.append(Text(st.tracker_message, style="yellow"))
        if self.verbose:
            table = Table(box=None, pad_edge=False)
            table.add_column("Done", justify="right")
            table.add_column("Size", justify="right")
            table.add_column("File", overflow="fold")
            for f in self.rt.file_progress():
                pct = 100.0 * f.done / f.length if f.length else 100.0
                table.add_row(f"{pct:.0f}%", format_size(f.length), f.path)
            parts.append(table)
        return Group(*parts)

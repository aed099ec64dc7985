"""Markdown for the performance targets: tables, verdicts, and the RESULTS.md section.

bench/perf/targets.py measures P1, P2, P3, P5 and P6 of the Performance issue; each target becomes
one `TargetReport` (a `### Pn ...` subsection). `write_results` replaces only that
subsection inside the `## Performance P1–P6` section of bench/RESULTS.md, so one target can
be re-measured without losing the others, and rebuilds the section's summary from the
`Result:` lines of every subsection present. Sections other people own are left alone:
the file is re-read right before it is rewritten.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SECTION",
    "TargetReport",
    "Verdict",
    "fmt_ratio",
    "human_size",
    "loadavg",
    "machine_line",
    "median",
    "merge_section",
    "table",
    "write_results",
]

SECTION = "## Performance P1–P6"
_SUMMARY_START = "<!-- perf summary: rebuilt from the Result lines below -->"
_SUMMARY_END = "<!-- /perf summary -->"
_RESULT_PREFIX = "Result: "
_SUB = re.compile(r"^### (P\d)\b.*?(?=^### P\d\b|\Z)", re.M | re.S)


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}×"


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine_line() -> str:
    """CPU count and model, memory, Python and kernel: one line for the report."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) / (1 << 20):.0f} GiB RAM"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}){mem}, Python {platform.python_version()}, "
        f"Linux {platform.release()}"
    )


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A Markdown table; `align` has one letter per column, l or r (default: l then r)."""
    spec = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in spec]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One measured target: what was asked, what was measured, and whether it was met."""

    name: str  # e.g. "P1 download from libtorrent"
    target: str  # e.g. "≥ 1.0× libtorrent"
    measured: str  # e.g. "0.93×"
    met: bool | None  # None: recorded only, no target

    def line(self) -> str:
        if self.met is None:
            return f"{_RESULT_PREFIX}**{self.name}**: {self.measured} (recorded, no target)"
        word = "met" if self.met else "NOT met"
        return f"{_RESULT_PREFIX}**{self.name}**: {self.measured} (target {self.target}): {word}"


@dataclass(slots=True)
class TargetReport:
    """The `### Pn` subsection of one target: title, command, verdicts, then free text."""

    key: str  # "P1"
    title: str  # "P1 download"
    command: str
    when: str = ""  # date and load average when the measuring began
    verdicts: list[Verdict] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)  # tables and paragraphs, in order

    def markdown(self) -> str:
        when = f" ({self.when})" if self.when else ""
        parts = [f"### {self.title}", f"Command: `{self.command}`{when}"]
        parts += [v.line() for v in self.verdicts]
        parts += self.blocks
        return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def _subsections(body: str) -> dict[str, str]:
    return {m.group(1): m.group(0).rstrip("\n") + "\n" for m in _SUB.finditer(body)}


def _summary(subsections: dict[str, str]) -> str:
    lines = [_SUMMARY_START]
    for key in sorted(subsections, key=lambda k: int(k[1:])):
        lines += [
            "- " + line[len(_RESULT_PREFIX) :]
            for line in subsections[key].splitlines()
            if line.startswith(_RESULT_PREFIX)
        ]
    lines.append(_SUMMARY_END)
    return "\n".join(lines)


def merge_section(text: str, intro: str, reports: Sequence[TargetReport]) -> str:
    """`text` (a whole RESULTS.md) with the performance section updated by `reports`.

    Subsections of targets not in `reports` are kept as they were; the intro is replaced
    and the summary rebuilt. Every other `## ` section of `text` is left byte for byte.
    """
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    found = pattern.search(text)
    old_body = found.group(0) if found else ""
    subsections = _subsections(old_body)
    for report in reports:
        subsections[report.key] = report.markdown()
    ordered = [subsections[k] for k in sorted(subsections, key=lambda k: int(k[1:]))]
    section = "\n".join(
        [f"{SECTION}\n", intro.strip("\n") + "\n", _summary(subsections) + "\n", *ordered]
    )
    section = section.rstrip("\n") + "\n\n"
    if found:
        return text[: found.start()] + section + text[found.end() :]
    return text.rstrip("\n") + "\n\n" + section


def write_results(path: Path, intro: str, reports: Sequence[TargetReport]) -> None:
    """Re-read `path` and rewrite it with the performance section updated (see merge_section)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    merged = merge_section(text, intro, reports).rstrip("\n") + "\n"
    tmp = path.with_name(path.name + ".perf-tmp")
    tmp.write_text(merged, encoding="utf-8")
    tmp.replace(path)

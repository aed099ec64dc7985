"""Structured logs for the tracker: one JSON object per line on stderr.

Log aggregators parse JSON lines without a pattern, and fields (``worker``, ``op``,
``error``, ``path``) stay fields. Extra fields come from `logging`'s ``extra=``; the
standard attributes of a `LogRecord` are left out. A flood of identical warnings (Redis
down while thousands of clients announce) is cut to one line per key per
`_REPEAT_SECONDS`, with the number suppressed in the next line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

__all__ = ["JsonFormatter", "setup_logging"]

_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName",
}  # fmt: skip
_REPEAT_SECONDS = 10.0


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., **extra}``."""

    def __init__(self, static: dict[str, object] | None = None) -> None:
        super().__init__()
        self._static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **self._static,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _RepeatFilter(logging.Filter):
    """Let a (logger, message) pair through once per `_REPEAT_SECONDS` at warning level up."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.exc_info:
            return True
        key = (record.name, record.msg if isinstance(record.msg, str) else repr(record.msg))
        now = time.monotonic()
        last, suppressed = self._last.get(key, (-_REPEAT_SECONDS, 0))
        if now - last < _REPEAT_SECONDS:
            self._last[key] = (last, suppressed + 1)
            return False
        self._last[key] = (now, 0)
        if suppressed:
            record.suppressed = suppressed
        if len(self._last) > 1000:
            self._last.clear()
        return True


def setup_logging(level: str = "info", log_file: Path | None = None, **static: object) -> None:
    """Send the ``bitswarm`` loggers to stderr (or append them to `log_file`) as JSON lines
    with `static` fields added."""
    handler: logging.Handler = (
        logging.StreamHandler(sys.stderr)
        if log_file is None
        else logging.FileHandler(log_file, encoding="utf-8")
    )
    handler.setFormatter(JsonFormatter(dict(static)))
    handler.addFilter(_RepeatFilter())
    root = logging.getLogger("bitswarm")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False

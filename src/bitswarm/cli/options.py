"""What every command shares: `-q`, `--log-level`, `--log-file`, one-line usage errors,
and value types that refuse impossible ports and peer counts while the arguments are parsed.

The global options are accepted both before the command (``bitswarm -q download ...``) and
after it (``bitswarm download ... -q``): each subcommand gets a copy whose default is
`argparse.SUPPRESS`, so an option given before the command is not reset by the
subcommand's default. A command that already has an option of the same name (``create
-q``, ``tracker --log-level``) keeps its own, which means the same.

Logs go to stderr (never stdout: with ``--json`` stdout is only JSON lines), or to
``--log-file`` (appended). The level is ``warning`` unless asked; ``-q`` makes it
``error`` and silences the live display, notes and the end summary.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NoReturn

from ..argtypes import max_peers, port_number, port_or_any

__all__ = [
    "LOG_LEVELS",
    "OneLineParser",
    "add_global_options",
    "max_peers",
    "port_number",
    "port_or_any",
    "setup_logging",
]

LOG_LEVELS = ("debug", "info", "warning", "error")


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"bitswarm: error: {message} (see `{self.prog} --help`)\n")


def _options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add the global options `parser` does not have yet."""
    have = parser._option_string_actions  # argparse keeps no public map of its flags

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    if "-q" not in have and "--quiet" not in have:
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=default(False),
            help="no progress display, notes or summary; errors only",
        )
    if "--log-level" not in have:
        parser.add_argument(
            "--log-level",
            choices=LOG_LEVELS,
            default=default(None),
            help="log messages of this level and above (default: warning; error with -q)",
        )
    if "--log-file" not in have:
        parser.add_argument(
            "--log-file",
            type=Path,
            default=default(None),
            metavar="FILE",
            help="append the log to FILE (default: stderr)",
        )


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield child
                yield from _subparsers(child)


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """The global options on `parser` and, suppressed, on every subcommand under it.

    Call it after every command is registered. A subcommand without option prefix
    characters (a command that takes any words, such as a missing plug-in) is skipped.
    """
    _options(parser, suppress=False)
    for child in _subparsers(parser):
        if "-" in child.prefix_chars:
            _options(child, suppress=True)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (a live display replaces it
    while it runs, and prints the line above the display)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(
    args: argparse.Namespace, *, default: str = "warning", stderr_format: str | None = None
) -> None:
    """Route the ``bitswarm`` loggers as the global options ask (call again to change).

    `default` is the level when neither ``--log-level`` nor ``-q`` says; a command that
    logs for a living (the daemon) passes ``info``. Lines on stderr read
    ``bitswarm: warning: ...`` unless `stderr_format` says otherwise; a log file gets
    timestamps and logger names.
    """
    quiet = bool(getattr(args, "quiet", False))
    level = getattr(args, "log_level", None) or ("error" if quiet else default)
    log_file: Path | None = getattr(args, "log_file", None)
    handler: logging.Handler
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FILE_FORMAT))
    else:
        handler = _StderrHandler()
        handler.setFormatter(
            logging.Formatter(stderr_format)
            if stderr_format
            else _LowerLevel("bitswarm: %(levelname)s: %(message)s")
        )
    root = logging.getLogger("bitswarm")
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class _LowerLevel(logging.Formatter):
    """``warning`` rather than ``WARNING``: the one-line errors are lower case too."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace(record.levelname, record.levelname.lower(), 1)

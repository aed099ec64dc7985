"""Entry point of the `bitswarm` command: argument parsing and the one-line error contract.

Every command is a function in a module of its own (`torrent_commands`, `transfer_commands`,
...). This module only builds the parser, dispatches, and turns the errors a person can act
on into a single line on stderr with a non-zero exit status, never a traceback.

Commands that live in other distributions plug in through the entry-point group
``bitswarm.commands``: each entry point names a ``register(sub)`` function like the ones
here. `bitswarm lab` is one: it comes with the bitswarm-lab distribution (lab/ in the source
tree), and without it the command only says how to install it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import BitswarmError
from ..version import __version__
from . import help_text
from .options import OneLineParser, add_global_options, setup_logging

if TYPE_CHECKING:
    from importlib.metadata import EntryPoints

__all__ = ["COMMAND_GROUP", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# The modules of this package whose `register(sub)` adds commands, in `--help` order, with
# the commands each adds (tests/cli/test_cli_startup.py checks the names against what
# `register` really adds). `bitswarm download ...` imports only the module of its own
# command: importing all of them (the daemon, its web and qBittorrent APIs, the tracker
# server, ...) took 0.5 CPU s of each run's start, a fifth of what a 1 GiB download costs
# (issue 15). `completion` and `man` describe every command, so they import every module.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "torrent_commands": ("create", "info", "magnet"),
    "transfer_commands": ("download", "seed", "demo"),
    "stream_command": ("stream",),
    "tracker_command": ("tracker",),
    "dht_command": ("dht",),
    "daemon_command": ("daemon",),
    "remote_command": ("remote",),
    "config_command": ("config",),
    "resume_command": ("resume",),
    "completion": ("completion", "man"),
}
_NEEDS_ALL = frozenset({"completion"})


def entry_points(*, group: str) -> EntryPoints:
    """`importlib.metadata.entry_points`, imported only when the whole parser is built: it
    scans every installed distribution, which a one-command start does not need."""
    from importlib import metadata

    return metadata.entry_points(group=group)


def _registrar(module: str) -> Registrar:
    registrar: Registrar = importlib.import_module(f"{__package__}.{module}").register
    return registrar


def _module_of(command: str | None) -> str | None:
    """The one module `build_parser` needs for `command`, or None when it needs them all."""
    for module, commands in COMMAND_MODULES.items():
        if command in commands:
            return None if module in _NEEDS_ALL else module
    return None


COMMAND_GROUP = "bitswarm.commands"
# Commands another distribution of this repository provides, and how to get each.
_OPTIONAL = {
    "lab": (
        "measure swarm efficiency with real peers (needs the bitswarm-lab distribution)",
        "`bitswarm lab` comes with the bitswarm-lab distribution: install it with "
        "`pip install ./lab` from bitswarm's source tree",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (`command`, a built-in command's name) a parser that
    knows only the commands of that command's module: same options, same help, less to
    import (see `COMMAND_MODULES`)."""
    only = _module_of(command)
    parser = OneLineParser(
        prog="bitswarm",
        description="bitswarm: a complete BitTorrent client, library and tracker in Python.",
    )
    parser.add_argument("--version", action="version", version=f"bitswarm {__version__}")
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND"
    )  # type: ignore[assignment]  # OneLineParser subparsers: argparse's stubs are invariant
    sub.required = True
    for module in COMMAND_MODULES if only is None else (only,):
        _registrar(module)(sub)
    if only is None:
        plugged = set()
        for point in entry_points(group=COMMAND_GROUP):
            plugin: Registrar = point.load()
            plugin(sub)
            plugged.add(point.name)
        for name, (summary, hint) in _OPTIONAL.items():
            if name not in plugged:
                _register_missing(sub, name, summary, hint)
    add_global_options(parser)  # -q, --log-level, --log-file on every command
    help_text.finish(parser)  # defaults shown, examples at the end of every --help
    return parser


def _register_missing(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, hint: str
) -> None:
    """A command whose distribution is not installed: any arguments, one line saying how."""

    def missing(args: argparse.Namespace) -> int:
        raise BitswarmError(hint)

    # No option prefix (NUL never appears in argv): every word, `-h` included, is swallowed,
    # so the person gets the install hint rather than a usage error about an unknown flag.
    p = sub.add_parser(name, help=summary, add_help=False, prefix_chars="\0")
    p.add_argument("arguments", nargs=argparse.REMAINDER)
    p.set_defaults(handler=missing)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 error, 2 usage, 130 Ctrl-C)."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    handler: Handler = args.handler
    try:
        setup_logging(args)
        configure: Callable[[argparse.Namespace], None] | None = getattr(args, "configure", None)
        if configure is not None:  # the config file and BITSWARM_* fill unset flags
            configure(args)
        return handler(args)
    except BitswarmError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        _quiet_closed_stdout()
        return 0
    except FileNotFoundError as exc:
        _error(f"no such file or folder: {exc.filename}")
        return EXIT_ERROR
    except IsADirectoryError as exc:
        _error(f"is a folder, expected a file: {exc.filename}")
        return EXIT_ERROR
    except PermissionError as exc:
        _error(f"permission denied: {exc.filename}")
        return EXIT_ERROR
    except OSError as exc:  # after BrokenPipeError, a subclass: that one is worth no message
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


def _quiet_closed_stdout() -> None:
    """The reader of stdout went away: point stdout at /dev/null, so that the flush at
    exit does not fail again and print "Exception ignored" (Python's own advice in the
    `signal` module's documentation), and say nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is no file (captured): nothing to flush
        pass


def _error(message: str) -> None:
    print(f"bitswarm: error: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

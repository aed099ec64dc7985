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
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from ..errors import BitswarmError
from ..version import __version__
from . import (
    daemon_command,
    dht_command,
    remote_command,
    stream_command,
    torrent_commands,
    tracker_command,
    transfer_commands,
)

__all__ = ["COMMAND_GROUP", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_REGISTRARS: list[Registrar] = [
    torrent_commands.register,
    transfer_commands.register,
    tracker_command.register,
    dht_command.register,
    daemon_command.register,
    remote_command.register,
    stream_command.register,
]

COMMAND_GROUP = "bitswarm.commands"
# Commands another distribution of this repository provides, and how to get each.
_OPTIONAL = {
    "lab": (
        "measure swarm efficiency with real peers (needs the bitswarm-lab distribution)",
        "`bitswarm lab` comes with the bitswarm-lab distribution: install it with "
        "`pip install ./lab` from bitswarm's source tree",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bitswarm",
        description="bitswarm: a complete BitTorrent client, library and tracker in Python.",
    )
    parser.add_argument("--version", action="version", version=f"bitswarm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _REGISTRARS:
        register(sub)
    plugged = set()
    for point in entry_points(group=COMMAND_GROUP):
        plugin: Registrar = point.load()
        plugin(sub)
        plugged.add(point.name)
    for name, (summary, hint) in _OPTIONAL.items():
        if name not in plugged:
            _register_missing(sub, name, summary, hint)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except BitswarmError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except FileNotFoundError as exc:
        _error(f"no such file or folder: {exc.filename}")
        return EXIT_ERROR
    except IsADirectoryError as exc:
        _error(f"is a folder, expected a file: {exc.filename}")
        return EXIT_ERROR
    except PermissionError as exc:
        _error(f"permission denied: {exc.filename}")
        return EXIT_ERROR
    except OSError as exc:  # after BrokenPipeError: that one is not worth a message
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


def _error(message: str) -> None:
    print(f"bitswarm: error: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Entry point of the `bitswarm` command: argument parsing and the one-line error contract.

Every command is a function in a module of its own (`torrent_commands`, `transfer_commands`,
...). This module only builds the parser, dispatches, and turns the errors a person can act
on into a single line on stderr with a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ..errors import BitswarmError
from ..version import __version__
from . import dht_command, lab_command, torrent_commands, tracker_command, transfer_commands

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_REGISTRARS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    torrent_commands.register,
    transfer_commands.register,
    tracker_command.register,
    dht_command.register,
    lab_command.register,
]


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
    return parser


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

"""`bitswarm download` and `bitswarm seed` start without importing the other commands.

In the swarm lab eight `bitswarm download` processes start at once on two cores; building
the whole parser imported the daemon's web stack (aiohttp), the tracker server and the
plug-ins, about half of each process's start-up CPU. Those two commands now get a parser
of their own module (`main._FAST_COMMANDS`) with the same options, help and errors.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bitswarm.cli.main import build_parser

PROBE = (
    "import sys\n"
    "from bitswarm.cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "heavy = ('aiohttp', 'bitswarm.daemon.service', 'bitswarm.tracker_server.embedded',\n"
    "         'bitswarm.cli.daemon_command', 'importlib.metadata')\n"
    "print('imported:', *(m for m in heavy if m in sys.modules))\n"
)


def _imported(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    return done.stdout.splitlines()[-1].removeprefix("imported:").strip()


@pytest.mark.parametrize("command", ["download", "seed"])
def test_transfer_commands_start_without_the_other_commands(command: str) -> None:
    assert _imported(command, "--help") == ""


def test_the_full_parser_still_decides_everything_else() -> None:
    assert "aiohttp" in _imported("daemon", "--help")  # built the usual way


@pytest.mark.parametrize("command", ["download", "seed"])
def test_the_fast_parser_is_the_full_parsers_command(command: str) -> None:
    def usage(parser: object) -> str:
        sub = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
        return str(sub.choices[command].format_help())

    assert usage(build_parser(command)) == usage(build_parser())

"""`bitswarm COMMAND` imports only the module of COMMAND (cli/main.py `COMMAND_MODULES`):
the table must name exactly the commands each module registers, and a download must not
pay for importing the daemon and the tracker server at start (issue 15, P1/P3)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from bitswarm.cli import main as cli_main


def test_the_table_names_what_each_module_registers() -> None:
    for module, commands in cli_main.COMMAND_MODULES.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"bitswarm.cli.{module}").register(sub)
        assert tuple(sub.choices) == commands, module


def test_a_one_command_parser_parses_as_the_whole_one() -> None:
    words = ["download", "x.torrent", "-o", "out", "--no-seed", "--no-direct-io", "-q"]
    whole = vars(cli_main.build_parser().parse_args(words))
    alone = vars(cli_main.build_parser("download").parse_args(words))
    assert whole == alone


def test_download_does_not_import_the_daemon() -> None:
    code = (
        "import sys\n"
        "from bitswarm.cli.main import main\n"
        "try:\n"
        "    main(['download', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bitswarm.daemon.service',"
        " 'bitswarm.daemon.qbittorrent', 'bitswarm.cli.daemon_command'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


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


def test_the_whole_parser_still_decides_everything_else() -> None:
    assert "aiohttp" in _imported("daemon", "--help")  # built the usual way

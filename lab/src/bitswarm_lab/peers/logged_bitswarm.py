"""bitswarm's CLI as a harness peer that logs why things happen, for interop diagnosis.

`BitswarmPeer` runs `bitswarm seed|download --json`, which prints progress only: when a real
peer and bitswarm fail to trade, the failure message should also say why a connection ended
("peer ... gone: <reason>"), why a connect or an announce failed. The CLI does not set up
Python logging, so this peer starts the same command line through a tiny entry point that
sends the engine's loggers (`bitswarm.*`, DEBUG) to stderr, whose tail `describe()` shows.

It also keeps the engine's fast-resume files in the peer's own workdir (XDG_STATE_HOME), so
test runs do not leave them in the home folder. `env` execs the program: the PID we hold is
still the engine's own, inside a network namespace too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from .base import HarnessError
from .bitswarm_peer import BitswarmPeer, bitswarm_command
from .process import LineHandler, ManagedProcess

__all__ = ["LoggedBitswarmPeer"]

_ENTRY = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.WARNING, stream=sys.stderr,\n"
    "    format='%(asctime)s %(name)s %(levelname)s %(message)s')\n"
    "logging.getLogger('bitswarm').setLevel(sys.argv[1])\n"
    "from bitswarm.cli.main import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


class LoggedBitswarmPeer(BitswarmPeer):
    """`BitswarmPeer` with the engine's log on stderr and resume data in its workdir.

    `engine_log_level` is the level of the `bitswarm` loggers (DEBUG unless a subclass
    says otherwise: the lab keeps INFO unless asked, since DEBUG costs CPU at full speed).
    """

    engine_log_level: ClassVar[str] = "DEBUG"

    def _spawn(
        self,
        argv: list[str],
        *,
        on_line: LineHandler | None = None,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        prefix = bitswarm_command()
        if argv[: len(prefix)] != prefix:
            raise HarnessError(f"unexpected bitswarm command line: {argv!r}")
        state = self.spec.workdir / "state"
        state.mkdir(parents=True, exist_ok=True)
        logged = [
            "env", f"XDG_STATE_HOME={state}",
            sys.executable, "-c", _ENTRY, self.engine_log_level, *argv[len(prefix) :],
        ]  # fmt: skip
        return super()._spawn(logged, on_line=on_line, cwd=cwd)

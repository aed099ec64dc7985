"""Running `bitswarm` as a process in the CLI tests: the command, its environment, a seeder,
and the JSON event lines checked against the documented schema."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bitswarm.cli import events

BITSWARM = [sys.executable, "-m", "bitswarm.cli.main"]


def env_for(state: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(state)
    env.update(extra)
    return env


def checked_events(stdout: str, command: str) -> list[dict[str, Any]]:
    """Every line of `stdout` as a JSON event valid under the schema (else AssertionError)."""
    records = []
    for line in stdout.splitlines():
        record = json.loads(line)  # prose on stdout fails here
        problems = events.validate(record, command)
        assert not problems, f"{problems} in {line[:300]}"
        records.append(record)
    return records


class Running:
    """A `bitswarm` process whose stdout lines arrive on a queue, as they are printed."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            [*BITSWARM, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def expect(
        self, test: Callable[[dict[str, Any]], bool], within: float = 60.0
    ) -> dict[str, Any]:
        while True:
            try:
                line = self.lines.get(timeout=within)
            except queue.Empty:
                raise AssertionError(f"no matching line; stderr: {self.stderr()}") from None
            self.seen.append(line)
            record: dict[str, Any] = json.loads(line)
            if test(record):
                return record

    def stop(self, sig: int = signal.SIGTERM, within: float = 60.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=within)

    def rest(self) -> list[str]:
        """Every line printed, once the process has ended."""
        self._reader.join(timeout=30)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def seeding(torrent: Path, data: Path, state: Path, *extra: str) -> Iterator[int]:
    """`bitswarm seed` on loopback; yields its port."""
    seeder = Running(
        ["seed", str(torrent), str(data), "--port", "0", "--bind", "127.0.0.1", "--json", *extra],
        env_for(state),
    )
    try:
        yield int(seeder.expect(lambda r: r["event"] == "start")["port"])
    finally:
        seeder.close()

"""`bitswarm dht` as a program: JSON status lines, SIGUSR1, SIGTERM saving state, errors."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bitswarm.dht.state import decode_state

COMMAND = [sys.executable, "-m", "bitswarm.cli.main", "dht", "--bind", "127.0.0.1"]


class Node:
    """One `bitswarm dht` process; its stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def expect(
        self, test: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> dict[str, Any]:
        while True:
            try:
                record: dict[str, Any] = json.loads(self.lines.get(timeout=within))
            except queue.Empty:
                raise AssertionError("no matching line from bitswarm dht") from None
            if test(record):
                return record

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        node.close()


def test_two_nodes_status_on_sigusr1_and_state_saved_on_sigterm(
    nodes: list[Node], tmp_path: Path
) -> None:
    a = Node("--port", "0", "--interval", "60", "--json")
    nodes.append(a)
    listening = a.expect(lambda r: r["event"] == "listening")
    addr = listening["addresses"][0]
    state = tmp_path / "b.state"
    b = Node(
        "--port", "0", "--interval", "60", "--json", "--bootstrap", addr, "--state", str(state)
    )
    nodes.append(b)
    b_id = b.expect(lambda r: r["event"] == "listening")["node_id"]
    assert b.expect(lambda r: r["event"] == "bootstrapped")["good_nodes"] == 1
    b.proc.send_signal(signal.SIGUSR1)
    status = b.expect(lambda r: r["event"] == "status")
    assert status["good"] == 1 and status["node_id"] == b_id
    assert status["counters"]["responses_in"] >= 1
    assert status["buckets"] == [
        {"depth": 0, "good": 1, "questionable": 0, "bad": 0, "replacements": 0}
    ]
    # a learned about b from b's queries, pinged it, and keeps it: as questionable, since b's
    # answer came right after b's own query, as through a pinhole that query opened in a NAT
    # (DhtConfig.verify_after: only an answer after a silence proves b reachable)
    deadline = time.monotonic() + 20
    while True:  # a's ping to b may still be on its way: ask again until it is answered
        a.proc.send_signal(signal.SIGUSR1)
        seen = a.expect(lambda r: r["event"] == "status")
        if seen["good"] + seen["questionable"] or time.monotonic() > deadline:
            break
    assert (seen["good"], seen["questionable"]) == (0, 1)
    assert b.stop() == 0
    saved = decode_state(state.read_bytes())
    assert saved.node_id.hex() == b_id
    assert [f"{n.host}:{n.port}" for n in saved.nodes] == [addr]
    assert a.stop() == 0


def test_text_output_is_periodic(nodes: list[Node]) -> None:
    a = Node("--port", "0", "--interval", "0.2")
    nodes.append(a)
    lines = [a.lines.get(timeout=10) for _ in range(8)]
    assert lines[0].startswith("DHT node ") and "listening on 127.0.0.1:" in lines[0]
    heads = [line for line in lines if " IPv4 127.0.0.1:" in line]
    assert len(heads) >= 2 and "0 good, 0 questionable, 0 bad" in heads[0]
    assert any(
        line.startswith("  buckets (depth:good/questionable/bad+cached): 0:0/0/0") for line in lines
    )
    assert a.stop() == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--bootstrap", "nohost"], "no port in 'nohost'"),
    (["--bootstrap", "::1:6881"], "put an IPv6 address in brackets"),
])  # fmt: skip
# `--port 70000` is a usage error (exit 2) since issue 14: tests/cli/test_argument_ranges.py
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    done = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert done.stderr.startswith("bitswarm: error: ")


def test_port_in_use_is_a_one_line_error(nodes: list[Node]) -> None:
    a = Node("--port", "0", "--interval", "60", "--json")
    nodes.append(a)
    port = a.expect(lambda r: r["event"] == "listening")["addresses"][0].rsplit(":", 1)[1]
    done = subprocess.run([*COMMAND, "--port", port], capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert done.stderr == (
        f"bitswarm: error: cannot open the DHT port 127.0.0.1:{port}: Address already in use\n"
    )

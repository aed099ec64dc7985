"""The leecher profile's sorting of py-spy samples into kinds of work."""

from __future__ import annotations

from pathlib import Path

from bench.perf.leecher_profile import kind_of, shares

_MAIN = "thread (0x1): MainThread"
_LOOP = "run (asyncio/runners.py:190);BaseEventLoop.run_forever (asyncio/base_events.py:607)"


def test_kinds_follow_the_first_matching_rule(tmp_path: Path) -> None:
    raw = tmp_path / "gil.raw"
    raw.write_text(
        "\n".join(
            [
                f"{_MAIN};main (bitswarm/cli/main.py:1);_find_and_load (<frozen>:1) 30",
                f"{_MAIN};{_LOOP};PeerProtocol.buffer_updated (p:1);"
                "PeerConnection.receive_data (w:1) 20",
                f"{_MAIN};{_LOOP};PeerProtocol.buffer_updated (p:1);"
                "TorrentCore.handle_blocks (c:1);TorrentCore._request_more (c:2) 10",
                f"{_MAIN};{_LOOP};TorrentCore.handle_blocks (c:1);TorrentRuntime._verify (s:1) 10",
                f"{_MAIN};{_LOOP};_SelectorSocketTransport._read_ready (a:1) 20",
                f"{_MAIN};main (bitswarm/cli/main.py:1) 10",
                "thread (0x2): bitswarm-disk_0;sha1_piece (v:1) 99",
                "garbage line without a count",
            ]
        )
    )
    split, samples = shares(raw)
    assert samples == 100  # the disk thread's samples are not the loop thread's
    assert split["start-up: imports, argument parsing, session set-up"] == 0.3
    assert split["wire: parsing received messages"] == 0.2
    assert split["requests: picking and sending the next blocks"] == 0.1
    assert split["piece done: hand-off to the disk pool, haves"] == 0.1
    assert split["event loop and transports (asyncio)"] == 0.2
    assert split["other (before the loop starts: CLI, logging, exit)"] == 0.1
    assert kind_of(["TorrentCore.handle_blocks (c:1)"]).startswith("core:")


def test_no_samples_no_shares(tmp_path: Path) -> None:
    raw = tmp_path / "empty.raw"
    raw.write_text("")
    assert shares(raw) == ({}, 0)

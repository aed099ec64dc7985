"""Issue 14: impossible numbers are usage errors (exit 2) on every command that takes them.

`download --port 99999`, `--port -1` and `--max-peers 0` were once accepted (the last
waited forever with no peer); `dht --port 70000` and `daemon --port 70000` exited 1 after
parsing. Each is now refused by its argparse type, with the flag named, before any work.
"""

from __future__ import annotations

import pytest

from bitswarm.cli.main import build_parser

CASES = [
    (["download", "x.torrent", "--port", "99999"], "--port"),
    (["download", "x.torrent", "--port", "-1"], "--port"),
    (["download", "x.torrent", "--max-peers", "0"], "--max-peers"),
    (["download", "x.torrent", "--dht-port", "70000"], "--dht-port"),
    (["seed", "x.torrent", "--port", "65536"], "--port"),
    (["seed", "x.torrent", "--max-peers", "-3"], "--max-peers"),
    (["stream", "x.torrent", "--port", "99999"], "--port"),
    (["stream", "x.torrent", "--file", "0"], "--file"),
    (["stream", "x.torrent", "--metadata-timeout", "-1"], "--metadata-timeout"),
    (["daemon", "--port", "70000"], "--port"),
    (["daemon", "--port", "-1"], "--port"),
    (["dht", "--port", "70000"], "--port"),
    (["dht", "--interval", "0"], "--interval"),
    (["tracker", "--http", "127.0.0.1:70000"], "--http"),
    (["tracker", "--workers", "0"], "--workers"),
    (["tracker", "--interval", "-5"], "--interval"),
    (["tracker", "--numwant", "-1"], "--numwant"),
    (["tracker", "--max-numwant", "0"], "--max-numwant"),
    (["tracker", "--peer-timeout", "nan"], "--peer-timeout"),
]


@pytest.mark.parametrize(("args", "flag"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_impossible_numbers_are_usage_errors(
    args: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(args)  # what `bitswarm ARGS` parses first, before any work
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"argument {flag}:" in lines[0]

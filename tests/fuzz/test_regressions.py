"""Every input that once broke a parser (tests/fuzz/regressions/TARGET/NAME, named for the
bug), and the whole atheris corpus (bench/fuzz/corpus/TARGET/), through its target.

A crash file from ``python -m bench fuzz`` (build/fuzz/crashes/TARGET/) becomes a
regression by copying it here under a name that says what broke."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.fuzz.targets import TARGETS, tracker_connection

HERE = Path(__file__).parent / "regressions"
CORPUS = Path(__file__).parents[2] / "bench" / "fuzz" / "corpus"


def _files(root: Path) -> list[tuple[str, Path]]:
    return sorted(
        (target.name, path)
        for target in root.iterdir()
        if target.is_dir()
        for path in target.iterdir()
        if path.is_file()
    )


REGRESSIONS = _files(HERE)


def test_regression_folders_name_targets() -> None:
    assert REGRESSIONS, "tests/fuzz/regressions holds the inputs fuzzing found"
    assert {target for target, _ in REGRESSIONS} <= set(TARGETS)


@pytest.mark.parametrize(
    ("target", "path"), REGRESSIONS, ids=[f"{t}/{p.name}" for t, p in REGRESSIONS]
)
def test_regression(target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())


def test_the_corpus() -> None:
    """The kept corpus: small (a few hundred KB), and every input passes its target."""
    files = _files(CORPUS)
    assert {target for target, _ in files} == set(TARGETS)
    total = sum(path.stat().st_size for _, path in files)
    assert total < 600_000, (
        f"the corpus grew to {total} bytes: merge it (python -m bench fuzz merge)"
    )
    for target, path in files:
        TARGETS[target](path.read_bytes())


def test_no_request_is_answered_after_connection_close() -> None:
    """Found by the tracker_server target: an HTTP/1.0 request (the connection closes after
    its answer) followed by a pipelined one got the second answered after the close."""
    conn, transport = tracker_connection()
    one = b"GET /announce?x=1 HTTP/1.0\r\n\r\n"
    conn.data_received(one + one.replace(b"1.0", b"1.1"))
    assert transport.closed
    assert transport.out.count(b"HTTP/1.1 ") == 1

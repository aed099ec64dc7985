"""Helpers of the interop suite: finding and running the real programs, and the content
that torrents are made of.

DESIGN.md ("Real parts, really tested"): with ``CI=true`` a missing peer program fails
the run, it never silently skips; on a developer's machine the test is skipped instead.
"""

from __future__ import annotations

import importlib
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = [
    "PIECE_LENGTH",
    "Content",
    "make_content",
    "missing",
    "program_version",
    "require_module",
    "require_program",
    "run",
]

PIECE_LENGTH = 16384  # small, so the content spans many pieces and several pad files

# relative path -> size; the folder is named "content", the single file "single.dat"
CONTENT_FILES: dict[str, int] = {
    "big.bin": 70_000,
    "data/blob.bin": 100_003,
    "docs/exact.bin": PIECE_LENGTH,
    "docs/deep/one": 1,
    "empty.txt": 0,
    "naïve dir/é.txt": 5_000,
    "run.sh": 10,
}
SINGLE_SIZE = 50_001


@dataclass(frozen=True, slots=True)
class Content:
    """Where the test content lies.

    Attributes:
        parent: the folder that holds both `folder` and `single` (libtorrent and
            mktorrent want it to resolve the torrent's relative paths).
        folder: the multi-file content, named "content".
        single: the single-file content, "single.dat".
        executable: the path, relative to `folder`, of the file with the x bit.
    """

    parent: Path
    folder: Path
    single: Path
    executable: str = "run.sh"

    def expected_files(self, *, multi: bool) -> list[tuple[str, int]]:
        """(torrent path, size) of every file, as the file system has them."""
        if not multi:
            return [(self.single.name, self.single.stat().st_size)]
        return sorted(
            (f"{self.folder.name}/{p.relative_to(self.folder).as_posix()}", p.stat().st_size)
            for p in self.folder.rglob("*")
            if p.is_file()
        )


def make_content(parent: Path) -> Content:
    """Write the test content under `parent` (deterministic bytes).

    Small (under 300 KB) but shaped to catch layout bugs: files in nested folders, a file
    of exactly one piece, a one-byte file, an empty file, a non-ASCII folder and file
    name, an executable file (BEP 47 ``x`` in libtorrent's torrents) and a file spanning
    several pieces, so v1 padding and v2 alignment both matter.
    """
    rng = random.Random(20240601)
    folder = parent / "content"
    for rel, size in CONTENT_FILES.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    (folder / "run.sh").chmod(0o755)
    single = parent / "single.dat"
    single.write_bytes(rng.randbytes(SINGLE_SIZE))
    return Content(parent=parent, folder=folder, single=single)


def missing(what: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: interop programs must be installed)", pytrace=False)
    pytest.skip(what)


def require_program(name: str) -> str:
    """The full path of program `name` on PATH, or fail (CI) / skip the calling test."""
    path = shutil.which(name)
    if path is None:
        missing(f"program {name!r} is not installed")
    return path


def require_module(name: str) -> ModuleType:
    """Import Python module `name`, or fail (CI) / skip the calling test."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"Python module {name!r} cannot be imported: {exc}")


def run(
    args: list[str | Path], *, cwd: Path | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run a program to completion with captured text output (never raises on exit code)."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def program_version(program: str, flag: str = "--version") -> tuple[int, ...]:
    """The first dotted version number a program prints for `flag`, e.g. (3, 0)."""
    proc = run([program, flag], timeout=10)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", proc.stdout + proc.stderr)
    if m is None:
        return ()
    return tuple(int(g) for g in m.groups() if g is not None)

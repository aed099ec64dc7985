"""`bitswarm create --v2` writes a v2-only torrent without a note: bitswarm shares pure v2
torrents since issue 13 (issue 12, item 7 had it say that only hybrids could be shared)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bitswarm.metainfo import parse_torrent

BITSWARM = [sys.executable, "-m", "bitswarm"]


@pytest.mark.parametrize("version", ["--v2", "--hybrid", None])
def test_create_v2_needs_no_note(tmp_path: Path, version: str | None) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 40_000)
    out = tmp_path / "a.torrent"
    flags = [version] if version else []
    done = subprocess.run(
        [*BITSWARM, "create", "-q", *flags, "-o", str(out), str(tmp_path / "a.bin")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    meta = parse_torrent(out.read_bytes())
    if version == "--v2":
        assert meta.info.has_v2 and not meta.info.has_v1
    assert done.stderr == ""

"""`bitswarm resume list|clean` (issue 12, item 8) on files real `seed` processes wrote,
next to a file of the older format (no data path) and a file that is no resume file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bitswarm.bencode import bencode
from bitswarm.storage.resume import FORMAT, VERSION, decode_resume, read_resume
from tests.cli.test_config_cli import BITSWARM, _env, _seed, _torrent


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*BITSWARM, "resume", *args], env=_env(tmp), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done


def _listed(tmp: Path) -> dict[str, dict[str, Any]]:
    lines = _run(tmp, "list", "--json").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(r["event"] == "resume" for r in rows)
    return {Path(r["file"]).name: r for r in rows}


def _old_format(info_hash: bytes) -> bytes:
    """What bitswarm wrote before issue 12: no name, no save path."""
    return bencode(
        {
            b"file-format": FORMAT,
            b"file-version": VERSION,
            b"info-hash": info_hash,
            b"num-pieces": 2,
            b"pieces": b"\xc0",
            b"files": [[20000, 5]],
            b"uploaded": 0,
            b"downloaded": 0,
            b"saved-at": 1_700_000_000,
        }
    )


def test_old_resume_files_still_load() -> None:
    raw = _old_format(b"\x01" * 20)
    data = decode_resume(raw, info_hash=b"\x01" * 20, num_pieces=2)
    assert (data.name, data.save_path) == ("", "")
    assert read_resume(raw).files == [(20000, 5)]


def test_list_then_clean(tmp_path: Path) -> None:
    torrent, data = _torrent(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    for folder in (data, copy):  # two downloads of one torrent: two resume files
        with _seed(tmp_path, torrent, folder, "--port", "0"):
            pass
    resume = tmp_path / "state" / "bitswarm" / "resume"
    (resume / "old.resume").write_bytes(_old_format(b"\x02" * 20))
    (resume / "junk.resume").write_bytes(b"not bencoding")

    rows = _listed(tmp_path)
    assert len(rows) == 4
    seeded = [r for r in rows.values() if r["name"] == "file.bin"]
    assert sorted(r["data"] for r in seeded) == sorted(
        str(f.resolve() / "file.bin") for f in (data, copy)
    )
    assert all(r["state"] == "present" and r["pieces"] == r["num_pieces"] == 7 for r in seeded)
    assert all(r["saved_at"] and len(r["info_hash"]) == 40 for r in seeded)
    assert rows["old.resume"]["state"] == "unknown" and rows["old.resume"]["pieces"] == 2
    assert rows["junk.resume"]["state"] == "unreadable"

    table = _run(tmp_path, "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "INFO-HASH", "PIECES", "SAVED", "STATE", "DATA"]
    assert sum(" present " in line for line in table) == 2

    shutil.rmtree(copy)  # its data is gone: that file is stale now
    gone = next(name for name, r in rows.items() if r["data"] == str(copy.resolve() / "file.bin"))
    dry = _run(tmp_path, "clean", "--dry-run").stdout
    assert f"would remove {gone}" in dry and "would remove junk.resume" in dry
    assert len(_listed(tmp_path)) == 4  # nothing removed yet

    out = [json.loads(line) for line in _run(tmp_path, "clean", "--json").stdout.splitlines()]
    assert sorted(Path(e["file"]).name for e in out) == sorted([gone, "junk.resume"])
    assert all(e["event"] == "resume_removed" and e["dry_run"] is False for e in out)
    left = _listed(tmp_path)
    assert sorted(r["state"] for r in left.values()) == ["present", "unknown"]
    assert "no stale resume files" in _run(tmp_path, "clean").stdout

"""`--encryption` on the command line: `bitswarm download --encryption disabled --json`
against one `bitswarm seed --encryption required` says within seconds why it has no peer,
and `--encryption preferred` (the default) downloads from the same seeder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bitswarm.create import create_torrent

from ..session.helpers import digest_tree, make_multifile
from .cli_helpers import Running, checked_events, env_for, seeding

KiB = 1024
HINT_WITHIN = 8.0  # seconds from the download's start line to a status line with the hint


@pytest.mark.timeout(120)
def test_json_status_says_the_seeder_requires_encryption(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [300 * KiB + 7])
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(content, piece_length=32 * KiB))
    state = tmp_path / "state"
    with seeding(torrent, tmp_path / "seed", state, "--encryption", "required") as port:
        common = ["--json", "--port", "0", "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{port}"]
        leecher = Running(
            ["download", str(torrent), "-o", str(tmp_path / "plain"), "--encryption", "disabled",
             *common],
            env_for(state),
        )  # fmt: skip
        try:
            leecher.expect(lambda r: r["event"] == "start")
            started = time.monotonic()
            status = leecher.expect(
                lambda r: (
                    r["event"] == "status"
                    and (r["hint"] is not None or time.monotonic() - started > 30)
                )
            )
            took = time.monotonic() - started
            leecher.stop()
            checked_events("".join(leecher.rest()), "download")  # every line follows the schema
        finally:
            leecher.close()
        assert status["hint"] is not None, "no hint after 30 s"
        assert took < HINT_WITHIN, f"the hint took {took:.1f} s"
        assert status["peers"] == 0 and status["handshake_failures"] >= 1
        assert "may require encryption" in status["hint"]
        assert "--encryption preferred or required" in status["hint"]

        default = Running(
            ["download", str(torrent), "-o", str(tmp_path / "default"), "--no-seed", *common],
            env_for(state),
        )
        try:
            done = default.expect(lambda r: r["event"] == "summary")
            assert default.proc.wait(timeout=30) == 0
        finally:
            default.close()
        assert done["exit_code"] == 0
    assert digest_tree(tmp_path / "default" / content.name) == digest_tree(content)

"""The daemon's view of a disk fault (issue 14, point 4), through the real clients.

A torrent downloading into a FUSE file system that fails every write to its file with
EIO (tests/faultfs.py) stops in the ERROR state; the Transmission RPC (the
`transmission-rpc` library) shows ``error`` 3 (a local error) and a one-line
``errorString`` naming the file and the errno, and the qBittorrent WebUI API (the
`qbittorrent-api` library) shows the state ``error``. Once the disk is fixed, a start
(Transmission's torrent-start) resumes the download to the end.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.interop.tools import require_module

from ..fault_mounts import fault_fs
from ..faultfs import FaultFs
from .conftest import DaemonFactory
from .helpers import Swarm, wait_until

__all__ = ["fault_fs"]  # the fixture, used by name below

PAYLOAD = 3 << 20


@pytest.mark.timeout(120)
def test_eio_shows_as_an_error_in_both_apis_and_a_start_resumes(
    daemon_factory: DaemonFactory, tmp_path: Path, fault_fs: FaultFs
) -> None:
    transmission_rpc = require_module("transmission_rpc")
    qba = require_module("qbittorrentapi")
    content = tmp_path / "seed" / "disk"
    content.mkdir(parents=True)
    (content / "movie.bin").write_bytes(os.urandom(PAYLOAD))
    fault_fs.set_rules([{"op": "write", "path": "movie.bin", "errno": "EIO"}])
    daemon = daemon_factory(download_dir=str(fault_fs.mount))
    with Swarm(upload_limit=1 << 20) as swarm:
        raw = swarm.torrent(content, piece_length=64 * 1024)
        client = transmission_rpc.Client(host="127.0.0.1", port=daemon.rpc_port, timeout=30)
        added = client.add_torrent(raw)

        def torrent() -> Any:
            return client.get_torrent(added.id, arguments=["error", "errorString", "status",
                                                           "percentDone"])  # fmt: skip

        wait_until(lambda: torrent().error != 0, 60, "the fault to show")
        t = torrent()
        assert t.error == 3, (t.error, t.error_string)  # TR_STAT_LOCAL_ERROR
        assert "Input/output error" in t.error_string and "movie.bin" in t.error_string
        assert "\n" not in t.error_string
        qbt = qba.Client(host=daemon.url, REQUESTS_ARGS={"timeout": 30})
        [info] = qbt.torrents_info()
        assert info.state == "error", info.state

        fault_fs.set_rules([])  # the disk is fixed: a start resumes
        client.start_torrent(added.id)
        wait_until(lambda: torrent().percent_done == 1.0, 90, "the download to finish")
        t = torrent()
        assert t.error == 0 and t.error_string == "", (t.error, t.error_string)
        [info] = qbt.torrents_info()
        assert info.state != "error", info.state
    assert (fault_fs.mount / "disk" / "movie.bin").read_bytes() == (
        content / "movie.bin"
    ).read_bytes()

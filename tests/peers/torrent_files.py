"""Moved to `bitswarm.lab.peers.torrent_files`; re-exported here unchanged.

The harness lives in the package now (`bitswarm lab` uses it); this module keeps the interop
tests and bench/transfer_bench.py importing it as before.
"""

from __future__ import annotations

from bitswarm.lab.peers.torrent_files import (
    TorrentFile,
    files_identical,
    load_torrent,
    make_torrent,
    parse_size,
    sha1_of_file,
    with_announce,
    write_payload,
)

__all__ = [
    "TorrentFile",
    "files_identical",
    "load_torrent",
    "make_torrent",
    "parse_size",
    "sha1_of_file",
    "with_announce",
    "write_payload",
]

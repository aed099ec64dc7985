"""`FileStorage` under real disk faults: EIO from a FUSE file system, EROFS from an ext4 the
kernel turned read-only, and files deleted or truncated under it. Each is a `StorageError`
with one line naming the file and the cause, never a silent loss."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bitswarm.storage import FileSpec, FileStorage, Layout, StorageError

from ..fault_mounts import Ext4Disk
from ..faultfs import FaultFs

PIECE = 16 * 1024
LAYOUT = Layout([FileSpec(("t", "a.bin"), 4 * PIECE), FileSpec(("t", "b.bin"), 4 * PIECE)], PIECE)


def _piece(i: int) -> bytes:
    return bytes([i + 1]) * PIECE


def _one_line(exc: BaseException, *words: str) -> None:
    text = str(exc)
    assert "\n" not in text
    for word in words:
        assert word in text, text


def test_eio_on_write_and_read_names_the_file(fault_fs: FaultFs) -> None:
    storage = FileStorage(fault_fs.mount, LAYOUT)
    storage.create_files()
    storage.write(0, 0, _piece(0))
    fault_fs.set_rules([{"op": "write", "path": "a.bin", "start": PIECE, "end": 2 * PIECE}])
    with pytest.raises(StorageError) as caught:
        storage.write(1, 0, _piece(1))
    _one_line(caught.value, "a.bin", "Input/output error", "write")
    storage.write(4, 0, _piece(4))  # the other file is fine
    fault_fs.set_rules([{"op": "read", "path": "a.bin", "start": 0, "end": PIECE}])
    with pytest.raises(StorageError) as caught:
        storage.read_piece(0)
    _one_line(caught.value, "a.bin", "Input/output error", "read")
    fault_fs.set_rules([])
    assert storage.read_piece(0) == _piece(0)  # the fault cleared, the data is intact
    storage.close()


def test_fsync_error_is_a_storage_error(fault_fs: FaultFs) -> None:
    storage = FileStorage(fault_fs.mount, LAYOUT)
    storage.create_files()
    storage.write(0, 0, _piece(0))
    fault_fs.set_rules([{"op": "fsync", "path": "a.bin"}])
    with pytest.raises(StorageError) as caught:
        storage.flush()
    _one_line(caught.value, "a.bin", "Input/output error")
    storage.close()


def test_read_only_remount_is_erofs(ext4_disk: Ext4Disk) -> None:
    storage = FileStorage(ext4_disk.mount, LAYOUT)
    storage.create_files()
    storage.write(0, 0, _piece(0))
    storage.flush()
    ext4_disk.fail_to_read_only()
    with pytest.raises(StorageError) as caught:
        storage.write(1, 0, _piece(1))
    _one_line(caught.value, "a.bin", "Read-only file system")
    with pytest.raises(StorageError) as caught:  # a file opened after the fault
        storage.write(5, 0, _piece(5))
    _one_line(caught.value, "Read-only file system")
    assert storage.read_piece(0) == _piece(0)
    storage.close()


def test_a_deleted_file_is_not_written_to_its_orphaned_inode(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, LAYOUT)
    storage.create_files()
    storage.write(0, 0, _piece(0))
    os.unlink(tmp_path / "t" / "a.bin")
    with pytest.raises(StorageError) as caught:
        storage.write(1, 0, _piece(1))
    _one_line(caught.value, "a.bin", "deleted while the torrent was running")
    storage.close()


def test_a_removed_download_folder_stops_writes(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "dl", LAYOUT)
    storage.create_files()
    storage.write(4, 0, _piece(4))
    shutil.rmtree(tmp_path / "dl")
    with pytest.raises(StorageError) as caught:  # an open file: detected as deleted
        storage.write(5, 0, _piece(5))
    _one_line(caught.value, "b.bin", "deleted")
    storage.close()
    storage = FileStorage(tmp_path / "dl", LAYOUT)
    with pytest.raises(StorageError) as caught:  # nothing open: the folder is not there
        storage.write(0, 0, _piece(0))
    _one_line(caught.value, "a.bin")


def test_a_truncated_file_is_refused_before_it_grows_back(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, LAYOUT)
    storage.create_files()
    storage.write(0, 0, _piece(0))
    os.truncate(tmp_path / "t" / "a.bin", PIECE // 2)
    with pytest.raises(StorageError) as caught:
        storage.write(2, 0, _piece(2))  # would make a hole of zeros where piece 0 was
    _one_line(caught.value, "a.bin", "truncated")
    with pytest.raises(StorageError) as caught:
        storage.read_piece(0)
    _one_line(caught.value, "a.bin", "shorter")
    storage.close()

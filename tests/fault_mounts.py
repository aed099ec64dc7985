"""Real disk faults for tests: a FUSE file system that fails chosen I/O, and a small ext4
that the kernel turns read-only.

Each mount needs root (CI runs as root): without it a test fails under ``CI=true`` and is
skipped elsewhere. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .faultfs import FaultFs

__all__ = ["Ext4Disk", "ext4_disk", "fault_fs"]


def _cannot(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI runs as root and must be able to)")
    pytest.skip(why)


@pytest.fixture
def fault_fs(tmp_path: Path) -> Iterator[FaultFs]:
    """A pass-through FUSE mount at ``tmp_path/mnt`` over ``tmp_path/backing``."""
    if shutil.which("fusermount3") is None or not os.path.exists("/dev/fuse"):
        _cannot("FUSE is not available (install fuse3: scripts/install-system-deps.sh)")
    try:
        import mfusepy  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, OSError) as exc:
        _cannot(f"the mfusepy binding cannot load: {exc}")
    fs = FaultFs(tmp_path / "backing", tmp_path / "mnt", tmp_path / "faultfs-rules.json")
    try:
        fs.start()
    except OSError as exc:
        _cannot(f"cannot mount the FUSE file system: {exc}")
    try:
        yield fs
    finally:
        fs.stop()


class Ext4Disk:
    """An ext4 file system in a 32 MiB image on a loop device, mounted errors=remount-ro."""

    def __init__(self, image: Path, mount: Path) -> None:
        self.image = image
        self.mount = mount

    def _run(self, *cmd: str) -> None:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise OSError(f"{' '.join(cmd)}: {r.stderr.strip()}")

    def mount_rw(self) -> None:
        self._run("mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.mount))

    def fail_to_read_only(self) -> None:
        """Make the kernel see a file-system error: with errors=remount-ro it turns the
        mount read-only at once, open descriptors and all (writes get EROFS)."""
        device = os.path.basename(
            subprocess.run(
                ["findmnt", "-n", "-o", "SOURCE", str(self.mount)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("bitswarm test fault\n")

    def repair(self) -> None:
        """Unmount, fsck and mount again read-write (the person fixing the disk)."""
        self._run("umount", str(self.mount))
        subprocess.run(["e2fsck", "-fy", str(self.image)], capture_output=True)
        self.mount_rw()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[Ext4Disk]:
    disk = Ext4Disk(tmp_path / "ext4.img", tmp_path / "ext4")
    disk.mount.mkdir()
    with disk.image.open("wb") as f:
        f.truncate(32 * 2**20)
    try:
        disk._run("mkfs.ext4", "-q", "-F", str(disk.image))
        disk.mount_rw()
    except (OSError, FileNotFoundError) as exc:
        _cannot(f"cannot make and mount a loop ext4: {exc}")
    try:
        yield disk
    finally:
        disk.unmount()

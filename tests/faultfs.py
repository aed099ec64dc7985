"""A FUSE pass-through file system that fails chosen reads and writes: real EIO from the kernel.

Our own test tool (not a mock of a peer): this kernel has no device-mapper, so there is no
``dm-error`` target to make a disk fail; a FUSE file system in front of a plain folder can.
Every operation goes to the same path under `backing`; a read or write whose path ends with
a rule's ``path`` and whose byte range overlaps the rule's ``[start, end)`` fails with the
rule's errno instead. The rules live in a JSON file the server re-reads whenever it changes,
so a test turns faults on and off while a torrent runs:

    [{"op": "write", "path": "file0.bin", "start": 0, "end": 1 << 62, "errno": "EIO"}]

The server runs in its own process (`python tests/faultfs.py BACKING MOUNT RULES`), mounted
with ``direct_io`` so that every read and write reaches it (no page cache in between).
`FaultFs` is the context manager the tests use: it mounts, waits until the mount is there,
and unmounts with ``fusermount3 -u`` (lazily, as a last resort).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MOUNT_TIMEOUT = 20.0


class FaultFs:
    """Mount `backing` at `mount` through the fault-injecting server; `set_rules` arms it."""

    def __init__(self, backing: Path, mount: Path, rules: Path) -> None:
        self.backing = backing
        self.mount = mount
        self.rules = rules
        self.proc: subprocess.Popen[bytes] | None = None

    def set_rules(self, rules: Iterable[dict[str, Any]]) -> None:
        """Replace the rules (atomically: the server never reads half a file)."""
        tmp = self.rules.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(rules)))
        os.replace(tmp, self.rules)

    def start(self) -> None:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mount.mkdir(parents=True, exist_ok=True)
        self.set_rules([])
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(self.backing), str(self.mount), str(self.rules)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(self.mount):  # wait for the condition, not a fixed time
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise OSError(f"the FUSE server exited: {err.strip()[-500:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise OSError("the FUSE mount did not appear")
            time.sleep(0.02)

    def stop(self) -> None:
        if os.path.ismount(self.mount):
            r = subprocess.run(["fusermount3", "-u", str(self.mount)], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", str(self.mount)], check=False)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None

    def __enter__(self) -> FaultFs:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(backing: str, mount: str, rules_path: str) -> None:
    import mfusepy as fuse  # type: ignore[import-untyped]  # imported here: the tests import FaultFs without the binding

    class Rules:
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.stamp: int | None = None
            self.rules: list[dict[str, Any]] = []

        def fault(self, op: str, path: str, offset: int, size: int) -> int | None:
            with self.lock:
                try:
                    stamp = os.stat(rules_path).st_mtime_ns
                except FileNotFoundError:
                    stamp = None
                if stamp != self.stamp:
                    self.stamp = stamp
                    try:
                        self.rules = json.loads(Path(rules_path).read_text())
                    except (OSError, ValueError):
                        self.rules = []
                for rule in self.rules:
                    if (
                        rule["op"] == op
                        and path.endswith(rule["path"])
                        and offset < rule.get("end", 1 << 62)
                        and offset + size > rule.get("start", 0)
                    ):
                        return int(getattr(errno, rule.get("errno", "EIO")))
            return None

    rules = Rules()

    class PassThrough(fuse.Operations):  # type: ignore[misc]
        use_ns = True

        def _full(self, path: str) -> str:
            return os.path.join(backing, path.lstrip("/"))

        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            st = os.fstat(fh) if fh is not None else os.lstat(self._full(path))
            keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_ino")
            out: dict[str, Any] = {k: getattr(st, k) for k in keys}
            out.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
            return out

        def readdir(self, path: str, fh: int) -> list[str]:
            return [".", "..", *os.listdir(self._full(path))]

        def access(self, path: str, amode: int) -> int:
            if not os.access(self._full(path), amode):
                raise fuse.FuseOSError(errno.EACCES)
            return 0

        def mkdir(self, path: str, mode: int) -> int:
            os.mkdir(self._full(path), mode)
            return 0

        def rmdir(self, path: str) -> int:
            os.rmdir(self._full(path))
            return 0

        def unlink(self, path: str) -> int:
            os.unlink(self._full(path))
            return 0

        def rename(self, old: str, new: str) -> int:
            os.rename(self._full(old), self._full(new))
            return 0

        def chmod(self, path: str, mode: int) -> int:
            os.chmod(self._full(path), mode)
            return 0

        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            if times is None:
                os.utime(self._full(path))
            else:
                os.utime(self._full(path), ns=times)
            return 0

        def statfs(self, path: str) -> dict[str, int]:
            sv = os.statvfs(self._full(path))
            keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree")
            more = ("f_files", "f_flag", "f_frsize", "f_namemax")
            return {k: getattr(sv, k) for k in (*keys, *more)}

        def open(self, path: str, flags: int) -> int:
            return os.open(self._full(path), flags & ~os.O_NOFOLLOW)

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            return os.open(self._full(path), os.O_RDWR | os.O_CREAT, mode)

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            code = rules.fault("read", path, offset, size)
            if code is not None:
                raise fuse.FuseOSError(code)
            return os.pread(fh, size, offset)

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            code = rules.fault("write", path, offset, len(data))
            if code is not None:
                raise fuse.FuseOSError(code)
            return os.pwrite(fh, data, offset)

        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            if fh is not None:
                os.ftruncate(fh, length)
            else:
                os.truncate(self._full(path), length)
            return 0

        def fsync(self, path: str, datasync: int, fh: int) -> int:
            code = rules.fault("fsync", path, 0, 1)
            if code is not None:
                raise fuse.FuseOSError(code)
            os.fsync(fh)
            return 0

        def flush(self, path: str, fh: int) -> int:
            return 0

        def release(self, path: str, fh: int) -> int:
            os.close(fh)
            return 0

    fuse.FUSE(PassThrough(), mount, foreground=True, direct_io=True, fsname="faultfs")


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.argv[3])

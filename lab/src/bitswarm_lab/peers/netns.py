"""Network namespaces for interop tests: created, used, and always removed.

Why: Transmission 3.00 never dials 127.0.0.0/8 and keys peers by IP alone, so a swarm that
includes it needs one address per peer. A private namespace gives us that without touching
the host's network: its own `lo`, with 10.77.0.1, 10.77.0.2, ... added as /32 addresses.
Every program runs inside it through `ip netns exec`, and our own Python code reaches into it
with sockets opened by a helper thread that `setns(2)`-ed into the namespace (a socket stays
in the namespace it was created in, whichever thread later uses it).

Names are `bsw-<creator pid>-<random>`: the stale sweep removes only namespaces whose creator
is dead, so it never pulls a namespace out from under a test running in another process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "NAMESPACE_PREFIX",
    "NetworkNamespace",
    "free_port",
    "netns_unavailable_reason",
    "open_socket",
    "sweep_stale_namespaces",
]

NAMESPACE_PREFIX = "bsw-"
_NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_SUBNET = "10.77.0."


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=10)


def netns_unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None when they can (root and `ip` present)."""
    if shutil.which("ip") is None:
        return "the `ip` program (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def open_socket(
    netns: str | None,
    family: socket.AddressFamily = socket.AF_INET,
    kind: socket.SocketKind = socket.SOCK_STREAM,
) -> socket.socket:
    """A socket in namespace `netns` (None: this process's own namespace)."""
    if netns is None:
        return socket.socket(family, kind)
    result: list[socket.socket] = []
    failure: list[BaseException] = []

    def enter_and_open() -> None:
        # setns(CLONE_NEWNET) moves only the calling thread; it ends right after.
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(_NETNS_DIR / netns, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
            finally:
                os.close(fd)
            result.append(socket.socket(family, kind))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=enter_and_open, name=f"setns-{netns}")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result[0]


def free_port(
    host: str, netns: str | None = None, kind: socket.SocketKind = socket.SOCK_STREAM
) -> int:
    """A port on `host` that nothing listens on now: bind to port 0 and read what we got."""
    with open_socket(netns, socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespace_pids(name: str) -> list[int]:
    reply = _ip("netns", "pids", name, check=False)
    return [int(word) for word in reply.stdout.split() if word.isdigit()]


def _kill_and_delete(name: str, grace: float = 2.0) -> None:
    """End every process inside namespace `name` (TERM, then KILL), then delete it."""
    pids = _namespace_pids(name)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [pid for pid in _namespace_pids(name) if _pid_alive(pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _ip("netns", "delete", name, check=False)


def sweep_stale_namespaces() -> list[str]:
    """Delete `bsw-<pid>-*` namespaces whose creating process is gone; return their names."""
    if netns_unavailable_reason() is not None or not _NETNS_DIR.is_dir():
        return []
    removed: list[str] = []
    for entry in sorted(_NETNS_DIR.iterdir()):
        parts = entry.name.split("-")
        if not entry.name.startswith(NAMESPACE_PREFIX) or len(parts) != 3:
            continue
        if parts[1].isdigit() and _pid_alive(int(parts[1])):
            continue
        _kill_and_delete(entry.name)
        removed.append(entry.name)
    return removed


class NetworkNamespace:
    """One private namespace with addresses 10.77.0.N/32 on its `lo`.

    Use as a context manager: entering creates it, leaving (also on error) kills every
    process still inside and deletes it.
    """

    def __init__(self) -> None:
        self.name = f"{NAMESPACE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self._addresses: list[str] = []
        self._created = False

    def create(self) -> None:
        reason = netns_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"cannot create a network namespace: {reason}")
        _ip("netns", "add", self.name)
        self._created = True
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise

    def add_address(self) -> str:
        """Add the next 10.77.0.N address to the namespace's `lo` and return it."""
        if not self._created:
            raise RuntimeError(f"namespace {self.name} does not exist yet")
        if len(self._addresses) >= 250:
            raise RuntimeError(f"namespace {self.name} is out of addresses")
        address = f"{_SUBNET}{len(self._addresses) + 1}"
        _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", "lo")
        self._addresses.append(address)
        return address

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(self._addresses)

    def exec_prefix(self) -> list[str]:
        """Put this in front of an argv to run it inside the namespace (same PID: ip execs)."""
        return ["ip", "netns", "exec", self.name]

    def open_socket(
        self,
        family: socket.AddressFamily = socket.AF_INET,
        kind: socket.SocketKind = socket.SOCK_STREAM,
    ) -> socket.socket:
        return open_socket(self.name, family, kind)

    def free_port(self, host: str, kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
        return free_port(host, self.name, kind)

    def pids(self) -> list[int]:
        return _namespace_pids(self.name) if self._created else []

    def exists(self) -> bool:
        return (_NETNS_DIR / self.name).exists()

    def delete(self) -> None:
        if self._created:
            self._created = False
            _kill_and_delete(self.name)

    def __enter__(self) -> NetworkNamespace:
        self.create()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.delete()

    def __repr__(self) -> str:
        return f"NetworkNamespace({self.name!r}, addresses={self._addresses!r})"

"""The daemons under test: bitswarm, transmission-daemon and qbittorrent-nox, driven alike.

Each gets its own folder (config, state, a private copy of the data), fixed free loopback
ports for its API and its peers, and every network feature that would leave the machine
off (DHT, LSD, PEX, UPnP/NAT-PMP, GeoIP look-ups). `start` runs the process and returns
once its API answers; `states` lists every torrent's state as one of "seeding",
"stopped", "checking" or "other"; `add` adds the load through the daemon's own API.
bitswarm and Transmission are driven over the Transmission RPC, qBittorrent over its
WebUI API; bitswarm also serves the qBittorrent API, so `maindata` exists on both.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import time
from pathlib import Path

from .load import Load
from .procs import Child, free_port
from .rpc import Http, QbtApi, TransmissionRpc

__all__ = ["Bitswarm", "DaemonUnderTest", "Qbittorrent", "Transmission"]

POLL = 0.02


class DaemonUnderTest:
    """What the benchmark needs of a daemon (see the module docstring)."""

    name = ""
    program = ""  # the executable, for the "cannot run here" check

    def __init__(self, root: Path, load: Load) -> None:
        self.root = root
        self.load = load
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self.data = load.copy_data(root / "data")
        self.api_port = free_port()
        self.peer_port = free_port()
        self.child: Child | None = None
        self.http = Http(self.api_port)

    # ---------------------------------------------------------------- per daemon
    def spawn(self) -> Child:
        raise NotImplementedError

    def answers(self) -> bool:
        """True once the API answers (a cheap request)."""
        raise NotImplementedError

    def states(self) -> list[str]:
        raise NotImplementedError

    def add(self, paused: bool) -> None:
        raise NotImplementedError

    def stop_all(self) -> None:
        """Stop every torrent through the API."""
        raise NotImplementedError

    def torrent_get(self, fields: list[str]) -> bytes | None:
        """The raw reply of torrent-get with `fields`, or None without a Transmission RPC."""
        return None

    def maindata(self, rid: int) -> bytes | None:
        """The raw reply of sync/maindata at `rid`, or None without a qBittorrent API."""
        return None

    # ---------------------------------------------------------------- common
    def start(self, timeout: float = 120.0) -> float:
        """Start the process; seconds until its API answers."""
        self.http.close()
        self.child = self.spawn()
        deadline = time.monotonic() + timeout
        while True:
            self.child.check()
            try:
                if self.answers():
                    return time.perf_counter() - self.child.started
            except (OSError, RuntimeError):
                self.http.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: API did not answer in {timeout:.0f} s")
            time.sleep(POLL)

    def wait_states(self, want: str, timeout: float = 300.0) -> float:
        """Seconds from the process start until all N torrents are listed in state `want`."""
        assert self.child is not None
        n = len(self.load.torrents)
        deadline = time.monotonic() + timeout
        last: list[str] = []
        while True:
            self.child.check()
            last = self.states()
            if len(last) == n and all(s == want for s in last):
                return time.perf_counter() - self.child.started
            if time.monotonic() > deadline:
                seen = {s: last.count(s) for s in set(last)}
                raise TimeoutError(f"{self.name}: not all {n} {want} in {timeout:.0f} s: {seen}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        assert self.child is not None
        return self.child.pid

    def stop(self) -> float:
        self.http.close()
        if self.child is None:
            return 0.0
        seconds = self.child.stop()
        self.child = None
        return seconds


_TR_STATE = {0: "stopped", 1: "checking", 2: "checking", 6: "seeding"}


class _TransmissionLike(DaemonUnderTest):
    def __init__(self, root: Path, load: Load) -> None:
        super().__init__(root, load)
        self.rpc = TransmissionRpc(self.http)

    def answers(self) -> bool:
        self.rpc.call("session-get", {"fields": ["version"]})
        return True

    def states(self) -> list[str]:
        torrents = self.rpc.call("torrent-get", {"fields": ["id", "status"]})["torrents"]
        return [_TR_STATE.get(t["status"], "other") for t in torrents]

    def add(self, paused: bool) -> None:
        for t in self.load.torrents:
            self.rpc.call(
                "torrent-add",
                {
                    "metainfo": base64.b64encode(t.torrent).decode(),
                    "download-dir": str(self.data),
                    "paused": paused,
                },
            )

    def stop_all(self) -> None:
        self.rpc.call("torrent-stop")

    def torrent_get(self, fields: list[str]) -> bytes | None:
        body = json.dumps({"arguments": {"fields": fields}, "method": "torrent-get", "tag": 4})
        return self.rpc.post(body.encode())


class Bitswarm(_TransmissionLike):
    name = "bitswarm"
    program = sys.executable
    ready_line: dict[str, object] | None = None

    def __init__(self, root: Path, load: Load) -> None:
        super().__init__(root, load)
        self.qbt = QbtApi(self.http)
        self.serves_qbt: bool | None = None

    def spawn(self) -> Child:
        argv = [
            sys.executable,
            "-m",
            "bitswarm",
            "daemon",
            "--state-dir",
            str(self.root / "state"),
            "--download-dir",
            str(self.data),
            "--rpc",
            f"127.0.0.1:{self.api_port}",
            "--port",
            str(self.peer_port),
        ]
        env = {
            "BITSWARM_DHT_ENABLED": "false",
            "BITSWARM_LSD_ENABLED": "false",
            "BITSWARM_LISTEN_HOST": "127.0.0.1",
            "XDG_CONFIG_HOME": str(self.root / "no-config"),
        }
        return Child(argv, self.root / "daemon.log", env, pipe=True)

    def start(self, timeout: float = 120.0) -> float:
        """bitswarm prints a ready line: the start-up time is the time to that line."""
        self.http.close()
        self.child = self.spawn()
        line = self.child.readline(timeout)
        seconds = time.perf_counter() - self.child.started
        if not line.strip():
            self.child.check()
            raise TimeoutError(f"bitswarm printed no ready line in {timeout:.0f} s")
        self.ready_line = json.loads(line)
        return seconds

    def maindata(self, rid: int) -> bytes | None:
        if self.serves_qbt is None:
            self.serves_qbt = self.qbt.available()
        return self.qbt.get("sync/maindata", {"rid": rid}) if self.serves_qbt else None


class Transmission(_TransmissionLike):
    name = "transmission-daemon"
    program = "transmission-daemon"

    def __init__(self, root: Path, load: Load) -> None:
        super().__init__(root, load)
        config = root / "config"
        config.mkdir()
        settings = {
            "rpc-port": self.api_port,
            "rpc-bind-address": "127.0.0.1",
            "rpc-authentication-required": False,
            "rpc-whitelist-enabled": True,
            "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": False,
            "peer-port": self.peer_port,
            "peer-port-random-on-start": False,
            "bind-address-ipv4": "127.0.0.1",
            "bind-address-ipv6": "::1",
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "utp-enabled": False,
            "port-forwarding-enabled": False,
            "download-dir": str(self.data),
            "incomplete-dir-enabled": False,
            "watch-dir-enabled": False,
            "seed-queue-enabled": False,
            "download-queue-enabled": True,
            "message-level": 1,
        }
        (config / "settings.json").write_text(json.dumps(settings, indent=1))

    def spawn(self) -> Child:
        argv = ["transmission-daemon", "-f", "-g", str(self.root / "config")]
        return Child(argv, self.root / "daemon.log")


_QBT_STATE = {
    "uploading": "seeding",
    "stalledUP": "seeding",
    "queuedUP": "seeding",
    "forcedUP": "seeding",
    "pausedUP": "stopped",
    "pausedDL": "stopped",
    "stoppedUP": "stopped",
    "stoppedDL": "stopped",
    "checkingUP": "checking",
    "checkingDL": "checking",
    "checkingResumeData": "checking",
}


class Qbittorrent(DaemonUnderTest):
    name = "qbittorrent-nox"
    program = "qbittorrent-nox"

    def __init__(self, root: Path, load: Load) -> None:
        super().__init__(root, load)
        self.qbt = QbtApi(self.http)
        config = root / "profile" / "qBittorrent" / "config"
        config.mkdir(parents=True)
        (config / "qBittorrent.conf").write_text(
            "[LegalNotice]\nAccepted=true\n\n"
            "[BitTorrent]\n"
            "Session\\DHTEnabled=false\nSession\\LSDEnabled=false\nSession\\PeXEnabled=false\n"
            f"Session\\Port={self.peer_port}\n"
            "Session\\Interface=lo\nSession\\InterfaceName=lo\n"
            "Session\\InterfaceAddress=127.0.0.1\n"
            "Session\\QueueingSystemEnabled=false\n"
            f"Session\\DefaultSavePath={self.data}\n\n"
            "[Preferences]\n"
            "Connection\\UPnP=false\nConnection\\ResolvePeerCountries=false\n"
            "General\\Locale=en\n"
            f"WebUI\\Address=127.0.0.1\nWebUI\\Port={self.api_port}\n"
            "WebUI\\LocalHostAuth=false\nWebUI\\CSRFProtection=false\n"
            "WebUI\\HostHeaderValidation=false\n"
        )

    def spawn(self) -> Child:
        argv = ["qbittorrent-nox", f"--profile={self.root / 'profile'}"]
        env = {"HOME": str(self.root), "XDG_CONFIG_HOME": str(self.root / "xdg")}
        return Child(argv, self.root / "daemon.log", env)

    def answers(self) -> bool:
        self.qbt.get("app/version")
        return True

    def states(self) -> list[str]:
        torrents = json.loads(self.qbt.get("torrents/info"))
        return [_QBT_STATE.get(t["state"], "other") for t in torrents]

    def add(self, paused: bool) -> None:
        batch = 100
        for i in range(0, len(self.load.torrents), batch):
            files = [(t.name + ".torrent", t.torrent) for t in self.load.torrents[i : i + batch]]
            fields = {
                "savepath": str(self.data),
                "paused": "true" if paused else "false",
                # qBittorrent 4.5 checks new torrents about one a second; the first start
                # is not measured, and every later start trusts its resume data anyway
                "skip_checking": "true",
            }
            self.qbt.post("torrents/add", fields, files)

    def stop_all(self) -> None:
        self.qbt.post("torrents/pause", {"hashes": "all"})

    def maindata(self, rid: int) -> bytes | None:
        return self.qbt.get("sync/maindata", {"rid": rid})

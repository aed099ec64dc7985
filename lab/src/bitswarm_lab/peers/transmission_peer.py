"""Transmission (Debian `transmission-daemon` 3.00) as a harness peer, driven over its RPC.

Traps handled here (real-peers.md): Transmission 3.00 never dials 127.0.0.0/8 and keys peers
by IP alone, so it only runs inside a network namespace with an address of its own
(`needs_netns`); its RPC has no "connect to this peer" call, so a leecher learns its seeder
from a tracker (`dials_peers` is False). It gets a private config folder (`-g`), stays in
the foreground (`-f`), and speaks RPC only after the X-Transmission-Session-Id handshake
(HTTP 409 carries the id). Plain TCP: `encryption` 0, no DHT, LPD, PEX, uTP or port mapping.
"""

from __future__ import annotations

import base64
import enum
import json
import shutil
import time
from typing import Any

from .base import HarnessError, Peer, PeerSpec, PeerStatus, Role
from .http_rpc import post_json
from .netns import free_port
from .process import ManagedProcess
from .torrent_files import with_announce

__all__ = ["TransmissionPeer"]

_RPC_HOST = "127.0.0.1"
_RPC_PATH = "/transmission/rpc"
_SESSION_HEADER = "X-Transmission-Session-Id"
_FIELDS = [
    "status",
    "percentDone",
    "leftUntilDone",
    "sizeWhenDone",
    "recheckProgress",
    "peersConnected",
    "rateDownload",
    "rateUpload",
    "error",
    "errorString",
]


class TorrentState(enum.IntEnum):
    """`status` of torrent-get (Transmission RPC spec, section 3.3)."""

    STOPPED = 0
    CHECK_WAIT = 1
    CHECK = 2
    DOWNLOAD_WAIT = 3
    DOWNLOAD = 4
    SEED_WAIT = 5
    SEED = 6


class TransmissionPeer(Peer):
    """transmission-daemon with its own config folder, one torrent added over RPC."""

    program = "transmission"
    dials_peers = False
    needs_netns = True

    def __init__(self, spec: PeerSpec) -> None:
        super().__init__(spec)
        self._rpc_port = 0
        self._session_id = ""
        self._torrent_id: int | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("transmission-daemon") is None:
            return "transmission-daemon is not installed (apt-get install transmission-daemon)"
        return None

    def _settings(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "bind-address-ipv4": spec.listen.host,  # also the source of its connections
            "peer-port": spec.listen.port,
            "peer-port-random-on-start": False,
            # 0: prefer plaintext, accept either; 2: encrypted only ("required")
            "encryption": 2 if spec.encryption == "required" else 0,
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "utp-enabled": False,
            "port-forwarding-enabled": False,
            "blocklist-enabled": False,
            "rpc-enabled": True,
            "rpc-bind-address": _RPC_HOST,
            "rpc-port": self._rpc_port,
            "rpc-authentication-required": False,
            "rpc-whitelist-enabled": False,
            "rpc-host-whitelist-enabled": False,
            "download-dir": str(spec.data_dir),
            "incomplete-dir-enabled": False,
            "watch-dir-enabled": False,
            "start-added-torrents": True,
            "download-queue-enabled": False,
            "seed-queue-enabled": False,
            "queue-stalled-enabled": False,
            "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False,
            "speed-limit-down-enabled": False,
            "speed-limit-up-enabled": False,
            "alt-speed-enabled": False,
            "message-level": 2,
        }

    def _launch(self) -> ManagedProcess:
        config = self.spec.workdir / "transmission-config"
        config.mkdir(parents=True, exist_ok=True)
        self._rpc_port = free_port(_RPC_HOST, self.spec.netns)
        (config / "settings.json").write_text(json.dumps(self._settings(), indent=2))
        return self._spawn(["transmission-daemon", "-f", "-g", str(config)])

    def _after_launch(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                self._call("session-get")
                break
            except OSError as exc:
                if not self._require_process().running() or time.monotonic() > deadline:
                    self._fail(HarnessError, f"RPC on port {self._rpc_port} never answered: {exc}")
                time.sleep(0.1)
        metainfo = self.spec.torrent.read_bytes()
        if self.spec.tracker:
            metainfo = with_announce(metainfo, self.spec.tracker)
        added = self._call(
            "torrent-add",
            {
                "metainfo": base64.b64encode(metainfo).decode(),
                "download-dir": str(self.spec.data_dir),
                "paused": False,
            },
        )
        entry = added.get("torrent-added") or added.get("torrent-duplicate")
        if not isinstance(entry, dict):
            self._fail(HarnessError, f"torrent-add returned {added!r}")
        self._torrent_id = int(entry["id"])
        if self.spec.role is Role.SEED:
            # Make it hash the data it was given instead of trusting an empty resume state.
            self._call("torrent-verify", {"ids": [self._torrent_id]})

    def _call(self, method: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """One RPC, repeating it once with the session id when the daemon answers 409."""
        payload = {"method": method, "arguments": arguments or {}}
        for _ in range(2):
            reply = post_json(
                _RPC_HOST,
                self._rpc_port,
                _RPC_PATH,
                payload,
                headers={_SESSION_HEADER: self._session_id},
                netns=self.spec.netns,
            )
            if reply.status == 409:
                self._session_id = reply.headers.get(_SESSION_HEADER.lower(), "")
                continue
            body = reply.json()
            if reply.status != 200 or body.get("result") != "success":
                raise OSError(f"transmission {method}: HTTP {reply.status} {body.get('result')}")
            result: dict[str, Any] = body.get("arguments", {})
            return result
        raise OSError(f"transmission {method}: no session id after a 409")

    def _query(self) -> PeerStatus:
        if self._torrent_id is None:
            return PeerStatus(detail="torrent not added")
        torrents = self._call("torrent-get", {"ids": [self._torrent_id], "fields": _FIELDS})
        found = torrents.get("torrents") or []
        if not found:
            self._fail(HarnessError, "the daemon lost the torrent")
        info: dict[str, Any] = found[0]
        if info.get("error"):
            self._fail(HarnessError, f"torrent error {info['error']}: {info.get('errorString')}")
        state = TorrentState(int(info["status"]))
        checking = state in (TorrentState.CHECK_WAIT, TorrentState.CHECK)
        complete = (
            not checking
            and state in (TorrentState.SEED_WAIT, TorrentState.SEED)
            and info.get("leftUntilDone") == 0
            and float(info.get("percentDone", 0)) >= 1.0
        )
        detail = (
            f"status={state.name} peers={info.get('peersConnected')} "
            f"down={info.get('rateDownload')} B/s up={info.get('rateUpload')} B/s"
        )
        return PeerStatus(float(info.get("percentDone", 0.0)), complete, detail)

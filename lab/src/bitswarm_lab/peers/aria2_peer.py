"""aria2 (Debian `aria2`, aria2c 1.36) as a harness peer, watched over its JSON-RPC.

aria2c takes the torrent on its command line with a GID we choose, so `aria2.tellStatus`
needs no lookup. It has no option to dial a given address (`aria2c --help=#bittorrent`
offers trackers, DHT and LPD only), so as a leecher it finds its seeder through a tracker:
`dials_peers` is False and the harness starts opentracker. As a seeder it checks the data
(`--check-integrity`) before it serves, and accepts whoever connects.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from typing import Any

from .base import HarnessError, Peer, PeerSpec, PeerStatus, Role
from .http_rpc import post_json
from .netns import free_port
from .process import ManagedProcess

__all__ = ["Aria2Peer"]

_RPC_HOST = "127.0.0.1"  # aria2 listens for RPC on loopback only (--rpc-listen-all=false)
_STATUS_KEYS = [
    "status",
    "totalLength",
    "completedLength",
    "verifiedLength",
    "verifyIntegrityPending",
    "seeder",
    "numSeeders",
    "connections",
    "downloadSpeed",
    "uploadSpeed",
    "errorCode",
    "errorMessage",
]


class Aria2Peer(Peer):
    """aria2c with `--enable-rpc`; no DHT, LPD or PEX; plaintext allowed."""

    program = "aria2"
    dials_peers = False

    def __init__(self, spec: PeerSpec) -> None:
        super().__init__(spec)
        self._gid = secrets.token_hex(8)
        self._rpc_port = 0

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("aria2c") is None:
            return "aria2c is not installed (apt-get install aria2)"
        return None

    def _launch(self) -> ManagedProcess:
        spec = self.spec
        self._rpc_port = free_port(_RPC_HOST, spec.netns)
        argv = [
            "aria2c",
            "--no-conf=true",
            f"--stop-with-process={os.getpid()}",  # never outlive the harness
            "--enable-rpc=true",
            f"--rpc-listen-port={self._rpc_port}",
            "--rpc-listen-all=false",
            f"--gid={self._gid}",
            f"--dir={spec.data_dir}",
            f"--interface={spec.listen.host}",
            f"--listen-port={spec.listen.port}",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            *_crypto_options(spec.encryption),
            "--disable-ipv6=true",
            "--file-allocation=none",
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
            "--bt-save-metadata=false",
            "--summary-interval=0",
            "--show-console-readout=false",
            "--console-log-level=warn",
            f"--log={spec.workdir / 'aria2.log'}",
            "--log-level=notice",
        ]
        if spec.tracker:
            argv.append(f"--bt-tracker={spec.tracker}")
        if spec.role is Role.SEED:
            # Verify the data, then seed for ever (ratio 0.0 means no ratio limit).
            argv += ["--check-integrity=true", "--seed-ratio=0.0"]
        elif spec.seed_after:
            argv += ["--seed-ratio=0.0"]
        else:
            argv += ["--seed-time=0"]
        argv.append(str(spec.torrent))
        return self._spawn(argv)

    def _after_launch(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self._call("aria2.getVersion")
                return
            except OSError as exc:
                if not self._require_process().running() or time.monotonic() > deadline:
                    reason = f"JSON-RPC on port {self._rpc_port} never answered: {exc}"
                    self._fail(HarnessError, reason)
                time.sleep(0.05)

    def _call(self, method: str, *params: Any) -> Any:
        payload = {"jsonrpc": "2.0", "id": "harness", "method": method, "params": list(params)}
        reply = post_json(_RPC_HOST, self._rpc_port, "/jsonrpc", payload, netns=self.spec.netns)
        body = reply.json()
        if reply.status != 200 or "error" in body:
            raise OSError(f"aria2 {method} failed: HTTP {reply.status} {body.get('error')}")
        return body["result"]

    def _query(self) -> PeerStatus:
        info: dict[str, str] = self._call("aria2.tellStatus", self._gid, _STATUS_KEYS)
        total = int(info.get("totalLength", "0"))
        done = int(info.get("completedLength", "0"))
        state = info.get("status", "?")
        if state == "error":
            code, message = info.get("errorCode"), info.get("errorMessage")
            self._fail(HarnessError, f"reported error {code}: {message}")
        checking = "verifiedLength" in info or "verifyIntegrityPending" in info
        complete = (
            (
                state == "complete"
                or (state == "active" and info.get("seeder") == "true" and not checking)
            )
            and total > 0
            and done == total
        )
        detail = (
            f"status={state} checking={checking} connections={info.get('connections')} "
            f"down={info.get('downloadSpeed')} B/s up={info.get('uploadSpeed')} B/s"
        )
        return PeerStatus(done / total if total else 0.0, complete, detail)


def _crypto_options(encryption: str) -> list[str]:
    """aria2's MSE options: required = encrypted handshake and RC4 only."""
    if encryption == "required":
        return ["--bt-min-crypto-level=arc4", "--bt-require-crypto=true"]
    return ["--bt-min-crypto-level=plain", "--bt-require-crypto=false"]

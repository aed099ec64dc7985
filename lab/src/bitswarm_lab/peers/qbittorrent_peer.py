"""qBittorrent (Debian `qbittorrent-nox` 4.5.2, libtorrent 2.0.8 inside) as a harness peer,
driven over its WebUI API v2.

Each run gets a private profile folder (`--profile`) whose config accepts the legal notice,
turns off GeoIP lookups (real-peers.md: it would try the network at start) and lets
loopback use the WebUI without a login. Everything else is set through the API's
`app/setPreferences`, as a user would: the listen port, no DHT, LSD, PEX, UPnP or uTP
(`bittorrent_protocol` 1 = TCP), no queueing, several connections from one IP (libtorrent
closes a second one from 127.0.0.1 otherwise), and `encryption`: 0 allows both ways
(prefers encryption), 1 requires it, 2 disables it. The torrent goes in with
`torrents/add` (multipart, as the web UI sends it); a seeder's data is checked at once,
as a torrent added without resume data is (an explicit `torrents/recheck` on top of that
check leaves it in checkingDL for good in 4.5.2). A leecher is handed its seeder's
address with `torrents/addPeers` and also learns it from the tracker.

A seeder counts as complete only once it answers a BitTorrent handshake for the torrent
(through MSE when it requires encryption): for a second or more after its check ends
(longer under load) qBittorrent 4.5.2 reports the torrent seeding yet resets incoming
encrypted connections, which a test would misread as a refusal.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
import urllib.parse
from typing import Any

from bitswarm.bencode import decode_spans
from bitswarm.wire.handshake import HANDSHAKE_LENGTH, encode_handshake
from bitswarm.wire.mse import CRYPTO_RC4, MseError, MseInitiator

from .base import HarnessError, Peer, PeerSpec, PeerStatus, Role
from .http_rpc import http_request
from .netns import free_port, open_socket
from .process import ManagedProcess
from .torrent_files import with_announce

__all__ = ["QB_ENCRYPTION", "QbittorrentPeer"]

_WEBUI_HOST = "127.0.0.1"
# PeerSpec.encryption -> qBittorrent's `encryption` preference
QB_ENCRYPTION = {"": 0, "preferred": 0, "required": 1, "disabled": 2}
_CHECKING = ("checkingUP", "checkingDL", "checkingResumeData", "allocating", "metaDL")

_CONFIG = """[LegalNotice]
Accepted=true

[Preferences]
WebUI\\Address={host}
WebUI\\Port={port}
WebUI\\LocalHostAuth=false
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
WebUI\\ClickjackingProtection=false
Connection\\ResolvePeerCountries=false
General\\Locale=en
"""


def _info_hash(metainfo: bytes) -> str:
    start, end = decode_spans(metainfo).spans[b"info"]
    return hashlib.sha1(metainfo[start:end]).hexdigest()


class QbittorrentPeer(Peer):
    """qbittorrent-nox with a private profile, one torrent added over the WebUI API."""

    program = "qbittorrent"

    def __init__(self, spec: PeerSpec) -> None:
        super().__init__(spec)
        self._webui_port = 0
        self._hash = ""
        self._answers = False  # a seeder answered our handshake probe

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("qbittorrent-nox") is None:
            return "qbittorrent-nox is not installed (apt-get install qbittorrent-nox)"
        return None

    def preferences(self) -> dict[str, Any]:
        """What `app/setPreferences` is given at start (see the module docstring)."""
        return {
            "listen_port": self.spec.listen.port,
            "random_port": False,
            "upnp": False,
            "dht": False,
            "pex": False,
            "lsd": False,
            "bittorrent_protocol": 1,  # TCP only
            "encryption": QB_ENCRYPTION[self.spec.encryption],
            "anonymous_mode": False,
            "queueing_enabled": False,
            "enable_multi_connections_from_same_ip": True,
            "max_ratio_enabled": False,
            "dl_limit": 0,
            "up_limit": 0,
            "limit_lan_peers": False,
            "preallocate_all": False,
            "incomplete_files_ext": False,
            "temp_path_enabled": False,
        }

    def _launch(self) -> ManagedProcess:
        profile = self.spec.workdir / "qbittorrent-profile"
        config = profile / "qBittorrent" / "config"
        config.mkdir(parents=True, exist_ok=True)
        self._webui_port = free_port(_WEBUI_HOST, self.spec.netns)
        (config / "qBittorrent.conf").write_text(
            _CONFIG.format(host=_WEBUI_HOST, port=self._webui_port)
        )
        return self._spawn(["qbittorrent-nox", f"--profile={profile}"])

    def _after_launch(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.api("GET", "app/version")
                break
            except OSError as exc:
                if not self._require_process().running() or time.monotonic() > deadline:
                    self._fail(HarnessError, f"WebUI on {self._webui_port} never answered: {exc}")
                time.sleep(0.2)
        self.api("POST", "app/setPreferences", json=json.dumps(self.preferences()))
        metainfo = self.spec.torrent.read_bytes()
        if self.spec.tracker:
            metainfo = with_announce(metainfo, self.spec.tracker)
        self._hash = _info_hash(metainfo)
        boundary = secrets.token_hex(16)
        fields = {"savepath": str(self.spec.data_dir), "paused": "false", "root_folder": "true"}
        body = _multipart(boundary, fields, ("torrents", "subject.torrent", metainfo))
        reply = self._request(
            "POST",
            "torrents/add",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        if reply.strip() != b"Ok.":
            self._fail(HarnessError, f"torrents/add answered {reply[:200]!r}")
        self._wait_added()
        if self.spec.peers:
            peers = "|".join(f"{p.host}:{p.port}" for p in self.spec.peers)
            self.api("POST", "torrents/addPeers", hashes=self._hash, peers=peers)

    def _wait_added(self) -> None:
        deadline = time.monotonic() + 15
        while not self._info():
            if time.monotonic() > deadline:
                self._fail(HarnessError, "the added torrent never appeared in torrents/info")
            time.sleep(0.1)

    def _info(self) -> dict[str, Any] | None:
        rows = json.loads(self.api("GET", "torrents/info", hashes=self._hash))
        return rows[0] if rows else None

    def _query(self) -> PeerStatus:
        row = self._info()
        if row is None:
            return PeerStatus(detail="no torrent yet")
        progress = float(row["progress"])
        state = str(row["state"])
        complete = progress >= 1.0 and state not in _CHECKING
        if complete and self.spec.role is Role.SEED and not self._answers:
            self._answers = self._answers_handshake()
            complete = self._answers
        detail = (
            f"state {state}, {row.get('num_seeds', 0)} seeds, {row.get('num_leechs', 0)} leechers"
            f", down {row.get('dlspeed', 0)} B/s, up {row.get('upspeed', 0)} B/s"
        )
        return PeerStatus(progress=progress, complete=complete, detail=detail)

    def _answers_handshake(self) -> bool:
        """Does the seeder answer a BitTorrent handshake for our torrent now (wrapped in
        MSE offering RC4 when it requires encryption)?"""
        info_hash = bytes.fromhex(self._hash)
        hello = encode_handshake(info_hash, b"-HARNESS-PROBE-00000", bytes(8))
        mse = None
        if self.spec.encryption == "required":
            mse = MseInitiator(
                info_hash, provide=CRYPTO_RC4, initial_payload=hello, random_bytes=os.urandom
            )
        try:
            with open_socket(self.spec.netns) as sock:
                sock.settimeout(5)
                sock.connect((self.spec.listen.host, self.spec.listen.port))
                sock.sendall(mse.data_to_send() if mse is not None else hello)
                got = b""
                while mse is not None and mse.result is None:
                    data = sock.recv(4096)
                    if not data:
                        return False
                    mse.receive_data(data)
                    if out := mse.data_to_send():
                        sock.sendall(out)
                decryptor = mse.result.decryptor if mse is not None and mse.result else None
                if mse is not None and mse.result is not None:
                    got = mse.result.rest
                while len(got) < HANDSHAKE_LENGTH:
                    data = sock.recv(4096)
                    if not data:
                        return False
                    got += data
                if decryptor is not None:
                    got = decryptor.update(got)
                return got[28:48] == info_hash
        except (OSError, MseError):
            return False

    def peers(self) -> dict[str, Any]:
        """`sync/torrentPeers`: the connected peers by "ip:port" (flags, client, progress)."""
        reply = json.loads(self.api("GET", "sync/torrentPeers", hash=self._hash, rid="0"))
        peers: dict[str, Any] = reply.get("peers", {})
        return peers

    def api(self, method: str, endpoint: str, **params: str) -> bytes:
        """One WebUI API v2 call; GET parameters in the query, POST ones form-encoded."""
        query = urllib.parse.urlencode(params)
        if method == "GET":
            return self._request("GET", f"{endpoint}?{query}" if query else endpoint, None, {})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self._request("POST", endpoint, query.encode(), headers)

    def _request(
        self, method: str, endpoint: str, body: bytes | None, headers: dict[str, str]
    ) -> bytes:
        reply = http_request(
            _WEBUI_HOST,
            self._webui_port,
            method,
            f"/api/v2/{endpoint}",
            body=body,
            headers={"Referer": f"http://{_WEBUI_HOST}:{self._webui_port}", **headers},
            netns=self.spec.netns,
            timeout=15.0,
        )
        if reply.status != 200:
            raise OSError(f"qBittorrent {endpoint}: HTTP {reply.status} {reply.body[:200]!r}")
        return reply.body


def _multipart(boundary: str, fields: dict[str, str], file: tuple[str, str, bytes]) -> bytes:
    """A multipart/form-data body with text `fields` and one file (name, filename, bytes)."""
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    name, filename, data = file
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: application/x-bittorrent\r\n\r\n'
    ).encode()
    out += data + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out)

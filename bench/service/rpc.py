"""The benchmark's HTTP clients: one keep-alive connection, Transmission RPC, qBittorrent API.

Latency is measured from the request's first byte sent to the reply's last byte read,
over one kept-alive connection (as a web UI or the *arr apps poll); decoding the JSON is
the client's work and stays outside the timing. Both APIs speak to bitswarm and to the
real program through the same code, so the figures compare like with like.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

__all__ = ["Http", "Latency", "QbtApi", "TransmissionRpc", "measure"]


class Http:
    """One kept-alive HTTP/1.1 connection to 127.0.0.1:port (reopened if the server closed)."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout
                )
            try:
                self._conn.request(method, path, body=body, headers=dict(headers))
                reply = self._conn.getresponse()
                data = reply.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise
                continue
            if reply.will_close:
                self.close()
            return reply.status, reply.headers, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class TransmissionRpc:
    """Legacy Transmission RPC with the X-Transmission-Session-Id handshake."""

    def __init__(self, http: Http, path: str = "/transmission/rpc") -> None:
        self.http = http
        self.path = path
        self.session_id = ""

    def post(self, body: bytes) -> bytes:
        for _ in range(3):
            headers = {"Content-Type": "application/json"}
            if self.session_id:
                headers["X-Transmission-Session-Id"] = self.session_id
            status, reply_headers, data = self.http.request("POST", self.path, body, headers)
            if status == 409:
                self.session_id = reply_headers.get("X-Transmission-Session-Id", "")
                continue
            if status != 200:
                raise RuntimeError(f"RPC answered {status}: {data[:300]!r}")
            return data
        raise RuntimeError("RPC kept answering 409")

    def call(self, method: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"method": method, "arguments": dict(arguments or {})}).encode()
        reply = json.loads(self.post(body))
        if reply.get("result") != "success":
            raise RuntimeError(f"{method}: {reply.get('result')}")
        arguments_out: dict[str, Any] = reply.get("arguments", {})
        return arguments_out


class QbtApi:
    """qBittorrent WebUI API v2; logs in if asked to (keeps the SID cookie)."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.cookie = ""

    def _headers(self, extra: Mapping[str, str] = {}) -> dict[str, str]:
        headers = {"Referer": f"http://127.0.0.1:{self.http.port}", **extra}
        if self.cookie:
            headers["Cookie"] = self.cookie
        return headers

    def login(self, username: str, password: str) -> None:
        body = urlencode({"username": username, "password": password}).encode()
        ctype = {"Content-Type": "application/x-www-form-urlencoded"}
        status, headers, data = self.http.request(
            "POST", "/api/v2/auth/login", body, self._headers(ctype)
        )
        if status != 200 or data.strip() not in (b"Ok.", b""):
            raise RuntimeError(f"qBittorrent login: {status} {data[:200]!r}")
        self._keep_cookie(headers)

    def _keep_cookie(self, headers: http.client.HTTPMessage) -> None:
        """The session cookie from any reply: qBittorrent starts a session (and its `rid`
        history) for a client that needs no login too, and keys it by the cookie."""
        for value in headers.get_all("Set-Cookie") or []:
            self.cookie = value.split(";", 1)[0]

    def available(self) -> bool:
        """True if this server serves the API at all (a daemon may serve only some)."""
        status, _, _ = self.http.request("GET", "/api/v2/app/webapiVersion", None, self._headers())
        return status == 200

    def get(self, path: str, params: Mapping[str, object] | None = None) -> bytes:
        query = f"?{urlencode(params)}" if params else ""
        status, headers, data = self.http.request(
            "GET", f"/api/v2/{path}{query}", None, self._headers()
        )
        self._keep_cookie(headers)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        return data

    def post(
        self, path: str, fields: Mapping[str, str], files: Sequence[tuple[str, bytes]] = ()
    ) -> bytes:
        """A multipart/form-data POST (what torrents/add needs for files)."""
        boundary = uuid.uuid4().hex
        parts: list[bytes] = []
        for key, value in fields.items():
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
            parts.append(f"{head}{value}\r\n".encode())
        for name, content in files:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="torrents"; '
                f'filename="{name}"\r\nContent-Type: application/x-bittorrent\r\n\r\n'
            )
            parts.append(head.encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, _, data = self.http.request(
            "POST", f"/api/v2/{path}", b"".join(parts), self._headers(ctype)
        )
        if status != 200:
            raise RuntimeError(f"POST {path}: {status} {data[:300]!r}")
        return data


@dataclass(frozen=True, slots=True)
class Latency:
    """Latencies of one kind of request, in milliseconds, and the reply size in bytes."""

    samples: list[float]
    reply_bytes: int

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(call: Callable[[], bytes], count: int, pause: float = 0.0) -> Latency:
    """Time `call` `count` times (after two warm-up calls), `pause` seconds apart."""
    size = 0
    for _ in range(2):
        size = len(call())
    samples: list[float] = []
    for _ in range(count):
        t0 = time.perf_counter()
        size = len(call())
        samples.append((time.perf_counter() - t0) * 1000)
        if pause:
            time.sleep(pause)
    return Latency(samples, size)

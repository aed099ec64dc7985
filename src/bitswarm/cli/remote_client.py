"""`RpcClient`: the Transmission RPC (legacy protocol) as `bitswarm remote` speaks it.

One request per call, over a fresh HTTP connection (a command makes a handful of calls,
and a fresh connection never trips over a daemon that closed an idle one). Speaking the
protocol Transmission 3.00 and 4.x serve makes the same client drive bitswarm's daemon
and a real transmission-daemon:

* CSRF handshake (spec 2.3.1): the daemon answers 409 with the `X-Transmission-Session-Id`
  to use; the client keeps it and repeats the request once.
* HTTP Basic auth (spec 2.3.3) from `--auth USER:PASS`, the URL's user info, or
  `BITSWARM_RPC_USERNAME` / `BITSWARM_RPC_PASSWORD` (the daemon reads the same user name
  variable). The password is never printed: errors show the URL without its user info.
* Every failure is a `RemoteError` whose message is one line a person can act on.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import BitswarmError

__all__ = ["DEFAULT_URL", "Endpoint", "RemoteError", "RpcClient", "resolve_endpoint"]

DEFAULT_PATH = "/transmission/rpc"
DEFAULT_URL = f"http://127.0.0.1:9091{DEFAULT_PATH}"
SESSION_HEADER = "X-Transmission-Session-Id"
MAX_REPLY = 512 * 2**20  # a reply larger than this is not a daemon's


class RemoteError(BitswarmError):
    """The daemon cannot be reached, refused us, or refused the request."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the daemon listens and who we are to it (`url` carries no credentials)."""

    url: str
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password, not even in a debugger
        return f"Endpoint(url={self.url!r}, username={self.username!r})"


def resolve_endpoint(
    *,
    url: str | None,
    rpc: str | None,
    auth: str | None,
    environ: Mapping[str, str],
) -> Endpoint:
    """The endpoint from the options, then the environment, then the default.

    `url` (--url) wins over `rpc` (--rpc HOST:PORT, HOST or PORT), which wins over
    `BITSWARM_RPC_URL`. Credentials: `auth` (USER:PASS), else the URL's user info, else
    `BITSWARM_RPC_USERNAME` and `BITSWARM_RPC_PASSWORD`.
    """
    if url is not None:
        target = url
    elif rpc is not None:
        target = _url_of_hostport(rpc)
    else:
        target = environ.get("BITSWARM_RPC_URL") or DEFAULT_URL
    if "://" not in target:
        raise RemoteError(f"not an http(s) URL: {target!r} (try http://HOST:PORT{DEFAULT_PATH})")
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"not an http(s) URL: {_without_userinfo(target)!r}")
    try:
        port = parts.port
    except ValueError:
        raise RemoteError(f"bad port in {_without_userinfo(target)!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port is not None else host
    path = parts.path if parts.path not in ("", "/") else DEFAULT_PATH
    clean = f"{parts.scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")
    username: str | None
    password: str | None
    if auth is not None:
        username, sep, password = auth.partition(":")
        if not sep:
            raise RemoteError("--auth wants USER:PASS")
    elif parts.username is not None:
        username, password = parts.username, parts.password or ""
    else:
        username = environ.get("BITSWARM_RPC_USERNAME") or None
        password = environ.get("BITSWARM_RPC_PASSWORD")
        if username is None and password is not None:
            username = ""
    return Endpoint(clean, username, password)


def _url_of_hostport(text: str) -> str:
    """`HOST:PORT`, `[V6]:PORT`, `HOST` or `PORT` -> the daemon's RPC URL."""
    if text.isdigit():
        return f"http://127.0.0.1:{text}{DEFAULT_PATH}"
    m = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]/]+)(?::(\d+))?", text)
    if m is None:
        raise RemoteError(f"--rpc wants HOST:PORT, not {text!r}")
    return f"http://{m.group(1)}:{m.group(2) or 9091}{DEFAULT_PATH}"


def _without_userinfo(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//", url, count=1)


class RpcClient:
    """Calls methods of a Transmission-compatible RPC endpoint, synchronously."""

    def __init__(self, endpoint: Endpoint, *, timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._session_id = ""
        parts = urlsplit(endpoint.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._auth: str | None = None
        if endpoint.username is not None or endpoint.password is not None:
            pair = f"{endpoint.username or ''}:{endpoint.password or ''}".encode()
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")

    def call(self, method: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run `method` and return its reply's `arguments`; raise `RemoteError` otherwise."""
        body = json.dumps({"method": method, "arguments": dict(arguments or {})}).encode()
        for attempt in range(2):
            status, headers, data = self._post(body)
            if status == 409 and attempt == 0:
                new_id = headers.get(SESSION_HEADER.lower(), "")
                if not new_id:
                    break
                self._session_id = new_id
                continue
            return self._reply(method, status, data)
        raise RemoteError(
            f"the daemon at {self.endpoint.url} refused every session id "
            f"(HTTP 409 without a usable {SESSION_HEADER})"
        )

    def _post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = self.endpoint.url
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._session_id:
            headers[SESSION_HEADER] = self._session_id
        if self._auth is not None:
            headers["Authorization"] = self._auth
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read(MAX_REPLY + 1)
            if len(data) > MAX_REPLY:
                raise RemoteError(f"the reply from {url} is larger than {MAX_REPLY} bytes")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        except ConnectionRefusedError:
            raise RemoteError(f"cannot reach the daemon at {url}: connection refused") from None
        except socket.gaierror as exc:
            raise RemoteError(f"cannot reach the daemon at {url}: {exc.strerror}") from None
        except TimeoutError:
            raise RemoteError(
                f"cannot reach the daemon at {url}: no answer in {self.timeout:g} s"
            ) from None
        except ssl.SSLError as exc:
            raise RemoteError(f"cannot reach the daemon at {url}: TLS: {exc.reason}") from None
        except (http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise RemoteError(f"cannot reach the daemon at {url}: {reason}") from None
        finally:
            conn.close()

    def _reply(self, method: str, status: int, data: bytes) -> dict[str, Any]:
        url = self.endpoint.url
        if status == 401:
            hint = (
                ""
                if self._auth is not None
                else " (it wants a user name and password: --auth USER:PASS, or "
                "BITSWARM_RPC_USERNAME and BITSWARM_RPC_PASSWORD)"
            )
            raise RemoteError(f"authentication failed at {url}{hint}")
        if status == 421:
            raise RemoteError(
                f"the daemon at {url} does not accept the host name {self._host!r} "
                "(add it to the daemon's host allowlist, or use its IP address)"
            )
        if status != 200:
            raise RemoteError(f"HTTP {status} from {url}: {_message_of(data)}")
        try:
            reply = json.loads(data)
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or not isinstance(reply.get("result"), str):
            raise RemoteError(f"{url} does not answer like a Transmission RPC daemon")
        if reply["result"] != "success":
            raise RemoteError(f"{method}: {_one_line(reply['result'])}")
        arguments = reply.get("arguments", {})
        if not isinstance(arguments, dict):
            raise RemoteError(f"{method}: the daemon's reply has no arguments object")
        return arguments


def _message_of(data: bytes) -> str:
    """The gist of an error body: a JSON error's message, or an HTML page's text."""
    text = data.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        for key in ("message", "error", "result"):
            value = obj.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                return _one_line(value)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    return _one_line(re.sub(r"<[^>]+>", " ", text)) or "(no message)"


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"

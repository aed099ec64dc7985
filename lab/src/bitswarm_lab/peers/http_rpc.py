"""A small HTTP client for the control ports of real peers and trackers, namespace-aware.

aria2's JSON-RPC, Transmission's RPC and opentracker's scrape all live on plain HTTP/1.1.
When the program runs inside one of our network namespaces its port is only reachable from
inside, so the connection is made with a socket opened in that namespace (see netns.py).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any

from .netns import open_socket

__all__ = ["HttpReply", "http_request", "post_json"]


@dataclass(frozen=True, slots=True)
class HttpReply:
    """Status, headers (names lower-cased) and body of one HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; OSError when it is not (an error page is no answer either)."""
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise OSError(f"HTTP {self.status} reply is not JSON: {self.body[:200]!r}") from exc


class _NamespacedConnection(http.client.HTTPConnection):
    """An HTTPConnection whose socket is created inside network namespace `netns`."""

    def __init__(self, host: str, port: int, netns: str | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._netns = netns

    def connect(self) -> None:
        sock = open_socket(self._netns)
        try:
            sock.settimeout(self.timeout)
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def http_request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    netns: str | None = None,
    timeout: float = 5.0,
) -> HttpReply:
    """One request on a fresh connection; raises OSError when the port does not answer."""
    connection = _NamespacedConnection(host, port, netns, timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        reply_headers = {name.lower(): value for name, value in response.getheaders()}
        return HttpReply(response.status, reply_headers, data)
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP exchange with {host}:{port}{path}: {exc!r}") from exc
    finally:
        connection.close()


def post_json(
    host: str,
    port: int,
    path: str,
    payload: object,
    *,
    headers: dict[str, str] | None = None,
    netns: str | None = None,
    timeout: float = 5.0,
) -> HttpReply:
    """POST `payload` as JSON; the caller checks the status and decodes the reply."""
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return http_request(
        host,
        port,
        "POST",
        path,
        body=json.dumps(payload).encode(),
        headers=all_headers,
        netns=netns,
        timeout=timeout,
    )

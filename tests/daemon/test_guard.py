"""Hostile requests against the daemon's HTTP guard: each gets its status and a JSON error,
and the daemon keeps serving (docs/daemon.md, "Security")."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from base64 import b64encode

from bitswarm.daemon.auth import hash_password

from .conftest import DaemonFactory, RunningDaemon


def _request(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None, method: str = ""
) -> tuple[int, dict[str, str], dict[str, object]]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method or None)
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            return reply.status, dict(reply.headers), json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as err:
        with err:  # it holds the response's socket open until closed
            raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else {}


def _rpc(
    d: RunningDaemon, body: bytes, **headers: str
) -> tuple[int, dict[str, str], dict[str, object]]:
    return _request(d.rpc_url, body, headers, "POST")


def test_a_foreign_host_name_is_refused_with_421(daemon: RunningDaemon) -> None:
    status, _, reply = _rpc(daemon, b"{}", Host="evil.example.com")
    assert status == 421 and "Host" in str(reply["error"])
    status, _, _ = _rpc(daemon, b"{}", Host=f"localhost:{daemon.rpc_port}")
    assert status == 409  # a name we answer to: on to the session-id check


def test_the_session_id_is_required_and_handed_out_with_409(daemon: RunningDaemon) -> None:
    status, headers, reply = _rpc(daemon, b"{}")
    assert status == 409 and "error" in reply
    sid = headers["X-Transmission-Session-Id"]
    assert sid == daemon.session_id
    status, _, _ = _rpc(daemon, b"{}", **{"X-Transmission-Session-Id": "forged"})
    assert status == 409
    status, _, _ = _request(f"{daemon.url}/api/ui/torrents", None, {}, "GET")
    assert status in (404, 409)  # the web UI's API needs it too (404 until it is served)


def test_bad_passwords_lock_the_client_out(daemon_factory: DaemonFactory) -> None:
    d = daemon_factory(rpc_username="admin", rpc_password_hash=hash_password("s3cret"))

    def basic(user: str, password: str) -> str:
        return "Basic " + b64encode(f"{user}:{password}".encode()).decode()

    status, headers, _ = _rpc(d, b"{}")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, _, _ = _rpc(d, b"{}", Authorization=basic("admin", "s3cret"))
    assert status == 409  # authenticated; now the session id
    for _ in range(5):
        status, _, _ = _rpc(d, b"{}", Authorization=basic("admin", "wrong"))
        assert status == 401
    status, _, reply = _rpc(d, b"{}", Authorization=basic("admin", "s3cret"))
    assert status == 403 and "try again" in str(reply["error"]).lower()


def test_an_oversized_body_is_413_and_the_daemon_keeps_serving(
    daemon_factory: DaemonFactory,
) -> None:
    d = daemon_factory(rpc_max_body=4096)
    sid = {"X-Transmission-Session-Id": d.session_id}
    status, _, reply = _rpc(d, b"x" * 100_000, **sid)
    assert status == 413 and "error" in reply
    status, _, _ = _rpc(d, b"{}", Host="evil.example")
    assert status == 421


def test_unknown_paths_are_json_404(daemon: RunningDaemon) -> None:
    status, headers, reply = _request(f"{daemon.url}/no/such/thing")
    assert status == 404 and "error" in reply
    assert headers["Content-Type"].startswith("application/json")

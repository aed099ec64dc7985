"""The Transmission routes over real HTTP (aiohttp's test server, a fake `DaemonApi`):
POST/GET on /transmission/rpc, and the installed web client under /transmission/web/
with its path-traversal guards."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestServer

from bitswarm.daemon.appkeys import API_KEY
from bitswarm.daemon.transmission import add_routes
from bitswarm.daemon.transmission.webclient import find_web_root, resolve_web_file

from .transmission_fake import FakeApi


def serve(body: Callable[[str], Awaitable[None]]) -> None:
    async def main() -> None:
        app = web.Application()
        app[API_KEY] = FakeApi()
        add_routes(app)
        async with TestServer(app, host="127.0.0.1") as server:
            await body(str(server.make_url("")))

    asyncio.run(main())


def test_rpc_post_and_get() -> None:
    async def body(base: str) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/transmission/rpc",
                json={"method": "session-get", "arguments": {"fields": ["session-id"]}},
                headers={"X-Transmission-Session-Id": "abc"},
            ) as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "application/json; charset=utf-8"
                assert await r.json() == {"result": "success", "arguments": {"session-id": "abc"}}
            async with http.post(
                f"{base}/transmission/rpc", json={"jsonrpc": "2.0", "method": "torrent_start"}
            ) as r:
                assert r.status == 204 and await r.read() == b""
            async with http.get(f"{base}/transmission/rpc") as r:
                assert r.status == 405 and r.headers["Allow"] == "POST"
                assert "POST" in (await r.json())["error"]
            async with http.post(f"{base}/transmission/rpc", data=b"{nope") as r:
                assert r.status == 400 and "not valid JSON" in (await r.json())["result"]

    serve(body)


def test_resolver_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<html>")
    (root / "js" / "a.js").write_text("x")
    (tmp_path / "secret").write_text("s")
    (root / "leak").symlink_to(tmp_path / "secret")
    assert resolve_web_file(root, "") == (root / "index.html").resolve()
    assert resolve_web_file(root, "js/a.js") == (root / "js" / "a.js").resolve()
    for bad in (
        "../secret",
        "js/../../secret",
        "leak",
        "js//a.js",
        "js/./a.js",
        "a\x00b",
        "js",
        "..\\secret",
    ):
        assert resolve_web_file(root, bad) is None, bad


def test_web_client_served_read_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / "web"
    root.mkdir()
    (root / "index.html").write_text("<title>Transmission Web Interface</title>")
    (tmp_path / "secret").write_text("s")
    monkeypatch.setenv("TRANSMISSION_WEB_HOME", str(root))

    async def body(base: str) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/transmission/web/") as r:
                assert r.status == 200 and "Transmission Web Interface" in await r.text()
                assert r.headers["X-Content-Type-Options"] == "nosniff"
            async with http.get(f"{base}/transmission/web", allow_redirects=False) as r:
                assert r.status == 301 and r.headers["Location"] == "/transmission/web/"
            # the client does not normalise these, so they reach the server as written
            for path in (
                "/transmission/web/../secret",
                "/transmission/web/%2e%2e/secret",
                "/transmission/web/..%2fsecret",
            ):
                async with http.get(yarl_raw(base + path)) as r:
                    assert r.status == 404, path
                    assert "error" in await r.json()
            async with http.post(f"{base}/transmission/web/index.html") as r:
                assert r.status == 405

    serve(body)


def test_missing_web_client_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRANSMISSION_WEB_HOME", str(tmp_path / "none"))
    monkeypatch.setattr("bitswarm.daemon.transmission.webclient._CANDIDATES", ())
    assert find_web_root() is None

    async def body(base: str) -> None:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/transmission/web/") as r:
            assert r.status == 404
            assert "transmission-common" in (await r.json())["error"]

    serve(body)


def yarl_raw(url: str) -> yarl.URL:
    """The URL exactly as written: no dot-segment removal, no re-quoting."""
    return yarl.URL(url, encoded=True)

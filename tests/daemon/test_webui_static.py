"""The web UI's page and files: content types, cache headers, and no way out of the
folder (dot-dot, encoded slashes and dots, backslashes, NUL, symlinks)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from bitswarm.daemon.webui import WEB_ROOT, load_assets

from .webui_app import webui_client
from .webui_fake import FakeDaemon


def test_page_and_assets_with_types_and_cache_headers() -> None:
    async def main() -> None:
        async with webui_client(FakeDaemon()) as client:
            page = await client.get("/")
            assert page.status == 200
            assert page.headers["Content-Type"] == "text/html; charset=utf-8"
            assert page.headers["Cache-Control"] == "no-cache"
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            html = await page.text()
            refs = re.findall(r'"/ui/([\w.]+)\?v=([0-9a-f]{20})"', html)
            names = {name for name, _ in refs}
            assert {"app.js", "util.js", "list.js", "app.css", "icon.svg"} <= names
            kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
            for name, version in refs:
                reply = await client.get(f"/ui/{name}?v={version}")
                assert reply.status == 200
                assert reply.content_type == kinds[os.path.splitext(name)[1]]
                assert reply.headers["ETag"] == f'"{version}"'
                assert "max-age=" in reply.headers["Cache-Control"]
                assert await reply.read() == (WEB_ROOT / name).read_bytes()
                again = await client.get(f"/ui/{name}", headers={"If-None-Match": f'"{version}"'})
                assert again.status == 304 and await again.read() == b""
            etag = page.headers["ETag"]
            assert (await client.get("/", headers={"If-None-Match": etag})).status == 304
            assert (await client.get("/favicon.ico")).content_type == "image/svg+xml"

    asyncio.run(main())


TRAVERSALS = [
    "/ui/../../etc/passwd",
    "/ui/..%2f..%2fetc%2fpasswd",
    "/ui/..%2F..%2F..%2Fetc%2Fpasswd",
    "/ui/%2e%2e/%2e%2e/etc/passwd",
    "/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/ui/%252e%252e%252fetc%252fpasswd",
    "/ui/..%5c..%5cetc%5cpasswd",
    "/ui/..\\..\\etc\\passwd",
    "/ui//etc/passwd",
    "/ui/%2fetc%2fpasswd",
    "/ui/app.js%00.png",
    "/ui/./app.js/../../webui.py",
    "/ui/../webui.py",
    "/ui/..%2fwebui.py",
    "/ui/index.html",  # the page is at /, with its versioned references; not here
    "/ui/",
    "/ui/nope.js",
]


async def raw_get(host: str, port: int, target: str) -> tuple[int, bytes]:
    """One GET sent byte for byte as written: no client normalises the path first."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    status_line, _, body = data.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_path_leaves_the_folder(target: str) -> None:
    async def main() -> None:
        async with webui_client(FakeDaemon()) as client:
            assert client.host and client.port
            status, body = await raw_get(client.host, client.port, target)
            assert status in (403, 404), (target, status, body[:200])
            assert b"root:" not in body and b"add_routes" not in body
            assert json.loads(body)["error"]

    asyncio.run(main())


def test_symlinks_and_hidden_files_are_not_served(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<script src="/ui/a.js"></script>')
    (tmp_path / "a.js").write_text("1")
    (tmp_path / ".secret").write_text("no")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.js").write_text("no")
    (tmp_path / "link.js").symlink_to(tmp_path / "a.js")
    (tmp_path / "passwd").symlink_to("/etc/passwd")
    assets = load_assets(tmp_path)
    assert sorted(assets) == ["a.js", "index.html"]
    assert assets["index.html"].body.decode() == (
        f'<script src="/ui/a.js?v={assets["a.js"].etag.strip(chr(34))}"></script>'
    )


def test_every_packaged_file_is_served() -> None:
    """What is in daemon/web/ is what the page may load (and pyproject ships the folder)."""
    on_disk = {p.name for p in WEB_ROOT.iterdir() if p.is_file()}
    assert set(load_assets()) == on_disk
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"daemon/web/*"' in pyproject

    async def main() -> None:
        async with webui_client(FakeDaemon()) as client:
            for name in on_disk - {"index.html"}:
                assert (await client.get(f"/ui/{name}")).status == 200, name

    asyncio.run(main())

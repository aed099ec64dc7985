"""The tracker client's own HTTP(S) GET (aio/http_get.py) against raw local servers.

The servers are asyncio stream servers that write exact bytes: a TLS server with a
self-signed CA made here (refused by the default context, accepted once the CA is
trusted through SSL_CERT_FILE, which `ssl.create_default_context()` reads), a redirect
to another port, a 100 Continue before the reply, a chunked body in several writes.
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bitswarm.aio.http_get import HttpGetError, http_get
from bitswarm.aio.tracker_client import announce
from bitswarm.daemon.fetch import fetch_torrent_url
from bitswarm.daemon.model import DaemonError
from bitswarm.tracker.announce import (
    AnnounceEvent,
    AnnounceRequest,
    PeerAddress,
    TrackerUnreachable,
)
from bitswarm.version import USER_AGENT

IH = bytes(range(20))
REQ = AnnounceRequest(
    info_hash=IH, peer_id=b"P" * 20, port=6881, uploaded=0, downloaded=0, left=1,
    event=AnnounceEvent.STARTED, key=1,
)  # fmt: skip
OK = b"d8:intervali77e5:peers6:\x7f\x00\x00\x01\x00\x50e"

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """Answers each request with `reply(head, writer)`; keeps the heads it got."""

    def __init__(self, reply: Reply, context: ssl.SSLContext | None = None) -> None:
        self.reply, self.context = reply, context
        self.heads: list[bytes] = []
        self.peers: list[str] = []

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._on, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _on(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            self.peers.append(writer.get_extra_info("peername")[0])
            await self.reply(head, writer)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away (a refused certificate, say)
        finally:
            writer.transport.abort()


def _target(head: bytes) -> bytes:
    return head.split(b" ", 2)[1]


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.lower() == name.lower():
            return v.strip()
    return None


async def _plain(body: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_chunked_reply_after_100_continue_and_the_request_sent() -> None:
    async def reply(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(OK), 7):  # one chunk a write, each with an extension
            piece = OK[i : i + 7]
            writer.write(b"%x;n=%d\r\n%s\r\n" % (len(piece), i, piece))
            await writer.drain()
        writer.write(b"0\r\nX-Trailer: 1\r\n\r\n")

    async def main() -> None:
        async with Server(reply) as s:
            got = await announce(
                f"http://127.0.0.1:{s.port}/a/announce?passkey=k", REQ, local_host="127.0.0.1"
            )
            assert got.interval == 77 and got.peers == (PeerAddress("127.0.0.1", 80),)
            head = s.heads[0]
            assert head.startswith(b"GET /a/announce?passkey=k&info_hash=%00%01%02")
            assert head.split(b"\r\n")[0].endswith(b" HTTP/1.1")
            assert _header(head, b"host") == b"127.0.0.1:%d" % s.port
            assert _header(head, b"user-agent") == USER_AGENT.encode()
            assert _header(head, b"connection") == b"close"
            assert _header(head, b"accept-encoding") == b"identity"
            assert s.peers == ["127.0.0.1"]

    asyncio.run(main())


def test_redirect_to_another_port_keeps_the_targets_query() -> None:
    async def main() -> None:
        async with Server(lambda head, w: _plain(OK, w)) as b:
            to_b = f"http://127.0.0.1:{b.port}/b/announce?only=this"

            async def moved(head: bytes, writer: asyncio.StreamWriter) -> None:
                writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\n" % to_b.encode())
                writer.write(b"Content-Length: 0\r\n\r\n")

            async def to_ftp(head: bytes, writer: asyncio.StreamWriter) -> None:
                writer.write(b"HTTP/1.1 301 Moved\r\nLocation: ftp://127.0.0.1/x\r\n\r\n")

            async with Server(moved) as a, Server(to_ftp) as c:
                got = await announce(f"http://127.0.0.1:{a.port}/announce?passkey=k", REQ)
                assert got.interval == 77
                assert _target(b.heads[0]) == b"/b/announce?only=this"
                assert _header(b.heads[0], b"host") == b"127.0.0.1:%d" % b.port
                msg = await _unreachable(announce(f"http://127.0.0.1:{c.port}/announce", REQ))
                assert "redirected to an unsupported URL 'ftp://127.0.0.1/x'" in msg

    asyncio.run(main())


async def _unreachable(coro: Awaitable[object]) -> str:
    with pytest.raises(TrackerUnreachable) as e:
        await coro
    msg = str(e.value)
    assert "\n" not in msg and "passkey" not in msg, msg
    return msg


def _make_ca_and_server_cert(tmp: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA file and a server context whose certificate (for 127.0.0.1) the CA signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bitswarm test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return ca_file, server


def test_https_refuses_an_unknown_ca_and_speaks_once_it_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file, server_context = _make_ca_and_server_cert(tmp_path)

    async def main(trusted: bool) -> None:
        async with Server(lambda head, w: _plain(OK, w), server_context) as s:
            url = f"https://127.0.0.1:{s.port}/announce?passkey=k"
            if not trusted:
                msg = await _unreachable(announce(url, REQ, timeout=5))
                assert f"tracker https://127.0.0.1:{s.port}/announce: TLS: " in msg
                assert "certificate verify failed" in msg, msg
                assert not s.heads
                return
            got = await announce(url, REQ, timeout=5)
            assert got.interval == 77
            assert _header(s.heads[0], b"host") == b"127.0.0.1:%d" % s.port
            reply = await http_get(url, max_body=100, max_redirects=0)  # the same, direct
            assert reply.status == 200 and reply.body == OK

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing-here.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-dir"))
    asyncio.run(main(trusted=False))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    asyncio.run(main(trusted=True))


def test_fetch_of_a_torrent_url_uses_the_same_get() -> None:
    async def main() -> None:
        async def reply(head: bytes, writer: asyncio.StreamWriter) -> None:
            if _target(head) == b"/big.torrent":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            else:
                await _plain(b"d4:infod4:name1:xee", writer)

        async with Server(reply) as s:
            base = f"http://127.0.0.1:{s.port}"
            assert await fetch_torrent_url(f"{base}/t.torrent", limit=100) == b"d4:infod4:name1:xee"
            with pytest.raises(DaemonError, match="larger than 100 bytes"):
                await fetch_torrent_url(f"{base}/big.torrent", limit=100)
        with pytest.raises(HttpGetError, match="cannot connect: Connection refused"):
            await http_get(f"{base}/t.torrent", max_body=100, max_redirects=0)

    asyncio.run(main())

"""One HTTP(S) GET over asyncio streams, around the sans-IO `ReplyReader`.

The tracker client and the .torrent fetcher need one request per connection, a bounded
body and clear failures, not a general HTTP client: aiohttp cost ~0.17 CPU s to import
at every start of `bitswarm download`. Here a connection carries one request
(``Connection: close``), redirects (301, 302, 303, 307, 308) are followed up to a
bound, to http and https URLs only, and the socket is closed on every way out
(a reply, an error, a cancellation from the caller's timeout).

Every failure is an `HttpGetError` whose message is one line without the URL (the
caller names the server, without the query that may hold a passkey). Bounding the
time is the caller's part (``asyncio.timeout``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import ssl
from contextlib import suppress
from urllib.parse import urljoin, urlsplit

from ..tracker.http_reply import (
    BodyTooLarge,
    HttpReply,
    HttpReplyError,
    InvalidHead,
    ReplyReader,
    build_get,
)

__all__ = ["REDIRECTS", "HttpGetError", "HttpTooLarge", "http_get", "os_text"]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_READ = 64 * 1024


class HttpGetError(Exception):
    """The GET failed; the message is one line and names no URL."""


class HttpTooLarge(HttpGetError):
    """The body is over the caller's limit."""


def os_text(e: OSError) -> str:
    """ "Connection refused" rather than asyncio's "Connect call failed ('1.2.3.4', 80)"."""
    if isinstance(e, socket.gaierror) or not e.errno or e.errno < 0:
        return e.strerror or str(e) or type(e).__name__
    return os.strerror(e.errno)


@functools.lru_cache(maxsize=2)
def _default_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """`ssl.create_default_context()`, made once: loading the system's CAs costs ~20 ms
    of CPU. Keyed by the variables OpenSSL reads them from, so a changed one is seen."""
    del cafile, capath  # the key only
    return ssl.create_default_context()


def _tls_text(e: ssl.SSLError) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed ({e.verify_message})"
    return f"TLS: {(e.reason or str(e)).replace('_', ' ').lower()}"


async def http_get(
    url: str,
    *,
    max_body: int,
    max_redirects: int,
    local_host: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpReply:
    """GET `url`, following redirects; the final reply, whatever its status.

    `ssl_context` is for https (default: `ssl.create_default_context()`, the system's
    CAs, made when an https URL is first met); `local_host` the source address.

    Raises:
        HttpTooLarge: the body is over `max_body` bytes.
        HttpGetError: anything else (connect, TLS, protocol, redirects).
    """
    for _ in range(max_redirects + 1):
        scheme, host, port, target = _split(url)
        if scheme == "https" and ssl_context is None:
            ssl_context = _default_context(
                os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            )
        context = ssl_context if scheme == "https" else None
        reply = await _get_once(host, port, target, context, local_host, max_body)
        location = reply.header("location")
        if reply.status not in REDIRECTS or location is None:
            return reply
        url = urljoin(url, location.strip())  # the target's query is used as given
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise HttpGetError(f"redirected to an unsupported URL {_plain(url)!r}")
    raise HttpGetError(f"more than {max_redirects} redirects")


def _plain(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"[:100]


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, target) of an http(s) URL."""
    try:
        p = urlsplit(url)
        scheme, host, port = p.scheme.lower(), p.hostname, p.port
    except ValueError as e:
        raise HttpGetError(f"invalid URL ({e})") from None
    if scheme not in ("http", "https"):
        raise HttpGetError(f"not an http or https URL: {_plain(url)!r}")
    if not host:
        raise HttpGetError("invalid URL (no host)")
    target = (p.path or "/") + (f"?{p.query}" if p.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


async def _get_once(
    host: str,
    port: int,
    target: str,
    context: ssl.SSLContext | None,
    local_host: str | None,
    max_body: int,
) -> HttpReply:
    try:
        request = build_get(host, port, target, tls=context is not None)
    except UnicodeError as e:
        raise HttpGetError(f"invalid URL ({e})") from None
    try:
        reader, writer = await asyncio.open_connection(
            host,
            port,
            ssl=context,
            server_hostname=host if context is not None else None,
            local_addr=(local_host, 0) if local_host else None,
            # no happy_eyeballs_delay: 3.11's staggered race leaves the socket it
            # connected open when the caller's task is cancelled at that moment (a session
            # stopping mid-announce: an "unclosed socket" warning in 4 of 12 runs of
            # tests/session/test_engine_trackers.py, none of 20 without it)
        )
    except ssl.SSLError as e:
        raise HttpGetError(_tls_text(e)) from None
    except OSError as e:
        raise HttpGetError(f"cannot connect: {os_text(e)}") from None
    except UnicodeError as e:  # a host name IDNA refuses
        raise HttpGetError(f"invalid URL ({e})") from None
    try:
        writer.write(request)
        parser, reply = ReplyReader(max_body=max_body), None
        while reply is None:
            data = await reader.read(_READ)
            reply = parser.receive_data(data) if data else parser.receive_eof()
        return reply
    except BodyTooLarge as e:
        raise HttpTooLarge(str(e)) from None
    except InvalidHead as e:
        raise HttpGetError(f"invalid HTTP response ({e})") from None
    except HttpReplyError as e:  # ClosedEarly, MalformedBody
        raise HttpGetError(str(e)) from None
    except ssl.SSLError as e:
        raise HttpGetError(_tls_text(e)) from None
    except OSError as e:
        raise HttpGetError(os_text(e)) from None
    finally:
        # One request per connection and nothing left to say: close at once, on every
        # way out (no TLS close_notify round trip for a hostile server to stall).
        writer.transport.abort()
        with suppress(OSError, ssl.SSLError):
            await writer.wait_closed()

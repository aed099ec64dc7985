"""HTTP/1.1 for a client that sends one GET and reads one reply: sans-IO, no asyncio.

Rules (RFC 9112; what a tracker announce or a .torrent download needs, no more):

* The request is ``GET target HTTP/1.1`` with ``Host``, ``User-Agent``,
  ``Accept-Encoding: identity`` and ``Connection: close``: one request per connection,
  so a reply without framing simply ends when the server closes.
* `ReplyReader` is fed bytes (`receive_data`) and the end of the stream (`receive_eof`)
  and returns the `HttpReply` once it is complete. Interim 1xx replies (100 Continue) are
  skipped. The body is framed by ``Transfer-Encoding: chunked`` (chunk extensions and
  trailers read and dropped), else ``Content-Length``, else the end of the stream
  (RFC 9112 §6.3); 204 and 304 have none.
* Nothing a server sends is trusted for size: the heads (interim ones included) hold at
  most `MAX_HEAD` bytes, the body at most `max_body` bytes whatever its framing (a
  declared Content-Length over it is refused before a byte of the body arrives), the
  chunk framing (sizes, extensions, trailers) at most `max_body` + `MAX_HEAD` bytes
  more, and a body a server compressed although we asked for ``identity``
  (``Content-Encoding: gzip``/``deflate``) at most `max_body` bytes once inflated.
* Each failure is one `HttpReplyError` subclass with a one-line message: `InvalidHead`
  (status line, header lines, their framing fields), `MalformedBody` (bad chunking, a
  body cut short, a broken compressed body), `BodyTooLarge`, `ClosedEarly` (the server
  hung up before a complete head).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from enum import Enum, auto

from ..errors import RemoteProtocolError
from ..version import USER_AGENT

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "BodyTooLarge",
    "ClosedEarly",
    "HttpReply",
    "HttpReplyError",
    "InvalidHead",
    "MalformedBody",
    "ReplyReader",
    "build_get",
]

MAX_HEAD = 32 * 1024
MAX_BODY = 1 << 20
_STATUS_RE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: (.*))?")
_TOKEN_RE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_CUT = "the response body was cut off or malformed"


class HttpReplyError(RemoteProtocolError):
    """The server's reply is not one we can read (a message of one line)."""


class InvalidHead(HttpReplyError):
    """A bad status line, header line or framing header; a head over `MAX_HEAD`."""


class MalformedBody(HttpReplyError):
    """Bad chunk framing, a body shorter than announced, a broken compressed body."""


class BodyTooLarge(HttpReplyError):
    """The body is (or is declared to be) over the reader's `max_body`."""


class ClosedEarly(HttpReplyError):
    """The stream ended before a complete head."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """One final reply. Header names are lower case; values are Latin-1 text."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


def build_get(host: str, port: int, target: str, *, tls: bool) -> bytes:
    """The bytes of ``GET target``; `target` is the path and query as given (already
    percent-encoded: a tracker's query holds binary hashes). Bytes no request line may
    carry (controls, spaces, non-ASCII) are percent-encoded; an IPv6 `host` gets its
    brackets, a port that is not the scheme's default goes into ``Host``."""
    raw = target.encode("utf-8", "surrogateescape") or b"/"
    safe = bytes(b if 0x20 < b < 0x7F else 0 for b in raw)
    if 0 in safe:
        raw = b"".join(bytes([b]) if 0x20 < b < 0x7F else b"%%%02X" % b for b in raw)
    name = (
        f"[{host}]".encode() if ":" in host else host.encode("ascii" if host.isascii() else "idna")
    )
    if port != (443 if tls else 80):
        name += b":%d" % port
    return (
        b"GET " + raw + b" HTTP/1.1\r\n"
        b"Host: " + name + b"\r\n"
        b"User-Agent: " + USER_AGENT.encode() + b"\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Connection: close\r\n\r\n"
    )


class _State(Enum):
    HEAD = auto()
    LENGTH = auto()  # a Content-Length body
    CHUNK_SIZE = auto()
    CHUNK_DATA = auto()
    CHUNK_END = auto()  # the CRLF after a chunk's data
    TRAILERS = auto()
    UNTIL_CLOSE = auto()
    DONE = auto()


def _show(line: bytes | bytearray) -> str:
    """A short printable quote of what a server sent."""
    text = bytes(line[:60]).decode("latin-1")
    return repr(text + ("..." if len(line) > 60 else ""))


class ReplyReader:
    """Reads one HTTP/1.x reply from bytes fed in any pieces (see the module rules)."""

    def __init__(self, *, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self._state = _State.HEAD
        self._buf = bytearray()
        self._scan = 0  # where to look for the next line end in `_buf`
        self._head_bytes = 0
        self._framing_bytes = 0
        self._lines: list[bytes] = []
        self._status = 0
        self._reason = ""
        self._headers: list[tuple[str, str]] = []
        self._body = bytearray()
        self._left = 0  # of the Content-Length body or the current chunk
        self._reply: HttpReply | None = None

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def receive_data(self, data: bytes) -> HttpReply | None:
        """Take `data`; the reply once it is complete (later bytes are ignored)."""
        if not self.done:
            self._buf += data
            while not self.done and self._step():
                pass
        return self._reply

    def receive_eof(self) -> HttpReply:
        """The stream ended: the reply, or why there is none."""
        if self._state is _State.DONE:
            assert self._reply is not None
            return self._reply
        if self._state is _State.UNTIL_CLOSE:
            return self._finish()
        if self._state is _State.HEAD:
            raise ClosedEarly("the server closed the connection")
        got = f" ({len(self._body)} of {len(self._body) + self._left} bytes)"
        detail = got if self._state is _State.LENGTH else ""
        raise MalformedBody(_CUT + detail)

    # -- one step at a time: False when more bytes are needed ------------------------

    def _step(self) -> bool:
        match self._state:
            case _State.HEAD:
                return self._head_line()
            case _State.LENGTH | _State.CHUNK_DATA:
                return self._take_data()
            case _State.CHUNK_SIZE:
                return self._chunk_size()
            case _State.CHUNK_END:
                return self._chunk_end()
            case _State.TRAILERS:
                return self._trailer()
            case _State.UNTIL_CLOSE:
                self._grow(len(self._buf))
                self._body += self._buf
                del self._buf[:]
                return False
        return False  # DONE

    def _line(self, limit: int, error: type[HttpReplyError], message: str) -> bytes | None:
        """The next line without its end (CRLF or a bare LF), or None for more bytes;
        `error` with `message` when `limit` bytes pass without a line end."""
        end = self._buf.find(b"\n", self._scan)
        if end < 0:
            self._scan = len(self._buf)
            if self._scan > limit:
                raise error(message)
            return None
        line = bytes(self._buf[: end - 1 if end and self._buf[end - 1] == 13 else end])
        del self._buf[: end + 1]
        self._scan = 0
        return line

    def _head_line(self) -> bool:
        line = self._line(
            MAX_HEAD - self._head_bytes, InvalidHead, f"the response head is over {MAX_HEAD} bytes"
        )
        if line is None:
            return False
        self._head_bytes += len(line) + 2
        if self._head_bytes > MAX_HEAD:
            raise InvalidHead(f"the response head is over {MAX_HEAD} bytes")
        if line:
            if not self._lines and line[:1] in (b" ", b"\t"):
                raise InvalidHead(f"Bad status line {_show(line)}")
            self._lines.append(line)
            return True
        if not self._lines:  # RFC 9112 §2.2: an empty line before the status line
            return True
        self._parse_head()
        return True

    def _parse_head(self) -> None:
        status_line, *lines = self._lines
        self._lines = []
        m = _STATUS_RE.fullmatch(status_line)
        if m is None or m[1] < b"100":
            raise InvalidHead(f"Bad status line {_show(status_line)}")
        status = int(m[1])
        if 100 <= status < 200:
            if status == 101:
                raise InvalidHead("unexpected 101 Switching Protocols")
            return  # an interim reply: the real one follows
        headers: list[tuple[str, str]] = []
        for line in lines:
            if line[:1] in (b" ", b"\t"):  # obs-fold: RFC 9112 §5.2 joins it with a space
                if not headers:
                    raise InvalidHead(f"bad header line {_show(line)}")
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip().decode('latin-1')}".strip())
                continue
            name_b, colon, value_b = line.partition(b":")
            if not colon or _TOKEN_RE.fullmatch(name_b) is None:
                raise InvalidHead(f"bad header line {_show(line)}")
            headers.append((name_b.decode().lower(), value_b.strip(b" \t").decode("latin-1")))
        self._status = status
        self._reason = (m[2] or b"").decode("latin-1").strip()
        self._headers = headers
        self._frame()

    def _frame(self) -> None:
        """Choose the body's framing (RFC 9112 §6.3)."""
        if self._status in (204, 304):
            self._finish()
            return
        codings = [
            c.strip().lower()
            for k, v in self._headers
            if k == "transfer-encoding"
            for c in v.split(",")
            if c.strip().lower() not in ("", "identity")
        ]
        if codings == ["chunked"]:
            self._state = _State.CHUNK_SIZE
            return
        if codings:
            raise InvalidHead(f"unsupported Transfer-Encoding {', '.join(codings)!r}")
        lengths = {
            c.strip()
            for k, v in self._headers
            if k == "content-length"
            for c in v.split(",")  # RFC 9112 §6.3: "42, 42" is 42
        }
        if not lengths:
            self._state = _State.UNTIL_CLOSE
            return
        if len(lengths) > 1:
            raise InvalidHead(f"conflicting Content-Length values {', '.join(sorted(lengths))}")
        (text,) = lengths
        if not text.isdigit() or not text.isascii() or len(text) > 18:
            raise InvalidHead(f"bad Content-Length {text[:30]!r}")
        length = int(text)
        if length > self.max_body:
            raise BodyTooLarge(f"response of {length} bytes is over {self.max_body}")
        self._left = length
        if length:
            self._state = _State.LENGTH
        else:
            self._finish()

    def _take_data(self) -> bool:
        n = min(self._left, len(self._buf))
        if n == 0 and self._left:
            return False
        if self._state is _State.CHUNK_DATA:
            self._grow(n)
        self._body += self._buf[:n]
        del self._buf[:n]
        self._left -= n
        if self._left:
            return False
        if self._state is _State.LENGTH:
            self._finish()
        else:
            self._state = _State.CHUNK_END
        return True

    def _framing(self, line: bytes) -> None:
        self._framing_bytes += len(line) + 2
        if self._framing_bytes > self.max_body + MAX_HEAD:
            raise MalformedBody(f"the chunk framing is over {self.max_body + MAX_HEAD} bytes")

    def _chunk_size(self) -> bool:
        line = self._line(MAX_HEAD, MalformedBody, _CUT + " (a chunk size line too long)")
        if line is None:
            return False
        self._framing(line)
        size = line.split(b";", 1)[0].strip(b" \t")  # chunk extensions are ignored
        if _HEX_RE.fullmatch(size) is None:
            raise MalformedBody(f"{_CUT} (chunk size {_show(size)})")
        self._left = int(size, 16)
        self._grow(self._left)
        self._state = _State.CHUNK_DATA if self._left else _State.TRAILERS
        return True

    def _chunk_end(self) -> bool:
        line = self._line(1, MalformedBody, _CUT + " (no CRLF after a chunk)")
        if line is None:
            return False
        self._framing(line)
        if line:
            raise MalformedBody(_CUT + " (no CRLF after a chunk)")
        self._state = _State.CHUNK_SIZE
        return True

    def _trailer(self) -> bool:
        line = self._line(MAX_HEAD, MalformedBody, _CUT + " (a trailer line too long)")
        if line is None:
            return False
        self._framing(line)
        if not line:
            self._finish()
        return True

    def _grow(self, n: int) -> None:
        """Refuse a body that would grow past `max_body` by `n` more bytes."""
        if len(self._body) + n > self.max_body:
            raise BodyTooLarge(f"response is over {self.max_body} bytes")

    def _finish(self) -> HttpReply:
        body = bytes(self._body)
        coding = next((v.strip().lower() for k, v in self._headers if k == "content-encoding"), "")
        if coding in ("gzip", "x-gzip", "deflate"):
            body = self._inflate(body, coding)
        elif coding not in ("", "identity"):
            raise MalformedBody(f"unsupported Content-Encoding {coding[:30]!r}")
        self._reply = HttpReply(self._status, self._reason, tuple(self._headers), body)
        self._state = _State.DONE
        self._body = bytearray()
        return self._reply

    def _inflate(self, body: bytes, coding: str) -> bytes:
        # 47: a gzip or zlib header, detected; -15: a raw deflate stream (some servers)
        for wbits in (47, -15) if coding == "deflate" else (31,):
            d = zlib.decompressobj(wbits)
            try:
                out = d.decompress(body, self.max_body + 1)
            except zlib.error:
                continue
            if len(out) > self.max_body:
                raise BodyTooLarge(f"response is over {self.max_body} bytes once decompressed")
            if d.eof:
                return out
        raise MalformedBody(f"{_CUT} (bad {coding} data)")

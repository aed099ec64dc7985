"""The sans-IO HTTP/1.1 reply reader and request builder (tracker/http_reply.py).

Every framing is read the same whatever the pieces the bytes come in: each reply is fed
split at every byte boundary, and one byte at a time.
"""

from __future__ import annotations

import gzip
import zlib

import pytest

from bitswarm.tracker.http_reply import (
    MAX_BODY,
    MAX_HEAD,
    BodyTooLarge,
    ClosedEarly,
    HttpReply,
    HttpReplyError,
    InvalidHead,
    MalformedBody,
    ReplyReader,
    build_get,
)
from bitswarm.version import USER_AGENT


def read_whole(data: bytes, *, eof: bool = True, max_body: int = MAX_BODY) -> HttpReply:
    r = ReplyReader(max_body=max_body)
    got = r.receive_data(data)
    if got is None and eof:
        got = r.receive_eof()
    assert got is not None
    return got


def read_in_pieces(data: bytes, *, eof: bool = True) -> HttpReply:
    """The reply, checked to be the same for every split and for one byte at a time."""
    whole = read_whole(data, eof=eof)
    splits = [[data[:i], data[i:]] for i in range(len(data) + 1)]
    for parts in [*splits, [data[i : i + 1] for i in range(len(data))]]:
        r = ReplyReader()
        got = None
        for part in parts:
            got = r.receive_data(part)
        if got is None and eof:
            got = r.receive_eof()
        assert got == whole, parts
    return whole


def fails(data: bytes, error: type[HttpReplyError], needle: str, **kw: object) -> str:
    r = ReplyReader(**kw)  # type: ignore[arg-type]
    with pytest.raises(error) as e:
        if r.receive_data(data) is None:
            r.receive_eof()
    msg = str(e.value)
    assert needle in msg and "\n" not in msg, msg
    return msg


def test_content_length_body() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b \r\n\r\nhello"
    reply = read_in_pieces(data, eof=False)  # complete without waiting for the close
    assert (reply.status, reply.reason, reply.body) == (200, "OK", b"hello")
    assert reply.header("x-a") == "b" and reply.header("Content-Length") == "5"
    assert reply.header("missing") is None
    # bytes after the reply are ignored (one request per connection)
    assert read_whole(data + b"HTTP/1.1 500 no\r\n\r\n", eof=False).body == b"hello"


def test_chunked_body_with_extensions_and_trailers() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"1\r\n \r\n"
        b"A ; x\r\nworld12345\r\n"
        b"0\r\nX-Trailer: yes\r\nOther: 1\r\n\r\n"
    )
    reply = read_in_pieces(data, eof=False)
    assert reply.body == b"hello world12345"


def test_body_read_until_close() -> None:
    data = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nd8:intervali60ee"
    assert read_in_pieces(data).body == b"d8:intervali60ee"
    r = ReplyReader()
    assert r.receive_data(data) is None  # no framing: the end is the close
    assert r.receive_eof().body == b"d8:intervali60ee"


def test_interim_replies_are_skipped() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    assert read_in_pieces(data, eof=False).body == b"ok"
    fails(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", InvalidHead, "101")


def test_tolerated_forms() -> None:
    # bare LF line ends, no reason phrase, an empty line first, an obs-fold, "42, 42"
    data = b"\r\nHTTP/1.1 404\nContent-Length: 3, 3\nContent-Length: 3\nX: a\n  b\n\nabc"
    reply = read_in_pieces(data, eof=False)
    assert (reply.status, reply.reason, reply.body, reply.header("x")) == (404, "", b"abc", "a b")
    for status in (204, 304):  # no body, whatever the headers say
        head = b"HTTP/1.1 %d X\r\nContent-Length: 9\r\n\r\n" % status
        assert read_whole(head, eof=False).body == b""
    assert read_whole(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", eof=False).body == b""
    te = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nhi"
    assert read_whole(te, eof=False).body == b"hi"


def test_chunked_wins_over_content_length() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
    data = head + b"2\r\nhi\r\n0\r\n\r\n"
    assert read_whole(data, eof=False).body == b"hi"


def test_bad_status_lines() -> None:
    for line in (
        b"\x00\x01 this is not HTTP at all",
        b"HTTP/2 200 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 099 low",
        b"http/1.1 200 OK",
        b"HTTP/1.1  200 OK",
        b" HTTP/1.1 200 OK",
        b"SSH-2.0-OpenSSH_9.6",
    ):
        fails(line + b"\r\n\r\n", InvalidHead, "Bad status line")


def test_bad_headers() -> None:
    head = b"HTTP/1.1 200 OK\r\n"
    fails(head + b"no colon here\r\n\r\n", InvalidHead, "bad header line")
    fails(head + b"Bad Name: x\r\n\r\n", InvalidHead, "bad header line")
    fails(head + b"Name : x\r\n\r\n", InvalidHead, "bad header line")
    fails(head + b" folded first\r\n\r\n", InvalidHead, "bad header line")
    fails(head + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", InvalidHead, "conflicting")
    fails(head + b"Content-Length: 5, 7\r\n\r\n", InvalidHead, "conflicting Content-Length")
    for bad in (b"-1", b"+5", b"0x10", b"5 5", b"", b"9" * 30, "\u0665".encode()):
        fails(head + b"Content-Length: " + bad + b"\r\n\r\n", InvalidHead, "bad Content-Length")
    fails(head + b"Transfer-Encoding: gzip, chunked\r\n\r\n", InvalidHead, "Transfer-Encoding")


def test_head_limit_counts_interim_replies() -> None:
    fails(b"HTTP/1.1 200 OK\r\nX: " + b"a" * MAX_HEAD, InvalidHead, f"over {MAX_HEAD}")
    many = b"HTTP/1.1 200 OK\r\n" + b"X-Some-Header: value\r\n" * (MAX_HEAD // 20)
    fails(many, InvalidHead, f"over {MAX_HEAD}")
    fails(b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_HEAD // 10), InvalidHead, f"over {MAX_HEAD}")
    # just under the limit is fine
    ok = b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD - 100) + b"\r\nContent-Length: 1\r\n\r\n!"
    assert read_whole(ok, eof=False).body == b"!"


def test_body_limits_whatever_the_framing() -> None:
    head = b"HTTP/1.1 200 OK\r\n"
    # a declared length over the limit is refused on the head alone
    msg = fails(head + b"Content-Length: 11\r\n\r\n", BodyTooLarge, "over 10", max_body=10)
    assert "11 bytes" in msg
    assert read_whole(head + b"Content-Length: 10\r\n\r\n" + b"x" * 10, max_body=10).body
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n"
    fails(chunked + b"6\r\nxxxxxx\r\n5\r\n", BodyTooLarge, "over 10", max_body=10)
    fails(chunked + b"fffffffffffffff\r\n", BodyTooLarge, "over 10", max_body=10)
    fails(head + b"\r\n" + b"x" * 11, BodyTooLarge, "over 10", max_body=10)
    # chunk framing without data is bounded too
    ext = b"1;" + b"e" * 1000 + b"\r\nx\r\n"
    fails(chunked + ext * 40, MalformedBody, f"framing is over {100 + MAX_HEAD}", max_body=100)
    assert read_whole(chunked + ext * 30 + b"0\r\n\r\n", max_body=100).body == b"x" * 30
    trailer = b"T: " + b"e" * 1000 + b"\r\n"
    fails(chunked + b"0\r\n" + trailer * 40, MalformedBody, "framing", max_body=100)


def test_malformed_and_cut_bodies() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for bad in (b"zz\r\n", b"\r\n", b"-1\r\n", b"0x5\r\n", b"1 2\r\n"):
        fails(chunked + bad, MalformedBody, "chunk size")
    fails(chunked + b"2\r\nhiX\r\n", MalformedBody, "no CRLF after a chunk")
    fails(chunked + b"2\r\nhi", MalformedBody, "cut off or malformed")
    fails(chunked + b"2\r\nhi\r\n", MalformedBody, "cut off or malformed")
    fails(chunked + b"0\r\nX: 1\r\n", MalformedBody, "cut off or malformed")
    fails(chunked + b"1;" + b"e" * MAX_HEAD, MalformedBody, "chunk size line")
    msg = fails(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nd8:interv", MalformedBody, "cut off"
    )
    assert "9 of 100 bytes" in msg


def test_closed_before_a_head() -> None:
    fails(b"", ClosedEarly, "the server closed the connection")
    fails(b"HTTP/1.1 200 OK\r\nContent-Le", ClosedEarly, "closed the connection")
    fails(b"HTTP/1.1 100 Continue\r\n\r\n", ClosedEarly, "closed the connection")


def test_compressed_bodies_are_inflated_and_bounded() -> None:
    payload = b"d8:intervali60ee" * 10

    def reply(coding: bytes, body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            coding,
            len(body),
            body,
        )

    assert read_whole(reply(b"gzip", gzip.compress(payload))).body == payload
    assert read_whole(reply(b"deflate", zlib.compress(payload))).body == payload
    raw = zlib.compressobj(wbits=-15)
    assert read_whole(reply(b"deflate", raw.compress(payload) + raw.flush())).body == payload
    bomb = gzip.compress(b"\0" * (MAX_BODY + 1))
    assert len(bomb) < 4096
    fails(reply(b"gzip", bomb), BodyTooLarge, "once decompressed")
    fails(reply(b"gzip", gzip.compress(payload)[:-9]), MalformedBody, "bad gzip data")
    fails(reply(b"gzip", b"not gzip"), MalformedBody, "bad gzip data")
    fails(reply(b"br", b"x"), MalformedBody, "unsupported Content-Encoding")


def test_get_requests() -> None:
    req = build_get("tracker.example", 80, "/announce?info_hash=%00%FF&x=1", tls=False)
    assert req == (
        b"GET /announce?info_hash=%00%FF&x=1 HTTP/1.1\r\n"
        b"Host: tracker.example\r\n"
        b"User-Agent: " + USER_AGENT.encode() + b"\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert b"Host: t.example:8080\r\n" in build_get("t.example", 8080, "/", tls=False)
    assert b"Host: t.example\r\n" in build_get("t.example", 443, "/", tls=True)
    assert b"Host: t.example:80\r\n" in build_get("t.example", 80, "/", tls=True)
    assert b"Host: [::1]:6969\r\n" in build_get("::1", 6969, "/", tls=False)
    assert b"Host: [2001:db8::7]\r\n" in build_get("2001:db8::7", 80, "/", tls=False)
    assert b"Host: xn--bcher-kva.example\r\n" in build_get("bücher.example", 80, "/", tls=False)
    # what a request line cannot carry is percent-encoded; the rest goes as given
    got = build_get("h", 80, "/a b/ü?q=%41\x7f", tls=False)
    assert got.startswith(b"GET /a%20b/%C3%BC?q=%41%7F HTTP/1.1\r\n")
    assert build_get("h", 80, "", tls=False).startswith(b"GET / HTTP/1.1\r\n")

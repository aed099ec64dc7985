"""The daemon's RPC bodies through their request handlers, over the in-memory fakes of
tests/daemon: Transmission JSON (legacy and JSON-RPC 2.0, batches) into `execute`, and
qBittorrent forms (urlencoded and multipart) over HTTP into the WebUI API's handler.

Near-valid requests: real method and endpoint names, real argument names, values of every
JSON type (hostile numbers, NaN, nested lists, wrong types). Properties: a reply always
comes (Transmission: HTTP 200/204/400; qBittorrent: never 500), never the "failed inside
bitswarm" answer of a bug, and always serialisable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.daemon.qbittorrent.dispatch import ROUTES
from bitswarm.daemon.transmission.call import ActivityMemory
from bitswarm.daemon.transmission.methods import METHODS
from bitswarm.daemon.transmission.protocol import execute
from bitswarm.daemon.transmission.torrents import TORRENT_METHODS
from tests.daemon import qbt_fake, transmission_fake

from .profile import scaled

_SNAKE = sorted({*METHODS, *TORRENT_METHODS})
_METHOD_NAMES = st.sampled_from(
    [*_SNAKE, *(m.replace("_", "-") for m in _SNAKE), "torrentGet", "sessionSet", "nope", ""]
)
_ARG_NAMES = [
    "ids", "fields", "format", "download-dir", "downloadDir", "filename", "metainfo", "paused",
    "files-wanted", "files-unwanted", "priority-high", "priority-low", "location", "move",
    "delete-local-data", "path", "name", "labels", "bandwidthPriority", "peer-limit",
    "queuePosition", "seedRatioLimit", "seedRatioMode", "trackerAdd", "trackerRemove",
    "trackerList", "uploadLimit", "uploadLimited", "downloadLimit", "sequential_download",
    "speed-limit-down", "speed-limit-down-enabled", "alt-speed-enabled", "peer-limit-global",
    "encryption", "incomplete-dir", "group", "honorsSessionLimits", "x",
]  # fmt: skip
_FIELDS = ["id", "name", "hashString", "status", "files", "fileStats", "peers", "pieces",
           "trackerStats", "wanted", "priorities", "percentDone", "eta", "noSuchField"]  # fmt: skip
_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.sampled_from([0, 1, -1, 2, 3, 2**31, 2**53 + 1, 10**30, -(10**30)]),
    st.integers(-10, 10), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "recently-active", "all", "aa" * 20, "bb" * 20, "/", "../x", "a/b",
                     "magnet:?xt=urn:btih:" + "cc" * 20, "QUJD", "\x00", "é"]),
    st.text(max_size=12),
)  # fmt: skip


def _nest(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


_VALUES = st.recursive(_SCALARS, _nest, max_leaves=8)
_ARGS = st.dictionaries(
    st.sampled_from(_ARG_NAMES),
    _VALUES | st.lists(st.sampled_from([1, 2, 3, "aa" * 20, "recently-active"]), max_size=4)
    | st.lists(st.sampled_from(_FIELDS), max_size=6),
    max_size=5,
)  # fmt: skip
_LEGACY = st.fixed_dictionaries(
    {"method": _METHOD_NAMES}, optional={"arguments": _ARGS | _VALUES, "tag": _VALUES}
)
_JSONRPC = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "method": _METHOD_NAMES, "id": st.integers(0, 9)},
    optional={"params": _ARGS},
)
_ODD_JSONRPC = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "1.0", 2])},
    optional={"method": _METHOD_NAMES | _VALUES, "params": _ARGS | _VALUES, "id": _VALUES},
)
# mostly well-formed envelopes (the handlers behind them are what is fuzzed), some odd ones
_DOCS = st.one_of(
    _LEGACY, _LEGACY, _JSONRPC, _JSONRPC, _ODD_JSONRPC,
    st.lists(_JSONRPC | _ODD_JSONRPC, max_size=3), _VALUES,
)  # fmt: skip


def _serialisable(body: Any) -> None:
    text = json.dumps(body)  # NaN and Infinity as Python's json writes them
    assert "failed inside bitswarm" not in text, text


@scaled(1.0)
@given(doc=_DOCS, mangle=st.sampled_from(["", "cut", "junk"]))
def test_transmission_rpc_bodies(doc: Any, mangle: str) -> None:
    raw = json.dumps(doc).encode()
    if mangle == "cut":
        raw = raw[: len(raw) // 2]
    elif mangle == "junk":
        raw += b"}\xff"
    api = transmission_fake.FakeApi()
    reply = asyncio.run(execute(api, ActivityMemory(), raw, session_id="s", now=1.7e9))
    assert reply.status in (200, 204, 400)
    assert (reply.body is None) == (reply.status == 204)
    _serialisable(reply.body)


_ENDPOINTS = [*sorted(ROUTES), "torrents/export", "rss/items", "nope/nope", "auth/logout"]
_FORM_NAMES = ["hash", "hashes", "category", "categories", "tags", "urls", "savepath",
               "savePath", "name", "newPath", "oldPath", "id", "priority", "limit", "value",
               "mode", "json", "rid", "deleteFiles", "location", "filter", "sort", "reverse",
               "offset", "indexes", "paused", "stopped", "skip_checking", "ratioLimit",
               "seedingTimeLimit", "inactiveSeedingTimeLimit", "dlLimit", "upLimit"]  # fmt: skip
_FORM_VALUES = st.one_of(
    st.sampled_from(["", "all", f"{1:040x}", f"{1:040x}|{2:040x}", "|", "-1", "0", "1", "true",
                     "false", "nan", "inf", "1e309", "99999999999999999999", "a/b", "../x",
                     "{}", "[]", '{"save_path": 5}', '{"dl_limit": -5, "listen_port": 1e9}',
                     "magnet:?xt=urn:btih:" + "dd" * 20, "http://127.0.0.1:1/x.torrent"]),
    st.text(max_size=16),
)  # fmt: skip


async def _qbt_requests(calls: list[tuple[str, str, dict[str, str], bytes | None]]) -> list[int]:
    api = qbt_fake.FakeApi([qbt_fake.make_view(1, "one"), qbt_fake.make_view(2, "two")])
    statuses: list[int] = []

    async def body(client: qbt_fake.Client) -> None:
        for endpoint, method, form, upload in calls:
            path = "/api/v2/" + endpoint
            if method == "GET":
                r = await client.get(path, params=form)
            elif upload is not None:
                data = aiohttp.FormData()
                for k, v in form.items():
                    data.add_field(k, v)
                data.add_field("torrents", upload, filename="x.torrent")
                r = await client.post(path, data=data)
            else:
                r = await client.post(path, data=form)
            await r.read()
            statuses.append(r.status)

    await qbt_fake.with_client(api, body)
    return statuses


@scaled(0.5)
@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from(_ENDPOINTS),
            st.sampled_from(["GET", "POST", "POST"]),
            st.dictionaries(st.sampled_from(_FORM_NAMES), _FORM_VALUES, max_size=4),
            st.none() | st.binary(max_size=64) | st.just(b"d4:infod4:name1:xee"),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_qbittorrent_forms(calls: list[tuple[str, str, dict[str, str], bytes | None]]) -> None:
    statuses = asyncio.run(_qbt_requests(calls))
    assert len(statuses) == len(calls)
    assert 500 not in statuses, list(zip(calls, statuses, strict=True))

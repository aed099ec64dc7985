"""`TorrentManager`'s refusals and bookkeeping, on stopped torrents (no peers needed)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.daemon.api import AddRequest, AddResult
from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.model import Activity, DaemonError, UnknownTorrent
from bitswarm.magnet import Magnet
from bitswarm.metainfo import parse_torrent

from ..session.helpers import make_multifile
from .conftest import RunningDaemon


def _add(request: AddRequest, api: TorrentManager) -> Awaitable[AddResult]:
    return api.add(request)


def _raw(root: Path, sizes: list[int]) -> bytes:
    return create_torrent(make_multifile(root, sizes), piece_length=16384, version="v1")


def _call(d: RunningDaemon, name: str, *args: Any, **kw: Any) -> Any:
    return d.call(lambda api: getattr(api, name)(*args, **kw))


def test_queue_moves_and_lookups(daemon: RunningDaemon, tmp_path: Path) -> None:
    ids = [
        daemon.call(
            functools.partial(
                _add, AddRequest(torrent=_raw(tmp_path / f"t{i}", [1000 + i]), paused=True)
            )
        ).view.id
        for i in range(4)
    ]

    def order() -> list[int]:
        views = _call(daemon, "torrents")
        return [v.id for v in sorted(views, key=lambda v: v.queue_position)]

    assert order() == ids
    _call(daemon, "queue_move", [ids[3]], "top")
    assert order() == [ids[3], ids[0], ids[1], ids[2]]
    _call(daemon, "queue_move", [ids[3]], "down")
    assert order() == [ids[0], ids[3], ids[1], ids[2]]
    _call(daemon, "queue_move", [ids[0]], "bottom")
    assert order() == [ids[3], ids[1], ids[2], ids[0]]
    _call(daemon, "queue_move", [ids[2]], "up")
    assert order() == [ids[3], ids[2], ids[1], ids[0]]
    with pytest.raises(DaemonError, match="top, up, down or bottom"):
        _call(daemon, "queue_move", [ids[0]], "sideways")
    view = _call(daemon, "view", ids[1])
    assert _call(daemon, "view", view.info_hash.upper()).id == ids[1]
    assert _call(daemon, "view", str(ids[1])).id == ids[1]
    assert _call(daemon, "resolve", [ids[1], "nope", 999, view.info_hash]) == [ids[1]]
    assert _call(daemon, "resolve", None) == sorted(ids)
    with pytest.raises(UnknownTorrent):
        _call(daemon, "view", 999)
    with pytest.raises(UnknownTorrent):
        _call(daemon, "view", 1.5)
    assert view.activity is Activity.STOPPED
    pieces = _call(daemon, "pieces", ids[1])
    assert pieces.availability == [0] and pieces.have == b"\x00"
    assert _call(daemon, "peers", ids[1]) == []
    assert [t.status for t in _call(daemon, "trackers", ids[1])] == []
    stats = _call(daemon, "stats")
    assert stats.torrents == 4 and stats.active == 0 and stats.free_space > 0
    assert _call(daemon, "free_space", str(tmp_path)) > 0
    with pytest.raises(DaemonError, match="free space"):
        _call(daemon, "free_space", str(tmp_path / "missing"))


def test_refusals(daemon: RunningDaemon, tmp_path: Path) -> None:
    raw = _raw(tmp_path / "a", [5000, 7000])
    tid = daemon.call(functools.partial(_add, AddRequest(torrent=raw, paused=True))).view.id
    meta = parse_torrent(_raw(tmp_path / "m", [3000]))
    magnet = Magnet.from_metainfo(meta).to_uri()
    mid = daemon.call(functools.partial(_add, AddRequest(magnet=magnet, paused=True))).view.id
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
        ("set_file_priorities", (tid, {5: 1}), {}, "no file 5"),
        ("set_file_priorities", (tid, {0: 9}), {}, "0 .skip. to 7"),
        ("set_file_priorities", (mid, {0: 1}), {}, "until the metadata"),
        ("rename", (mid, "x", "y"), {}, "until the metadata"),
        ("rename", (tid, "nothing/here", "y"), {}, "no file or folder"),
        ("set_options", ([tid], {"no_such": 1}), {}, "unknown torrent option"),
        ("set_options", ([tid], {"file_priorities": [1]}), {}, "set_file_priorities"),
        ("set_options", ([tid], {"download_dir": "/x"}), {}, "set_location"),
        ("set_options", ([tid], {"category": "nope"}), {}, "no category"),
        ("set_location", ([tid], "relative/path"), {"move": True}, "absolute"),
        ("set_category", ("", "/x"), {}, "one-line name"),
    ]
    for name, args, kw, message in cases:
        with pytest.raises(DaemonError, match=message):
            _call(daemon, name, *args, **kw)
    for request, message in (
        (AddRequest(), "exactly one"),
        (AddRequest(torrent=raw, magnet=magnet), "exactly one"),
        (AddRequest(magnet="magnet:?xt=urn:btih:zz"), "bad magnet"),
        (AddRequest(url="ftp://example.org/x.torrent"), "only http"),
        (AddRequest(torrent=raw + b"x", category="nope"), "not a usable|no category"),
        (AddRequest(torrent=_raw(tmp_path / "b", [100]), category="nope"), "no category"),
        (AddRequest(torrent=_raw(tmp_path / "c", [100]), file_priorities={3: 1}), "no file 3"),
    ):
        with pytest.raises(DaemonError, match=message):
            daemon.call(functools.partial(_add, request))
    view = _call(daemon, "view", mid)
    assert not view.has_metadata and view.magnet_link.startswith("magnet:?")
    assert _call(daemon, "files", mid) == []


def test_options_categories_and_limits(daemon: RunningDaemon, tmp_path: Path) -> None:
    _call(daemon, "set_category", "tv", str(tmp_path / "tv"))
    request = AddRequest(
        torrent=_raw(tmp_path / "a", [4000]),
        paused=True,
        category="tv",
        upload_limit=1000,
        download_limit=2000,
        seed_ratio_limit=1.5,
        seed_idle_limit=7,
        queue_top=True,
        labels=["x", "x", "y"],
    )
    view = daemon.call(functools.partial(_add, request)).view
    o = view.options
    assert o.download_dir == str(tmp_path / "tv") and o.labels == ["x", "y"]
    assert (o.upload_limited, o.upload_limit, o.download_limited, o.download_limit) == (
        True,
        1000,
        True,
        2000,
    )
    assert (o.seed_ratio_mode, o.seed_ratio_limit, o.seed_idle_mode, o.seed_idle_limit) == (
        1,
        1.5,
        1,
        7,
    )
    _call(daemon, "set_options", [view.id], {"seed_ratio_mode": 2, "labels": ["z"]})
    o = _call(daemon, "view", view.id).options
    assert o.seed_ratio_mode == 2 and o.labels == ["z"]
    assert _call(daemon, "categories") == {"tv": str(tmp_path / "tv")}
    _call(daemon, "set_category", "tv", None)
    assert _call(daemon, "categories") == {}
    assert _call(daemon, "view", view.id).options.category == ""
    _call(daemon, "set_settings", {"seed_ratio_limit": 3})
    limit = daemon.call(lambda api: api.settings.seed_ratio_limit)
    assert limit == 3.0 and isinstance(limit, float)
    _call(daemon, "remove", [view.id], delete_data=True)
    assert _call(daemon, "torrents") == []

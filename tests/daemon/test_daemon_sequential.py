"""The daemon's `sequential` option reaches the running torrent: at start and live."""

from __future__ import annotations

from pathlib import Path

from bitswarm.daemon.api import AddRequest
from bitswarm.daemon.manager import TorrentManager
from bitswarm.session import TorrentRuntime

from ..session.helpers import make_multifile
from .conftest import RunningDaemon
from .helpers import Swarm, wait_until


def _runtime(d: RunningDaemon, tid: int) -> TorrentRuntime | None:
    def look(api: TorrentManager) -> TorrentRuntime | None:
        return api._many([tid])[0].runtime

    runtime: TorrentRuntime | None = d.call(look)
    return runtime


def _picker_sequential(d: RunningDaemon, tid: int) -> bool | None:
    rt = _runtime(d, tid)
    return None if rt is None or rt.core is None else rt.core.picker.sequential


def test_sequential_at_start_and_live(daemon: RunningDaemon, tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [300_000, 100_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        added = daemon.call(lambda api: api.add(AddRequest(torrent=raw, sequential=True)))
        tid = added.view.id
        assert added.view.options.sequential
        wait_until(lambda: _picker_sequential(daemon, tid) is not None, 60, "the start")
        assert _picker_sequential(daemon, tid) is True
        daemon.call(lambda api: api.set_options([tid], {"sequential": False}))
        assert _picker_sequential(daemon, tid) is False
        daemon.call(lambda api: api.set_options([tid], {"sequential": True}))
        assert _picker_sequential(daemon, tid) is True

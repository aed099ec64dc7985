"""A torrent's whole life in the daemon, through `TorrentManager` (the API every front-end
drives): add, download from a seeder found through the tracker, stop, start, file
priorities, remove with data; and everything back after a restart."""

from __future__ import annotations

from pathlib import Path

from bitswarm.daemon.api import AddRequest
from bitswarm.daemon.model import Activity, TorrentView

from ..session.helpers import digest_tree, make_multifile
from .conftest import DaemonFactory, RunningDaemon
from .helpers import Swarm, wait_until


def _view(d: RunningDaemon, ref: int | str) -> TorrentView:
    view: TorrentView = d.call(lambda api: api.view(ref))
    return view


def test_add_download_stop_start_remove(daemon: RunningDaemon, tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [300_000, 200_000, 5_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        added = daemon.call(lambda api: api.add(AddRequest(torrent=raw)))
        assert not added.duplicate
        tid = added.view.id
        wait_until(lambda: _view(daemon, tid).done_at > 0, 60, "the download")
    got = daemon.download_dir / "content"
    assert digest_tree(got) == digest_tree(content)
    view = _view(daemon, tid)
    assert view.activity is Activity.SEEDING
    assert view.progress == 1.0 and view.downloaded_ever >= 505_000
    again = daemon.call(lambda api: api.add(AddRequest(torrent=raw)))
    assert again.duplicate and again.view.id == tid
    daemon.call(lambda api: api.stop([tid]))
    assert _view(daemon, tid).activity is Activity.STOPPED
    daemon.call(lambda api: api.start([tid]))
    wait_until(lambda: _view(daemon, tid).activity is Activity.SEEDING, 60, "seeding again")
    files = daemon.call(lambda api: api.files(tid))
    assert sorted(f.path for f in files) == [
        "content/file0.bin",
        "content/file2.bin",
        "content/sub/file1.bin",
    ]
    assert all(f.done == f.length for f in files)
    daemon.call(lambda api: api.remove([tid], delete_data=True))
    assert daemon.call(lambda api: api.torrents()) == []
    assert not any(p.is_file() for p in got.rglob("*"))


def test_a_restart_keeps_torrents_settings_and_pieces(
    daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    content = make_multifile(tmp_path / "seed", [400_000, 100_000])
    first = daemon_factory()
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        request = AddRequest(torrent=raw, labels=["films"], paused=True)
        tid = first.call(lambda api: api.add(request)).view.id
        first.call(
            lambda api: api.set_options([tid], {"upload_limit": 1000, "upload_limited": True})
        )
        first.call(lambda api: api.set_file_priorities(tid, {1: 0}))
        first.call(lambda api: api.set_settings({"seed_ratio_limit": 3.5}))
        first.call(lambda api: api.start([tid]))
        wait_until(lambda: _view(first, tid).activity is Activity.SEEDING, 60, "the download")
    downloaded = _view(first, tid).downloaded_ever
    assert 400_000 <= downloaded < 500_000  # the unwanted file was not fetched
    state, downloads = first.state_dir, first.download_dir
    first.stop()
    from .conftest import run_daemon_thread, test_settings

    settings = test_settings(downloads.parent)
    second = run_daemon_thread(settings, state)
    try:
        view = _view(second, tid)
        assert view.options.labels == ["films"]
        assert view.options.upload_limited and view.options.upload_limit == 1000
        assert second.call(lambda api: api.settings.seed_ratio_limit) == 3.5
        assert [f.priority for f in second.call(lambda api: api.files(tid))] == [4, 0]
        wait_until(lambda: _view(second, tid).activity is Activity.SEEDING, 60, "seeding")
        assert _view(second, tid).downloaded_ever == downloaded  # nothing fetched again
    finally:
        second.stop()

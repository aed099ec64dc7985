"""The daemon's chores: the watch folder, the incomplete folder, the on-complete command,
seeding limits and the blocklist, each in a running daemon."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from bitswarm.daemon.api import AddRequest
from bitswarm.daemon.manager import TorrentManager
from bitswarm.daemon.model import Activity, TorrentView

from ..session.helpers import digest_tree, make_multifile
from .conftest import DaemonFactory, RunningDaemon
from .helpers import Swarm, wait_until


def _views(d: RunningDaemon) -> list[TorrentView]:
    views: list[TorrentView] = d.call(lambda api: api.torrents())
    return views


def test_watch_folder_adds_and_renames(daemon_factory: DaemonFactory, tmp_path: Path) -> None:
    watch = tmp_path / "watch"
    watch.mkdir()
    d = daemon_factory(watch_dir=str(watch), watch_dir_enabled=True)
    content = make_multifile(tmp_path / "seed", [70_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        (watch / "new.torrent.part").write_bytes(raw[:10])  # not a .torrent: left alone
        (watch / "new.torrent").write_bytes(raw)
        wait_until(lambda: len(_views(d)) == 1, 60, "the watched torrent")
        wait_until(lambda: (watch / "new.torrent.added").exists(), 30, "the rename")
        wait_until(lambda: _views(d)[0].done_at > 0, 60, "its download")
    assert (watch / "new.torrent.part").exists()
    assert digest_tree(d.download_dir / "content") == digest_tree(content)


def test_incomplete_folder_on_complete_command_and_ratio_limit(
    daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "done.txt"
    script = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TR_TORRENT_NAME'])"
    command = shlex.join([sys.executable, "-c", script, str(marker)])
    d = daemon_factory(
        incomplete_dir=str(tmp_path / "incomplete"),
        incomplete_dir_enabled=True,
        script_torrent_done_enabled=True,
        script_torrent_done_filename=command,
        seed_ratio_limited=True,
        seed_ratio_limit=0.0,
    )
    content = make_multifile(tmp_path / "seed", [180_000, 20_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        tid = d.call(lambda api: api.add(AddRequest(torrent=raw))).view.id
        wait_until(lambda: marker.exists() and marker.read_text() == "content", 60, "the command")

        def stopped_in_place() -> bool:
            v: TorrentView = d.call(lambda api: api.view(tid))
            return v.activity is Activity.STOPPED and (d.download_dir / "content").exists()

        wait_until(stopped_in_place, 60, "the move out and the ratio stop")
    assert digest_tree(d.download_dir / "content") == digest_tree(content)
    assert not any(p.is_file() for p in (tmp_path / "incomplete").rglob("*"))


def test_a_blocklisted_seeder_is_never_dialled(
    daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    blocklist = tmp_path / "block.p2p"
    blocklist.write_text("# local\nloopback:127.0.0.0-127.255.255.255\n")
    d = daemon_factory(blocklist_enabled=True, blocklist_path=str(blocklist))
    assert d.call(lambda api: api.session.is_blocked("127.0.0.1"))
    content = make_multifile(tmp_path / "seed", [70_000])
    with Swarm() as swarm:
        raw = swarm.torrent(content)
        tid = d.call(lambda api: api.add(AddRequest(torrent=raw))).view.id

        def dial_attempts(api: TorrentManager) -> int | None:
            rt = api.get(tid).runtime
            if rt is None or not rt.dialer.known:
                return None  # the seeder is not known yet (no announce answered)
            rt.connect_more()  # would dial it now, were it not blocked
            return len(rt.dialer.connecting)

        wait_until(lambda: d.call(dial_attempts) is not None, 60, "the seeder's address")
        assert d.call(dial_attempts) == 0
        assert d.call(lambda api: api.view(tid)).done_wanted == 0

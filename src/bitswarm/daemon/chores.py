"""`Chores`: the daemon's work beside its torrents, run by the upkeep loop (L4 service).

- the rate limits of the moment: the normal or alternative speeds, by hand or by the
  schedule (daemon/schedule.py), applied to the session's buckets when they change;
- the `transport` setting, applied to the session (for connections made from then on);
- the watch folder: new .torrent (and .magnet) files are added, then renamed `.added` or
  deleted, as Transmission does (daemon/watch.py);
- the IP blocklist, read again when its file changes (daemon/blocklist.py);
- the on-complete command of the local config file (daemon/oncomplete.py).
Files are read in threads; nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from ..errors import BitswarmError
from .blocklist import BlocklistFile
from .managed import ManagedTorrent
from .manager import TorrentManager
from .oncomplete import run_on_complete, torrent_done_env
from .schedule import effective_limits
from .upkeep import Upkeep
from .watch import mark_added, read_watch_file, scan_watch_dir

__all__ = ["Chores"]

log = logging.getLogger("bitswarm.daemon")

WATCH_EVERY = 5.0  # seconds between two scans of the watch folder
BLOCKLIST_EVERY = 30.0  # seconds between two looks at the blocklist file


class Chores:
    """Hooks itself into `upkeep`: one call per round, one per completed torrent."""

    def __init__(self, manager: TorrentManager, upkeep: Upkeep) -> None:
        self.m = manager
        self.upkeep = upkeep
        self._limits: tuple[int, int] | None = None
        self._last_watch = 0.0
        self._last_blocklist = 0.0
        self._watch_seen: set[str] = set()
        self._blocklist: BlocklistFile | None = None
        upkeep.chores.append(self.round)
        upkeep.on_complete.append(self.completed)

    async def round(self, now: float) -> None:
        self._rates(now)
        if self.m.session.config.transport != self.m.settings.transport:
            self.m.session.set_transport(self.m.settings.transport)  # new connections on
        if self.m.settings.watch_dir_enabled and now - self._last_watch >= WATCH_EVERY:
            self._last_watch = now
            await self._watch()
        if now - self._last_blocklist >= BLOCKLIST_EVERY:
            self._last_blocklist = now
            await self.reload_blocklist()

    def completed(self, mt: ManagedTorrent) -> None:
        s = self.m.settings
        if s.script_torrent_done_enabled and s.script_torrent_done_filename:
            env = torrent_done_env(mt.view(0.0), [t.url for t in mt.trackers()])
            self.upkeep.spawn(self._on_complete(s.script_torrent_done_filename, env))

    async def _on_complete(self, command: str, env: dict[str, str]) -> None:
        await run_on_complete(command, env)  # logs how it went; never raises

    def _rates(self, now: float) -> None:
        limits = effective_limits(self.m.settings, datetime.fromtimestamp(now))
        if limits != self._limits:
            self._limits = limits
            self.m.session.set_rate_limits(limits[0], limits[1])

    async def _watch(self) -> None:
        m = self.m
        folder = Path(m.settings.watch_dir)
        try:
            found = await asyncio.to_thread(scan_watch_dir, folder, self._watch_seen)
        except OSError as exc:
            log.warning("cannot scan the watch folder %s: %s", folder, exc)
            return
        for path in found:
            try:
                request = await asyncio.to_thread(read_watch_file, path)
                await m.add(request)
                await asyncio.to_thread(
                    mark_added, path, trash=m.settings.trash_original_torrent_files
                )
            except (BitswarmError, OSError) as exc:
                log.warning("watch folder: %s: %s", path.name, exc)

    async def reload_blocklist(self) -> None:
        """Read the blocklist again if it changed, and hand it to the session."""
        s = self.m.settings
        if not (s.blocklist_enabled and s.blocklist_path):
            if self._blocklist is not None:
                self._blocklist = None
                self.m.session.set_ip_filter(None)
            return
        if self._blocklist is None or str(self._blocklist.path) != s.blocklist_path:
            self._blocklist = BlocklistFile(Path(s.blocklist_path))
        blocklist = self._blocklist
        changed = await asyncio.to_thread(blocklist.reload_if_changed)
        if changed:
            log.info("blocklist %s: %d ranges", s.blocklist_path, len(blocklist.blocklist))
            self.m.session.set_ip_filter(blocklist.blocklist.blocked)

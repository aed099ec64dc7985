"""`Daemon`: the whole daemon in one object: state, session, torrents, HTTP (L4).

`bitswarm daemon` (cli/daemon_command.py) runs one until SIGTERM or SIGINT; tests run one
in-process. Start-up order: open the state database (refusing a second daemon on the same
state folder), merge the settings saved over the network under the local ones (the local
config file, environment and flags win: the person at the machine has the last word),
start the session on the peer port, take back every torrent, then listen for HTTP. Closing
runs the other way and saves everything: records, counters, resume data.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from ..dht.config import parse_bootstrap
from ..session import Session, SessionConfig
from ..wire.mse import parse_encryption
from . import stream_routes, webui
from .auth import Authenticator
from .chores import Chores
from .http_app import FrontEnd, build_app
from .manager import TorrentManager
from .model import DaemonError
from .qbittorrent import add_routes as qbittorrent_routes
from .settings import DaemonSettings
from .store import StateStore
from .transmission import add_routes as transmission_routes
from .upkeep import Upkeep

__all__ = ["Daemon", "default_front_ends"]

log = logging.getLogger("bitswarm.daemon")

STATE_FILE = "state.sqlite"


def default_front_ends() -> list[FrontEnd]:
    """Every API the daemon serves."""
    return [transmission_routes, qbittorrent_routes, webui.add_routes, stream_routes.add_routes]


class Daemon:
    """Use as `async with Daemon(settings, state_dir) as d:`; `d.ready` is the ready line."""

    def __init__(
        self,
        settings: DaemonSettings,
        state_dir: Path,
        *,
        sources: Mapping[str, str] | None = None,
        front_ends: list[FrontEnd] | None = None,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.sources = dict(sources or {})
        self.front_ends = default_front_ends() if front_ends is None else front_ends
        self.store: StateStore | None = None
        self.session: Session | None = None
        self.manager: TorrentManager | None = None
        self.upkeep: Upkeep | None = None
        self._runner: web.AppRunner | None = None
        self.rpc_port = 0

    async def __aenter__(self) -> Daemon:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        host = self.settings.rpc_host or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.rpc_port}"

    @property
    def ready(self) -> dict[str, object]:
        """The ready line's fields (`bitswarm daemon` prints them as one JSON object)."""
        assert self.session is not None
        return {
            "event": "ready",
            "rpc": f"{self.url}/transmission/rpc",
            "web": f"{self.url}/",
            "port": self.session.listen_port,
        }

    async def start(self) -> None:
        s = self.settings
        _check_exposure(s)
        self.store = await StateStore.open(self.state_dir / STATE_FILE)
        for key, value in (await self.store.load_settings()).items():
            if hasattr(s, key) and self.sources.get(key, "default") == "default":
                setattr(s, key, value)
        if not s.download_dir:
            from .config import default_download_dir

            s.download_dir = str(default_download_dir())
        await asyncio.to_thread(Path(s.download_dir).mkdir, parents=True, exist_ok=True)
        bootstrap = tuple(parse_bootstrap(s.dht_bootstrap)) if s.dht_enabled else ()
        self.session = Session(
            SessionConfig(
                listen_host=s.listen_host or None,
                listen_port=s.peer_port,
                find_free_port=False,
                max_peers=s.peer_limit_per_torrent,
                max_connections=s.peer_limit_global,
                max_peers_per_ip=s.peer_limit_per_ip,
                dht_port=(s.peer_port if s.dht_enabled else None),
                dht_bootstrap=bootstrap,
                dht_state=self.state_dir / "dht.state" if s.dht_enabled else None,
                lsd=s.lsd_enabled,
                encryption=parse_encryption(s.encryption),
                transport=s.transport,
            )
        )
        await self.session.start()
        self.manager = TorrentManager(s, self.store, self.session)
        await self.manager.load()
        self.upkeep = Upkeep(self.manager)
        self.chores = Chores(self.manager, self.upkeep)
        await self.chores.reload_blocklist()  # before any peer is dialled
        self.upkeep.start()
        auth = Authenticator(s.rpc_username, s.rpc_password_hash)
        app = build_app(self.manager, s, auth, self.front_ends)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.rpc_host or None, s.rpc_port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise DaemonError(
                f"cannot listen for the RPC on {s.rpc_host}:{s.rpc_port}: {exc.strerror}"
            ) from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.rpc_port = sockets[0].getsockname()[1] if sockets else s.rpc_port
        log.info("daemon ready: %s", self.ready)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.upkeep is not None:
            await self.upkeep.stop()
            self.upkeep = None
        if self.manager is not None:
            await self.manager.close()
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.store is not None:
            await self.store.close()
            self.store = None


def _check_exposure(s: DaemonSettings) -> None:
    """Authentication is required whenever the RPC listens beyond loopback."""
    host = s.rpc_host or "0.0.0.0"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not s.rpc_password_hash:
        raise DaemonError(
            f"the RPC would listen on {host} without a password: set rpc_username and "
            "rpc_password_hash in the config file (bitswarm daemon --hash-password makes one), "
            "or listen on 127.0.0.1"
        )

"""The qBittorrent WebUI API v2 at `/api/v2/`: Sonarr, Radarr, Flood and the
`qbittorrent-api` library drive bitswarm's daemon as they drive qBittorrent 5.

The front-end translates qBittorrent's calls into the `DaemonApi` (daemon/api.py), read
from the aiohttp app as `app[API_KEY]`; it keeps only its web sessions and their
`sync/*` histories (state.py). Modules:

- protocol.py   parameters, plain-text and JSON replies, errors, the route tables
- gate.py       CSRF check, `SID` session cookie, loopback bypass, auth/login and logout
- dispatch.py   the one aiohttp handler: checks in qBittorrent's order, then the route
- views.py      bitswarm's views as qBittorrent's objects (rows, states, priorities)
- sync.py       `rid` snapshots and diffs (pure)
- routes_*.py   the endpoints: app and transfer, torrents (read, change, add, labels),
                sync
- preferences.py `app/preferences` <-> `DaemonSettings`

docs/daemon.md lists what is supported, partly supported and not.
"""

from __future__ import annotations

from aiohttp import web

from .dispatch import handle
from .state import QBT_KEY, QbtState

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Serve the qBittorrent API under /api/v2/ on `app` (before it starts)."""
    if QBT_KEY not in app:
        app[QBT_KEY] = QbtState()
    app.router.add_route("*", "/api/v2/{scope}/{action}", handle)

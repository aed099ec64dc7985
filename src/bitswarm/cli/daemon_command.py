"""`bitswarm daemon`: run the daemon in the foreground until SIGTERM or SIGINT.

When it is ready it prints one JSON line on stdout,
`{"event": "ready", "rpc": URL, "web": URL, "port": P}`, for systemd units, scripts and
tests to wait on; its log goes to stderr. Both signals save everything and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import sys
from pathlib import Path

from ..daemon.auth import hash_password
from ..daemon.config import (
    ENCRYPTION_MODES,
    default_config_path,
    default_state_dir,
    load_settings,
)
from ..daemon.model import DaemonError
from ..daemon.service import Daemon
from ..daemon.settings import DaemonSettings
from ..session.config import TRANSPORTS
from .options import port_or_any, setup_logging

__all__ = ["register"]


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(text)
    return host.strip("[]") or "127.0.0.1", int(port)


_host_port.__name__ = "HOST:PORT"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "daemon",
        help="run as a service: many torrents, driven over HTTP (Transmission, qBittorrent, web)",
        description=(
            "Run bitswarm as a daemon in the foreground. It serves the Transmission RPC at "
            "/transmission/rpc, the qBittorrent WebUI API at /api/v2/ and its own web UI at /, "
            "keeps its torrents in a SQLite database in the state folder, and prints one JSON "
            "line when ready. SIGTERM and SIGINT save everything and exit 0. See docs/daemon.md."
        ),
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the state database lives (default $XDG_STATE_HOME/bitswarm)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML settings (default $XDG_CONFIG_HOME/bitswarm/config.toml, if it exists)",
    )
    p.add_argument(
        "--download-dir",
        default=None,
        metavar="DIR",
        help="where data goes (default: download_dir)",
    )
    p.add_argument(
        "--rpc",
        type=_host_port,
        default=None,
        metavar="HOST:PORT",
        help="where the RPC and web UI listen (default 127.0.0.1:9091; port 0 = any free port)",
    )
    p.add_argument(
        "--port",
        type=port_or_any,
        default=None,
        metavar="P",
        help="peer port, TCP and DHT (default 51413)",
    )
    p.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=None,
        help="how peers are dialled and accepted: tcp, utp (BEP 29, over UDP on the peer "
        "port, shared with the DHT) or both (uTP and TCP raced) (default: transport, else both)",
    )
    p.add_argument(
        "--encryption",
        choices=ENCRYPTION_MODES,
        default=None,
        help="MSE/PE encryption of peer connections: disabled (plaintext only), allowed "
        "(= tolerated: plaintext first, accept both), preferred (encrypted first, plaintext "
        "when a peer cannot), required (RC4 only) (default: encryption, else preferred)",
    )
    p.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password (from stdin or a prompt), print its hash for rpc_password_hash, exit",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    p.set_defaults(handler=cmd_daemon)


def cmd_daemon(args: argparse.Namespace) -> int:
    if args.hash_password:
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise DaemonError("an empty password is no password")
        print(hash_password(password))
        return 0
    overrides: dict[str, object] = {}
    if args.download_dir is not None:
        overrides["download_dir"] = str(Path(args.download_dir).expanduser().absolute())
    if args.rpc is not None:
        overrides["rpc_host"], overrides["rpc_port"] = args.rpc
    if args.port is not None:
        overrides["peer_port"] = args.port
    if args.encryption is not None:
        overrides["encryption"] = args.encryption
    if args.transport is not None:
        overrides["transport"] = args.transport
    explicit = args.config is not None
    config_file = args.config if explicit else default_config_path()
    if not explicit and not config_file.exists():
        config_file = None
    loaded = load_settings(config_file, os.environ, overrides)
    state_dir = args.state_dir or default_state_dir()
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format=log_format, stream=sys.stderr
    )
    # bitswarm's own loggers as the global -q/--log-level/--log-file say (info by default)
    setup_logging(args, default="debug" if args.verbose else "info", stderr_format=log_format)
    return asyncio.run(_run(loaded.settings, state_dir, loaded.sources))


async def _run(settings: DaemonSettings, state_dir: Path, sources: dict[str, str]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Daemon(settings, state_dir, sources=sources) as daemon:
        print(json.dumps(daemon.ready), flush=True)
        await stop.wait()
        logging.getLogger("bitswarm.daemon").info("stopping: saving everything")
    return 0

"""The command line's settings: the daemon's config file, the environment, then flags.

`download`, `seed` (and every command with `add_network_options`) read the TOML file the
daemon reads, ``$XDG_CONFIG_HOME/bitswarm/config.toml``, through the daemon's own loader
(daemon/config.py), so a key means the same to both and a mistake is the same one-line
error. Precedence: the CLI's defaults < the file < ``BITSWARM_<KEY>`` < flags.

The keys the CLI uses, with the daemon's names (`SHARED`), and the CLI's own defaults
where they differ from the daemon's (a one-off download listens on 6881, saves into the
current folder, stops seeding at ratio 1.0 and leaves the DHT off unless asked; the
daemon listens on 51413, saves into ~/Downloads, seeds on and runs the DHT)::

    download_dir            -o/--output         peer_port        --port
    listen_host             --bind              peer_limit_per_torrent  --max-peers
    peer_limit_global       (no flag)           speed_limit_down(_enabled)  --download-limit
    peer_limit_per_ip       (no flag)
    speed_limit_up(_enabled)  --upload-limit    dht_enabled      --dht-port / --no-dht
    dht_bootstrap           --dht-bootstrap     lsd_enabled      --lsd / --no-lsd
    seed_ratio_limit, seed_ratio_limited        --seed-ratio (download)
    encryption              --encryption
    transport               --transport

The CLI's own keys (`CLI_ONLY`) sit in the file's ``[cli]`` table, which the daemon
skips, and in the environment as ``BITSWARM_CLI_<KEY>``::

    [cli]
    dht_port = 0        # the DHT's UDP port when dht_enabled (0: any free port; unset:
                        # the peer port, its UDP socket shared with uTP, as libtorrent)
    direct_io = true    # --direct-io / --no-direct-io
    resume_save_interval = 30.0  # --resume-save-interval: seconds between resume saves

`apply_config(args)` fills every flag the person left unset (argparse default None) from
the merged settings (and sets ``args.port_explicit``: only a ``--port`` flag is an
explicit port, which is an error when taken; ``peer_port`` from the file or the
environment falls back to the next free port, as the default 6881 does);
`load_cli_settings` gives the values and their sources for `bitswarm config`.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..daemon.config import (
    CLI_TABLE,
    ENV_PREFIX,
    default_config_path,
    load_settings,
    read_toml,
)
from ..daemon.model import DaemonError
from ..errors import BitswarmError

__all__ = [
    "CLI_ONLY",
    "SHARED",
    "CliSettings",
    "apply_config",
    "config_path",
    "load_cli_settings",
]

# The daemon's keys the CLI uses, with the CLI's default for each.
SHARED: dict[str, object] = {
    "download_dir": ".",
    "peer_port": 6881,
    "listen_host": "",
    "peer_limit_per_torrent": 50,
    "peer_limit_global": 400,
    "peer_limit_per_ip": 1,
    "speed_limit_down": 0,
    "speed_limit_down_enabled": False,
    "speed_limit_up": 0,
    "speed_limit_up_enabled": False,
    "dht_enabled": False,
    "dht_bootstrap": [],
    "lsd_enabled": False,
    "seed_ratio_limit": 1.0,
    "seed_ratio_limited": True,
    "encryption": "preferred",
    "transport": "both",
}
# The CLI's own keys: the `[cli]` table, BITSWARM_CLI_<KEY>.
CLI_ONLY: dict[str, object] = {
    "dht_port": 0,
    "direct_io": True,
    "resume_save_interval": 30.0,
}
_CLI_ENV = ENV_PREFIX + "CLI_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class CliSettings:
    """Every key the CLI uses (`SHARED`, then ``cli.<key>`` for `CLI_ONLY`), its value,
    and where it came from: ``default``, ``config file PATH``, ``environment VAR``."""

    values: dict[str, Any]
    sources: dict[str, str]
    config_file: Path | None  # the file read; None when there is none

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file is looked for: the daemon's ``config.toml``."""
    return default_config_path(os.environ if env is None else env)


def load_cli_settings(
    config_file: Path | None = None, env: Mapping[str, str] | None = None
) -> CliSettings:
    """The merged settings. `config_file` None: the default path, if it exists.

    Raises:
        BitswarmError: one line naming the file or variable and the key at fault.
    """
    env = os.environ if env is None else env
    try:
        loaded = load_settings(config_file, env, {})
    except DaemonError as exc:
        raise BitswarmError(str(exc)) from None
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, default in SHARED.items():
        source = loaded.sources[key]
        sources[key] = source
        values[key] = default if source == "default" else getattr(loaded.settings, key)
    table: dict[str, Any] = {}
    if loaded.config_file is not None:
        raw = read_toml(loaded.config_file).get(CLI_TABLE, {})
        if not isinstance(raw, dict):
            raise BitswarmError(f"config file {loaded.config_file}: [{CLI_TABLE}] is not a table")
        table = raw
    for raw_key in table:
        if raw_key.replace("-", "_") not in CLI_ONLY:
            raise BitswarmError(
                f"config file {loaded.config_file}: unknown setting {CLI_TABLE}.{raw_key} "
                f"(the [{CLI_TABLE}] table holds {', '.join(CLI_ONLY)})"
            )
    for key, default in CLI_ONLY.items():
        name = f"{CLI_TABLE}.{key}"
        value: Any = default
        source = "default"
        for raw_key in (key, key.replace("_", "-")):
            if raw_key in table:
                source = f"config file {loaded.config_file}"
                value = _typed(name, table[raw_key], default, source)
        variable = _CLI_ENV + key.upper()
        if variable in env:
            source = f"environment {variable}"
            value = _from_text(name, env[variable], default, source)
        values[name], sources[name] = value, source
    _check(values, sources)
    return CliSettings(values, sources, loaded.config_file)


def _typed(name: str, value: object, default: object, origin: str) -> object:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise BitswarmError(f"{origin}: {name} must be true or false, not {value!r}")
    if isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise BitswarmError(f"{origin}: {name} must be a number, not {value!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise BitswarmError(f"{origin}: {name} must be an integer, not {value!r}")


def _from_text(name: str, text: str, default: object, origin: str) -> object:
    word = text.strip().lower()
    if isinstance(default, bool):
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise BitswarmError(f"{origin}: {name} must be 1/0, true/false, yes/no or on/off")
    if isinstance(default, float):
        try:
            return float(word)
        except ValueError:
            raise BitswarmError(f"{origin}: {name} must be a number, not {text!r}") from None
    try:
        return int(word, 10)
    except ValueError:
        raise BitswarmError(f"{origin}: {name} must be an integer, not {text!r}") from None


def _check(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    port = values[f"{CLI_TABLE}.dht_port"]
    if not 0 <= port <= 65535:
        where = sources[f"{CLI_TABLE}.dht_port"]
        raise BitswarmError(f"{where}: {CLI_TABLE}.dht_port must be in 0..65535, not {port}")
    interval = values[f"{CLI_TABLE}.resume_save_interval"]
    if not (math.isfinite(interval) and interval > 0):
        where = sources[f"{CLI_TABLE}.resume_save_interval"]
        raise BitswarmError(
            f"{where}: {CLI_TABLE}.resume_save_interval must be a number of seconds above 0, "
            f"not {interval}"
        )


def apply_config(args: argparse.Namespace) -> None:
    """Fill the network (and download) options left unset on the command line from the
    config file and the environment; a flag given always wins.

    Reads `args.config` (``--config FILE``) when the command has it.

    Raises:
        BitswarmError: a mistake in the file or the environment.
    """
    settings = load_cli_settings(getattr(args, "config", None))
    args.settings = settings

    def fill(dest: str, value: object) -> None:
        if hasattr(args, dest) and getattr(args, dest) is None:
            setattr(args, dest, value)

    fill("output", Path(os.path.expanduser(settings["download_dir"])))
    # Only a --port on the command line is the person's own choice (taken: an error); the
    # default and a peer_port from the file or BITSWARM_PEER_PORT fall back to the next
    # free port, as a daemon reading the same file most likely holds that port already.
    args.port_explicit = getattr(args, "port", None) is not None
    fill("port", settings["peer_port"])
    fill("bind", settings["listen_host"] or None)
    fill("max_peers", settings["peer_limit_per_torrent"])
    if getattr(args, "max_connections", None) is None:  # no flag: the file or the default
        args.max_connections = settings["peer_limit_global"]
    if getattr(args, "max_peers_per_ip", None) is None:
        args.max_peers_per_ip = settings["peer_limit_per_ip"]
    down = settings["speed_limit_down"] if settings["speed_limit_down_enabled"] else 0
    up = settings["speed_limit_up"] if settings["speed_limit_up_enabled"] else 0
    fill("download_limit", down)
    fill("upload_limit", up)
    fill("lsd", settings["lsd_enabled"])
    fill("direct_io", settings[f"{CLI_TABLE}.direct_io"])
    fill("encryption", settings["encryption"])
    fill("resume_save_interval", settings[f"{CLI_TABLE}.resume_save_interval"])
    fill("transport", settings["transport"])
    if getattr(args, "no_dht", False):
        args.dht_port = None
        args.dht_bootstrap = []
    elif getattr(args, "dht_port", None) is None and settings["dht_enabled"]:
        # libtorrent's arrangement by default: the DHT on the peer port, one UDP socket
        # shared with uTP (session/session.py); [cli] dht_port picks another port
        own = settings.sources[f"{CLI_TABLE}.dht_port"] != "default"
        peer_port = getattr(args, "port", None)
        args.dht_port = settings[f"{CLI_TABLE}.dht_port"] if own or not peer_port else peer_port
    if getattr(args, "dht_port", None) is not None and not getattr(args, "dht_bootstrap", []):
        args.dht_bootstrap = list(settings["dht_bootstrap"])
    ratio_unset = getattr(args, "seed_ratio", 0) is None
    if ratio_unset and args.seed_time is None and not args.no_seed:
        limited = settings["seed_ratio_limited"]
        args.seed_ratio = settings["seed_ratio_limit"] if limited else math.inf

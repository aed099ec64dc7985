"""`bitswarm config`: the settings `download` and `seed` would use, and where each came from.

One row per key of cli/settings.py (the daemon's names, then the ``[cli]`` table's):
its effective value as TOML would write it, and its source (``default``, ``config file
PATH``, ``environment BITSWARM_KEY``). ``--json`` prints one `config` event (events.py,
docs/json-events.md): ``"config_file": PATH or null, "settings": {KEY: {"value", "source"}}``;
``--path`` prints only where the config file is (or would be).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import events
from .settings import config_path, load_cli_settings

__all__ = ["register", "toml_value"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "config",
        help="show the settings download and seed use, and where each came from",
        description="Show the effective settings of `download` and `seed`: the CLI's "
        "defaults, overridden by the config file (the daemon's, "
        "$XDG_CONFIG_HOME/bitswarm/config.toml), then by BITSWARM_<KEY> environment "
        "variables; flags override all of them when the command runs.",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="read FILE instead (default: $XDG_CONFIG_HOME/bitswarm/config.toml if it exists)",
    )
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print one `config` JSON event")
    shown.add_argument(
        "--path", action="store_true", help="print only the config file's path (it may not exist)"
    )
    p.set_defaults(handler=cmd_config)


def toml_value(value: Any) -> str:
    """`value` as it would be written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string is JSON's
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def cmd_config(args: argparse.Namespace) -> int:
    if args.path:
        print(args.config if args.config is not None else config_path())
        return 0
    settings = load_cli_settings(args.config)
    file = str(settings.config_file) if settings.config_file is not None else None
    if args.json:
        rows = {
            key: {"value": value, "source": settings.sources[key]}
            for key, value in settings.values.items()
        }
        events.emit("config", config_file=file, settings=rows)
        return 0
    shown = file or f"{config_path()} (not found: every value is a default or from the environment)"
    print(f"config file: {shown}")
    width = max(len(key) for key in settings.values)
    values = {key: toml_value(v) for key, v in settings.values.items()}
    value_width = max(len(v) for v in values.values())
    print(f"{'KEY':<{width}}  {'VALUE':<{value_width}}  SOURCE")
    for key, text in values.items():
        print(f"{key:<{width}}  {text:<{value_width}}  {settings.sources[key]}")
    sys.stdout.flush()
    return 0

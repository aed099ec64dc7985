"""Entry point of the `bitswarm` command (filled in by the CLI work)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("bitswarm: no commands yet", file=sys.stderr)
    return 2

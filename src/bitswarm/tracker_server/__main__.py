"""``python -m bitswarm.tracker_server [flags]``: the same as ``bitswarm tracker [flags]``.

For tests, benchmarks and service files that want the tracker alone; errors a person can
act on are one line on stderr and exit status 1, as with the ``bitswarm`` command.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import BitswarmError
from .arguments import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bitswarm.tracker_server")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["tracker", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args))
    except BitswarmError as exc:
        print(f"bitswarm tracker: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"bitswarm tracker: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

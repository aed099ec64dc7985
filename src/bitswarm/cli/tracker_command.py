"""`bitswarm tracker`: run the HTTP and UDP tracker server.

The flags belong to the tracker server (`bitswarm.tracker_server.arguments`), so that
``python -m bitswarm.tracker_server`` takes exactly the same ones without importing the
command line; see docs/tracker.md.
"""

from __future__ import annotations

from ..tracker_server.arguments import register

__all__ = ["register"]

"""L2 asyncio drivers: the only layer with sockets, threads, files and the loop's clock.

Each module here wraps one sans-IO core or codec from the layers below (peer wire,
tracker clients, DHT, disk) and stays thin: feed bytes in, flush bytes out, re-arm one
timer, dispatch events.
"""

from __future__ import annotations

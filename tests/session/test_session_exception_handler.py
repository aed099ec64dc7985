"""A `Session` on a library user's loop: its accept-error handler (aio/fdlimit.py) stays
out of the user's way.

`Session.start` chains a handler in front of the loop's own so that running out of
descriptors logs one line per 10 s instead of a traceback per accept (issue 14). A
library user's handler must keep seeing every other exception while sessions run, and
must be the loop's handler again once they are closed.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

from bitswarm.aio.fdlimit import AcceptErrors
from bitswarm.session import Session, SessionConfig


def _emfile() -> dict[str, Any]:
    return {
        "message": "socket.accept() out of system resource",
        "exception": OSError(errno.EMFILE, "Too many open files"),
    }


def test_the_users_handler_sees_other_exceptions_and_is_restored_at_close() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        seen: list[dict[str, Any]] = []

        def users(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            seen.append(context)

        loop.set_exception_handler(users)
        first = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0))
        second = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0))
        await first.start()
        await second.start()
        try:
            assert isinstance(loop.get_exception_handler(), AcceptErrors)
            loop.call_exception_handler({"message": "the user's own", "exception": KeyError(1)})
            loop.call_exception_handler(_emfile())  # summarised in a log line, not passed on
            assert [c["message"] for c in seen] == ["the user's own"]
        finally:
            await second.close()
            await first.close()
        assert loop.get_exception_handler() is users
        loop.call_exception_handler(_emfile())
        assert len(seen) == 2  # the user's handler has it all again

    asyncio.run(main())


def test_a_handler_set_while_a_session_runs_is_left_in_place() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)):

            def later(_loop: asyncio.AbstractEventLoop, _context: dict[str, Any]) -> None:
                pass

            loop.set_exception_handler(later)
        assert loop.get_exception_handler() is later

    asyncio.run(main())


def test_without_a_users_handler_the_default_one_is_back_after_close() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)):
            assert loop.get_exception_handler() is not None
        assert loop.get_exception_handler() is None

    asyncio.run(main())

"""session/racing.py: staggered uTP/TCP attempts (RFC 8305), with connectors that stand in
for the transports' connection set-up (their timing is the point, not the bytes)."""

from __future__ import annotations

import asyncio

import pytest

from bitswarm.session.racing import Connector, ProtocolFactory, attempt_delay, race


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Log:
    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.cancelled: set[str] = set()
        self.transports: dict[str, FakeTransport] = {}
        self.protocols: dict[str, asyncio.BaseProtocol] = {}

    def connector(self, name: str, after: float, fail: bool = False,
                  gate: asyncio.Event | None = None) -> Connector:  # fmt: skip
        async def connect(factory: ProtocolFactory) -> None:
            self.started[name] = asyncio.get_running_loop().time()
            try:
                await asyncio.sleep(after)
                if gate is not None:
                    await gate.wait()
            except asyncio.CancelledError:
                self.cancelled.add(name)
                raise
            if fail:
                raise ConnectionRefusedError(f"{name} refused")
            transport = FakeTransport()
            protocol = factory()
            protocol.connection_made(transport)
            self.transports[name], self.protocols[name] = transport, protocol

        return connect


class Made(asyncio.BufferedProtocol):
    count = 0

    def __init__(self) -> None:
        Made.count += 1

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(bytearray(1))

    def buffer_updated(self, nbytes: int) -> None:
        return None


def test_the_first_transport_alone_when_it_connects_within_the_delay() -> None:
    log = Log()

    async def go() -> str:
        return await race([("utp", log.connector("utp", 0.01)),
                           ("tcp", log.connector("tcp", 0.0))], 0.2, Made)  # fmt: skip

    assert asyncio.run(go()) == "utp"
    assert "tcp" not in log.started


def test_the_second_joins_after_the_delay_and_wins_and_the_first_is_cancelled() -> None:
    log = Log()

    async def go() -> tuple[str, float]:
        t0 = asyncio.get_running_loop().time()
        winner = await race([("utp", log.connector("utp", 30.0)),
                             ("tcp", log.connector("tcp", 0.01))], 0.2, Made)  # fmt: skip
        return winner, asyncio.get_running_loop().time() - t0

    winner, took = asyncio.run(go())
    assert winner == "tcp"
    assert 0.2 <= log.started["tcp"] - log.started["utp"] < 1.0
    assert took < 1.5
    assert log.cancelled == {"utp"}


def test_an_early_failure_starts_the_next_at_once() -> None:
    log = Log()

    async def go() -> str:
        return await race([("utp", log.connector("utp", 0.0, fail=True)),
                           ("tcp", log.connector("tcp", 0.0))], 5.0, Made)  # fmt: skip

    assert asyncio.run(go()) == "tcp"
    assert log.started["tcp"] - log.started["utp"] < 1.0


def test_a_late_second_connection_is_closed_and_only_one_protocol_is_built() -> None:
    log = Log()
    Made.count = 0

    async def go() -> str:
        gate = asyncio.Event()  # both connect in the same loop iteration
        task = asyncio.create_task(race([("utp", log.connector("utp", 0.0, gate=gate)),
                                         ("tcp", log.connector("tcp", 0.0, gate=gate))],
                                        0.0, Made))  # fmt: skip
        while len(log.started) < 2:  # noqa: ASYNC110 - both attempts under way
            await asyncio.sleep(0.01)
        gate.set()
        return await task

    winner = asyncio.run(go())
    assert set(log.transports) == {"utp", "tcp"}
    assert Made.count == 1
    assert isinstance(log.protocols[winner], Made)
    for name, transport in log.transports.items():
        assert transport.closed == (name != winner)


def test_every_attempt_failing_raises_the_failure() -> None:
    log = Log()

    async def go() -> str:
        return await race([("utp", log.connector("utp", 0.0, fail=True)),
                           ("tcp", log.connector("tcp", 0.05, fail=True))], 0.2, Made)  # fmt: skip

    with pytest.raises(ConnectionRefusedError, match="tcp refused"):
        asyncio.run(go())


def test_the_delay_follows_the_round_trip_within_rfc_8305_bounds() -> None:
    assert attempt_delay(None) == 0.25
    assert attempt_delay(0.001) == 0.25
    assert attempt_delay(0.4) == pytest.approx(0.8)
    assert attempt_delay(5.0) == 2.0

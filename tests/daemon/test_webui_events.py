"""The web UI's event stream: the snapshot on connect, diffs of only what changed, session
totals, heartbeats, and a slow client dropped rather than buffered without end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bitswarm.daemon.model import Activity
from bitswarm.daemon.webui_events import HUB_KEY, EventHub
from bitswarm.daemon.webui_rows import diff_rows

from .webui_app import SESSION_ID, webui_client
from .webui_fake import FakeDaemon


class Stream:
    """Reads Server-Sent Events frames from a response, comments included."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def frame(self, wait: float = 10.0) -> tuple[str, Any]:
        raw = await asyncio.wait_for(self.resp.content.readuntil(b"\n\n"), wait)
        text = raw.decode()
        if text.startswith(":"):
            return "comment", text[1:].strip()
        fields: dict[str, str] = {}
        for line in text.strip().split("\n"):
            key, _, value = line.partition(": ")
            fields[key] = value
        if "event" in fields:
            return fields["event"], json.loads(fields["data"])
        return "control", fields

    async def event(self, name: str, wait: float = 10.0) -> Any:
        while True:
            kind, data = await self.frame(wait)
            if kind == name:
                return data


def test_diff_rows_sends_only_what_moved() -> None:
    old = {1: {"id": 1, "down": 5, "name": "a"}, 2: {"id": 2, "down": 0, "name": "b"}}
    new = {1: {"id": 1, "down": 7, "name": "a"}, 3: {"id": 3, "down": 0, "name": "c"}}
    diff = diff_rows(old, new)
    assert diff.changed == {1: {"down": 7}}
    assert diff.added == [new[3]] and diff.removed == [2]
    assert diff.to_json()["changed"] == {"1": {"down": 7}}
    assert not diff_rows(new, dict(new))


def test_snapshot_then_diffs_over_http() -> None:
    api = FakeDaemon()
    a = api.put("alpha", [("a", 1_000_000)], down=100_000.0)
    api.put("beta", [("b", 10)], activity=Activity.STOPPED)

    async def main() -> None:
        async with webui_client(api, interval=0.05) as client:
            refused = await client.get("/api/ui/events", headers={"X-Transmission-Session-Id": ""})
            assert refused.status == 409
            resp = await client.get(f"/api/ui/events?session_id={SESSION_ID}", headers={})
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert resp.headers["Cache-Control"].startswith("no-cache")
            stream = Stream(resp)
            kind, control = await stream.frame()
            assert kind == "control" and control == {"retry": "2000"}
            snap = await stream.event("snapshot")
            assert [r["name"] for r in snap["rows"]] == ["alpha", "beta"]
            assert snap["stats"]["download_rate"] == 100_000
            api.step(1.0)  # alpha moves on by 100 kB
            diff = await stream.event("diff")
            assert set(diff["changed"]) == {"1"}
            assert set(diff["changed"]["1"]) <= {"done", "progress", "eta", "downloaded"}
            assert diff["changed"]["1"]["done"] == 100_000
            assert diff["added"] == [] and diff["removed"] == []
            a.down = 0.0
            c = api.put("gamma", [("c", 5)])
            del api.items[2]
            diff = await stream.event("diff")
            assert diff["changed"]["1"]["down"] == 0 and "name" not in diff["changed"]["1"]
            assert [r["name"] for r in diff["added"]] == ["gamma"] and diff["removed"] == [2]
            assert diff["stats"]["download_rate"] == 0 and diff["stats"]["torrents"] == 2
            # A second page gets the hub's current state as its snapshot.
            other = await client.get(f"/api/ui/events?session_id={SESSION_ID}")
            snap2 = await Stream(other).event("snapshot")
            assert [r["id"] for r in snap2["rows"]] == [1, c.id]
            hub = client.app[HUB_KEY] if client.app is not None else None
            assert hub is not None and len(hub.clients) == 2
            other.close()
            resp.close()
            for _ in range(200):
                if not hub.clients:
                    break
                api.step(0.01)
                await asyncio.sleep(0.05)
            assert not hub.clients  # the poller stops with the last page

    asyncio.run(main())


def test_quiet_stream_sends_heartbeats_and_no_empty_diffs() -> None:
    api = FakeDaemon()
    api.put("still", [("s", 10)], activity=Activity.STOPPED)

    async def main() -> None:
        async with webui_client(api, interval=0.02) as client:
            assert client.app is not None
            client.app[HUB_KEY].heartbeat = 0.3
            stream = Stream(await client.get(f"/api/ui/events?session_id={SESSION_ID}"))
            await stream.event("snapshot")
            kind, text = await stream.frame(wait=5)
            assert (kind, text) == ("comment", "ping")  # nothing changed: no diff, a ping

    asyncio.run(main())


def test_slow_client_is_dropped_not_buffered() -> None:
    api = FakeDaemon()
    t = api.put("busy", [("b", 10**9)], down=1.0)

    async def main() -> None:
        hub = EventHub(lambda: api, queue_size=4)
        client = hub.subscribe()
        for i in range(10):  # a page that reads nothing while the daemon keeps changing
            t.done = i + 1
            hub.tick()
        assert client.dropped and client not in hub.clients and hub.dropped == 1
        assert client.queue.qsize() == 4  # the bound held: nothing queued past it
        fresh = hub.subscribe()  # a reconnect starts over from a snapshot
        assert (await fresh.queue.get() or b"").startswith(b"event: snapshot")
        await hub.close()
        assert fresh.dropped and await fresh.queue.get() is None

    asyncio.run(main())

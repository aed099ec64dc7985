"""bitswarm's web UI with N torrents, in Debian's Chromium (headless, through Playwright).

The page gets its list over Server-Sent Events: a snapshot of every row on connect, then
once a second a diff of what changed. An init script wraps every EventSource listener and
records, for each message, the time from the message event to the end of the page's
handler (parse and apply) and to the next frame after it (requestAnimationFrame, then a
task: the frame has been laid out and painted). The page's own `BS.perf.updates` (list.js
times its list update alone) is read too. To get list updates with many rows changed, the
benchmark stops and starts every torrent over the Transmission RPC a few times; each
round moves every row's state, spread over one or more diffs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clients import Bitswarm

__all__ = ["CHROMIUM", "WebUiTimes", "measure_webui"]

CHROMIUM = "/usr/bin/chromium"

_WRAP = """
(() => {
  const rec = (window.__bench = []);
  const wrap = (type, fn) => function (ev) {
    const t0 = performance.now();
    const out = fn.apply(this, arguments);
    const t1 = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      const t2 = performance.now();
      let rows = 0;
      try {
        const m = JSON.parse(ev.data);
        rows = type === "snapshot" ? (m.rows || []).length
          : Object.keys(m.changed || {}).length + (m.added || []).length + (m.removed || []).length;
      } catch (e) { rows = -1; }
      rec.push({ type, rows, bytes: (ev.data || "").length, handler: t1 - t0, frame: t2 - t0 });
    }, 0));
    return out;
  };
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, opts) {
    const data = typeof fn === "function" && type !== "open" && type !== "error";
    const wrapped = data ? wrap(type, fn) : fn;
    return add.call(this, type, wrapped, opts);
  };
})();
"""


@dataclass
class WebUiTimes:
    frame: list[float] = field(default_factory=list)  # ms, big diffs: message to next frame
    sync: list[float] = field(default_factory=list)  # ms, big diffs: inside the handler
    note: str = ""


def _wait(page: Any, script: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"web UI: timed out waiting for {script}")
        time.sleep(0.1)


def measure_webui(d: Bitswarm, cycles: int = 3, timeout: float = 120.0) -> WebUiTimes:
    """Open the web UI on `d` (running, N torrents listed) and time its list updates."""
    from playwright.sync_api import sync_playwright

    n = len(d.load.torrents)
    states = d.states()
    seeding = states.count("seeding") >= states.count("stopped")
    actions = ["torrent-stop", "torrent-start"] if seeding else ["torrent-start", "torrent-stop"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(_WRAP)
            page.goto(f"http://127.0.0.1:{d.api_port}/")
            _wait(page, f"window.__bench.some((r) => r.type === 'snapshot' && r.rows === {n})", 60)
            for _ in range(cycles):
                for action in actions:
                    before = page.evaluate("window.__bench.length")
                    d.rpc.call(action)
                    script = (
                        f"window.__bench.slice({before}).filter((r) => r.type === 'diff')"
                        f".reduce((s, r) => s + r.rows, 0) >= {n}"
                    )
                    _wait(page, script, timeout)
                    time.sleep(1.5)  # let the stragglers of this round arrive
            records: list[dict[str, Any]] = page.evaluate("window.__bench")
            own: list[dict[str, Any]] = page.evaluate("BS.perf.updates")
        finally:
            browser.close()
    snap = [r for r in records if r["type"] == "snapshot" and r["rows"] == n]
    diffs = [r for r in records if r["type"] == "diff" and r["rows"] > 0]
    big = [r for r in diffs if r["rows"] >= n // 10]
    small = [r for r in diffs if r["rows"] < n // 10]
    out = WebUiTimes([r["frame"] for r in big], [r["handler"] for r in big])
    own_big = [u["frame"] for u in own if u["rows"] == n]
    out.note = json.dumps(
        {
            "snapshot_ms": round(snap[0]["frame"], 1) if snap else None,
            "snapshot_kib": round(snap[0]["bytes"] / 1024) if snap else None,
            "big_diffs": len(big),
            "big_diff_rows_median": sorted(r["rows"] for r in big)[len(big) // 2] if big else 0,
            "small_diffs": len(small),
            "small_diff_ms_max": round(max((r["frame"] for r in small), default=0.0), 1),
            "page_list_update_ms_max": round(max(own_big, default=0.0), 1),
        }
    )
    return out

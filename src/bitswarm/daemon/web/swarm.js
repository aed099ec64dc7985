// bitswarm web UI: the swarm view. We sit in the centre; every connected peer sits on a
// ring around us. Between us and each peer run two lanes: the one a peer sends to us on
// (blue, "down") and the one we send to it on (orange, "up"). A lane's thickness grows with
// the log of its rate, and dots run along it in the direction the bytes go, faster and
// closer together the more bytes go, so who sends what to whom shows at a glance. Peers are
// coloured by how much of the torrent they have (red: nothing .. green: all, a seed).
"use strict";
(function (BS) {
  let canvas, tip, summary;
  let peers = [];
  let nodes = []; // {x, y, r, peer}
  let raf = 0;
  let running = false;
  let phase = 0;
  let last = 0;

  const width = (rate) => (rate > 0 ? Math.min(14, 1.5 + 2.2 * Math.log10(1 + rate / 1024)) : 0);
  const hue = (p) => "hsl(" + Math.round(4 + 136 * p) + " " + (p >= 1 ? 55 : 70) + "% " + (p >= 1 ? 42 : 52) + "%)";
  const key = (p) => p.host + ":" + p.port;

  function layout(w, h) {
    const cx = w / 2, cy = h / 2;
    const n = peers.length;
    // Room for the labels: wider than tall, so more at the sides.
    const radius = Math.max(50, Math.min(w / 2 - 60, h / 2 - 34));
    const r = n > 60 ? 5 : n > 24 ? 8 : 12;
    // Stable places: sorted by address, so a peer does not jump when another comes or goes.
    const sorted = peers.slice().sort((a, b) => (key(a) < key(b) ? -1 : 1));
    nodes = sorted.map((p, i) => {
      const ring = n > 40 && i % 2 ? 0.72 : 1;
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
      return { x: cx + Math.cos(a) * radius * ring, y: cy + Math.sin(a) * radius * ring, r, peer: p };
    });
    return { cx, cy };
  }

  // A lane from (x1, y1) to (x2, y2), shifted sideways by `side` so the two lanes part.
  function lane(ctx, x1, y1, x2, y2, side, rate, colour) {
    const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
    const ox = (-dy / len) * side, oy = (dx / len) * side;
    const ax = x1 + ox, ay = y1 + oy, bx = x2 + ox, by = y2 + oy;
    if (rate <= 0) return;
    ctx.strokeStyle = colour;
    ctx.globalAlpha = 0.55;
    ctx.lineWidth = width(rate);
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
    ctx.globalAlpha = 1;
    // Dots flow from the sender to the receiver: one every `gap` px, at a speed that grows
    // with the rate.
    const gap = Math.max(14, 60 - 9 * Math.log10(1 + rate / 1024));
    const speed = 20 + 12 * Math.log10(1 + rate / 1024);
    const off = (phase * speed) % gap;
    ctx.fillStyle = colour;
    const dot = Math.max(1.5, width(rate) / 2 + 0.5);
    for (let s = off; s < len; s += gap) {
      const t = s / len;
      ctx.beginPath(); ctx.arc(ax + (bx - ax) * t, ay + (by - ay) * t, dot, 0, 2 * Math.PI); ctx.fill();
    }
  }

  function draw() {
    const { ctx, w, h } = BS.fitCanvas(canvas);
    const { cx, cy } = layout(w, h);
    const down = BS.css("--down"), up = BS.css("--up"), muted = BS.css("--muted"), line = BS.css("--line");
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (const nd of nodes) {
      const p = nd.peer;
      ctx.strokeStyle = line; ctx.lineWidth = 1; ctx.setLineDash([3, 4]);
      ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(nd.x, nd.y); ctx.stroke();
      ctx.setLineDash([]);
      lane(ctx, nd.x, nd.y, cx, cy, 4, p.down, down); // it sends to us
      lane(ctx, cx, cy, nd.x, nd.y, 4, p.up, up); // we send to it
    }
    for (const nd of nodes) {
      const p = nd.peer;
      ctx.fillStyle = hue(p.progress);
      ctx.beginPath(); ctx.arc(nd.x, nd.y, nd.r, 0, 2 * Math.PI); ctx.fill();
      if (p.progress >= 1) { ctx.strokeStyle = BS.css("--fg"); ctx.lineWidth = 1.5; ctx.stroke(); }
      if (nodes.length <= 24) {
        ctx.fillStyle = muted;
        ctx.textBaseline = nd.y < cy ? "bottom" : "top";
        const label = (p.client || p.host).slice(0, 22);
        ctx.fillText(label, nd.x, nd.y + (nd.y < cy ? -nd.r - 3 : nd.r + 3));
      }
    }
    const me = BS.list.get(BS.details.current());
    ctx.fillStyle = me ? hue(me.progress) : "#888";
    ctx.beginPath(); ctx.arc(cx, cy, 18, 0, 2 * Math.PI); ctx.fill();
    ctx.strokeStyle = BS.css("--fg"); ctx.lineWidth = 2; ctx.stroke();
    ctx.fillStyle = BS.css("--fg"); ctx.textBaseline = "top";
    ctx.fillText("you", cx, cy + 21);
    if (!nodes.length) { ctx.fillStyle = muted; ctx.textBaseline = "bottom"; ctx.fillText("no peers connected", cx, cy - 24); }
  }

  function frame(t) {
    if (!running) return;
    phase += last ? Math.min(0.1, (t - last) / 1000) : 0;
    last = t;
    if (!document.hidden) draw();
    raf = requestAnimationFrame(frame);
  }

  function describe() {
    const sending = peers.filter((p) => p.down > 0), receiving = peers.filter((p) => p.up > 0);
    const sum = (a, f) => a.reduce((s, p) => s + p[f], 0);
    summary.textContent = peers.length + " peers connected. " + sending.length + " send to you (" +
      BS.fmtRate(sum(sending, "down")) + "), you send to " + receiving.length + " (" + BS.fmtRate(sum(receiving, "up")) +
      "). Seeds: " + peers.filter((p) => p.progress >= 1).length + ".";
  }

  function onMove(e) {
    const r = canvas.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    let best = null, bestD = 24;
    for (const nd of nodes) { const d = Math.hypot(nd.x - x, nd.y - y); if (d < bestD) { best = nd; bestD = d; } }
    if (!best) { tip.hidden = true; return; }
    const p = best.peer;
    tip.textContent = "";
    tip.append(BS.el("strong", { text: p.client || "unknown client" }), BS.el("br"),
      p.host + ":" + p.port, BS.el("br"),
      "has " + BS.fmtPct(p.progress) + " · ↓ " + BS.fmtRate(p.down) + " · ↑ " + BS.fmtRate(p.up), BS.el("br"),
      (p.transport === "utp" ? "uTP" : "TCP") + (p.encrypted ? ", encrypted" : "") + (p.flags ? " · " + p.flags : ""));
    tip.style.left = Math.min(r.width - 180, x + 12) + "px";
    tip.style.top = (y + 12) + "px";
    tip.hidden = false;
  }

  BS.swarm = {
    init() {
      canvas = document.getElementById("swarm-canvas");
      tip = document.getElementById("swarm-tip");
      summary = document.getElementById("swarm-summary");
      canvas.addEventListener("pointermove", onMove);
      canvas.addEventListener("pointerdown", onMove);
      canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
    },
    setPeers(list) { peers = list; describe(); if (!running) draw(); },
    start() { if (running) return; running = true; last = 0; raf = requestAnimationFrame(frame); },
    stop() { running = false; cancelAnimationFrame(raf); tip.hidden = true; },
  };
})(window.BS);

// bitswarm web UI: shared helpers (formatting, the API client, small DOM tools).
// Classic scripts sharing one namespace, `BS`, so the page needs no build step and no
// module loader; index.html loads them in order with `defer`.
"use strict";
window.BS = window.BS || {};
(function (BS) {
  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

  BS.fmtBytes = function (n) {
    if (n == null || !isFinite(n)) return "–";
    let i = 0;
    while (Math.abs(n) >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + UNITS[i];
  };
  BS.fmtRate = (n) => (n > 0 ? BS.fmtBytes(n) + "/s" : "–");
  BS.fmtPct = (p) => (p >= 1 ? "100%" : (Math.floor(p * 1000) / 10).toFixed(1) + "%");
  BS.fmtEta = function (s) {
    if (s == null || s < 0) return "–";
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  };
  BS.fmtTime = (t) => (t > 0 ? new Date(t * 1000).toLocaleString() : "never");
  BS.fmtRatio = (r) => (r < 0 ? "–" : r.toFixed(2));

  const STATES = {
    stopped: "Stopped", check_wait: "Waiting to verify", checking: "Verifying",
    metadata: "Getting metadata", download_wait: "Queued", downloading: "Downloading",
    seed_wait: "Queued to seed", seeding: "Seeding", error: "Error",
  };
  BS.stateText = (s) => STATES[s] || s;

  // A tiny element builder: el("td", {class: "num"}, "text", child...). Text is always
  // set as text, never parsed as HTML: torrent names and peer clients come from strangers.
  BS.el = function (tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) e.append(c);
    return e;
  };
  BS.setText = function (node, text) { if (node.textContent !== text) node.textContent = text; };

  let toastTimer = 0;
  BS.toast = function (message) {
    const t = document.getElementById("toast");
    t.textContent = message;
    t.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove("show"), 4000);
  };

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }
  BS.ApiError = ApiError;
  BS.sid = null; // the X-Transmission-Session-Id the daemon last told us

  // One request to the daemon's /api/ui/. The daemon answers 409 with a fresh session id
  // (its CSRF check, as Transmission's RPC does): take it and ask again.
  BS.api = async function (path, opts = {}) {
    const method = opts.method || (opts.json !== undefined || opts.form ? "POST" : "GET");
    for (let attempt = 0; attempt < 3; attempt++) {
      const headers = { Accept: "application/json" };
      if (BS.sid) headers["X-Transmission-Session-Id"] = BS.sid;
      let body;
      if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.json); }
      else if (opts.form) body = opts.form;
      let r;
      try {
        r = await fetch("/api/ui/" + path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
      } catch (e) {
        throw new ApiError("the daemon cannot be reached", 0);
      }
      const fresh = r.headers.get("X-Transmission-Session-Id");
      if (r.status === 409 && fresh) { BS.sid = fresh; continue; }
      let data = null;
      try { data = await r.json(); } catch (e) { /* not JSON: the status says enough */ }
      if (!r.ok) throw new ApiError((data && data.error) || r.status + " " + r.statusText, r.status);
      return data;
    }
    throw new ApiError("the daemon keeps refusing the session id", 409);
  };

  // Decode base64 into bytes (the piece map's bitfield and availability).
  BS.b64bytes = function (s) {
    const bin = atob(s || "");
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };

  // Canvas sized to its CSS box in device pixels; returns the context scaled to CSS pixels.
  BS.fitCanvas = function (canvas, cssHeight) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 300;
    const h = cssHeight != null ? cssHeight : canvas.clientHeight || 150;
    if (cssHeight != null) canvas.style.height = h + "px";
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h };
  };
  BS.css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
})(window.BS);

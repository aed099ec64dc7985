// bitswarm web UI: rate history, the speed chart and the piece map (canvas, no library).
"use strict";
(function (BS) {
  const SAMPLES = 300; // five minutes at one sample a second

  // A ring of the last SAMPLES (down, up) pairs.
  class History {
    constructor() { this.down = new Float32Array(SAMPLES); this.up = new Float32Array(SAMPLES); this.n = 0; this.pos = 0; }
    push(down, up) {
      this.down[this.pos] = down; this.up[this.pos] = up;
      this.pos = (this.pos + 1) % SAMPLES;
      if (this.n < SAMPLES) this.n++;
    }
    // The i-th oldest sample (0 <= i < n).
    at(arr, i) { return arr[(this.pos - this.n + i + SAMPLES) % SAMPLES]; }
  }

  const perTorrent = new Map();
  const session = new History();
  BS.history = {
    session,
    of: (id) => perTorrent.get(id),
    // Once a second: the session totals and every torrent that moves or has moved.
    sample(stats, rows) {
      session.push(stats.download_rate || 0, stats.upload_rate || 0);
      const alive = new Set();
      for (const d of rows) {
        alive.add(d.id);
        let h = perTorrent.get(d.id);
        if (!h && (d.down > 0 || d.up > 0)) { h = new History(); perTorrent.set(d.id, h); }
        if (h) h.push(d.down, d.up);
      }
      for (const id of perTorrent.keys()) if (!alive.has(id)) perTorrent.delete(id);
    },
  };

  function niceMax(v) {
    if (v <= 1024) return 1024;
    const p = Math.pow(2, Math.ceil(Math.log2(v)));
    return p * 0.75 >= v ? p * 0.75 : p;
  }

  // Down as a filled area, up as a line, over the last five minutes; newest on the right.
  BS.drawSpeed = function (canvas, hist) {
    const { ctx, w, h } = BS.fitCanvas(canvas, 180);
    const fg = BS.css("--muted"), line = BS.css("--line");
    ctx.clearRect(0, 0, w, h);
    const left = 64, top = 8, bottom = h - 20, right = w - 8;
    let max = 0;
    const n = hist ? hist.n : 0;
    for (let i = 0; i < n; i++) max = Math.max(max, hist.at(hist.down, i), hist.at(hist.up, i));
    max = niceMax(max);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = fg; ctx.strokeStyle = line; ctx.lineWidth = 1;
    for (let g = 0; g <= 4; g++) {
      const y = Math.round(bottom - (bottom - top) * g / 4) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      ctx.fillText(BS.fmtBytes(max * g / 4) + "/s", left - 6, y);
    }
    ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillText("−5 min", left, bottom + 4);
    ctx.textAlign = "right"; ctx.fillText("now", right, bottom + 4);
    if (!n) return;
    const x = (i) => right - (n - 1 - i) * (right - left) / (SAMPLES - 1);
    const y = (v) => bottom - (bottom - top) * v / max;
    ctx.beginPath();
    ctx.moveTo(x(0), bottom);
    for (let i = 0; i < n; i++) ctx.lineTo(x(i), y(hist.at(hist.down, i)));
    ctx.lineTo(x(n - 1), bottom); ctx.closePath();
    ctx.globalAlpha = 0.25; ctx.fillStyle = BS.css("--down"); ctx.fill(); ctx.globalAlpha = 1;
    for (const [arr, colour] of [[hist.down, BS.css("--down")], [hist.up, BS.css("--up")]]) {
      ctx.beginPath();
      for (let i = 0; i < n; i++) (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(i), y(hist.at(arr, i)));
      ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke();
    }
  };

  function rgb(hex) {
    const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex) || [0, "80", "80", "80"];
    return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
  }
  const mix = (a, b, t) => [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * t));

  // The piece map: one cell per piece (or per run of pieces, when there are more pieces
  // than pixels), drawn into an image one pixel a cell and scaled up without smoothing.
  // A cell is green when we have it, orange while it downloads; otherwise grey, darker the
  // more connected peers have it, and pink when no connected peer has it.
  BS.drawPieces = function (canvas, map) {
    const count = map.count;
    const have = BS.b64bytes(map.have);
    const avail = BS.b64bytes(map.availability);
    const busy = new Set(map.downloading);
    const width = canvas.clientWidth || 300;
    const maxH = 320;
    let cell = 12, cols = 1, rowsN = 1, per = 1;
    for (const s of [12, 10, 8, 6, 5, 4, 3, 2, 1]) {
      cell = s; cols = Math.max(1, Math.floor(width / s)); rowsN = Math.ceil(count / cols);
      if (rowsN * s <= maxH) break;
    }
    if (rowsN * cell > maxH) { rowsN = Math.floor(maxH / cell); per = Math.ceil(count / (cols * rowsN)); rowsN = Math.ceil(count / per / cols); }
    const cells = Math.ceil(count / per);
    const img = new ImageData(cols, Math.max(1, rowsN));
    const cHave = rgb(BS.css("--have")), cDl = rgb(BS.css("--dl")), cNone = rgb(BS.css("--none"));
    const cLow = [200, 208, 218], cHigh = [90, 108, 130];
    let maxAvail = 1;
    for (let i = 0; i < avail.length; i++) if (avail[i] > maxAvail) maxAvail = avail[i];
    let haveCount = 0;
    for (let c = 0; c < cells; c++) {
      let got = 0, dl = false, av = 0, n = 0;
      for (let p = c * per; p < Math.min(count, (c + 1) * per); p++, n++) {
        if (have[p >> 3] & (0x80 >> (p & 7))) got++;
        else { if (busy.has(p)) dl = true; av += avail[p] || 0; }
      }
      haveCount += got;
      let col;
      if (got === n) col = cHave;
      else if (dl) col = cDl;
      else {
        const missing = n - got, a = av / missing;
        col = a === 0 ? cNone : mix(cLow, cHigh, Math.min(1, a / maxAvail));
        if (got) col = mix(col, cHave, got / n);
      }
      const o = c * 4;
      img.data[o] = col[0]; img.data[o + 1] = col[1]; img.data[o + 2] = col[2]; img.data[o + 3] = 255;
    }
    const off = document.createElement("canvas");
    off.width = cols; off.height = Math.max(1, rowsN);
    off.getContext("2d").putImageData(img, 0, 0);
    const { ctx } = BS.fitCanvas(canvas, Math.max(1, rowsN) * cell);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, width, rowsN * cell);
    ctx.drawImage(off, 0, 0, cols * cell, rowsN * cell);
    return { have: haveCount, per };
  };
})(window.BS);

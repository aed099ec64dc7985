// bitswarm web UI: the details of one torrent, in tabs. Only the open tab is fetched, once
// a second (the piece map every two), and tables are patched in place where their rows
// stay the same (files); peers and trackers are small and rebuilt.
"use strict";
(function (BS) {
  const TABS = ["overview", "files", "peers", "trackers", "pieces", "speed", "swarm"];
  const PRIORITIES = [[0, "Skip"], [1, "Low"], [4, "Normal"], [7, "High"]];
  let currentId = null;
  let tab = "overview";
  let busy = false;
  let ticks = 0;
  let filesFor = null; // the torrent whose file rows are built
  let fileRows = [];
  let formFor = null;
  const $ = (id) => document.getElementById(id);

  function bucket(p) { return p <= 0 ? 0 : p <= 3 ? 1 : p <= 5 ? 4 : 7; }

  function showTab(name, focus) {
    tab = name;
    for (const t of TABS) {
      const btn = $("t-" + t), panel = $("p-" + t);
      const on = t === name;
      btn.setAttribute("aria-selected", on ? "true" : "false");
      btn.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
    if (focus) $("t-" + name).focus();
    if (name === "swarm") BS.swarm.start(); else BS.swarm.stop();
    refresh(true);
  }

  function fact(dl, name, value) { dl.append(BS.el("dt", { text: name }), BS.el("dd", { text: value })); }

  function renderOverview(t) {
    const dl = $("facts");
    dl.textContent = "";
    fact(dl, "State", BS.stateText(t.state) + (t.error ? ": " + t.error : ""));
    fact(dl, "Progress", BS.fmtPct(t.progress) + " of " + BS.fmtBytes(t.size) + (t.total !== t.size ? " (" + BS.fmtBytes(t.total) + " in all)" : ""));
    fact(dl, "Rates", "↓ " + BS.fmtRate(t.down) + "  ↑ " + BS.fmtRate(t.up));
    fact(dl, "Transferred", BS.fmtBytes(t.downloaded) + " down, " + BS.fmtBytes(t.uploaded) + " up, ratio " + BS.fmtRatio(t.ratio));
    fact(dl, "Peers", t.peers + " connected, " + t.sending + " sending, " + t.receiving + " receiving, " + t.seeds + " seeds");
    fact(dl, "Pieces", t.pieces_done + " / " + t.piece_count + " × " + BS.fmtBytes(t.piece_size));
    fact(dl, "Location", t.options.download_dir);
    fact(dl, "Info hash", t.hash);
    fact(dl, "Added", BS.fmtTime(t.added));
    if (t.done_at) fact(dl, "Completed", BS.fmtTime(t.done_at));
    if (t.corrupt) fact(dl, "Corrupt", BS.fmtBytes(t.corrupt));
    if (t.comment) fact(dl, "Comment", t.comment);
    if (t.creator) fact(dl, "Created by", t.creator);
    if (t.tracker_message) fact(dl, "Tracker", t.tracker_message);
    fact(dl, "Private", t.private ? "yes" : "no");
    if (formFor !== t.id) fillForm(t);
  }

  function fillForm(t) {
    formFor = t.id;
    const f = $("options-form"), o = t.options;
    f.labels.value = o.labels.join(", ");
    f.download_limited.checked = o.download_limited;
    f.download_limit.value = Math.round(o.download_limit / 1024);
    f.upload_limited.checked = o.upload_limited;
    f.upload_limit.value = Math.round(o.upload_limit / 1024);
    f.peer_limit.value = o.peer_limit;
    f.sequential.checked = o.sequential;
    f.seed_ratio_mode.value = String(o.seed_ratio_mode);
    f.seed_ratio_limit.value = o.seed_ratio_limit;
  }

  async function saveOptions(e) {
    e.preventDefault();
    const f = $("options-form"), id = currentId;
    const changes = {
      labels: f.labels.value.split(",").map((s) => s.trim()).filter(Boolean),
      download_limited: f.download_limited.checked,
      download_limit: Math.max(0, Math.round(Number(f.download_limit.value) * 1024) || 0),
      upload_limited: f.upload_limited.checked,
      upload_limit: Math.max(0, Math.round(Number(f.upload_limit.value) * 1024) || 0),
      peer_limit: Math.max(1, Math.round(Number(f.peer_limit.value)) || 1),
      sequential: f.sequential.checked,
      seed_ratio_mode: Number(f.seed_ratio_mode.value),
      seed_ratio_limit: Number(f.seed_ratio_limit.value) || 0,
    };
    try {
      const t = await BS.api("torrents/" + id + "/options", { json: { changes } });
      fillForm(t);
      BS.toast("Options saved");
    } catch (err) { BS.toast("Could not save the options: " + err.message); }
  }

  function renderFiles(files) {
    const body = $("files-body");
    if (filesFor !== currentId || fileRows.length !== files.length) {
      body.textContent = "";
      const row = BS.list.get(currentId);
      fileRows = files.map((f) => {
        const sel = BS.el("select", { "aria-label": "Priority of " + f.path, "data-index": f.index });
        for (const [v, label] of PRIORITIES) sel.append(BS.el("option", { value: v, text: label }));
        // each file streams at /stream/<info-hash>/<index> (daemon/stream_routes.py), playable while it downloads
        const link = row && row.hash ? BS.el("a", { href: "/stream/" + row.hash + "/" + f.index, target: "_blank", rel: "noopener", title: "Stream (plays while it downloads)", text: f.path }) : null;
        const cells = { path: link ? BS.el("td", { class: "path" }, link) : BS.el("td", { class: "path", text: f.path }), size: BS.el("td", { class: "num" }),
          done: BS.el("td", { class: "num" }), prio: BS.el("td", null, sel), sel };
        body.append(BS.el("tr", { "data-index": f.index }, cells.path, cells.size, cells.done, cells.prio));
        return cells;
      });
      filesFor = currentId;
    }
    files.forEach((f, i) => {
      const c = fileRows[i];
      BS.setText(c.size, BS.fmtBytes(f.length));
      BS.setText(c.done, BS.fmtPct(f.length ? f.done / f.length : 1));
      if (document.activeElement !== c.sel) c.sel.value = String(bucket(f.priority));
    });
  }

  async function changePriority(e) {
    const sel = e.target;
    if (sel.tagName !== "SELECT") return;
    const index = sel.dataset.index;
    try {
      const reply = await BS.api("torrents/" + currentId + "/files", { json: { priorities: { [index]: Number(sel.value) } } });
      renderFiles(reply.files);
      BS.toast("Priority changed");
    } catch (err) { BS.toast("Could not change the priority: " + err.message); }
  }

  function renderPeers(peers) {
    peers.sort((a, b) => b.down + b.up - a.down - a.up || (a.host < b.host ? -1 : 1));
    const body = $("peers-body");
    body.textContent = "";
    for (const p of peers) {
      body.append(BS.el("tr", null,
        BS.el("td", { text: p.host + ":" + p.port }), BS.el("td", { text: p.client || "?" }),
        BS.el("td", { text: p.flags, title: "Transmission's peer flags" }), BS.el("td", { class: "num", text: BS.fmtPct(p.progress) }),
        BS.el("td", { class: "num", text: BS.fmtRate(p.down) }), BS.el("td", { class: "num", text: BS.fmtRate(p.up) }),
        BS.el("td", { text: p.encrypted ? "yes" : "no" }), BS.el("td", { text: p.transport === "utp" ? "uTP" : "TCP" })));
    }
    $("peers-empty").hidden = peers.length > 0;
  }

  function renderTrackers(trackers) {
    const body = $("trackers-body");
    body.textContent = "";
    const now = Date.now() / 1000;
    for (const t of trackers) {
      const next = t.next_announce > now ? BS.fmtEta(Math.round(t.next_announce - now)) : "–";
      body.append(BS.el("tr", null,
        BS.el("td", { class: "num", text: String(t.tier) }), BS.el("td", { class: "path", text: t.url }),
        BS.el("td", { text: t.status + (t.message ? ": " + t.message : "") }),
        BS.el("td", { class: "num", text: t.seeders < 0 ? "?" : String(t.seeders) }),
        BS.el("td", { class: "num", text: t.leechers < 0 ? "?" : String(t.leechers) }),
        BS.el("td", { class: "num", text: next })));
    }
    $("trackers-empty").hidden = trackers.length > 0;
  }

  async function refresh(force) {
    if (currentId == null || busy) return;
    const id = currentId, which = tab;
    ticks++;
    busy = true;
    try {
      const t = BS.list.get(id);
      if (t) BS.setText($("d-name"), t.name);
      switch (which) {
        case "overview": renderOverview(await BS.api("torrents/" + id)); break;
        case "files": renderFiles((await BS.api("torrents/" + id + "/files")).files); break;
        case "peers": renderPeers((await BS.api("torrents/" + id + "/peers")).peers); break;
        case "trackers": renderTrackers((await BS.api("torrents/" + id + "/trackers")).trackers); break;
        case "pieces":
          if (force || ticks % 2 === 0) {
            const map = await BS.api("torrents/" + id + "/pieces");
            if (id === currentId) {
              const r = BS.drawPieces($("piece-canvas"), map);
              $("pieces-text").textContent = r.have + " of " + map.count + " pieces" + (r.per > 1 ? " (one cell: " + r.per + " pieces)" : "");
            }
          }
          break;
        case "speed":
          BS.drawSpeed($("speed-canvas"), BS.history.of(id));
          BS.drawSpeed($("speed-canvas-all"), BS.history.session);
          break;
        case "swarm": BS.swarm.setPeers((await BS.api("torrents/" + id + "/peers")).peers); break;
      }
    } catch (err) {
      if (err.status === 404) close(); else if (force) BS.toast(err.message);
    } finally { busy = false; }
  }

  function close() {
    currentId = null;
    $("details").hidden = true;
    $("layout").classList.remove("with-details");
    BS.swarm.stop();
  }

  BS.details = {
    init() {
      for (const t of TABS) $("t-" + t).addEventListener("click", () => showTab(t));
      document.querySelector(".tabs").addEventListener("keydown", (e) => {
        const i = TABS.indexOf(tab);
        const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
        if (to === undefined) return;
        e.preventDefault();
        showTab(TABS[(to + TABS.length) % TABS.length], true);
      });
      $("details-close").addEventListener("click", () => { const id = currentId; close(); if (id != null) document.getElementById("rows").focus(); });
      document.addEventListener("keydown", (e) => { if (e.key === "Escape" && currentId != null && !document.querySelector("dialog[open]")) close(); });
      $("files-body").addEventListener("change", changePriority);
      $("options-form").addEventListener("submit", saveOptions);
      for (const b of document.querySelectorAll("[data-dact]")) {
        b.addEventListener("click", () => { if (currentId != null) BS.app.action(b.dataset.dact, [currentId]); });
      }
      setInterval(() => refresh(false), 1000);
    },
    open(id) {
      if (currentId !== id) { filesFor = null; formFor = null; }
      currentId = id;
      $("details").hidden = false;
      $("layout").classList.add("with-details");
      const t = BS.list.get(id);
      BS.setText($("d-name"), t ? t.name : "");
      showTab(tab);
    },
    current: () => currentId,
    removed(ids) { if (ids.includes(currentId)) close(); },
    close,
  };
})(window.BS);

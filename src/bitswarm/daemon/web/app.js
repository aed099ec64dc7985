// bitswarm web UI: start-up, the live event stream, the toolbar and the dialogs.
// The stream (GET /api/ui/events, Server-Sent Events) sends a snapshot of every torrent
// on connect, then once a second what changed. EventSource cannot send headers, so the
// session id rides in the query; a daemon restart changes the id, the stream is refused,
// and we fetch a fresh id (409 handshake in BS.api) and connect again.
"use strict";
(function (BS) {
  const $ = (id) => document.getElementById(id);
  let source = null;
  let stats = {};
  let settings = null;
  let retry = 1000;

  function setConn(text, cls) { const c = $("conn"); c.textContent = text; c.className = "conn " + (cls || ""); }

  function showStats(s) {
    stats = Object.assign(stats, s);
    BS.setText($("total-down"), "↓ " + BS.fmtRate(stats.download_rate || 0));
    BS.setText($("total-up"), "↑ " + BS.fmtRate(stats.upload_rate || 0));
    document.title = stats.download_rate || stats.upload_rate
      ? "↓" + BS.fmtRate(stats.download_rate) + " ↑" + BS.fmtRate(stats.upload_rate) + " – bitswarm" : "bitswarm";
  }

  function connect() {
    if (source) source.close();
    const q = BS.sid ? "?session_id=" + encodeURIComponent(BS.sid) : "";
    source = new EventSource("/api/ui/events" + q);
    source.addEventListener("open", () => { retry = 1000; setConn("live", "live"); });
    source.addEventListener("snapshot", (e) => {
      const m = JSON.parse(e.data);
      BS.list.snapshot(m.rows);
      showStats(m.stats);
    });
    source.addEventListener("diff", (e) => {
      const m = JSON.parse(e.data);
      if (m.changed || m.added || m.removed) BS.list.apply(m);
      if (m.stats) showStats(m.stats);
    });
    source.addEventListener("error", () => {
      setConn("reconnecting…", "bad");
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // Refused (a new session id, a restart, a login): handshake again, then reconnect.
      source = null;
      setTimeout(async () => {
        try { await loadSession(); } catch (err) { /* the next try says more */ }
        connect();
      }, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  // The first POST: an empty change of settings. It carries no change, so it is safe to
  // send before we hold a session id; its 409 gives us one (BS.api asks again).
  async function loadSession() {
    const s = await BS.api("session", { json: { changes: {} } });
    settings = s.settings;
    showStats(s.stats);
    return s;
  }

  // -------------------------------------------------------------------- actions
  async function action(act, ids) {
    if (!ids.length) { BS.toast("Select a torrent first"); return; }
    if (act === "remove") { confirmRemove(ids); return; }
    try {
      await BS.api("actions/" + act, { json: { ids } });
      BS.toast({ start: "Started", stop: "Stopped", verify: "Verifying", reannounce: "Asked the trackers" }[act] || "Done");
    } catch (err) { BS.toast("Could not " + act + ": " + err.message); }
  }

  function confirmRemove(ids) {
    if (!ids.length) return;
    const dlg = $("remove-dialog");
    const names = ids.map((id) => (BS.list.get(id) || {}).name).filter(Boolean);
    $("remove-text").textContent = ids.length === 1 ? "Remove “" + names[0] + "”?" : "Remove " + ids.length + " torrents?";
    $("remove-data").checked = false;
    dlg.onclose = async () => {
      if (dlg.returnValue !== "remove") return;
      try {
        await BS.api("actions/remove", { json: { ids, delete_data: $("remove-data").checked } });
        BS.details.removed(ids); // at once: the stream says so within the second
        BS.toast(ids.length === 1 ? "Removed" : "Removed " + ids.length + " torrents");
      } catch (err) { BS.toast("Could not remove: " + err.message); }
    };
    dlg.showModal();
  }

  // -------------------------------------------------------------------- adding
  async function addForm(files, link, dir, paused) {
    const form = new FormData();
    for (const f of files) form.append("torrent", f, f.name);
    if (link) form.append(link.startsWith("magnet:") ? "magnet" : "url", link);
    if (dir) form.append("download_dir", dir);
    if (paused) form.append("paused", "true");
    const reply = await BS.api("torrents", { form });
    const names = reply.added.map((t) => t.name + (t.duplicate ? " (already there)" : ""));
    BS.toast("Added " + names.join(", ") + (reply.errors.length ? "; " + reply.errors.join("; ") : ""));
    return reply;
  }

  function openAdd() {
    $("add-error").textContent = "";
    $("add-file").value = "";
    $("add-link").value = "";
    if (settings && !$("add-dir").value) $("add-dir").value = settings.values.download_dir || "";
    $("add-paused").checked = settings ? !settings.values.start_added_torrents : false;
    $("add-dialog").showModal();
  }

  async function submitAdd(e) {
    e.preventDefault();
    const files = Array.from($("add-file").files);
    const link = $("add-link").value.trim();
    if (!files.length && !link) { $("add-error").textContent = "Choose a .torrent file or paste a magnet link or URL."; return; }
    $("add-submit").disabled = true;
    try {
      await addForm(files, link, $("add-dir").value.trim(), $("add-paused").checked);
      $("add-dialog").close();
    } catch (err) { $("add-error").textContent = err.message; } finally { $("add-submit").disabled = false; }
  }

  function setupDrop() {
    const zone = document.querySelector(".list");
    zone.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("Files")) { e.preventDefault(); zone.classList.add("drop"); } });
    zone.addEventListener("dragleave", () => zone.classList.remove("drop"));
    zone.addEventListener("drop", async (e) => {
      e.preventDefault();
      zone.classList.remove("drop");
      const files = Array.from(e.dataTransfer.files).filter((f) => f.name.endsWith(".torrent"));
      if (files.length) try { await addForm(files, "", "", false); } catch (err) { BS.toast(err.message); }
    });
  }

  // -------------------------------------------------------------------- settings
  const human = (k) => k.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

  async function openSettings() {
    let s;
    try { s = await loadSession(); } catch (err) { BS.toast(err.message); return; }
    const facts = $("session-facts");
    facts.textContent = "";
    const st = s.stats;
    for (const [k, v] of [["Version", s.version], ["Torrents", st.torrents + " (" + st.active + " active, " + st.paused + " paused)"],
      ["This session", BS.fmtBytes(st.downloaded_session) + " down, " + BS.fmtBytes(st.uploaded_session) + " up"],
      ["Ever", BS.fmtBytes(st.downloaded_ever) + " down, " + BS.fmtBytes(st.uploaded_ever) + " up"],
      ["Free space", BS.fmtBytes(st.free_space)]]) facts.append(BS.el("dt", { text: k }), BS.el("dd", { text: v }));
    const box = $("settings-fields");
    box.textContent = "";
    const local = new Set(s.settings.local_only);
    for (const [k, v] of Object.entries(s.settings.values)) {
      const ro = local.has(k);
      let input;
      if (typeof v === "boolean") input = BS.el("input", { type: "checkbox", name: k, checked: v, disabled: ro });
      else if (typeof v === "number") input = BS.el("input", { type: "number", name: k, value: v, step: Number.isInteger(v) ? "1" : "any", disabled: ro });
      else input = BS.el("input", { type: "text", name: k, value: Array.isArray(v) ? v.join(", ") : v, disabled: ro });
      input.dataset.kind = Array.isArray(v) ? "list" : typeof v === "number" && !Number.isInteger(v) ? "float" : typeof v;
      const label = typeof v === "boolean" ? BS.el("label", { class: ro ? "local" : "" }, input, " " + human(k)) : BS.el("label", { class: ro ? "local" : "" }, human(k), input);
      if (ro) label.title = "Set in the config file only";
      box.append(label);
    }
    $("settings-error").textContent = "";
    $("settings-dialog").showModal();
  }

  async function saveSettings(e) {
    e.preventDefault();
    const changes = {};
    for (const input of $("settings-fields").querySelectorAll("input:not([disabled])")) {
      const k = input.name, old = settings.values[k];
      let v;
      switch (input.dataset.kind) {
        case "boolean": v = input.checked; break;
        case "number": v = Math.round(Number(input.value)); break;
        case "float": v = Number(input.value); break;
        case "list": v = input.value.split(",").map((x) => x.trim()).filter(Boolean); break;
        default: v = input.value;
      }
      if (JSON.stringify(v) !== JSON.stringify(old)) changes[k] = v;
    }
    if (!Object.keys(changes).length) { $("settings-dialog").close(); return; }
    try {
      const reply = await BS.api("session", { json: { changes } });
      settings = reply.settings;
      $("settings-dialog").close();
      BS.toast("Settings saved");
    } catch (err) { $("settings-error").textContent = err.message; }
  }

  // -------------------------------------------------------------------- start
  BS.app = { action, confirmRemove };

  async function start() {
    BS.list.init();
    BS.swarm.init();
    BS.details.init();
    $("btn-add").addEventListener("click", openAdd);
    $("add-cancel").addEventListener("click", () => $("add-dialog").close());
    $("add-form").addEventListener("submit", submitAdd);
    $("btn-settings").addEventListener("click", openSettings);
    $("settings-cancel").addEventListener("click", () => $("settings-dialog").close());
    $("settings-form").addEventListener("submit", saveSettings);
    for (const b of document.querySelectorAll("[data-act]")) b.addEventListener("click", () => action(b.dataset.act, BS.list.selectedIds()));
    const filt = () => BS.list.setFilter($("filter").value, $("state-filter").value);
    $("filter").addEventListener("input", filt);
    $("state-filter").addEventListener("change", filt);
    $("sort").addEventListener("change", () => BS.list.setSort($("sort").value));
    setupDrop();
    setInterval(() => BS.history.sample(stats, BS.list.all()), 1000);
    try { await loadSession(); } catch (err) { setConn("cannot reach the daemon", "bad"); BS.toast(err.message); }
    connect();
  }
  document.addEventListener("DOMContentLoaded", start);
})(window.BS);

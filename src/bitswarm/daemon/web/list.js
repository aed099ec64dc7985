// bitswarm web UI: the torrent list.
// Rules: a row is built once, when its torrent first appears, and afterwards only the
// cells whose fields changed are touched (text nodes and one transform for the bar), so a
// second's update of a thousand torrents costs a thousand small writes, not a re-render.
// Rows leave the layout when filtered (hidden) and are reordered only when the order of the
// sort key changed. Selection follows the listbox pattern: arrows, Shift, Space, Enter.
"use strict";
(function (BS) {
  const rows = new Map(); // id -> {data, el, cells, visible}
  const selected = new Set();
  let order = []; // ids in DOM order
  let focusId = null;
  let anchorId = null;
  let filterText = "";
  let filterState = "all";
  let sortKey = "queue";
  let box, emptyEl, countEl;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const CELLS = ["name", "state", "pct", "down", "up", "eta", "ratio", "size", "peers"];
  const SORTERS = {
    queue: (a, b) => a.queue - b.queue || a.id - b.id,
    name: (a, b) => collator.compare(a.name, b.name) || a.id - b.id,
    progress: (a, b) => b.progress - a.progress || a.id - b.id,
    down: (a, b) => b.down - a.down || a.id - b.id,
    up: (a, b) => b.up - a.up || a.id - b.id,
    added: (a, b) => b.added - a.added || b.id - a.id,
    size: (a, b) => b.size - a.size || a.id - b.id,
  };
  const SORT_FIELD = { queue: "queue", name: "name", progress: "progress", down: "down", up: "up", added: "added", size: "size" };
  BS.perf = { updates: [] }; // for the browser test: how long each list update took

  function makeRow(data) {
    const el = document.createElement("div");
    el.className = "row";
    el.id = "row-" + data.id;
    el.setAttribute("role", "option");
    el.setAttribute("aria-selected", "false");
    el.dataset.id = data.id;
    const cells = {};
    for (const name of CELLS) {
      const c = document.createElement("span");
      c.className = "c-" + name;
      c.textContent = "";
      el.append(c);
      cells[name] = c;
    }
    const bar = document.createElement("span");
    bar.className = "c-bar";
    const fill = document.createElement("span");
    fill.className = "fill";
    bar.append(fill);
    el.append(bar);
    cells.fill = fill;
    const rec = { data, el, cells, visible: true };
    paint(rec, data);
    return rec;
  }

  function stateLine(d) {
    if (d.state === "error" && d.error) return "Error: " + d.error;
    if (d.state === "metadata") return "Metadata " + BS.fmtPct(d.meta);
    return BS.stateText(d.state);
  }

  // Write the cells that depend on the fields in `ch` (the whole row the first time).
  function paint(rec, ch) {
    const d = rec.data, c = rec.cells;
    if ("name" in ch) { BS.setText(c.name, d.name); c.name.title = d.name; }
    if ("state" in ch || "error" in ch || "meta" in ch) {
      BS.setText(c.state, stateLine(d));
      c.state.title = d.error || "";
      const cls = "row " + d.state + (d.progress >= 1 ? " done" : "");
      if (rec.el.className.replace(" focus", "") !== cls) rec.el.className = cls + (focusId === d.id ? " focus" : "");
    }
    if ("progress" in ch) {
      BS.setText(c.pct, BS.fmtPct(d.progress));
      c.fill.style.transform = "scaleX(" + d.progress + ")";
      if (d.progress >= 1 && !rec.el.classList.contains("done")) rec.el.classList.add("done");
    }
    if ("down" in ch) BS.setText(c.down, BS.fmtRate(d.down));
    if ("up" in ch) BS.setText(c.up, BS.fmtRate(d.up));
    if ("eta" in ch) BS.setText(c.eta, BS.fmtEta(d.eta));
    if ("ratio" in ch) BS.setText(c.ratio, BS.fmtRatio(d.ratio));
    if ("size" in ch) BS.setText(c.size, BS.fmtBytes(d.size));
    if ("peers" in ch || "sending" in ch || "seeds" in ch) {
      BS.setText(c.peers, String(d.peers));
      c.peers.title = d.peers + " connected, " + d.sending + " sending to us, " + d.seeds + " seeds";
    }
  }

  function matches(d) {
    if (filterText && !d.name.toLowerCase().includes(filterText)) return false;
    switch (filterState) {
      case "all": return true;
      case "active": return d.down > 0 || d.up > 0 || ["downloading", "checking", "metadata"].includes(d.state);
      case "downloading": return ["downloading", "download_wait", "metadata"].includes(d.state);
      case "seeding": return d.state === "seeding" || d.state === "seed_wait";
      case "stopped": return d.state === "stopped";
      case "error": return d.state === "error";
    }
    return true;
  }

  function setVisible(rec) {
    const v = matches(rec.data);
    if (v !== rec.visible) { rec.visible = v; rec.el.hidden = !v; }
  }

  function resort() {
    const cmp = SORTERS[sortKey] || SORTERS.queue;
    const recs = Array.from(rows.values(), (r) => r.data).sort(cmp);
    const ids = recs.map((d) => d.id);
    if (ids.length === order.length && ids.every((id, i) => id === order[i])) return;
    const frag = document.createDocumentFragment();
    for (const id of ids) frag.append(rows.get(id).el);
    box.append(frag);
    order = ids;
  }

  function updateCount() {
    let shown = 0;
    for (const r of rows.values()) if (r.visible) shown++;
    let text = rows.size + (rows.size === 1 ? " torrent" : " torrents");
    if (shown !== rows.size) text += ", " + shown + " shown";
    if (selected.size) text += ", " + selected.size + " selected";
    BS.setText(countEl, text);
    emptyEl.hidden = rows.size > 0;
  }

  function add(data) {
    const rec = makeRow(data);
    rows.set(data.id, rec);
    setVisible(rec);
    box.append(rec.el);
    order.push(data.id);
  }

  function remove(id) {
    const rec = rows.get(id);
    if (!rec) return;
    rec.el.remove();
    rows.delete(id);
    selected.delete(id);
    if (focusId === id) focusId = null;
    order = order.filter((x) => x !== id);
  }

  function timed(fn) {
    const t0 = performance.now();
    fn();
    const js = performance.now() - t0;
    // After the next frame has been laid out and painted: the whole cost a person waits.
    requestAnimationFrame(() => setTimeout(() => {
      BS.perf.updates.push({ js, frame: performance.now() - t0, rows: rows.size });
      if (BS.perf.updates.length > 100) BS.perf.updates.shift();
    }, 0));
  }

  BS.list = {
    init() {
      box = document.getElementById("rows");
      emptyEl = document.getElementById("empty");
      countEl = document.getElementById("count");
      box.addEventListener("click", onClick);
      box.addEventListener("dblclick", (e) => { const id = rowId(e.target); if (id != null) BS.details.open(id); });
      box.addEventListener("keydown", onKey);
      updateCount();
    },
    // The stream's first message: everything. Rows we hold and it lacks are gone.
    snapshot(list) {
      timed(() => {
        const seen = new Set();
        for (const d of list) {
          seen.add(d.id);
          const rec = rows.get(d.id);
          if (rec) { rec.data = d; paint(rec, d); setVisible(rec); } else add(d);
        }
        for (const id of Array.from(rows.keys())) if (!seen.has(id)) remove(id);
        order = Array.from(box.children, (e) => Number(e.dataset.id));
        resort();
        updateCount();
      });
    },
    // A diff: {changed: {id: {field: value}}, added: [row], removed: [id]}.
    apply(diff) {
      timed(() => {
        let reorder = false;
        const key = SORT_FIELD[sortKey];
        for (const id of diff.removed || []) remove(id);
        for (const d of diff.added || []) { if (rows.has(d.id)) remove(d.id); add(d); reorder = true; }
        for (const [sid, ch] of Object.entries(diff.changed || {})) {
          const rec = rows.get(Number(sid));
          if (!rec) continue;
          Object.assign(rec.data, ch);
          paint(rec, ch);
          setVisible(rec);
          if (key in ch) reorder = true;
        }
        if (reorder) resort();
        updateCount();
        if (diff.removed && diff.removed.length) BS.details.removed(diff.removed);
      });
    },
    get: (id) => (rows.get(id) || {}).data,
    all: () => Array.from(rows.values(), (r) => r.data),
    selectedIds() {
      if (selected.size) return Array.from(selected);
      return focusId != null && rows.has(focusId) ? [focusId] : [];
    },
    setFilter(text, state) {
      filterText = text.trim().toLowerCase();
      filterState = state;
      for (const rec of rows.values()) setVisible(rec);
      updateCount();
    },
    setSort(key) { sortKey = key; resort(); },
    select(id, mode) { select(id, mode); },
  };

  function rowId(target) {
    const row = target.closest && target.closest(".row");
    return row ? Number(row.dataset.id) : null;
  }

  function markSelected(id, on) {
    const rec = rows.get(id);
    if (!rec) return;
    if (on) selected.add(id); else selected.delete(id);
    rec.el.setAttribute("aria-selected", on ? "true" : "false");
  }

  function setFocus(id) {
    if (focusId != null && rows.has(focusId)) rows.get(focusId).el.classList.remove("focus");
    focusId = id;
    const rec = rows.get(id);
    if (!rec) return;
    rec.el.classList.add("focus");
    box.setAttribute("aria-activedescendant", rec.el.id);
    rec.el.scrollIntoView({ block: "nearest" });
  }

  // mode: "only" (click), "toggle" (Ctrl/Cmd-click, Space), "range" (Shift).
  function select(id, mode) {
    if (mode === "range" && anchorId != null) {
      const visible = order.filter((x) => rows.get(x).visible);
      let a = visible.indexOf(anchorId), b = visible.indexOf(id);
      if (a > b) [a, b] = [b, a];
      for (const x of Array.from(selected)) markSelected(x, false);
      for (const x of visible.slice(a, b + 1)) markSelected(x, true);
    } else if (mode === "toggle") {
      markSelected(id, !selected.has(id));
      anchorId = id;
    } else {
      for (const x of Array.from(selected)) markSelected(x, false);
      markSelected(id, true);
      anchorId = id;
    }
    setFocus(id);
    updateCount();
  }

  function onClick(e) {
    const id = rowId(e.target);
    if (id == null) return;
    box.focus({ preventScroll: true });
    if (e.shiftKey) select(id, "range");
    else if (e.ctrlKey || e.metaKey) select(id, "toggle");
    else { select(id, "only"); BS.details.open(id); }
  }

  function onKey(e) {
    const visible = order.filter((x) => rows.get(x).visible);
    if (!visible.length) return;
    let i = visible.indexOf(focusId);
    const move = (j) => { j = Math.max(0, Math.min(visible.length - 1, j)); select(visible[j], e.shiftKey ? "range" : "only"); };
    switch (e.key) {
      case "ArrowDown": move(i + 1); break;
      case "ArrowUp": move(i < 0 ? 0 : i - 1); break;
      case "Home": move(0); break;
      case "End": move(visible.length - 1); break;
      case "PageDown": move(i + 10); break;
      case "PageUp": move(i - 10); break;
      case " ": if (focusId != null) select(focusId, "toggle"); break;
      case "Enter": if (focusId != null) BS.details.open(focusId); break;
      case "Delete": BS.app.confirmRemove(BS.list.selectedIds()); break;
      case "a":
        if (!(e.ctrlKey || e.metaKey)) return;
        for (const x of visible) markSelected(x, true);
        updateCount();
        break;
      default: return;
    }
    e.preventDefault();
  }
})(window.BS);

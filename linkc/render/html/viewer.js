/* The interactive view of a linkc spec: one Viewer per pane, laid out by dagre.
 *
 * The page embeds the fully expanded view (boxes, edges, cluster tree; see
 * payload.py). What is drawn is derived from the set of open clusters: a box
 * whose clusters are all open is drawn as itself, any other as its outermost
 * closed cluster, and edges follow their boxes (one edge per pair of drawn
 * boxes). Only what is drawn is laid out, so a 10,000-node spec opens with a
 * handful of boxes and stays quick while blocks are opened one by one.
 */
(function () {
  "use strict";
  const { FONT, GLYPH_FONT, LINE, PADX, PADY, textWidth, el, html, wrap, exact, short } =
    window.linkcUtil;
  const KINDS = ["ops", "merge", "pass", "input", "output"];
  const MAX_OPEN = 2500; // "open level" refuses to draw more boxes than this at once

  class Viewer {
    constructor(root, data, opts) {
      this.root = root;
      this.data = data;
      this.opts = opts || {};
      this.open = new Set(); // indices of open clusters
      this.selected = null;
      this.view = { x: 0, y: 0, k: 1 };
      this.prepare();
      const start = data.start || {};
      for (const c of this.clusters) if (c.chain.length < (start.depth || 1)) this.open.add(c.index);
      this.build();
      this.draw();
      this.fit();
      if (start.select && this.byName.has(start.select)) this.reveal(start.select);
    }

    prepare() {
      const d = this.data;
      this.nodes = d.nodes.map((n) => ({
        id: n[0], ops: n[1] ? n[1].split("\n") : [], merge: n[2], shape: n[3],
        params: n[4], macs: n[5], line: n[6], box: -1, diff: 0,
      }));
      this.clusters = d.clusters.map((c, i) => ({
        index: i, id: c[0], parent: c[1], lines: c[2], label: c[3], line: c[4], shape: c[5],
        params: 0, macs: 0, count: 0, chain: null, diff: 0,
      }));
      for (const c of this.clusters) {
        c.chain = c.parent < 0 ? [c.index] : this.clusters[c.parent].chain.concat([c.index]);
      }
      this.boxes = d.boxes.map((b, i) => {
        const node = b[2] >= 0 ? this.nodes[b[2]] : null;
        const kind = KINDS[b[0]];
        const id = node ? (kind === "merge" && node.ops.length ? node.id + "/merge" : node.id)
          : b[3];
        return { index: i, kind, cluster: b[1], node, label: b[3], id };
      });
      for (const [idx, code] of d.diff || []) this.nodes[idx].diff = code;
      for (const b of this.boxes) {
        const n = b.node;
        if (!n || n.box >= 0 && this.boxes[n.box].kind !== "merge") continue;
        const first = n.box < 0;
        n.box = b.index; // the ops box when there is one, else the merge
        if (!first || b.cluster < 0) continue;
        for (const c of this.clusters[b.cluster].chain) {
          const cl = this.clusters[c];
          cl.params += n.params;
          cl.macs += n.macs;
          cl.count += 1;
          cl.diff = Math.max(cl.diff, n.diff);
        }
      }
      this.byName = new Map();
      for (const n of this.nodes) this.byName.set(n.id, "b" + n.box);
      for (const c of this.clusters) this.byName.set(c.id, "c" + c.index);
      this.names = Array.from(this.byName.keys());
    }

    /* ---- the page around the drawing ---- */
    build() {
      const d = this.data;
      const bar = html("div", "bar", this.root);
      html("span", "title", bar, d.title);
      html("span", "facts", bar, `${d.source} · ${exact(d.nodes.length)} nodes` +
        (d.params == null ? "" : ` · ${short(d.params)} params · ${short(d.macs)} MACs`));
      this.search = html("input", "search", bar);
      this.search.type = "search";
      this.search.placeholder = "find a node…";
      const listId = "names-" + Math.random().toString(36).slice(2);
      this.search.setAttribute("list", listId);
      this.datalist = html("datalist", "", bar);
      this.datalist.id = listId;
      this.search.addEventListener("input", () => this.suggest());
      this.search.addEventListener("keydown", (e) => { if (e.key === "Enter") this.find(); });
      this.search.addEventListener("change", () => this.find());
      for (const [label, act] of [["fit", () => this.fit()], ["open level", () => this.openLevel()],
        ["close all", () => this.closeAll()]]) {
        const b = html("button", "", bar, label);
        b.addEventListener("click", act);
      }
      this.status = html("span", "status", bar);
      const main = html("div", "main", this.root);
      this.svg = el("svg", { class: "canvas" }, main);
      const defs = el("defs", {}, this.svg);
      const marker = el("marker", {
        id: this.markerId = "arrow-" + Math.random().toString(36).slice(2),
        viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7",
        orient: "auto-start-reverse",
      }, defs);
      el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }, marker);
      this.scene = el("g", { class: "scene" }, this.svg);
      this.panel = html("div", "panel", main);
      this.show(null);
      this.bindMouse();
    }

    bindMouse() {
      let drag = null;
      const svg = this.svg;
      svg.addEventListener("mousedown", (e) => {
        drag = { x: e.clientX, y: e.clientY, vx: this.view.x, vy: this.view.y, moved: false };
      });
      window.addEventListener("mousemove", (e) => {
        if (!drag) return;
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
        if (drag.moved) {
          this.view.x = drag.vx + dx;
          this.view.y = drag.vy + dy;
          this.applyView();
        }
      });
      window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
      svg.addEventListener("click", (e) => {
        if (drag && drag.moved) return;
        const hit = e.target.closest("[data-key]");
        if (!hit) return;
        const key = hit.getAttribute("data-key");
        if (key[0] === "c") this.toggle(+key.slice(1), true, key);
        else if (key[0] === "k") this.toggle(+key.slice(1), false, key);
        else this.select(key);
      });
      svg.addEventListener("mouseover", (e) => {
        const hit = e.target.closest("[data-key]");
        if (hit) this.show(hit.getAttribute("data-key"));
      });
      svg.addEventListener("mouseleave", () => this.show(this.selected));
      svg.addEventListener("wheel", (e) => {
        e.preventDefault();
        const r = svg.getBoundingClientRect();
        const px = e.clientX - r.left, py = e.clientY - r.top;
        const f = Math.exp(-e.deltaY * 0.0015);
        const k = Math.min(4, Math.max(0.02, this.view.k * f));
        this.view.x = px - (px - this.view.x) * (k / this.view.k);
        this.view.y = py - (py - this.view.y) * (k / this.view.k);
        this.view.k = k;
        this.applyView();
      }, { passive: false });
    }

    applyView() {
      const v = this.view;
      this.scene.setAttribute("transform", `translate(${v.x},${v.y}) scale(${v.k})`);
    }

    /* ---- what is drawn ---- */
    visible(open) {
      const reps = new Array(this.boxes.length);
      const items = new Map();
      for (const b of this.boxes) {
        let key = null, parent = -1;
        if (b.cluster >= 0) {
          for (const c of this.clusters[b.cluster].chain) {
            if (!open.has(c)) { key = "c" + c; break; }
            parent = c;
          }
        }
        if (key === null) key = "b" + b.index;
        reps[b.index] = key;
        if (!items.has(key)) items.set(key, { key, parent });
      }
      const edges = new Map();
      const labels = this.data.labels;
      for (const [s, t, label, weight] of this.data.edges) {
        const v = reps[s], w = reps[t];
        if (v === w) continue;
        const k = v + ">" + w;
        let e = edges.get(k);
        if (!e) edges.set(k, e = { v, w, labels: [], weight: 0 });
        const text = labels[label];
        if (text && e.labels.length < 3 && !e.labels.includes(text)) e.labels.push(text);
        e.weight = Math.max(e.weight, weight);
      }
      return { items, edges };
    }

    lines(key) {
      if (key[0] === "c") return this.clusters[+key.slice(1)].lines;
      const b = this.boxes[+key.slice(1)];
      if (b.kind === "ops") return [b.label].concat(wrap(b.node.ops));
      return [b.label];
    }

    size(key) {
      const lines = this.lines(key);
      if (key[0] === "b" && this.boxes[+key.slice(1)].kind === "merge") {
        const r = Math.max(13, textWidth(lines[0], GLYPH_FONT) / 2 + 5);
        return { width: 2 * r, height: 2 * r, round: true };
      }
      const w = Math.max(...lines.map((l) => textWidth(l, FONT)));
      const extra = key[0] === "c" ? 6 : 0; // the stacked look of a closed cluster
      return { width: w + 2 * PADX + extra, height: lines.length * LINE + 2 * PADY + extra };
    }

    draw(anchor) {
      const before = anchor && this.placed ? this.center(anchor.from) : null;
      const t0 = performance.now();
      const vis = this.visible(this.open);
      for (const e of vis.edges.values()) e.text = e.labels.join(", ");
      const placed = window.linkcLayout(vis, this.clusters, (key) => this.size(key),
        { rankdir: this.opts.rankdir, textWidth });
      this.placed = placed;
      this.vis = vis;
      while (this.scene.firstChild) this.scene.removeChild(this.scene.firstChild);
      const frames = el("g", { class: "frames" }, this.scene);
      const edgeLayer = el("g", { class: "edges" }, this.scene);
      const boxLayer = el("g", { class: "boxes" }, this.scene);
      const openFrames = Array.from(placed.place.keys()).filter((k) => k[0] === "k");
      openFrames.sort((a, b) => this.clusters[+a.slice(1)].chain.length -
        this.clusters[+b.slice(1)].chain.length);
      for (const k of openFrames) this.drawFrame(frames, k, placed.place.get(k));
      for (const e of placed.edges.values()) this.drawEdge(edgeLayer, e);
      for (const it of vis.items.values()) this.drawBox(boxLayer, it.key, placed.place.get(it.key));
      const ms = Math.round(performance.now() - t0);
      this.status.textContent = `${vis.items.size} boxes, ${vis.edges.size} edges (${ms} ms)`;
      this.root.setAttribute("data-boxes", String(vis.items.size));
      if (before && anchor.to) {
        const after = this.center(anchor.to);
        if (after) {
          this.view.x += (before.x - after.x) * this.view.k;
          this.view.y += (before.y - after.y) * this.view.k;
        }
      }
      this.applyView();
      this.mark();
    }

    center(key) { // a box's centre, a frame's top edge
      const n = this.placed && this.placed.place.get(key);
      if (!n) return null;
      return { x: n.x, y: key[0] === "k" ? n.y - n.height / 2 : n.y };
    }

    drawFrame(layer, key, n) {
      const c = this.clusters[+key.slice(1)];
      const g = el("g", { class: "frame depth" + (c.chain.length % 2) + this.diffClass(c.diff),
        "data-key": key, "data-id": c.id }, layer);
      const left = n.x - n.width / 2, top = n.y - n.height / 2;
      el("rect", { x: left, y: top, width: n.width, height: n.height, rx: 6 }, g);
      const label = el("text", { x: left + 6, y: top + 12, class: "frame-label" }, g);
      label.textContent = "− " + c.label;
    }

    drawEdge(layer, e) {
      const p = e.points;
      let d = `M${p[0].x},${p[0].y}`;
      for (let i = 1; i < p.length; i++) d += ` L${p[i].x},${p[i].y}`;
      el("path", { d, class: "edge", "marker-end": `url(#${this.markerId})` }, layer);
      if (e.label) {
        const t = el("text", { x: e.label.x, y: e.label.y, class: "edge-label" }, layer);
        t.textContent = e.label.text;
      }
    }

    drawBox(layer, key, n) {
      const lines = this.lines(key);
      const style = this.data.style;
      const closed = key[0] === "c";
      const box = closed ? null : this.boxes[+key.slice(1)];
      const kind = closed ? "collapsed" : box.kind;
      const diff = closed ? this.clusters[+key.slice(1)].diff : box.node ? box.node.diff : 0;
      const g = el("g", { class: "box " + kind + this.diffClass(diff), "data-key": key,
        "data-id": closed ? this.clusters[+key.slice(1)].id : box.id,
        transform: `translate(${n.x},${n.y})` }, layer);
      const [fill, stroke] = style[kind];
      const w = n.width, h = n.height;
      if (kind === "merge") {
        el("circle", { r: w / 2, fill, stroke, class: "shape" }, g);
        const t = el("text", { y: 5.5, class: "glyph" }, g);
        t.textContent = lines[0];
        return;
      }
      if (closed) {
        el("rect", { x: -w / 2 + 6, y: -h / 2, width: w - 6, height: h - 6, rx: 3, fill, stroke }, g);
        el("rect", { x: -w / 2, y: -h / 2 + 6, width: w - 6, height: h - 6, rx: 3, fill, stroke,
          class: "shape" }, g);
      } else {
        el("rect", { x: -w / 2, y: -h / 2, width: w, height: h, rx: kind === "ops" ? 6 : 2,
          fill, stroke, class: "shape" }, g);
      }
      const x0 = closed ? -3 : 0, y0 = (closed ? 3 : 0) - (lines.length * LINE) / 2 + 11;
      lines.forEach((line, i) => {
        const t = el("text", { x: x0, y: y0 + i * LINE, class: i === 0 ? "name" : "" }, g);
        t.textContent = line;
      });
    }

    diffClass(code) { return code ? " diff" + code : ""; }

    /* ---- opening and closing ---- */
    toggle(index, open, fromKey) {
      const c = this.clusters[index];
      if (open) this.open.add(index);
      else for (const d of this.clusters) if (d.chain.includes(index)) this.open.delete(d.index);
      this.draw({ from: fromKey, to: open ? "k" + index : "c" + index });
      this.select(open ? "k" + index : "c" + index);
      if (this.opts.onToggle) this.opts.onToggle(c.id, open);
    }

    setOpen(id, open) { // from the other pane of a comparison
      const key = this.byName.get(id);
      if (!key || key[0] !== "c") return;
      const index = +key.slice(1);
      if (open === this.open.has(index)) return;
      if (open) this.open.add(index);
      else for (const d of this.clusters) if (d.chain.includes(index)) this.open.delete(d.index);
      this.draw({ from: open ? "c" + index : "k" + index, to: open ? "k" + index : "c" + index });
    }

    openLevel() {
      const next = new Set(this.open);
      for (const it of this.vis.items.values()) if (it.key[0] === "c") next.add(+it.key.slice(1));
      const count = this.visible(next).items.size;
      if (count > MAX_OPEN) {
        this.status.textContent = `opening every block would draw ${count} boxes; ` +
          "open blocks one by one (click), or find a node by name";
        return;
      }
      this.open = next;
      this.draw();
      this.fit();
    }

    closeAll() {
      this.open.clear();
      this.draw();
      this.fit();
    }

    fit() {
      const g = this.placed;
      const r = this.svg.getBoundingClientRect();
      const k = Math.min(1.5, (r.width || 800) / (g.width || 1), (r.height || 600) / (g.height || 1));
      this.view = { k, x: ((r.width || 800) - g.width * k) / 2, y: 8 };
      this.applyView();
    }
  }

  for (const name of Object.getOwnPropertyNames(window.linkcPanel.prototype)) {
    if (name !== "constructor") Viewer.prototype[name] = window.linkcPanel.prototype[name];
  }

  function start() {
    const viewers = [];
    const panes = document.querySelectorAll(".pane");
    panes.forEach((pane) => {
      const data = JSON.parse(document.getElementById(pane.getAttribute("data-src")).textContent);
      viewers.push(new Viewer(pane, data, {
        onToggle: (id, open) => { for (const v of viewers) if (v.root !== pane) v.setOpen(id, open); },
      }));
    });
    window.linkcViewers = viewers;
    document.addEventListener("keydown", (e) => { // "/" finds, Escape lets go
      const typing = e.target.tagName === "INPUT";
      if (e.key === "/" && !typing) {
        e.preventDefault();
        viewers[0].search.focus();
      } else if (e.key === "Escape") {
        if (typing) e.target.blur();
        for (const v of viewers) v.select(null);
      }
    });
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

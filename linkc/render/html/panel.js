/* The viewer's side panel and search box: what a box stands for, and finding one
 * by name (its blocks are opened to show it). Mixed into the Viewer class. */
(function () {
  "use strict";
  const { html, exact } = window.linkcUtil;

  class Panel {
    /* ---- finding ---- */
    suggest() {
      const q = this.search.value.trim().toLowerCase();
      while (this.datalist.firstChild) this.datalist.removeChild(this.datalist.firstChild);
      if (!q) return;
      let shown = 0;
      for (const name of this.names) {
        if (name.toLowerCase().includes(q)) {
          html("option", "", this.datalist).value = name;
          if (++shown >= 30) break;
        }
      }
    }

    find() {
      const q = this.search.value.trim();
      if (!q) return;
      let name = this.byName.has(q) ? q : null;
      if (!name) {
        const low = q.toLowerCase();
        name = this.names.find((n) => n.toLowerCase() === low) ||
          this.names.find((n) => n.toLowerCase().includes(low));
      }
      if (!name) {
        this.status.textContent = `no node or block named '${q}'`;
        return;
      }
      this.reveal(name);
    }

    reveal(name) {
      const key = this.byName.get(name);
      const cluster = key[0] === "b" ? this.boxes[+key.slice(1)].cluster
        : this.clusters[+key.slice(1)].parent;
      if (cluster >= 0) for (const c of this.clusters[cluster].chain) this.open.add(c);
      const shown = key[0] === "c" && this.open.has(+key.slice(1)) ? "k" + key.slice(1) : key;
      this.draw();
      const p = this.center(shown);
      const r = this.svg.getBoundingClientRect();
      this.view.k = Math.max(this.view.k, 0.8);
      this.view.x = r.width / 2 - p.x * this.view.k;
      this.view.y = r.height / 2 - p.y * this.view.k;
      this.applyView();
      this.select(shown);
    }

    /* ---- the side panel ---- */
    select(key) {
      this.selected = key;
      this.show(key);
      this.mark();
    }

    mark() {
      for (const e of this.scene.querySelectorAll(".selected")) e.classList.remove("selected");
      if (!this.selected) return;
      const e = this.scene.querySelector(`[data-key="${this.selected}"]`);
      if (e) e.classList.add("selected");
    }

    facts(key) {
      const src = this.data.source;
      if (key[0] === "c" || key[0] === "k") {
        const c = this.clusters[+key.slice(1)];
        return {
          name: c.id, what: c.label.slice(c.id.length + 2) || "block", shape: c.shape,
          params: this.data.params == null ? null : c.params,
          macs: this.data.params == null ? null : c.macs, where: c.line ? `${src}:${c.line}` : "",
          nodes: exact(c.count), ops: [],
          hint: key[0] === "c" ? "click to open" : "click its frame to close",
        };
      }
      const b = this.boxes[+key.slice(1)];
      if (!b.node) {
        return { name: b.label, what: "the model's " + b.label,
          shape: b.kind === "input" ? this.data.input : this.data.output, ops: [] };
      }
      const n = b.node;
      return {
        name: n.id, what: n.merge ? `merge: ${n.merge}` : b.kind === "pass" ? "identity" : "node",
        ops: n.ops, shape: n.shape, params: n.params, macs: n.macs,
        where: n.line ? `${src}:${n.line}` : "",
        hint: n.diff ? (n.diff === 2 ? "only in this spec" : "differs from the other spec") : "",
      };
    }

    show(key) {
      const p = this.panel;
      while (p.firstChild) p.removeChild(p.firstChild);
      if (!key) {
        html("div", "hint", p, "hover a box for its details; click a block to open it");
        return;
      }
      const f = this.facts(key);
      html("div", "name", p, f.name).setAttribute("data-field", "name");
      html("div", "what", p, f.what);
      const dl = html("dl", "", p);
      const row = (label, field, value) => {
        if (value === undefined || value === "") return;
        html("dt", "", dl, label);
        html("dd", "", dl, value).setAttribute("data-field", field);
      };
      row("shape", "shape", f.shape);
      row("params", "params", f.params == null ? "" : exact(f.params));
      row("MACs", "macs", f.macs == null ? "" : exact(f.macs));
      row("YAML", "where", f.where);
      row("nodes", "nodes", f.nodes);
      if (f.ops.length) {
        html("dt", "", dl, "ops");
        const dd = html("dd", "ops", dl);
        dd.setAttribute("data-field", "ops");
        for (const op of f.ops) html("div", "", dd, op);
      }
      if (f.hint) html("div", "hint", p, f.hint);
    }
  }

  window.linkcPanel = Panel;
})();

/* Layout of what the viewer draws: one flat dagre layout per open block, composed.
 *
 * dagre's own compound layout slows down sharply with nesting (a DenseNet-BC-190
 * with its blocks open took seconds), so each open block is laid out on its own,
 * innermost first, with its open sub-blocks as boxes of their laid-out size; the
 * results are then placed inside each other. An edge that leaves a block is laid
 * out at the level where its ends meet (between the two blocks or boxes that hold
 * them there) and drawn from its real source to its real target through that
 * route's bends.
 */
(function () {
  "use strict";
  const PAD = 10, LABEL = 18, EDGE_FONT = "10px Helvetica, Arial, sans-serif";

  /* The point where the segment from the centre of `r` towards `p` leaves `r`. */
  function clip(r, p, round) {
    const dx = p.x - r.x, dy = p.y - r.y;
    if (!dx && !dy) return { x: r.x, y: r.y };
    if (round) {
      const d = Math.hypot(dx, dy);
      return { x: r.x + (dx / d) * r.width / 2, y: r.y + (dy / d) * r.height / 2 };
    }
    const s = Math.min(dx ? r.width / 2 / Math.abs(dx) : Infinity,
      dy ? r.height / 2 / Math.abs(dy) : Infinity);
    return { x: r.x + dx * s, y: r.y + dy * s };
  }

  /* vis: {items: Map key -> {key, parent}, edges: Map id -> {v, w, weight, text}};
   * clusters[i]: {parent, chain}; size(key) -> {width, height, round}. */
  function layout(vis, clusters, size, opts) {
    const chainOf = (key) => {
      const p = vis.items.get(key).parent;
      return p < 0 ? [] : clusters[p].chain;
    };
    const levels = new Map([[-1, { items: [], edges: new Map() }]]);
    const level = (c) => {
      let l = levels.get(c);
      if (!l) {
        levels.set(c, l = { items: [], edges: new Map() });
        const parent = clusters[c].parent;
        level(parent).items.push("k" + c);
      }
      return l;
    };
    for (const it of vis.items.values()) level(it.parent).items.push(it.key);
    const route = new Map(); // edge id -> [level, level edge id]
    for (const [id, e] of vis.edges) {
      const a = chainOf(e.v), b = chainOf(e.w);
      let common = 0;
      while (common < a.length && common < b.length && a[common] === b[common]) common++;
      const at = common ? a[common - 1] : -1;
      const v = common < a.length ? "k" + a[common] : e.v;
      const w = common < b.length ? "k" + b[common] : e.w;
      const edges = level(at).edges, lid = v + ">" + w;
      let le = edges.get(lid);
      if (!le) edges.set(lid, le = { v, w, weight: 0, texts: [] });
      le.weight = Math.max(le.weight, e.weight);
      if (e.text && !le.texts.includes(e.text)) le.texts.push(e.text);
      route.set(id, [at, lid]);
    }
    // innermost blocks first: a block's size is known before its parent is laid out
    const order = Array.from(levels.keys()).filter((c) => c >= 0)
      .sort((x, y) => clusters[y].chain.length - clusters[x].chain.length);
    const frameSize = new Map(), local = new Map();
    for (const c of order.concat([-1])) {
      const l = levels.get(c);
      const g = new dagre.graphlib.Graph();
      g.setGraph({ rankdir: opts.rankdir || "TB", nodesep: 16, ranksep: 26, edgesep: 8,
        marginx: c < 0 ? 24 : 0, marginy: c < 0 ? 24 : 0 });
      g.setDefaultEdgeLabel(() => ({}));
      for (const key of l.items) g.setNode(key, key[0] === "k" ? frameSize.get(key) : size(key));
      for (const [lid, le] of l.edges) {
        le.text = le.texts.length > 2 ? le.texts.slice(0, 2).join(", ") + ", …" : le.texts.join(", ");
        g.setEdge(le.v, le.w, { weight: le.weight, minlen: 1, labelpos: "r", labeloffset: 4,
          width: le.text ? opts.textWidth(le.text, EDGE_FONT) + 4 : 0, height: le.text ? 12 : 0 });
      }
      dagre.layout(g);
      const box = g.graph();
      local.set(c, g);
      if (c >= 0) frameSize.set("k" + c, { width: box.width + 2 * PAD, height: box.height + PAD + LABEL });
    }
    // place each level inside its frame, outermost first
    const place = new Map(), origin = new Map([[-1, { x: 0, y: 0 }]]);
    for (const c of [-1].concat(order.slice().reverse())) {
      const g = local.get(c), o = origin.get(c);
      for (const key of g.nodes()) {
        const n = g.node(key);
        const r = { x: n.x + o.x, y: n.y + o.y, width: n.width, height: n.height };
        place.set(key, r);
        if (key[0] === "k") origin.set(+key.slice(1), { x: r.x - r.width / 2 + PAD, y: r.y - r.height / 2 + LABEL });
      }
    }
    const edges = new Map(), labelled = new Set();
    for (const [id, e] of vis.edges) {
      const [at, lid] = route.get(id);
      const g = local.get(at), o = origin.get(at), le = levels.get(at).edges.get(lid);
      const geo = g.edge(le.v, le.w);
      const pts = geo.points.map((p) => ({ x: p.x + o.x, y: p.y + o.y }));
      if (le.v !== e.v) pts.unshift(clip(place.get(e.v), pts[0], size(e.v).round));
      if (le.w !== e.w) pts.push(clip(place.get(e.w), pts[pts.length - 1], size(e.w).round));
      const label = le.text && !labelled.has(at + lid)  // once per route
        ? { x: geo.x + o.x - geo.width / 2 + 2, y: geo.y + o.y + 4, text: le.text } : null;
      labelled.add(at + lid);
      edges.set(id, { points: pts, label });
    }
    const top = local.get(-1).graph();
    return { place, edges, width: top.width, height: top.height };
  }

  window.linkcLayout = layout;
})();

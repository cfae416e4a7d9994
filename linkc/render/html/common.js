/* Helpers shared by the viewer's scripts: elements, text widths, numbers. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const FONT = "12px Helvetica, Arial, sans-serif";
  const GLYPH_FONT = "16px Helvetica, Arial, sans-serif";
  const LINE = 15, PADX = 8, PADY = 5, WRAP = 30;
  const measureCtx = document.createElement("canvas").getContext("2d");
  const widths = new Map();

  function textWidth(text, font) {
    const key = font + "\u0000" + text;
    let w = widths.get(key);
    if (w === undefined) {
      measureCtx.font = font;
      w = measureCtx.measureText(text).width;
      widths.set(key, w);
    }
    return w;
  }

  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function html(tag, cls, parent, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  /* The static render's wrapping: items joined by ", ", lines of about 30 characters. */
  function wrap(items) {
    const lines = [];
    let line = "";
    for (const item of items) {
      if (line && line.length + 2 + item.length > WRAP) {
        lines.push(line + ",");
        line = item;
      } else line = line ? line + ", " + item : item;
    }
    if (line) lines.push(line);
    return lines;
  }

  const exact = (n) => n.toLocaleString("en-US");
  function short(n) {
    const units = [[1e9, "G"], [1e6, "M"], [1e3, "K"]];
    for (const [v, u] of units) if (n >= v) return (n / v).toFixed(n >= 10 * v ? 1 : 2) + " " + u;
    return String(n);
  }

  window.linkcUtil = { NS, FONT, GLYPH_FONT, LINE, PADX, PADY, WRAP, textWidth, el, html, wrap,
    exact, short };
})();

// Small hand-made charts (no chart library): horizontal bars (HTML, so labels wrap on a phone),
// a histogram and a ROC curve (SVG with role="img" and a text alternative).

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(width, height, label) {
  const s = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart" });
  s.append(el("title", {}, label));
  return s;
}

/**
 * Histogram of values in [0, 1] with `bins` equal bins, and dashed marks at `marks`
 * ([{at, label}], e.g. the policy's risk bands).
 */
export function histogram(values, { bins = 20, marks = [], label } = {}) {
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))]++;
  const width = 460,
    height = 200,
    left = 44,
    bottom = 28,
    top = 14,
    right = 8;
  const pw = width - left - right,
    ph = height - top - bottom;
  const max = Math.max(1, ...counts);
  const s = svg(width, height, label);
  counts.forEach((c, k) => {
    const h = (c / max) * ph;
    const r = el("rect", { x: left + (k * pw) / bins + 1, y: top + ph - h, width: pw / bins - 2, height: h, class: "hist-bar" });
    r.append(el("title", {}, `${(k / bins).toFixed(2)}–${((k + 1) / bins).toFixed(2)}: ${c} customers`));
    s.append(r);
  });
  s.append(el("line", { x1: left, x2: left + pw, y1: top + ph, y2: top + ph, class: "axis" }));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    s.append(el("text", { x: left + t * pw, y: height - 8, "text-anchor": "middle", class: "tick" }, String(t)));
  }
  s.append(el("text", { x: left - 6, y: top + 8, "text-anchor": "end", class: "tick" }, String(max)));
  s.append(el("text", { x: left - 6, y: top + ph, "text-anchor": "end", class: "tick" }, "0"));
  for (const m of marks) {
    const x = left + m.at * pw;
    s.append(el("line", { x1: x, x2: x, y1: top - 4, y2: top + ph, class: "mark" }));
    s.append(el("text", { x: x + 3, y: top + 4, class: "tick" }, m.label));
  }
  return s;
}

/** ROC curve from points [{fpr, tpr}], with the diagonal for reference. */
export function rocCurve(points, { label } = {}) {
  const size = 240,
    pad = 34;
  const p = size - pad - 8;
  const s = svg(size, size, label);
  const X = (f) => pad + f * p,
    Y = (t) => 8 + (1 - t) * p;
  s.append(el("rect", { x: pad, y: 8, width: p, height: p, class: "frame" }));
  s.append(el("line", { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), class: "mark" }));
  const d = points.map((q, k) => `${k ? "L" : "M"}${X(q.fpr).toFixed(1)},${Y(q.tpr).toFixed(1)}`).join("");
  s.append(el("path", { d, class: "roc" }));
  s.append(el("text", { x: pad + p / 2, y: size - 4, "text-anchor": "middle", class: "tick" }, "false positive rate"));
  const yl = el(
    "text",
    { x: 10, y: 8 + p / 2, "text-anchor": "middle", class: "tick", transform: `rotate(-90 10 ${8 + p / 2})` },
    "true positive rate",
  );
  s.append(yl);
  return s;
}

/**
 * Horizontal bars as an HTML list: `items` = [{label, value, text, up, data}]. With `signed`,
 * bars grow right (up = true) or left from a centre line; otherwise right from zero.
 */
export function bars(items, { label, signed = false } = {}) {
  const list = document.createElement("ol");
  list.className = signed ? "bars signed" : "bars";
  list.setAttribute("aria-label", label);
  const max = Math.max(1e-12, ...items.map((d) => Math.abs(d.value)));
  for (const d of items) {
    const li = document.createElement("li");
    for (const [k, v] of Object.entries(d.data ?? {})) li.dataset[k] = v;
    const name = document.createElement("span");
    name.className = "bar-label";
    name.textContent = d.label;
    const track = document.createElement("span");
    track.className = "bar-track";
    track.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = `bar-fill ${d.value < 0 ? "down" : "up"}`;
    fill.style.setProperty("--w", `${((Math.abs(d.value) / max) * (signed ? 50 : 100)).toFixed(2)}%`);
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = d.text;
    li.append(name, track, value);
    list.append(li);
  }
  return list;
}

/**
 * Reference and current shares side by side per bin (SVG): `labels` name the bins, `reference`
 * and `current` are counts in the same order (shown as shares of their totals).
 */
export function pairedBars(labels, reference, current, { label } = {}) {
  const share = (c) => {
    const t = Math.max(
      1,
      c.reduce((a, b) => a + b, 0),
    );
    return c.map((x) => x / t);
  };
  const r = share(reference),
    c = share(current);
  const top = Math.max(1e-9, ...r, ...c);
  const slot = 34,
    left = 8,
    ph = 110,
    bottom = 70;
  const width = left * 2 + slot * labels.length,
    height = ph + bottom + 10;
  const s = svg(width, height, label);
  s.style.width = `${width}px`; // its own size (a few bins must not blow up to the column's width)
  labels.forEach((name, k) => {
    const x = left + k * slot;
    for (const [j, v, cls, who] of [
      [0, r[k], "ref-bar", "training"],
      [1, c[k], "cur-bar", "current"],
    ]) {
      const h = (v / top) * ph;
      const bar = el("rect", { x: x + 3 + j * 14, y: 10 + ph - h, width: 13, height: h, class: cls });
      bar.append(el("title", {}, `${name}: ${who} ${(100 * v).toFixed(1)}%`));
      s.append(bar);
    }
    const short = name.length > 14 ? `${name.slice(0, 13)}…` : name;
    s.append(el("text", { x: x + 8, y: ph + 24, class: "tick", transform: `rotate(40 ${x + 8} ${ph + 24})` }, short));
  });
  s.append(el("line", { x1: left, x2: width - left, y1: 10 + ph, y2: 10 + ph, class: "axis" }));
  return s;
}

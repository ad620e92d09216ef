// gems serve: the long-tail chart — the catalogue's listeners by popularity rank on log scales, the head shaded,
// seeds and gems marked. curve: /api/popularity; marks: [{facts: an /api/tracks object, kind: "pick" or "seed"}].

const SVG = "http://www.w3.org/2000/svg";

export function drawCurve(box, curve, marks) {
  if (!curve || !curve.n_tracks) { box.textContent = "This model has no popularity to draw."; return; }
  const [W, H, L, R, T, B] = [560, 250, 46, 12, 10, 34];
  const n = curve.n_tracks;
  const top = Math.max(...curve.listeners, 1);
  const x = (rank) => L + (n > 1 ? Math.log10(rank) / Math.log10(n) : 0) * (W - L - R);
  const y = (listeners) => H - B - (Math.log10(1 + listeners) / Math.log10(1 + top)) * (H - B - T);
  const svg = document.createElementNS(SVG, "svg");
  const add = (parent, tag, attributes, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    parent.append(node);
    return node;
  };
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", "curve-title");
  add(svg, "title", { id: "curve-title" },
    `Listeners by popularity rank for ${n.toLocaleString()} tracks, log scales; seeds and gems marked`);
  if (curve.head > 0) add(svg, "rect", { class: "head", x: L, y: T, width: Math.max(1, x(curve.head) - L), height: H - B - T });
  add(svg, "line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B });
  add(svg, "line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B });
  for (let p = 1; p <= n; p *= 10) add(svg, "text", { x: x(p), y: H - B + 14, "text-anchor": "middle" }, p.toLocaleString());
  for (let p = 1; p <= top; p *= 10) add(svg, "text", { x: L - 5, y: y(p) + 4, "text-anchor": "end" }, p.toLocaleString());
  add(svg, "text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, "popularity rank (log)");
  add(svg, "text", { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, "text-anchor": "middle" }, "listeners (log)");
  const points = curve.ranks.map((rank, i) => `${x(rank).toFixed(1)},${y(curve.listeners[i]).toFixed(1)}`);
  add(svg, "polyline", { class: "curve", points: points.join(" ") });
  const mark = (facts, kind) => {
    const [cx, cy] = [x(facts.popularity_rank), y(facts.listeners)];
    const shape = kind === "seed"
      ? add(svg, "rect", { class: kind, x: cx - 5, y: cy - 5, width: 10, height: 10, transform: `rotate(45 ${cx} ${cy})` })
      : add(svg, "circle", { class: kind, cx, cy, r: 5 });
    shape.setAttribute("data-mark-id", facts.track_id);
    add(shape, "title", {}, `${facts.title}: ${facts.listeners.toLocaleString()} listeners, rank ${facts.popularity_rank.toLocaleString()}`);
  };
  for (const { facts, kind } of marks) mark(facts, kind);
  box.replaceChildren(svg);
}

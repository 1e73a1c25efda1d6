// The context-fill curve: one point per request of the conversation's own line, against
// the model's window, with compaction, /clear and session markers. Inline SVG.
import { s, h, short, num, clock } from "../util.js";

const W = 1000, H = 260, L = 56, R = 14, T = 14, B = 34;

export function contextChart(series, markers) {
  const points = series.filter((p) => p.main);
  if (!points.length) return h("p", { class: "muted" }, "No API requests recorded for this conversation yet.");
  const windowTokens = Math.max(...points.map((p) => p.context_window));
  const peak = Math.max(...points.map((p) => p.context_tokens));
  // A conversation far from its window would be a flat line at the bottom: zoom in and say
  // where the window is instead of drawing it.
  const zoomed = peak < windowTokens * 0.3;
  const top = zoomed ? Math.max(peak * 1.3, 1000) : Math.max(windowTokens, peak) * 1.05;
  const n = points.length;
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const times = points.map((p) => new Date(p.timestamp).getTime());
  const indexAt = (iso) => {
    // The marker sits before the first request at or after its time.
    const t = new Date(iso).getTime();
    const i = times.findIndex((v) => v >= t);
    return i === -1 ? n - 1 : Math.max(0, i - 0.5);
  };
  const grid = [];
  for (let k = 0; k <= 4; k++) {
    const v = (top / 4) * k;
    grid.push(s("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, short(Math.round(v))));
  }
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.context_tokens).toFixed(1)}`).join("");
  const area = `${path}L${x(n - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`;
  const marks = markers.map((m) => {
    const xi = x(indexAt(m.at));
    return s("g", { class: "marker" }, s("title", {}, m.label),
      s("line", { class: `m-${m.kind}`, x1: xi, x2: xi, y1: T, y2: H - B }),
      m.kind === "session" ? null : s("text", { x: xi > W - 120 ? xi - 4 : xi + 4, y: T + 10, "text-anchor": xi > W - 120 ? "end" : "start" }, m.short));
  });
  const dots = n <= 400 ? points.map((p, i) => s("circle", { class: "pt", cx: x(i), cy: y(p.context_tokens), r: 2.5 },
    s("title", {}, `${clock(p.timestamp)} · ${num(p.context_tokens)} tokens of ${num(p.context_window)} (${p.model})`))) : [];
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `Context fill over ${n} requests; peak ${num(Math.max(...points.map((p) => p.context_tokens)))} tokens of a ${num(windowTokens)} window` },
    grid,
    zoomed ? s("text", { x: W - R, y: T + 24, "text-anchor": "end" }, `peak ${short(peak)} = ${Math.round((100 * peak) / windowTokens)} % of the ${short(windowTokens)} window`)
      : [s("line", { class: "window", x1: L, x2: W - R, y1: y(windowTokens), y2: y(windowTokens) }),
        s("text", { x: W - 130, y: y(windowTokens) - 5, "text-anchor": "end" }, `window ${short(windowTokens)}`)],
    s("path", { class: "area", d: area }), s("path", { class: "line", d: path }), marks, dots,
    s("text", { x: L, y: H - 10 }, clock(points[0].timestamp)),
    s("text", { x: W - R, y: H - 10, "text-anchor": "end" }, `${clock(points[n - 1].timestamp)} · request ${num(n)}`));
  const legend = h("div", { class: "legend" },
    h("span", {}, h("i", { style: "background:var(--accent)" }), "context sent (input + cache read + cache write)"),
    h("span", {}, h("i", { style: "background:var(--bad)" }), "model window"),
    h("span", {}, h("i", { style: "background:var(--warn)" }), "compaction"),
    h("span", {}, h("i", { style: "background:var(--hot)" }), "/clear"),
    h("span", {}, h("i", { style: "background:var(--muted)" }), "next session"));
  return h("figure", { style: "margin:0" }, svg, legend);
}

// Live: sessions active now and the org's totals for today, pushed by the server
// (text/event-stream from /live/stream). Read with fetch so the bearer token goes in a
// header, not the URL; reconnects by itself after a dropped stream or a server restart.
import * as api from "../api.js";
import { h, replace, num, money, pct, ago, shortId, localMidnight } from "../util.js";

function fillClass(fill) {
  return fill >= 0.95 ? "f95" : fill >= 0.9 ? "f90" : fill >= 0.8 ? "f80" : "ok";
}

function fillCell(s) {
  const width = Math.min(100, Math.round(s.context_fill * 100));
  return h("div", { class: `fill ${fillClass(s.context_fill)}`, "data-fill": fillClass(s.context_fill),
    title: `${num(s.context_tokens)} of ${num(s.context_window)} tokens` },
    h("div", { class: "bar", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": width, "aria-label": "context window fill" },
      h("span", { style: `width:${width}%` })),
    h("span", { class: "pct" }, pct(s.context_fill)));
}

const STATE_WORDS = { working: "working", waiting: "waiting on a permission prompt", idle: "idle" };

function renderSnapshot(ctx, el, snap) {
  const t = snap.today;
  const cards = h("div", { class: "cards" });
  const cardEls = [["Active sessions", num(snap.sessions.length)], ["Cost today", money(t.cost_usd)], ["Tokens today", num(t.total_tokens)],
    ["Requests today", num(t.api_request_count)], ["Sessions today", num(t.session_count)], ["Users today", num(t.user_count)]]
    .map(([label, value]) => h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value)));
  replace(cards, cardEls);
  const rows = snap.sessions.map((s) => h("tr", { dataset: { session: s.session_id, state: s.state } },
    h("td", {}, s.thread_id ? h("a", { href: ctx.href(ctx.org, "thread", [s.thread_id]) }, shortId(s.session_id)) : shortId(s.session_id),
      h("span", { class: "sub" }, s.project_name || s.agent_name || "")),
    h("td", {}, h("span", { class: "clip" }, s.user || "—")),
    h("td", {}, s.model ? s.model.replace(/^claude-/, "") : "—"),
    h("td", { class: "num" }, `${num(s.prompt_count)} prompts`, h("span", { class: "sub" }, `${num(s.api_request_count)} requests`)),
    h("td", {}, fillCell(s)),
    h("td", {}, h("span", { class: `state-${s.state}` }, h("span", { class: "dot" }), STATE_WORDS[s.state] || s.state)),
    h("td", { class: "num" }, money(s.estimated_cost_usd)),
    h("td", { class: "num" }, ago(s.last_event_at))));
  replace(el,
    cards,
    snap.sessions.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "live-table" },
        h("caption", { class: "muted", style: "text-align:left;padding:6px 10px" }, "Sessions with telemetry in the last 30 minutes"),
        h("thead", {}, h("tr", {}, ["Session", "User", "Model", "Length", "Context window", "State", "Cost", "Last event"].map((x, i) =>
          h("th", { scope: "col", class: [3, 6, 7].includes(i) ? "num" : "" }, x)))),
        h("tbody", {}, rows)))
      : h("p", { class: "panel" }, "No session is active right now. Sessions appear here within a second or two of their first telemetry."));
}

export function render(ctx) {
  const status = h("span", { class: "conn off", role: "status" }, "connecting…");
  const body = h("div", {}, h("p", { class: "muted" }, "Waiting for the first update…"));
  replace(ctx.main, h("div", { class: "row" }, h("h1", {}, "Live"), h("span", { class: "spacer" }), status),
    h("p", { class: "muted" }, "Context fill turns amber at 80 %, orange at 90 % and red at 95 % of the model's window."),
    body);
  const controller = new AbortController();
  let stopped = false;
  let delay = 500;

  const connect = async () => {
    while (!stopped) {
      try {
        const response = await fetch(api.url(`/${api.enc(ctx.org)}/live/stream`, { since: localMidnight() }),
          { headers: api.headers({ Accept: "text/event-stream" }), signal: controller.signal, cache: "no-store" });
        if (response.status === 401) throw Object.assign(new Error("token"), { fatal: true });
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        status.textContent = "live";
        status.className = "conn on";
        delay = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) !== -1) {
            const chunk = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
            if (data && /^event: ?live$/m.test(chunk)) renderSnapshot(ctx, body, JSON.parse(data));
          }
        }
      } catch (err) {
        if (stopped || err.name === "AbortError") return;
        if (err.fatal) {
          status.textContent = "token refused: reload to sign in";
          return;
        }
      }
      if (stopped) return;
      status.textContent = "reconnecting…";
      status.className = "conn off";
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  };
  connect();
  return () => {
    stopped = true;
    controller.abort();
  };
}

// The drill-down: user → their sessions → the session's prompts, API requests, tool calls
// and errors in order → the selected item's full detail. Three panes on a desktop, two on a
// tablet, one on a phone (the newest ones); every selection is in the URL.
import * as api from "../api.js";
import { h, replace, num, money, when, ms, shortId, clock } from "../util.js";

const KIND_WORDS = {
  user_prompt: "prompt", api_request: "request", api_error: "error", tool_decision: "decision",
  tool_result: "tool", compaction: "compact",
};
const LONG_TEXT = new Set(["tool_input", "tool_parameters", "tool_output", "tool_result", "prompt", "error", "body",
  "compact_summary", "last_assistant_message", "message"]);

function paneCount() {
  const w = window.innerWidth;
  return w >= 1200 ? 3 : w >= 760 ? 2 : 1;
}

function pane(title, body, label) {
  return h("section", { class: "pane", "aria-label": label || title }, h("h2", {}, title), body);
}

function listOf(items) {
  return h("ul", {}, items.map((item) => h("li", {}, item)));
}

function eventSummary(e) {
  if (e.type === "user_prompt") return e.prompt && e.prompt !== "<REDACTED>" ? e.prompt.slice(0, 120) : `prompt${e.attributes.prompt_length ? ` (${num(Number(e.attributes.prompt_length))} chars)` : ""}`;
  if (e.type === "api_request") return [e.model.replace(/^claude-/, ""), ` · ${num(e.input_tokens + e.cache_read_tokens + e.cache_creation_tokens)} in · ${num(e.output_tokens)} out · `, money(e.estimated_cost_usd)];
  if (e.type === "api_error") return `${e.status_code || ""} ${e.error}`.trim();
  if (e.type === "tool_result") return `${e.tool_name}${e.success === false ? " (failed)" : ""} · ${ms(e.duration_ms)}`;
  if (e.type === "tool_decision") return `${e.tool_name} · ${e.decision}${e.source ? ` (${e.source})` : ""}`;
  if (e.type === "compaction") return `${e.compaction_trigger} · ${e.success === false ? "failed" : "done"}`;
  if (e.hook_name) return e.hook_name;
  return e.command_name || e.source || e.reason || "";
}

function pretty(text) {
  try {
    const value = JSON.parse(text);
    if (typeof value === "object" && value !== null) return JSON.stringify(value, null, 2);
  } catch (err) { /* not JSON: as sent */ }
  return text;
}

function detail(e) {
  const rows = [
    ["type", e.type], ["time", when(e.timestamp, true)], ["sequence", e.sequence ?? "—"], ["prompt id", e.prompt_id || "—"],
  ];
  if (e.model) rows.push(["model", e.model]);
  if (e.duration_ms !== null) rows.push(["duration", ms(e.duration_ms)]);
  if (e.type === "api_request") {
    rows.push(["input tokens", num(e.input_tokens)], ["output tokens", num(e.output_tokens)],
      ["cache read tokens", num(e.cache_read_tokens)], ["cache write tokens", num(e.cache_creation_tokens)],
      ["cost (reported)", money(e.estimated_cost_usd)], ["query source", e.query_source || "—"]);
  }
  if (e.tool_name) rows.push(["tool", e.tool_name], ["tool use id", e.tool_use_id || "—"]);
  if (e.decision) rows.push(["decision", `${e.decision}${e.source ? ` (${e.source})` : ""}`]);
  if (e.success !== null) rows.push(["success", String(e.success)]);
  if (e.status_code !== null) rows.push(["status code", e.status_code]);
  if (e.attempt !== null) rows.push(["attempt", e.attempt]);
  if (e.pre_tokens !== null) rows.push(["tokens before → after", `${num(e.pre_tokens)} → ${e.post_tokens === null ? "?" : num(e.post_tokens)}`]);
  const attrs = Object.entries(e.attributes || {}).sort(([a], [b]) => a.localeCompare(b));
  const long = attrs.filter(([k, v]) => LONG_TEXT.has(k) || String(v).length > 160);
  const short = attrs.filter((kv) => !long.includes(kv));
  return h("div", { class: "detail" },
    h("h3", { style: "margin-top:0" }, h("span", { class: `kind kind-${e.type}` }, KIND_WORDS[e.type] || e.type), eventSummary(e)),
    h("dl", { class: "kv" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    e.error ? [h("h3", {}, "Error"), h("pre", { class: "block error" }, e.error)] : null,
    e.prompt ? [h("h3", {}, "Prompt"), h("pre", { class: "block" }, e.prompt)] : null,
    long.map(([k, v]) => [h("h3", {}, k), h("pre", { class: "block", "data-attr": k }, pretty(String(v)))]),
    h("h3", {}, "All attributes"),
    h("dl", { class: "kv" }, short.map(([k, v]) => [h("dt", { class: "mono" }, k), h("dd", { class: "mono" }, String(v))])));
}

const MAIN_TYPES = "user_prompt,api_request,api_error,tool_decision,tool_result,compaction";

async function sessionEvents(org, session, all) {
  // Up to 5,000 items in order (five pages); the rest stays reachable through the API.
  const items = [];
  let cursor = "";
  for (let page = 0; page < 5; page++) {
    const body = await api.get(`/${api.enc(org)}/llm_sessions/${api.enc(session)}/events`, { limit: 1000, cursor, type: all ? "" : MAIN_TYPES });
    items.push(...body.data);
    cursor = body.pagination.next_cursor;
    if (!cursor) return { items, more: false };
  }
  return { items, more: true };
}

export async function render(ctx) {
  const { org, params: p } = ctx;
  const user = p.get("user") || "";
  const session = p.get("session") || "";
  const item = p.get("item") || "";
  const all = p.get("all") === "1";
  const link = (params) => ctx.href(org, "explore", [], { ...params, all: params.session && all ? "1" : "" });
  const [users, sessions, events] = await Promise.all([
    api.get(`/${api.enc(org)}/users`, { limit: 1000 }),
    user ? api.get(`/${api.enc(org)}/llm_sessions`, { user, limit: 200 }) : null,
    session ? sessionEvents(org, session, all) : null,
  ]);
  const panes = [];
  panes.push(pane(`Users (${num(users.data.length)})`, listOf(users.data.map((u) =>
    h("a", { href: link({ user: u.user_id }), "aria-current": u.user_id === user ? "true" : "false" },
      h("strong", {}, u.user_email || u.user_id.slice(0, 16)),
      h("span", { class: "sub" }, `${num(u.session_count)} sessions · `, money(u.cost_usd), " · ", when(u.last_activity_at)))))));
  if (sessions) {
    panes.push(pane(`Sessions (${num(sessions.data.length)})`, listOf(sessions.data.map((s) =>
      h("a", { href: link({ user, session: s.id }), "aria-current": s.id === session ? "true" : "false" },
        h("strong", {}, shortId(s.id)), " ", h("span", { class: "muted" }, s.project_name || ""),
        h("span", { class: "sub" }, `${s.start_source || "startup"} · ${num(s.message_count)} prompts · ${num(s.tool_call_count)} tools · `, money(s.estimated_cost_usd)),
        h("span", { class: "sub" }, when(s.started_at), s.closed_at ? ` · ${s.close_reason}` : " · open"))))));
  } else panes.push(pane("Sessions", h("p", { class: "detail muted" }, "Pick a user.")));
  let selected = null;
  if (events) {
    selected = events.items.find((e) => e.id === item) || null;
    const thread = sessions && sessions.data.find((s) => s.id === session);
    panes.push(pane(`Items (${num(events.items.length)}${events.more ? "+" : ""})`, [
      thread ? h("p", { class: "detail", style: "margin:0;border-bottom:1px solid var(--border)" },
        "In conversation ", h("a", { href: ctx.href(org, "thread", [thread.conversation_thread_id]) }, shortId(thread.conversation_thread_id)),
        " · ", h("a", { href: ctx.href(org, "explore", [], { user, session, item, all: all ? "" : "1" }) }, all ? "prompts, requests, tools and errors only" : "every event")) : null,
      listOf(events.items.map((e) =>
        h("a", { href: link({ user, session, item: e.id }), "aria-current": e.id === item ? "true" : "false", "data-type": e.type },
          h("span", { class: `kind kind-${e.type}` }, KIND_WORDS[e.type] || e.type.replace(/^loomline\./, "hook ")),
          h("span", { class: "muted mono" }, clock(e.timestamp)), " ", eventSummary(e))))]));
  } else if (user) panes.push(pane("Items", h("p", { class: "detail muted" }, "Pick a session.")));
  if (selected) panes.push(pane("Detail", detail(selected)));
  else if (session) panes.push(pane("Detail", h("p", { class: "detail muted" }, item ? "That item is not in this session." : "Pick an item: a prompt, request, tool call or error.")));

  const grid = h("div", { class: "panes" });
  // Arrow keys move between the links of a pane; Enter opens one (as any link).
  grid.addEventListener("keydown", (event) => {
    if (!["ArrowDown", "ArrowUp"].includes(event.key) || !(event.target instanceof HTMLAnchorElement)) return;
    const links = [...event.target.closest("ul")?.querySelectorAll("li > a") || []];
    const next = links[links.indexOf(event.target) + (event.key === "ArrowDown" ? 1 : -1)];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });
  const layout = () => {
    const n = Math.min(paneCount(), panes.length);
    grid.style.setProperty("--panes", n);
    replace(grid, panes.slice(panes.length - n));
  };
  layout();
  const back = [];
  if (user) back.push(h("a", { href: link({}) }, "← users"));
  if (session) back.push(h("a", { href: link({ user }) }, "← sessions"));
  if (item) back.push(h("a", { href: link({ user, session }) }, "← items"));
  replace(ctx.main, h("h1", {}, "Drill-down"),
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: link({}) }, "Users"),
      user ? [" › ", h("a", { href: link({ user }) }, (users.data.find((u) => u.user_id === user) || {}).user_email || user.slice(0, 12))] : "",
      session ? [" › ", h("a", { href: link({ user, session }) }, shortId(session))] : "",
      selected ? [" › ", selected.type] : ""),
    grid);
  ctx.main.addEventListener("shown", () => {
    for (const current of grid.querySelectorAll('[aria-current="true"]')) current.scrollIntoView({ block: "nearest" });
    window.scrollTo(0, 0);
  });
  window.addEventListener("resize", layout);
  return () => window.removeEventListener("resize", layout);
}

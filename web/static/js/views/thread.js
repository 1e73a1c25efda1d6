// The thread view: summary, fork / clear lineage, the context-fill curve, the timeline of
// segments, compactions, links and closes, and the sessions with their cost and tokens.
import * as api from "../api.js";
import { h, replace, num, money, when, duration, plural, shortId, toast } from "../util.js";
import { contextChart } from "./chart.js";
import { statusCell } from "./lists.js";
import { manageButtons } from "./manage.js";

function card(label, value, extra) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value, extra ? h("small", {}, " ", extra) : null));
}

const SEGMENT_WORDS = {
  startup: "Started", resume: "Resumed (--resume)", continue: "Continued (--continue)", fork: "Forked",
  clear: "Started after /clear", compact: "Restarted after compaction",
};

function firstRequestAfter(series, sessionId, iso) {
  const t = new Date(iso).getTime();
  return series.find((p) => p.session_id === sessionId && new Date(p.timestamp).getTime() >= t);
}

function timelineEntries(ctx, data, series) {
  const { org } = ctx;
  const sessions = new Map(data.sessions.map((s) => [s.session_id, s]));
  const items = [];
  let lastEnd = null; // when the conversation last did something, for idle gaps
  for (const e of data.timeline) {
    if (e.kind === "segment") {
      const session = sessions.get(e.session_id);
      const idle = lastEnd && (e.type === "resume" || e.type === "continue" || e.segment_index > 0)
        ? (new Date(e.at) - new Date(lastEnd)) / 1000 : null;
      const first = idle !== null ? firstRequestAfter(series, e.session_id, e.at) : null;
      items.push(h("li", { class: "k-segment", dataset: { kind: "segment", type: e.type } },
        h("span", { class: "when" }, when(e.at, true)),
        h("span", { class: "what" }, SEGMENT_WORDS[e.type] || e.type),
        " · session ", h("a", { href: ctx.href(org, "explore", [], { user: data.user_id, session: e.session_id }) }, shortId(e.session_id)),
        session ? ` (#${session.position})` : "",
        idle !== null && idle > 0 ? h("span", { class: "sub" }, `idle ${duration(idle)} before this`,
          first && first.cache_creation_tokens > 0
            ? [" · first request re-wrote ", num(first.cache_creation_tokens), " cache tokens (", money(first.estimated_cost_usd), ")"] : "") : null));
      lastEnd = e.ended_at || e.at;
    } else if (e.kind === "compaction") {
      const failed = !e.success;
      items.push(h("li", { class: `k-compaction${failed ? " failed" : ""}`, dataset: { kind: "compaction", success: String(e.success) } },
        h("span", { class: "when" }, when(e.at, true)),
        h("span", { class: "what" }, failed ? `Compaction failed (${e.trigger})` : `Compacted (${e.trigger})`),
        e.pre_tokens !== null ? [" · ", num(e.pre_tokens), " → ", e.post_tokens !== null ? num(e.post_tokens) : "?", " tokens"] : "",
        e.duration_ms ? ` · ${duration(e.duration_ms / 1000)}` : "",
        failed && e.error ? h("span", { class: "sub error" }, e.error) : null));
    } else if (e.kind === "link") {
      const inThread = sessions.has(e.to_session_id) && sessions.has(e.from_session_id);
      let text;
      let target = null;
      if (e.type === "resumed_as") text = "Resumed under a new session id";
      else if (e.type === "forked_from") {
        const child = sessions.has(e.from_session_id) && !sessions.has(e.to_session_id);
        text = child ? "Forked into another conversation" : "Forked from another conversation";
        target = child ? e.to_thread_id : e.from_thread_id;
      } else if (e.type === "cleared_from") {
        const next = sessions.has(e.from_session_id) && !sessions.has(e.to_session_id);
        text = next ? "/clear: the conversation ends here, a new one starts" : "/clear: started fresh after another conversation";
        target = next ? e.to_thread_id : e.from_thread_id;
      } else text = e.type;
      items.push(h("li", { class: e.type === "cleared_from" ? "k-clear" : "k-link", dataset: { kind: "link", type: e.type } },
        h("span", { class: "when" }, when(e.at, true)), h("span", { class: "what" }, text),
        target ? [" · ", h("a", { href: ctx.href(org, "thread", [target]) }, "open ", shortId(target))] : "",
        inThread ? "" : ""));
    }
  }
  for (const s of data.sessions) {
    if (s.closed_at) {
      items.push(h("li", { class: "k-close", dataset: { kind: "close", reason: s.close_reason } },
        h("span", { class: "when" }, when(s.closed_at, true)),
        h("span", { class: "what" }, `Session #${s.position} closed: ${s.close_reason}`),
        s.close_evidence ? h("span", { class: "sub" }, `evidence: ${s.close_evidence}`) : null));
    }
  }
  // Closes join the time order.
  return items.sort((a, b) => new Date(a.querySelector("time")?.dateTime || 0) - new Date(b.querySelector("time")?.dateTime || 0));
}

function chartMarkers(data) {
  const markers = [];
  for (const c of data.compactions) {
    markers.push({ kind: "compact", at: c.timestamp, short: c.success ? "compact" : "compact ✗",
      label: `${c.success ? "compaction" : "failed compaction"} (${c.trigger}) ${c.pre_tokens ?? "?"} → ${c.post_tokens ?? "?"}` });
  }
  for (const l of data.clear_breaks) markers.push({ kind: "clear", at: l.at, short: "/clear", label: "/clear" });
  data.sessions.slice(1).forEach((s) => markers.push({ kind: "session", at: s.started_at, label: `session #${s.position} starts` }));
  return markers;
}

function lineage(ctx, data) {
  const { org } = ctx;
  const parts = [];
  if (data.parent_thread_id) {
    parts.push(h("span", {}, "Forked from ", h("a", { href: ctx.href(org, "thread", [data.parent_thread_id]), "data-lineage": "parent" }, "parent conversation ", shortId(data.parent_thread_id)),
      data.parent_deleted ? h("span", { class: "muted" }, " (parent deleted)") : ""));
  }
  const children = data.forks.filter((f) => f.direction === "child" && f.to_thread_id);
  if (children.length) {
    parts.push(h("span", {}, "Forks: ", children.map((f, i) => [i ? ", " : "",
      h("a", { href: ctx.href(org, "thread", [f.to_thread_id]), "data-lineage": "child" }, shortId(f.to_thread_id))])));
  }
  const members = new Set(data.session_ids);
  for (const c of data.clear_breaks) {
    if (members.has(c.from_session_id) && c.to_thread_id && !members.has(c.to_session_id)) {
      parts.push(h("span", {}, "After /clear: ", h("a", { href: ctx.href(org, "thread", [c.to_thread_id]), "data-lineage": "clear-next" }, shortId(c.to_thread_id))));
    } else if (members.has(c.to_session_id) && c.from_thread_id && !members.has(c.from_session_id)) {
      parts.push(h("span", {}, "Before /clear: ", h("a", { href: ctx.href(org, "thread", [c.from_thread_id]), "data-lineage": "clear-prev" }, shortId(c.from_thread_id))));
    }
  }
  return parts.length ? h("div", { class: "lineage" }, parts) : null;
}

function sessionsTable(ctx, data, reload) {
  const rows = data.sessions.map((s) => h("tr", { dataset: { session: s.session_id } },
    h("td", {}, `#${s.position}`),
    h("td", {}, h("a", { href: ctx.href(ctx.org, "explore", [], { user: data.user_id, session: s.session_id }) }, shortId(s.session_id)),
      h("span", { class: "sub" }, `${s.start_source || "startup"} · ${plural(s.segment_count, "segment")}`)),
    h("td", { class: "num" }, money(s.estimated_cost_usd), h("span", { class: "sub" }, "computed ", money(s.computed_cost_usd))),
    h("td", { class: "num" }, num(s.input_tokens)),
    h("td", { class: "num" }, num(s.output_tokens)),
    h("td", { class: "num" }, num(s.cache_read_tokens)),
    h("td", { class: "num" }, num(s.cache_creation_tokens)),
    h("td", { class: "num" }, num(s.user_prompt_count)),
    h("td", { class: "num" }, num(s.tool_call_count)),
    h("td", { class: "num" }, num(s.api_request_count), s.api_error_count ? h("span", { class: "sub error" }, `${num(s.api_error_count)} errors`) : null),
    h("td", { class: "num" }, num(s.compaction_count), s.failed_compaction_count ? h("span", { class: "sub" }, `${num(s.failed_compaction_count)} failed`) : null),
    h("td", {}, s.closed_at ? s.close_reason : h("span", { class: "status-active" }, "open")),
    h("td", {}, manageButtons(ctx, "llm_sessions", s.session_id, { title: s.title || "", archived: Boolean(s.archived) }, reload, true))));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "muted", style: "text-align:left;padding:6px 10px" }, "Sessions of this conversation, in order"),
    h("thead", {}, h("tr", {}, ["#", "Session", "Cost", "Input", "Output", "Cache read", "Cache write", "Prompts", "Tool calls", "Requests", "Compactions", "Closed", ""].map((t, i) =>
      h("th", { scope: "col", class: i >= 2 && i <= 10 ? "num" : "" }, t)))),
    h("tbody", {}, rows)));
}

export async function render(ctx) {
  const { org } = ctx;
  const id = ctx.rest[0] || "";
  const base = `/${api.enc(org)}/conversations/${api.enc(id)}`;
  let body, series;
  try {
    [body, series] = await Promise.all([api.get(base), api.get(`${base}/context`)]);
  } catch (err) {
    if (err.status === 404) {
      replace(ctx.main, h("div", { class: "panel" }, h("h1", {}, "Conversation not found"),
        h("p", {}, "It may have been deleted, or it belongs to another organization. ", h("a", { href: ctx.href(org, "conversations") }, "Back to the list"))));
      return;
    }
    throw err;
  }
  const d = body.data;
  const reload = () => ctx.go(location.hash);
  const reloadThread = (action) => (action === "deleted" ? ctx.go(ctx.href(org, "conversations")) : ctx.go(location.hash));
  const failed = d.failed_compaction_count || 0;
  replace(ctx.main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: ctx.href(org, "conversations") }, "Conversations"), " › ", shortId(d.thread_id)),
    h("div", { class: "row", id: "thread-head" }, h("h1", { id: "thread-title" }, d.title || "(untitled)"), h("span", { class: "spacer" }),
      manageButtons(ctx, "conversations", d.thread_id, { title: d.title, archived: Boolean(d.archived) }, reloadThread)),
    h("p", { class: "muted" }, `${d.agent_name || "claude-code"} · `, h("span", { class: "clip", title: d.user_id }, d.user_email || d.user_id), ` · ${d.project_name || "no project"} · `,
      h("span", { id: "thread-repo" }, "repository ", d.repository
        ? h("a", { href: ctx.href(org, "conversations", [], { repository: d.repository }), title: "this repository's conversations" }, d.repository)
        : "—", d.git_branch ? [" on ", h("span", { class: "branch" }, d.git_branch)] : ""), " · ",
      (d.models || []).join(", "), d.archived ? " · archived" : ""),
    lineage(ctx, d),
    h("div", { class: "cards" },
      card("Status", statusCell(d.status, d.close_reason)),
      card("Sessions", num(d.session_count)),
      card("Compactions", num(d.compaction_count), failed ? `${num(failed)} failed` : ""),
      card("Cost (reported)", money(d.estimated_cost_usd), h("span", {}, "computed ", money(d.computed_cost_usd))),
      card("Tokens", num(d.total_tokens)),
      card("Cache read / write", h("span", {}, num(d.cache_read_tokens), " / ", num(d.cache_creation_tokens))),
      card("Prompts · tool calls", h("span", {}, num(d.user_prompt_count), " · ", num(d.tool_call_count))),
      card("Started", h("span", { style: "font-size:14px" }, when(d.first_activity_at)),
        `active ${duration((new Date(d.last_activity_at) - new Date(d.first_activity_at)) / 1000)}`)),
    h("section", { class: "panel", "aria-labelledby": "ctx-title" }, h("h2", { id: "ctx-title", style: "margin-top:0" }, "Context fill"),
      contextChart(series.data, chartMarkers(d))),
    h("section", { class: "panel", "aria-labelledby": "tl-title" }, h("h2", { id: "tl-title", style: "margin-top:0" }, "Timeline"),
      h("ol", { class: "timeline" }, timelineEntries(ctx, d, series.data))),
    h("h2", {}, "Sessions"),
    sessionsTable(ctx, d, reload));
  document.title = `${d.title || "conversation"} · loomline`;
  void toast;
}

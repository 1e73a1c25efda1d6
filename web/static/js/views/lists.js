// The list pages: Conversations (threads), Sessions (flat llm sessions), By project,
// By repository, By user. Filters, search, sort and the keyset cursor all live in the URL.
import * as api from "../api.js";
import { h, replace, num, money, when, plural, shortId } from "../util.js";
import { emptyInstall } from "./empty.js";

const FILTER_KEYS = ["user", "project", "repository", "branch", "model", "status", "from", "to", "q", "sort", "archived"];

function dayStart(value) {
  // <input type=date> gives a local day; the API wants an instant.
  return value ? new Date(`${value}T00:00:00`).toISOString() : "";
}

function dayEnd(value) {
  if (!value) return "";
  const d = new Date(`${value}T00:00:00`);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}

async function facets(org) {
  const [users, projects, repositories, models] = await Promise.all([
    api.get(`/${api.enc(org)}/users`, { limit: 1000 }),
    api.get(`/${api.enc(org)}/projects`, { limit: 1000 }),
    api.get(`/${api.enc(org)}/repositories`, { limit: 1000 }),
    api.get(`/${api.enc(org)}/models`),
  ]);
  // repositoryRows also holds the sessions without a repository (their branches count too).
  return { users: users.data, projects: projects.data, repositories: repositories.data.filter((r) => r.repository),
    repositoryRows: repositories.data, models: models.data };
}

function select(name, label, current, options) {
  // A value from the URL that the list does not offer (a shared link, a short repository
  // name) still shows as the active filter.
  const known = !current || options.some(([value]) => value === current);
  return h("label", {}, label, h("select", { name },
    h("option", { value: "" }, "any"),
    options.map(([value, text]) => h("option", { value, selected: value === current }, text)),
    known ? null : h("option", { value: current, selected: true }, current)));
}

/** The branches to offer: the chosen repository's, else every repository's. */
function branchOptions(repositories, current) {
  const chosen = repositories.filter((r) => !current || r.repository === current);
  return [...new Set(chosen.flatMap((r) => r.branches))].sort().map((b) => [b, b]);
}

/** A repository cell: the id (and branch) or "—"; the id whole on hover. */
export function repositoryCell(repository, branch) {
  return [
    repository ? h("span", { class: "clip repo", title: repository }, repository) : h("span", { class: "muted" }, "—"),
    branch ? h("span", { class: "sub branch" }, branch) : null,
  ];
}

function filterForm(ctx, f, { search = true, statusLabels = ["active", "closed"] } = {}) {
  const p = ctx.params;
  const branches = branchOptions(f.repositoryRows, p.get("repository") || "");
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filters" },
    search ? h("label", {}, "Search titles", h("input", { type: "search", name: "q", value: p.get("q") || "", placeholder: "words in the title" })) : null,
    select("user", "User", p.get("user") || "", f.users.map((u) => [u.user_id, u.user_email || u.user_id.slice(0, 12)])),
    select("project", "Project", p.get("project") || "", f.projects.map((x) => [x.project_id, x.project_name || x.project_id || "(none)"])),
    // Only offered once a session names a repository (or the URL filters by one).
    f.repositories.length || p.get("repository")
      ? select("repository", "Repository", p.get("repository") || "", f.repositories.map((r) => [r.repository, r.repository])) : null,
    branches.length || p.get("branch") ? select("branch", "Branch", p.get("branch") || "", branches) : null,
    select("model", "Model", p.get("model") || "", f.models.map((m) => [m.model, m.model])),
    select("status", "Status", p.get("status") || "", statusLabels.map((s) => [s, s === "closed" ? "completed" : s])),
    h("label", {}, "From", h("input", { type: "date", name: "from", value: p.get("from") || "" })),
    h("label", {}, "To", h("input", { type: "date", name: "to", value: p.get("to") || "" })),
    h("label", {}, "Sort", h("select", { name: "sort" },
      h("option", { value: "" }, "last activity"),
      h("option", { value: "cost", selected: p.get("sort") === "cost" }, "cost"))),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "archived", value: "1", checked: p.get("archived") === "1" }), "show archived"),
    h("button", { type: "submit" }, "Apply"),
    h("a", { class: "button ghost", href: ctx.href(ctx.org, ctx.view) }, "Reset"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const params = {};
    for (const key of FILTER_KEYS) params[key] = data.get(key) || "";
    ctx.go(ctx.href(ctx.org, ctx.view, [], params));
  });
  form.addEventListener("change", (event) => {
    // Another repository: the branch picked for the previous one no longer applies.
    if (event.target.name === "repository" && form.elements.branch) form.elements.branch.value = "";
    if (event.target.tagName === "SELECT" || event.target.type === "checkbox") form.requestSubmit();
  });
  return form;
}

function apiFilters(p) {
  return {
    user: p.get("user"), project: p.get("project"), repository: p.get("repository"), branch: p.get("branch"),
    model: p.get("model"), status: p.get("status"),
    from: dayStart(p.get("from")), to: dayEnd(p.get("to")), sort: p.get("sort") || "last_activity",
    include_archived: p.get("archived") === "1" ? "true" : "", cursor: p.get("cursor"), limit: 50,
  };
}

function pager(ctx, body) {
  const p = new URLSearchParams(ctx.params);
  const next = body.pagination && body.pagination.next_cursor;
  const hasCursor = p.has("cursor");
  p.delete("cursor");
  const first = ctx.href(ctx.org, ctx.view, [], p);
  const nextParams = new URLSearchParams(p);
  if (next) nextParams.set("cursor", next);
  return h("nav", { class: "pager", "aria-label": "Pages" },
    hasCursor ? h("a", { class: "button ghost", href: first }, "← First page") : null,
    next ? h("a", { class: "button ghost", href: ctx.href(ctx.org, ctx.view, [], nextParams), rel: "next" }, "Next page →") : null,
    h("span", { class: "muted" }, `${num(body.data.length)} shown`));
}

export function statusCell(status, reason) {
  if (status === "active") return h("span", { class: "status-active" }, h("span", { class: "dot" }), "active");
  return h("span", { class: "status-closed" }, "completed", reason && reason !== "open" ? h("span", { class: "sub" }, reason) : null);
}

function models(list) {
  return (list || []).map((m) => h("span", { class: "chip" }, m.replace(/^claude-/, "")));
}

function table(caption, head, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "muted", style: "text-align:left;padding:6px 10px" }, caption),
    h("thead", {}, h("tr", {}, head.map(([label, cls]) => h("th", { scope: "col", class: cls || "" }, label)))),
    h("tbody", {}, rows)));
}

function hasFilters(p) {
  return FILTER_KEYS.some((k) => p.get(k)) || p.has("cursor");
}

export async function conversations(ctx) {
  const { org, params: p } = ctx;
  const [f, body] = await Promise.all([
    facets(org),
    api.get(`/${api.enc(org)}/conversations`, { ...apiFilters(p), q: p.get("q") }),
  ]);
  if (!body.data.length && !hasFilters(p)) {
    replace(ctx.main, emptyInstall(org));
    return;
  }
  const rows = body.data.map((c) => h("tr", { dataset: { thread: c.thread_id } },
    h("td", { class: "title" },
      h("a", { href: ctx.href(org, "thread", [c.thread_id]) }, c.title || "(untitled)"),
      h("span", { class: "sub" }, `${c.agent_name || "claude-code"} · ${plural(c.session_count, "session")}, ${plural(c.compaction_count, "compaction")}`,
        c.parent_thread_id ? " · fork" : "", c.archived ? " · archived" : "")),
    h("td", {}, h("span", { class: "clip" }, c.user_email || c.user_id.slice(0, 12) || "—")),
    h("td", { class: "hide-narrow" }, c.project_name || h("span", { class: "muted" }, "—")),
    h("td", { class: "hide-narrow", dataset: { col: "repository" } }, repositoryCell(c.repository, c.git_branch)),
    h("td", { class: "hide-narrow" }, models(c.models)),
    h("td", { class: "num" }, money(c.estimated_cost_usd)),
    h("td", { class: "num", title: `input ${num(c.input_tokens)} · output ${num(c.output_tokens)} · cache read ${num(c.cache_read_tokens)} · cache write ${num(c.cache_creation_tokens)}` }, num(c.total_tokens)),
    h("td", {}, statusCell(c.status, c.close_reason)),
    h("td", { class: "num" }, when(c.last_activity_at))));
  replace(ctx.main,
    h("h1", {}, "Conversations"),
    h("p", { class: "muted" }, "One row per conversation thread: a session and every session that continues it."),
    filterForm(ctx, f),
    body.data.length
      ? table("Conversation threads", [["Title"], ["User"], ["Project", "hide-narrow"], ["Repository", "hide-narrow"], ["Models", "hide-narrow"], ["Cost", "num"], ["Tokens", "num"], ["Status"], ["Last activity", "num"]], rows)
      : h("p", { class: "panel" }, "No conversation matches these filters."),
    pager(ctx, body));
}

export async function sessions(ctx) {
  const { org, params: p } = ctx;
  const [f, body] = await Promise.all([facets(org), api.get(`/${api.enc(org)}/llm_sessions`, apiFilters(p))]);
  if (!body.data.length && !hasFilters(p)) {
    replace(ctx.main, emptyInstall(org));
    return;
  }
  const rows = body.data.map((s) => h("tr", { dataset: { session: s.id } },
    h("td", {}, h("a", { href: ctx.href(org, "explore", [], { user: s.user_id, session: s.id }) }, shortId(s.id)),
      h("span", { class: "sub" }, `${s.start_source || "startup"}${s.is_resumed ? " · resumed" : ""}`)),
    h("td", {}, h("a", { href: ctx.href(org, "thread", [s.conversation_thread_id]) }, `#${s.position} in `, shortId(s.conversation_thread_id))),
    h("td", {}, h("span", { class: "clip" }, s.user_email || s.user_id.slice(0, 12))),
    h("td", { class: "hide-narrow" }, s.project_name || "—"),
    h("td", { class: "hide-narrow", dataset: { col: "repository" } }, repositoryCell(s.repository, s.git_branch)),
    h("td", { class: "hide-narrow" }, models(s.models)),
    h("td", { class: "num" }, money(s.estimated_cost_usd)),
    h("td", { class: "num" }, num(s.total_tokens)),
    h("td", { class: "num" }, num(s.message_count), " / ", num(s.tool_call_count)),
    h("td", {}, statusCell(s.status, s.close_reason)),
    h("td", { class: "num" }, when(s.last_activity_at))));
  replace(ctx.main,
    h("h1", {}, "Sessions"),
    h("p", { class: "muted" }, "Every LLM session (one Claude Code session.id) on its own, newest activity first."),
    filterForm(ctx, f, { search: false }),
    body.data.length
      ? table("LLM sessions", [["Session"], ["Thread"], ["User"], ["Project", "hide-narrow"], ["Repository", "hide-narrow"], ["Models", "hide-narrow"], ["Cost", "num"], ["Tokens", "num"], ["Prompts / tools", "num"], ["Status"], ["Last activity", "num"]], rows)
      : h("p", { class: "panel" }, "No session matches these filters."),
    pager(ctx, body));
}

export async function projects(ctx) {
  const { org } = ctx;
  const body = await api.get(`/${api.enc(org)}/projects`, { limit: 1000 });
  const rows = body.data.map((x) => h("tr", {},
    h("td", { class: "title" }, h("a", { href: ctx.href(org, "conversations", [], { project: x.project_id }) }, x.project_name || x.project_id || "(no project)"),
      h("span", { class: "sub" }, x.project_id)),
    h("td", { class: "num" }, num(x.thread_count)),
    h("td", { class: "num" }, num(x.session_count)),
    h("td", { class: "num" }, num(x.user_count)),
    h("td", { class: "num" }, num(x.active_session_count)),
    h("td", { class: "num" }, money(x.cost_usd)),
    h("td", { class: "num" }, num(x.total_tokens)),
    h("td", { class: "num" }, when(x.last_activity_at))));
  replace(ctx.main, h("h1", {}, "By project"),
    h("p", { class: "muted" }, "Projects come from the hook bridge (git remote) or OTEL_RESOURCE_ATTRIBUTES; pick one to see its conversations."),
    body.data.length
      ? table("Projects", [["Project"], ["Conversations", "num"], ["Sessions", "num"], ["Users", "num"], ["Active", "num"], ["Cost", "num"], ["Tokens", "num"], ["Last activity", "num"]], rows)
      : emptyInstall(org));
}

const BRANCHES_SHOWN = 6;

export async function repositories(ctx) {
  const { org } = ctx;
  const body = await api.get(`/${api.enc(org)}/repositories`, { limit: 1000 });
  // Newest first, as the API answers; sessions without a repository last.
  const ordered = [...body.data.filter((r) => r.repository), ...body.data.filter((r) => !r.repository)];
  const rows = ordered.map((r) => h("tr", { dataset: { repository: r.repository } },
    h("td", { class: "title" }, r.repository
      ? [h("a", { href: ctx.href(org, "conversations", [], { repository: r.repository }) }, r.repository), h("span", { class: "sub" }, r.provider || "")]
      : [h("span", { class: "muted" }, "—"), h("span", { class: "sub" }, "sessions with no known repository")]),
    h("td", { class: "hide-narrow" }, r.branches.slice(0, BRANCHES_SHOWN).map((b) => r.repository
      ? h("a", { class: "chip", href: ctx.href(org, "conversations", [], { repository: r.repository, branch: b }) }, b)
      : h("span", { class: "chip" }, b)),
    r.branch_count > BRANCHES_SHOWN ? h("span", { class: "muted" }, ` +${num(r.branch_count - BRANCHES_SHOWN)}`) : null,
    r.branch_count ? null : h("span", { class: "muted" }, "—")),
    h("td", { class: "num" }, num(r.thread_count)),
    h("td", { class: "num" }, num(r.session_count)),
    h("td", { class: "num" }, num(r.user_count)),
    h("td", { class: "num" }, num(r.active_session_count)),
    h("td", { class: "num" }, money(r.cost_usd)),
    h("td", { class: "num" }, num(r.total_tokens)),
    h("td", { class: "num" }, when(r.last_activity_at))));
  const named = body.data.some((r) => r.repository);
  replace(ctx.main, h("h1", {}, "By repository"),
    h("p", { class: "muted" }, "Repositories come from Claude Code (OTEL_METRICS_INCLUDE_REPOSITORY=true) or the hook bridge in a git checkout with a remote; pick one, or one of its branches, to see its conversations."),
    body.data.length && !named
      ? h("p", { class: "panel", id: "no-repositories" }, "No session names a repository yet. Set ", h("code", {}, "OTEL_METRICS_INCLUDE_REPOSITORY=true"),
        " for Claude Code, or add the hook bridge (", h("code", {}, "loomline install-hooks"), ") and work in a git checkout with a remote.")
      : null,
    body.data.length
      ? table("Repositories", [["Repository"], ["Branches", "hide-narrow"], ["Conversations", "num"], ["Sessions", "num"], ["Users", "num"], ["Active", "num"], ["Cost", "num"], ["Tokens", "num"], ["Last activity", "num"]], rows)
      : emptyInstall(org));
}

export async function users(ctx) {
  const { org } = ctx;
  const body = await api.get(`/${api.enc(org)}/users`, { limit: 1000 });
  const rows = body.data.map((u) => h("tr", {},
    h("td", { class: "title" }, h("a", { href: ctx.href(org, "conversations", [], { user: u.user_id }) }, u.user_email || u.user_id.slice(0, 16)),
      h("span", { class: "sub" }, h("a", { href: ctx.href(org, "explore", [], { user: u.user_id }) }, "drill down →"))),
    h("td", { class: "num" }, num(u.thread_count)),
    h("td", { class: "num" }, num(u.session_count)),
    h("td", { class: "num" }, num(u.active_session_count)),
    h("td", { class: "num" }, num(u.user_prompt_count)),
    h("td", { class: "num" }, num(u.tool_call_count)),
    h("td", { class: "num" }, money(u.cost_usd)),
    h("td", { class: "num" }, num(u.total_tokens)),
    h("td", { class: "num" }, when(u.last_activity_at))));
  replace(ctx.main, h("h1", {}, "By user"),
    h("p", { class: "muted" }, "Users by their newest activity; pick one to see their conversations."),
    body.data.length
      ? table("Users", [["User"], ["Conversations", "num"], ["Sessions", "num"], ["Active", "num"], ["Prompts", "num"], ["Tool calls", "num"], ["Cost", "num"], ["Tokens", "num"], ["Last activity", "num"]], rows)
      : emptyInstall(org));
}

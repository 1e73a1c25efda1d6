// The shell: hash routing (every pane state is in the URL), orgs, token prompt, theme.
//   #/<org>/conversations?user=..&q=..    #/<org>/thread/<thread id>
//   #/<org>/sessions  #/<org>/projects  #/<org>/repositories  #/<org>/users  #/<org>/explore?user=&session=&item=
//   #/<org>/live
import * as api from "./api.js";
import { h, replace } from "./util.js";
import * as lists from "./views/lists.js";
import * as thread from "./views/thread.js";
import * as explore from "./views/explore.js";
import * as live from "./views/live.js";
import { emptyInstall } from "./views/empty.js";

const VIEWS = {
  conversations: lists.conversations,
  sessions: lists.sessions,
  projects: lists.projects,
  repositories: lists.repositories,
  users: lists.users,
  thread: thread.render,
  explore: explore.render,
  live: live.render,
};

const state = { orgs: null, authRequired: false, cleanup: null, generation: 0 };
const main = document.getElementById("main");

/** The current route: {org, view, rest: [...], params: URLSearchParams}. */
export function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { org: parts[0] || "", view: parts[1] || "conversations", rest: parts.slice(2), params: new URLSearchParams(query) };
}

/** The hash of a route; params with empty values are dropped. */
export function href(org, view, rest = [], params = {}) {
  const path = [org, view, ...rest].map(encodeURIComponent).join("/");
  const query = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params);
  for (const [k, v] of entries) if (v !== undefined && v !== null && v !== "") query.set(k, v);
  const qs = query.toString();
  return `#/${path}${qs ? `?${qs}` : ""}`;
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function setupTheme() {
  applyTheme(localStorage.getItem("loomline.theme") || "");
  document.getElementById("theme-toggle").addEventListener("click", () => {
    const dark = getComputedStyle(document.documentElement).colorScheme.includes("dark");
    const next = dark ? "light" : "dark";
    localStorage.setItem("loomline.theme", next);
    applyTheme(next);
  });
}

function askToken(message = "") {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  document.getElementById("token-error").textContent = message;
  input.value = "";
  if (!dialog.open) dialog.showModal();
  input.focus();
}

function setupToken() {
  const form = document.getElementById("token-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = document.getElementById("token-input").value.trim();
    if (!value) return;
    api.setToken(value);
    const ok = await loadOrgs();
    if (ok) {
      document.getElementById("token-dialog").close();
      render();
    }
  });
  document.getElementById("token-button").addEventListener("click", () => askToken());
}

/** GET /orgs; false when a token is needed (the prompt is showing). */
async function loadOrgs() {
  try {
    const body = await api.get("/orgs");
    state.orgs = body.data;
    state.anyOrg = Boolean(body.any_org);
    document.getElementById("token-button").hidden = !api.token();
    return true;
  } catch (err) {
    if (err.status === 401) {
      state.authRequired = true;
      const hadToken = Boolean(api.token());
      api.setToken("");
      askToken(hadToken ? "That token was not accepted: check it and try again." : "");
      return false;
    }
    throw err;
  }
}

function fillOrgSelect(current) {
  const select = document.getElementById("org-select");
  replace(select, ...state.orgs.map((o) => h("option", { value: o.id, selected: o.id === current }, o.id)));
  select.onchange = () => {
    const r = route();
    go(href(select.value, ["thread", "explore"].includes(r.view) ? "conversations" : r.view));
  };
}

function markTabs(org, view) {
  const active = view === "thread" ? "conversations" : view;
  for (const a of document.querySelectorAll("#tabs a")) {
    a.href = href(org, a.dataset.view);
    if (a.dataset.view === active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

export async function render() {
  const generation = ++state.generation;
  if (state.cleanup) {
    state.cleanup();
    state.cleanup = null;
  }
  if (state.orgs === null && !(await loadOrgs())) {
    if (generation !== state.generation) return;
    replace(main, h("p", { class: "muted" }, "Waiting for an API token…"));
    return;
  }
  if (generation !== state.generation) return;
  const r = route();
  if (!state.orgs.length) {
    document.getElementById("org-select").replaceChildren();
    markTabs("", "");
    replace(main, emptyInstall());
    // Show the data as soon as the first conversation is enriched.
    const timer = setInterval(async () => {
      const body = await api.get("/orgs").catch(() => null);
      if (body && body.data.length) {
        state.orgs = null;
        render();
      }
    }, 3000);
    state.cleanup = () => clearInterval(timer);
    return;
  }
  if (r.org && state.anyOrg && !state.orgs.some((o) => o.id === r.org)) {
    // Readable but without conversations yet (e.g. live sessions before enrichment).
    state.orgs = [...state.orgs, { id: r.org, thread_count: 0, last_activity_at: null }];
  }
  if (!r.org || !state.orgs.some((o) => o.id === r.org)) {
    const first = state.orgs.find((o) => o.thread_count > 0) || state.orgs[0];
    location.replace(href(first.id, VIEWS[r.view] && r.org === "" ? r.view : "conversations"));
    return;
  }
  fillOrgSelect(r.org);
  markTabs(r.org, r.view);
  const view = VIEWS[r.view];
  if (!view) {
    replace(main, h("p", { class: "error" }, `No such page: ${r.view}`));
    return;
  }
  // Each render builds its page off-screen and shows it only if no newer navigation
  // started meanwhile (a slow answer must not overwrite the page the user moved to).
  const target = h("div", { class: "view" });
  const ctx = { ...r, main: target, href, go };
  try {
    const cleanup = await view(ctx);
    if (generation !== state.generation) {
      if (typeof cleanup === "function") cleanup();
      return;
    }
    main.replaceChildren(target);
    if (typeof cleanup === "function") state.cleanup = cleanup;
    target.dispatchEvent(new Event("shown"));
  } catch (err) {
    if (generation !== state.generation) return;
    if (err.status === 401) {
      state.orgs = null;
      api.setToken("");
      askToken("The token is no longer accepted.");
      return;
    }
    replace(main, h("div", { class: "panel", role: "alert" }, h("h1", {}, "Something went wrong"),
      h("p", { class: "error" }, err.message || String(err))));
  }
}

setupTheme();
setupToken();
window.addEventListener("hashchange", () => render());
render();

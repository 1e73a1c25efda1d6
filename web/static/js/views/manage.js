// Rename / archive / delete buttons (the management API: PATCH and DELETE on
// /conversations/{id} and /llm_sessions/{id}).
import * as api from "../api.js";
import { h, toast } from "../util.js";

export function manageButtons(ctx, kind, id, current, done, compact = false) {
  const path = `/${api.enc(ctx.org)}/${kind}/${api.enc(id)}`;
  const noun = kind === "conversations" ? "conversation" : "session";
  const run = async (action, fn) => {
    try {
      await fn();
      toast(`${noun} ${action}`);
      done(action);
    } catch (err) {
      toast(`Could not ${action.replace(/d$/, "")} this ${noun}: ${err.message}`);
    }
  };
  const rename = h("button", { type: "button", class: "ghost", "data-action": "rename", "aria-label": `Rename ${noun}` }, "Rename");
  rename.addEventListener("click", () => {
    const wrap = rename.parentElement;
    const input = h("input", { type: "text", value: current.title || "", "aria-label": `New title of the ${noun}`, maxlength: 300, name: "title" });
    const form = h("form", { class: "row", "data-form": "rename" }, input,
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", class: "ghost", onclick: () => form.replaceWith(wrap) }, "Cancel"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (title) run("renamed", () => api.patch(path, { title }));
    });
    wrap.replaceWith(form);
    input.focus();
    input.select();
  });
  const archive = h("button", { type: "button", class: "ghost", "data-action": "archive" }, current.archived ? "Unarchive" : "Archive");
  archive.addEventListener("click", () => run(current.archived ? "unarchived" : "archived", () => api.patch(path, { archived: !current.archived })));
  const remove = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
  remove.addEventListener("click", () => {
    const what = kind === "conversations" ? "this conversation and every session in it" : "this session";
    if (!window.confirm(`Delete ${what}? Its telemetry is removed for good and later telemetry for it is ignored.`)) return;
    run("deleted", () => api.del(path));
  });
  return h("div", { class: `row manage${compact ? " compact" : ""}`, style: compact ? "gap:4px;flex-wrap:nowrap" : "" }, rename, archive, remove);
}

// The empty state: how to point Claude Code at this server, and the demo fleet.
import { h } from "../util.js";

function block(text) {
  return h("pre", { class: "block" }, text);
}

export function emptyInstall(org = "") {
  const host = location.hostname || "127.0.0.1";
  return h("section", { class: "empty panel", "aria-labelledby": "empty-title" },
    h("h1", { id: "empty-title" }, org ? `No conversations in ${org} yet` : "No conversations yet"),
    h("p", {}, "loomline is running and waiting for Claude Code telemetry. Three ways to fill this page:"),
    h("ol", {},
      h("li", {}, h("strong", {}, "Point Claude Code at loomline."), " Set these in the shell (or in ",
        h("code", {}, "~/.claude/settings.json"), " under ", h("code", {}, "env"), ") and start ", h("code", {}, "claude"), ":",
        block(`export CLAUDE_CODE_ENABLE_TELEMETRY=1
export OTEL_LOGS_EXPORTER=otlp
export OTEL_METRICS_EXPORTER=otlp
export OTEL_EXPORTER_OTLP_PROTOCOL=grpc
export OTEL_EXPORTER_OTLP_ENDPOINT=http://${host}:4317
export OTEL_LOG_USER_PROMPTS=1      # optional: prompts become conversation titles`)),
      h("li", {}, h("strong", {}, "Add the hook bridge"), " for forks, /clear, close reasons and projects:",
        block("loomline install-hooks --scope user")),
      h("li", {}, h("strong", {}, "Or look around first"), " with a synthetic fleet of conversations:",
        block(`loomline demo --endpoint ${host}:4317`))),
    h("p", { class: "muted" }, "The page updates as data arrives; the Live tab shows sessions running now."));
}

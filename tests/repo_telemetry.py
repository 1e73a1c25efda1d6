"""Real capture telemetry as it arrives from a git checkout: for the repository tests.

loomline learns a session's repository in two ways (enrich/repository.py), and these
helpers add each to the real captures the way its sender does, so the records still go
through the real receiver and enrichment:

- Claude Code with ``OTEL_METRICS_INCLUDE_REPOSITORY=true`` puts ``vcs.*`` attributes on
  every log record and metric point (seen live with 2.1.328 and 2.1.332, docs/e2e.md; the
  committed captures were recorded without it, so none of them names a repository);
- the hook bridge in a checkout with a remote names the project by the normalized remote
  (``loomline.project.id``, its last part as ``loomline.project.name``) and sends the
  branch as ``git.branch`` (bridge/context.py ``git_info``).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from loomline.app import Loomline
from tests.fixtures import otlp_requests
from tests.test_api_endpoints import _attribute_lists, _resources, enrich, scoped, send
from tests.test_enrich_replay import hook_requests


def _copy(request: Any) -> Any:
    copy = type(request)()
    copy.CopyFrom(request)
    return copy


def _set(attributes: Any, key: str, value: str) -> None:
    for kv in attributes:
        if kv.key == key:
            kv.value.string_value = value
            return
    attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))


def with_vcs(request: Any, url: str) -> Any:
    """A copy of a Claude Code export request as sent with OTEL_METRICS_INCLUDE_REPOSITORY
    from a checkout whose remote is ``url`` (``https://github.com/acme/api``): the
    ``vcs.*`` attributes on every log record and metric point (an ssh remote is reported as
    https too)."""
    host, owner, name = url.split("://", 1)[-1].split("/", 2)
    copy = _copy(request)
    for resource in _resources(copy):
        for attributes in _attribute_lists(resource):
            for key, value in (("vcs.repository.url.full", url), ("vcs.owner.name", owner),
                               ("vcs.repository.name", name), ("vcs.provider.name", host.split(".")[0])):
                _set(attributes, key, value)
    return copy


def with_checkout(request: Any, remote: str = "", branch: str = "") -> Any:
    """A copy of a hook bridge export request as the bridge sends it in a checkout:
    ``remote`` (normalized, ``gitlab.com/acme/web``) as the project, ``branch`` as
    ``git.branch``."""
    copy = _copy(request)
    for resource in copy.resource_logs:
        for scope in resource.scope_logs:
            for record in scope.log_records:
                if remote:
                    _set(record.attributes, "loomline.project.id", remote)
                    _set(record.attributes, "loomline.project.name", remote.rsplit("/", 1)[-1])
                if branch:
                    _set(record.attributes, "git.branch", branch)
    return copy


def checkout_requests(scenario: str, org: str, *, vcs_url: str = "", remote: str = "",
                      branch: str = "") -> list[tuple[str, Any]]:
    """The scenario's Claude Code telemetry (with ``vcs.*`` when ``vcs_url``) and its hook
    bridge records (in the checkout ``remote`` / ``branch``), under ``org``."""
    native = [(signal, scoped(r, org)) for signal, r in otlp_requests(scenario)]
    if vcs_url:
        native = [(signal, with_vcs(r, vcs_url)) for signal, r in native]
    hooks = [("logs", with_checkout(scoped(r, org), remote, branch)) for r in hook_requests(scenario)]
    return native + hooks


ORG_REPOS = "repos"
ORG_REPOS_OTHER = "repos-other"
API_REPO = "github.com/acme/api"
WEB_REPO = "gitlab.com/acme/web"
# A repository id that reads like SQL, in another org: it must come back as text, match
# only itself, and never show in the first org.
HOSTILE_REPO = "github.com/acme/x'); DROP TABLE llm_sessions; --"


def load_repositories(app: Loomline) -> None:
    """Captures from two repositories and from none, the way the senders report them:
    Claude Code's vcs.* attributes (api, branch main from the hook bridge), the hook
    bridge's remote and branch alone (web: the fork on feature/login, the resume on main),
    no repository (api_error); and another org's session in a SQL-looking repository."""
    send(app, checkout_requests("fresh_tool", ORG_REPOS, vcs_url=f"https://{API_REPO}", branch="main"))
    send(app, checkout_requests("fork", ORG_REPOS, remote=WEB_REPO, branch="feature/login"))
    send(app, checkout_requests("resume_continue", ORG_REPOS, remote=WEB_REPO, branch="main"))
    send(app, checkout_requests("api_error", ORG_REPOS))
    send(app, checkout_requests("compact_manual", ORG_REPOS_OTHER, vcs_url=f"https://{HOSTILE_REPO}"))
    enrich(app)

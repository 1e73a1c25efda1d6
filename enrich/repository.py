"""The repository a session worked in, as one stable id (``github.com/acme/api``). Pure.

Evidence, strongest first:

1. Claude Code's own ``vcs.*`` attributes (sent with ``OTEL_METRICS_INCLUDE_REPOSITORY=true``):
   ``vcs.repository.url.full`` normalized, else ``vcs.provider.name`` / ``vcs.owner.name`` /
   ``vcs.repository.name`` (the provider named as its host: github → github.com).
2. The hook bridge's ``loomline.project.id``, when it is a git remote (``host/owner/name``;
   the bridge normalizes remotes the same way) rather than a local path.

The branch is the bridge's ``git.branch`` (newest first); Claude Code does not send one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from operator import attrgetter

from enrich.model import Event

PROVIDER_HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}
_vcs_url, _vcs_repository, _project_id = attrgetter("vcs_url"), attrgetter("vcs_repository"), attrgetter("project_id")
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")


def normalize_url(url: str) -> str:
    """``https://tok@github.com:443/acme/api.git`` / ``git@github.com:acme/api`` →
    ``github.com/acme/api`` ('' for something that is not a remote URL)."""
    url = url.strip()
    if not url or url.startswith(("/", ".", "file:")):
        return ""
    if "://" in url:
        rest = url.split("://", 1)[1]
        host_part, _, path = rest.partition("/")
        host = host_part.rsplit("@", 1)[-1].split(":", 1)[0]
    else:
        match = _SCP_LIKE.match(url)
        if not match:
            return ""
        host, path = match.group(1), match.group(2)
    path = path.strip("/").removesuffix(".git").strip("/")
    if not host or not path or ".." in path.split("/"):
        return ""
    return f"{host.lower()}/{path}"[:300]


def _from_parts(provider: str, owner: str, name: str) -> str:
    if not name:
        return ""
    host = PROVIDER_HOSTS.get(provider.strip().lower(), provider.strip().lower())
    return "/".join(p for p in (host, owner.strip(), name.strip().removesuffix(".git")) if p)[:300]


def _looks_like_remote(project_id: str) -> bool:
    """The bridge's project id is ``host/path`` for a remote, an absolute path otherwise."""
    if not project_id or project_id.startswith("/") or "/" not in project_id:
        return False
    host = project_id.split("/", 1)[0]
    return "." in host or host == "localhost"


def repository_of(events: Iterable[Event]) -> tuple[str, str]:
    """(repository id, provider) for one session's events ('' when unknown)."""
    if not isinstance(events, list):
        events = list(events)
    # Each scan visits only the events that have the attribute (filter runs in C): these
    # are three passes over every event of a session.
    for event in filter(_vcs_url, events):
        repo = normalize_url(event.vcs_url)
        if repo:
            return repo, event.vcs_provider.lower() or _provider_of(repo)
    for event in filter(_vcs_repository, events):  # _from_parts needs the name
        repo = _from_parts(event.vcs_provider, event.vcs_owner, event.vcs_repository)
        if repo:
            return repo, event.vcs_provider.lower() or _provider_of(repo)
    for event in filter(_project_id, events):
        if _looks_like_remote(event.project_id):
            repo = normalize_url(event.project_id) or event.project_id  # an older bridge sent raw remotes
            return repo, _provider_of(repo)
    return "", ""


def _provider_of(repo: str) -> str:
    host = repo.split("/", 1)[0]
    for provider, provider_host in PROVIDER_HOSTS.items():
        if host == provider_host:
            return provider
    return ""

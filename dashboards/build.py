"""Build the Grafana dashboard JSON from dashboards/spec.py and the panels' .sql files.

    python -m dashboards.build          # write dashboards/grafana/dashboards/*.json
    python -m dashboards.build --check  # exit 1 if the committed JSON is out of date

SQL stays in .sql files so it can be read and diffed; the JSON is generated (and committed,
because Grafana provisioning reads JSON).

Panels that show a query-API figure run the API's own file (storage/sql/queries/api_*.sql).
Its ClickHouse parameters ``{name:Type}`` become Grafana text through the panel's
``bind``: a string is pasted as is (a macro, a variable or a constant), and ``Var(v)``
turns the API's optional filter, written ``({p:String} = '' OR <condition>)`` or
``(empty({p:Array(String)}) OR <condition>)``, into
``$__conditionalAll((<condition>), $v)`` with ``x = {p}`` → ``x IN (${v:singlequote})`` and
``has(a, {p})`` → ``hasAny(a, [${v:singlequote}])``, ``endsWith(x, concat('/', {p}))`` →
``arrayExists(want -> endsWith(x, concat('/', want)), [${v:singlequote}])``: one value, several or All.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from dashboards.spec import (
    DASHBOARDS,
    DATASOURCE_TYPE,
    PLUGIN_VERSION,
    Dashboard,
    Panel,
    Var,
    Variable,
)
from storage.sql_files import load_query

HERE = Path(__file__).resolve().parent
SQL_DIR = HERE / "sql"
OUT_DIR = HERE / "grafana" / "dashboards"
SCHEMA_VERSION = 39
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": "${datasource}"}

_PARAM = re.compile(r"(?<!\$)\{(\w+):([^{}]*(?:\([^{}]*\))?[^{}]*)\}")


class BuildError(ValueError):
    pass


def read_sql(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise BuildError(f"missing SQL file {path}")
    return path.read_text().strip()


def _strip_header(sql: str) -> str:
    """Drop the leading comment block (it documents API parameters, not the panel)."""
    lines = sql.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip()


def _closing_paren(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise BuildError("unbalanced parentheses in query")


def _rewrite_condition(cond: str, param: str, var: str) -> str:
    values = f"${{{var}:singlequote}}"
    p = re.escape(param)
    cond = re.sub(rf"([\w.]+)\s*=\s*\{{{p}:String\}}", rf"\1 IN ({values})", cond)
    cond = re.sub(rf"\bhas\(([^(),]+),\s*\{{{p}:String\}}\)", rf"hasAny(\1, [{values}])", cond)
    cond = re.sub(rf"\bendsWith\(([\w.]+),\s*concat\('/',\s*\{{{p}:String\}}\)\)",
                  rf"arrayExists(want -> endsWith(\1, concat('/', want)), [{values}])", cond)
    cond = re.sub(rf"([\w.]+)\s+IN\s+\{{{p}:Array\(String\)\}}", rf"\1 IN ({values})", cond)
    cond = re.sub(rf"\bhas\(\{{{p}:Array\(String\)\}},\s*([^()]+)\)", rf"\1 IN ({values})", cond)
    cond = re.sub(rf"\bhasAny\(([^(),]+),\s*\{{{p}:Array\(String\)\}}\)", rf"hasAny(\1, [{values}])", cond)
    if re.search(rf"(?<!\$)\{{{p}:", cond):
        raise BuildError(f"cannot turn the filter on {{{param}}} into a Grafana condition: {cond!r}")
    return cond


def _rewrite_optional(sql: str, param: str, var: str) -> str:
    prefixes = (f"({{{param}:String}} = '' OR ", f"(empty({{{param}:Array(String)}}) OR ")
    for prefix in prefixes:
        while (start := sql.find(prefix)) != -1:
            end = _closing_paren(sql, start)
            cond = " ".join(sql[start + len(prefix):end].split())
            replacement = f"$__conditionalAll(({_rewrite_condition(cond, param, var)}), ${var})"
            sql = sql[:start] + replacement + sql[end + 1:]
    return sql


def translate_api_query(sql: str, bind: dict[str, Any]) -> str:
    """A query-API SQL text with its parameters replaced per ``bind`` (module docstring)."""
    for param, value in bind.items():
        if isinstance(value, Var):
            sql = _rewrite_optional(sql, param, value.name)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = bind.get(name)
        if value is None:
            raise BuildError(f"parameter {{{name}:{match.group(2)}}} has no binding")
        if isinstance(value, Var):
            raise BuildError(f"parameter {name} is used outside an optional filter; bind a value")
        return str(value)

    return _PARAM.sub(substitute, sql)


def panel_sql(dashboard: Dashboard, panel: Panel) -> str:
    """The rawSql Grafana runs for this panel."""
    if panel.api:
        body = translate_api_query(_strip_header(load_query(panel.api)), panel.bind)
        return f"-- storage/sql/queries/{panel.api}.sql (shared with the query API)\n{body}"
    return read_sql(f"{dashboard.key}__{panel.key}")


def variable_sql(variable: Variable) -> str:
    return read_sql(variable.sql_name)


# -- JSON -----------------------------------------------------------------------------


def _variable_json(variable: Variable) -> dict[str, Any]:
    sql = variable_sql(variable)
    return {
        "name": variable.name,
        "label": variable.label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"refId": f"var-{variable.name}", "queryType": "sql", "rawSql": sql},
        "definition": sql,
        "refresh": variable.refresh,
        "multi": variable.multi,
        "includeAll": variable.include_all,
        "current": {},
        "options": [],
        "sort": 0,
        "hide": 0,
    }


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "ClickHouse",
        "type": "datasource",
        "query": DATASOURCE_TYPE,
        "current": {"text": "loomline ClickHouse", "value": "loomline-clickhouse"},
        "regex": "",
        "refresh": 1,
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
    }


def _panel_json(dashboard: Dashboard, panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if panel.unit:
        defaults["unit"] = panel.unit
    overrides = list(panel.overrides)
    for column, url in panel.links.items():
        overrides.append({"matcher": {"id": "byName", "options": column}, "properties": [
            {"id": "links", "value": [{"title": "Open thread", "url": url}]}]})
    result: dict[str, Any] = {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.h, "w": panel.w, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": overrides},
        "options": dict(panel.options),
        "targets": [{
            "refId": "A",
            "datasource": DATASOURCE,
            "editorType": "sql",
            "queryType": panel.query_type,
            "format": 0 if panel.query_type == "timeseries" else 1,
            "pluginVersion": PLUGIN_VERSION,
            "rawSql": panel_sql(dashboard, panel),
        }],
    }
    if panel.description:
        result["description"] = panel.description
    if panel.transformations:
        result["transformations"] = list(panel.transformations)
    return result


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    panels = []
    x = y = row_h = 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        if x + panel.w > 24:
            x, y, row_h = 0, y + row_h, 0
        panels.append(_panel_json(dashboard, panel, panel_id, x, y))
        x += panel.w
        row_h = max(row_h, panel.h)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "utc",
        "time": {"from": dashboard.time_from, "to": "now"},
        "refresh": dashboard.refresh,
        "templating": {"list": [_datasource_variable(), *(_variable_json(v) for v in dashboard.variables)]},
        "annotations": {"list": []},
        "links": [{"title": "loomline", "type": "dashboards", "tags": ["loomline"], "asDropdown": True}],
        "panels": panels,
    }


def render(dashboard: Dashboard) -> str:
    return json.dumps(dashboard_json(dashboard), indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the JSON on disk is out of date")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for dashboard in DASHBOARDS:
        path = OUT_DIR / f"{dashboard.key}.json"
        text = render(dashboard)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m dashboards.build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Expand a Grafana ClickHouse panel query the way Grafana and the plugin do, so tests (and
people) can run dashboard SQL without Grafana.

What happens to a panel's ``rawSql`` in Grafana with ``grafana-clickhouse-datasource``
(v4), in order, and what this module copies:

1. The plugin's frontend (``CHDatasource.applyConditionalAll``) rewrites every
   ``$__conditionalAll(condition, $var)``, last occurrence first: ``1=1`` when ``$var`` has
   All (``$__all``) or an empty value selected, else the condition text unchanged.
   Arguments split at commas outside nested parentheses; a call without exactly two
   arguments stops the rewriting and leaves the query as it is.
2. Grafana's template service replaces ``$var``, ``${var}``, ``${var:format}`` and
   ``[[var]]``, using the plugin's default formatter when no format is given: a list
   becomes ``'a','b'`` (joined, not escaped), a single value is pasted as it is. All
   becomes the variable's custom all value when it has one (pasted raw, unformatted),
   else the list of every option's value. Built-ins: ``$__from``/``$__to`` (epoch ms),
   ``$__interval``, ``$__interval_ms``, ``$__range_s``, ``$__range_ms``.
3. The plugin's backend (``pkg/macros/macros.go`` via grafana/sqlds) expands the time
   macros: ``$__timeFilter(c)`` → ``c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)``,
   ``$__timeFilter_ms``, ``$__fromTime``/``$__toTime`` → ``toDateTime(<s>)``,
   ``$__fromTime_ms``/``$__toTime_ms`` → ``fromUnixTimestamp64Milli(<ms>)``,
   ``$__dateFilter(c)``, ``$__dateTimeFilter(d, t)`` (alias ``$__dt``),
   ``$__timeInterval(c)`` → ``toStartOfInterval(toDateTime(c), INTERVAL <n> second)``,
   ``$__timeInterval_ms(c)`` and ``$__interval_s``; the interval is at least 1 s.
   A macro name matches as a whole word; its arguments are the balanced parenthesised
   list right after it, split at top-level commas and trimmed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

ALL = "$__all"

__all__ = ["ALL", "ExpandError", "TimeRange", "Variable", "expand", "macro_args"]


class ExpandError(ValueError):
    """The query uses a macro or format this expander (and so the plugin) cannot expand."""


@dataclass(frozen=True)
class Variable:
    """A dashboard variable's current state.

    ``value`` is a string for a single-value variable, a list for a multi-value one, or
    ``ALL``. ``options`` are the values the variable's query returned (All expands to
    them unless ``all_value`` is set).
    """

    name: str
    value: str | list[str]
    options: Sequence[str] = field(default_factory=tuple)
    all_value: str | None = None

    @property
    def is_all(self) -> bool:
        return self.value == ALL or (isinstance(self.value, list) and self.value == [ALL])


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_seconds: float = 60.0

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment.tzinfo is None:
                raise ValueError("TimeRange needs timezone-aware datetimes")


def expand(sql: str, variables: Mapping[str, Variable] | Sequence[Variable], time_range: TimeRange) -> str:
    """The SQL Grafana would send to ClickHouse for this panel query."""
    if not isinstance(variables, Mapping):
        variables = {v.name: v for v in variables}
    sql = apply_conditional_all(sql, variables)
    sql = replace_variables(sql, variables, time_range)
    return apply_macros(sql, time_range)


# -- step 1: $__conditionalAll (plugin frontend) ----------------------------------------

_CONDITIONAL_ALL = "$__conditionalAll("
_VAR_IN_ARG = re.compile(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+")


def _frontend_macro_args(query: str, open_paren: int) -> list[str]:
    """The plugin's getMacroArgs: untrimmed arguments of the call whose '(' is at
    ``open_paren``; [] when the parentheses never balance."""
    args: list[str] = []
    depth = 0
    last = open_paren + 1
    for match in re.finditer(r"[(),]", query[open_paren:]):
        token = match.group()
        at = open_paren + match.start()
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if token == "," and depth == 1:
            args.append(query[last:at])
            last = at + 1
        if depth == 0:
            args.append(query[last:at])
            return args
    return []


def apply_conditional_all(sql: str, variables: Mapping[str, Variable]) -> str:
    index = sql.rfind(_CONDITIONAL_ALL)
    while index != -1:
        params = _frontend_macro_args(sql, index + len(_CONDITIONAL_ALL) - 1)
        if len(params) != 2:
            return sql
        phrase = params[0]
        found = _VAR_IN_ARG.search(params[1].strip())
        if found:
            variable = variables.get(found.group())
            current = _current_as_string(variable) if variable is not None else None
            if current in ("", ALL):
                phrase = "1=1"
        sql = sql.replace(f"{_CONDITIONAL_ALL}{params[0]},{params[1]})", phrase, 1)
        index = sql.rfind(_CONDITIONAL_ALL)
    return sql


def _current_as_string(variable: Variable) -> str:
    """``current.value.toString()`` in JavaScript: arrays join with commas."""
    if isinstance(variable.value, list):
        return ",".join(variable.value)
    return variable.value


# -- step 2: template variables (Grafana's template service) ---------------------------

_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def _quote_each(values: list[str], quote: str, escaped: str) -> str:
    return ",".join(f"{quote}{v.replace(quote, escaped)}{quote}" for v in values)


def _format(value: str | list[str], fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt is None:  # the plugin's own formatter
        return "'" + "','".join(values) + "'" if isinstance(value, list) else value
    if fmt == "singlequote":
        return _quote_each(values, "'", "\\'")
    if fmt == "doublequote":
        return _quote_each(values, '"', '\\"')
    if fmt == "sqlstring":
        return _quote_each(values, "'", "''")
    if fmt in ("csv", "raw", "text"):
        return ",".join(values)
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "json":
        import json

        return json.dumps(value)
    raise ExpandError(f"variable format {fmt!r} is not supported here")


def _builtin(name: str, time_range: TimeRange) -> str | None:
    start_ms = int(time_range.start.timestamp() * 1000)
    end_ms = int(time_range.end.timestamp() * 1000)
    interval_ms = max(int(time_range.interval_seconds * 1000), 1)
    return {
        "__from": str(start_ms),
        "__to": str(end_ms),
        "__interval_ms": str(interval_ms),
        "__interval": _seconds_to_hms(interval_ms / 1000),
        "__range_ms": str(end_ms - start_ms),
        "__range_s": str((end_ms - start_ms) // 1000),
    }.get(name)


def _seconds_to_hms(seconds: float) -> str:
    """Grafana's rangeutil.secondsToHms for the common cases."""
    for unit, size in (("y", 31536000), ("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1:
        return f"{int(seconds)}s"
    return f"{int(seconds * 1000)}ms"


def replace_variables(sql: str, variables: Mapping[str, Variable], time_range: TimeRange) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        variable = variables.get(name)
        if variable is None:
            builtin = _builtin(name, time_range)
            return builtin if builtin is not None else match.group(0)
        if variable.is_all:
            # A custom all value is pasted raw, whatever the format (Grafana's rule).
            if variable.all_value and fmt not in ("text", "percentencode", "queryparam"):
                return variable.all_value
            return _format(list(variable.options), fmt)
        return _format(variable.value, fmt)

    return _VARIABLE.sub(substitute, sql)


# -- step 3: time macros (plugin backend) ----------------------------------------------


def macro_args(text: str) -> tuple[list[str], int]:
    """sqlds parseArgs: the trimmed, top-level-comma-split arguments of a parenthesised
    list at the start of ``text`` and the list's length; ([], 0) if ``text`` does not start
    with '('. Raises ExpandError when the parenthesis never closes."""
    if not text.startswith("("):
        return [], 0
    depth = 0
    args: list[str] = []
    current: list[str] = []
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return args, i + 1
        elif char == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    raise ExpandError("failed to parse macro arguments (missing close bracket?)")


def _to_datetime(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _to_datetime64(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _to_date(moment: datetime) -> str:
    return f"toDate('{moment.astimezone(UTC).strftime('%Y-%m-%d')}')"


def _need(name: str, args: list[str], count: int) -> None:
    if len(args) != count:
        raise ExpandError(f"$__{name}: expected {count} argument(s), received {len(args)}")


def _macro(name: str, args: list[str], tr: TimeRange) -> str:
    seconds = int(max(tr.interval_seconds, 1))
    if name == "fromTime":
        return _to_datetime(tr.start)
    if name == "toTime":
        return _to_datetime(tr.end)
    if name == "fromTime_ms":
        return _to_datetime64(tr.start)
    if name == "toTime_ms":
        return _to_datetime64(tr.end)
    if name == "timeFilter":
        _need(name, args, 1)
        c = args[0]
        return f"{c} >= {_to_datetime(tr.start)} AND {c} <= {_to_datetime(tr.end)}"
    if name == "timeFilter_ms":
        _need(name, args, 1)
        c = args[0]
        return f"{c} >= {_to_datetime64(tr.start)} AND {c} <= {_to_datetime64(tr.end)}"
    if name == "dateFilter":
        _need(name, args, 1)
        c = args[0]
        return f"{c} >= {_to_date(tr.start)} AND {c} <= {_to_date(tr.end)}"
    if name in ("dateTimeFilter", "dt"):
        _need(name, args, 2)
        d, t = args
        return (f"({d} >= {_to_date(tr.start)} AND {d} <= {_to_date(tr.end)}) AND "
                f"({t} >= {_to_datetime(tr.start)} AND {t} <= {_to_datetime(tr.end)})")
    if name == "timeInterval":
        _need(name, args, 1)
        return f"toStartOfInterval(toDateTime({args[0]}), INTERVAL {seconds} second)"
    if name == "timeInterval_ms":
        _need(name, args, 1)
        ms = int(max(math.floor(tr.interval_seconds * 1000), 1))
        return f"toStartOfInterval(toDateTime64({args[0]}, 3), INTERVAL {ms} millisecond)"
    if name == "interval_s":
        return str(seconds)
    raise ExpandError(f"unknown macro $__{name}")


# Longest first so that e.g. timeFilter_ms is not read as timeFilter; \b keeps them apart too.
MACROS = ("dateTimeFilter", "timeInterval_ms", "timeFilter_ms", "fromTime_ms", "toTime_ms",
          "timeInterval", "timeFilter", "dateFilter", "interval_s", "fromTime", "toTime", "dt")
_ANY_MACRO = re.compile(r"\$__(\w+)")


def apply_macros(sql: str, time_range: TimeRange) -> str:
    for name in MACROS:
        pattern = re.compile(rf"\$__{name}\b")
        while True:
            match = pattern.search(sql)
            if match is None:
                break
            args, length = macro_args(sql[match.end():])
            full = sql[match.start():match.end() + length]
            sql = sql[:match.start()] + sql[match.start():].replace(full, _macro(name, args, time_range), 1)
    leftover = _ANY_MACRO.search(sql)
    if leftover:
        raise ExpandError(f"unexpanded macro or variable ${leftover.group()[1:]} in query")
    return sql

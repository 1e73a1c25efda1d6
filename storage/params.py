"""Query parameters of many tuples, bound fast.

Enrichment names sessions as ``(org, session)`` pairs: ``{keys:Array(Tuple(String,
String))}`` holds up to a few thousand of them. clickhouse-connect binds such a value by
walking it against the placeholder's type, parsing the type again for every tuple (~10 µs
a pair: 2 ms of Python for a query naming 200 sessions, more than the engine's work on
it). ``tuples_param`` writes the value's text once, element by element with
clickhouse-connect's own formatting, so the engine receives exactly the text it did
before. It is still a bound parameter: the server parses it as the placeholder's type,
never as SQL (``tests/test_storage_params.py`` checks the text is the same and that
hostile strings come back unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from clickhouse_connect.driver.binding import format_bind_value


class ParamText:
    """A parameter value already in the text clickhouse-connect sends for it: its binding
    passes any object that is not a known type through ``str()``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ParamText({self.text[:60]!r}{'...' if len(self.text) > 60 else ''})"


def _element(value: object) -> str:
    if isinstance(value, str):  # the common case, as format_bind_value writes a nested string
        return format_bind_value(value, None, False)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"tuples_param takes strings and integers, not {type(value).__name__}")
    return str(value)


def tuples_param(rows: Iterable[Sequence[str | int]]) -> ParamText:
    """An ``Array(Tuple(...))`` parameter of strings and integers, as its text."""
    return ParamText("[" + ", ".join("(" + ", ".join(map(_element, row)) + ")" for row in rows) + "]")

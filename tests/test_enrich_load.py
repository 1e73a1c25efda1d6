"""Enrichment's load builds Events from enrich_load_events.sql's columns (events_from_columns)
with a constructor made for the load's shape: a column with one value in every row is set
from that value. Whatever the columns hold, the Events are the ones the row-by-row path
(events_from_rows, Event(...) per row) builds: same values, same types, same signs of zero."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.model import (
    ATTRIBUTE_FIELDS,
    LOAD_COLUMN_ORDER,
    TYPED_FIELD_ORDER,
    Event,
    events_from_columns,
    events_from_rows,
)

_TYPES = {f.name: str(f.type) for f in fields(Event)}
_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0])
_BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "str": st.text(max_size=6) | st.sampled_from(["", "x"]),
    "int": st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.sampled_from([0, 1]),
    "int | None": st.none() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.sampled_from([0, 1]),
    "float": _FLOATS,
    "float | None": st.none() | _FLOATS,
    "bool | None": st.none() | st.booleans(),
}
# the raw attributes arrive as text, parsed on load: numbers, booleans, words, nothing
_ATTRIBUTE_TEXT = st.sampled_from(["", "", "true", "false", "0", "-0.0", "1.5", "12", "nan", "fast", "x y"])


def _column(draw: Any, values: st.SearchStrategy[Any], rows: int) -> list[Any]:
    """One column: a single value in every row (often: most fields are unset), a few
    values, or any; values are copied so that equal ones are distinct objects, as decoded
    ones are."""
    kind = draw(st.sampled_from(["one", "one", "few", "any"]))
    if kind == "one":
        value = draw(values)
        return [_copy(value) for _ in range(rows)]
    if kind == "few":
        choices = draw(st.lists(values, min_size=1, max_size=3))
        return [_copy(draw(st.sampled_from(choices))) for _ in range(rows)]
    return draw(st.lists(values, min_size=rows, max_size=rows))


def _copy(value: Any) -> Any:
    if isinstance(value, str):
        return "".join(list(value)) if len(value) > 1 else value
    if type(value) is int and not -5 <= value <= 256:
        return int(str(value))
    return value


@st.composite
def load_columns(draw: Any) -> list[list[Any]]:
    rows = draw(st.integers(min_value=1, max_value=12))
    columns = [_column(draw, _BY_TYPE[_TYPES[name]], rows) for name in TYPED_FIELD_ORDER]
    columns += [_column(draw, _ATTRIBUTE_TEXT, rows) for _ in ATTRIBUTE_FIELDS]
    columns.append(_column(draw, _BY_TYPE["int"], rows))  # ingested_at
    return columns


def _exactly(events: list[Event]) -> list[list[tuple[type, str]]]:
    """Every field's type and repr: tells 0.0 from -0.0, 1 from True, NaN from NaN."""
    return [[(type(getattr(e, f.name)), repr(getattr(e, f.name))) for f in fields(Event)] for e in events]


@settings(max_examples=300, deadline=None)
@given(load_columns())
def test_the_shaped_constructor_builds_the_events_row_by_row_does(columns: list[list[Any]]) -> None:
    expected = events_from_rows(LOAD_COLUMN_ORDER, list(zip(*columns, strict=True)))
    built = events_from_columns(LOAD_COLUMN_ORDER, columns)
    assert _exactly(built) == _exactly(expected)
    assert built == expected


def test_a_load_of_no_rows_is_no_events() -> None:
    assert events_from_columns(LOAD_COLUMN_ORDER, [[] for _ in LOAD_COLUMN_ORDER]) == []


def test_constant_columns_are_shared_and_floats_read_row_by_row() -> None:
    """A column with one value in every row gives every Event that one object (the cache
    holds less); a float column is read per row even when its values are equal, since 0.0
    and -0.0 are equal and are not the same value."""
    rows = 3
    defaults = {f.name: f.default for f in fields(Event)}
    given_values: dict[str, list[Any]] = {
        "org_id": ["o"] * rows, "event_name": ["api_request"] * rows, "timestamp": [1] * rows,
        "event_key": [10, 11, 12],
        "session_id": ["".join(["s", "-1"]) for _ in range(rows)],  # equal, distinct objects
        "cost_usd": [0.0, -0.0, 0.0],
    }
    columns = [given_values.get(name, [defaults[name]] * rows) for name in TYPED_FIELD_ORDER]
    columns += [[""] * rows for _ in ATTRIBUTE_FIELDS]
    columns.append([5] * rows)
    events = events_from_columns(LOAD_COLUMN_ORDER, columns)
    assert [e.event_key for e in events] == [10, 11, 12]
    assert len({id(e.session_id) for e in events}) == 1
    assert [repr(e.cost_usd) for e in events] == ["0.0", "-0.0", "0.0"]
    assert events == events_from_rows(LOAD_COLUMN_ORDER, list(zip(*columns, strict=True)))

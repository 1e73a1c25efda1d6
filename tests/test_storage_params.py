"""Tuple-array parameters bound from their text (storage/params.py): the text is exactly
what clickhouse-connect would send for the same value, and the engine reads hostile
strings back unchanged (a bound value, never SQL)."""

from __future__ import annotations

from clickhouse_connect.driver.binding import format_bind_value
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.client import Storage
from storage.params import tuples_param

HOSTILE = st.one_of(st.text(), st.sampled_from(["", "'", "\\", "\\'", "')", "'); DROP TABLE events; --", "\n\t\r\0",
                                                "{keys:String}", "[('a', 'b')]", "é日本🙂", "\\N"]))
ROWS = st.lists(st.tuples(HOSTILE, st.integers(-(2**63), 2**63 - 1), HOSTILE), max_size=20)


@settings(max_examples=300, deadline=None)
@given(rows=ROWS)
def test_the_text_is_what_clickhouse_connect_sends(rows: list[tuple[str, int, str]]) -> None:
    assert str(tuples_param(rows)) == format_bind_value(rows, None)
    pairs = [(a, b) for a, _, b in rows]
    assert str(tuples_param(pairs)) == format_bind_value(pairs, None)


def test_hostile_strings_come_back_unchanged_from_the_engine(storage: Storage) -> None:
    rows = [("org'", 1, "s\\1"), ("'); DROP TABLE events; --", -(2**63), "\n\t\0"), ("é日本🙂", 2**63 - 1, "\\N"),
            ("", 0, "{keys:String}")]
    got = storage.query_rows("SELECT arrayJoin({rows:Array(Tuple(String, Int64, String))}) AS row",
                             {"rows": tuples_param(rows)})
    assert [tuple(row[0]) for row in got] == rows
    assert storage.query_rows("SELECT length({rows:Array(Tuple(String, String))})", {"rows": tuples_param([])}) == [(0,)]
    assert storage.query_rows("SELECT count() FROM events") == [(0,)]  # still there


def test_only_strings_and_integers_are_taken() -> None:
    import pytest

    for bad in (1.5, True, None, b"x"):
        with pytest.raises(TypeError):
            tuples_param([("a", bad)])  # type: ignore[list-item]

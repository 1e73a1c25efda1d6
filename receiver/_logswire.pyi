# Type stub for the compiled logs decoder (receiver/_logswire_c/*.c); see receiver/decode_logs_fast.py.
from collections.abc import Callable
from typing import Any

def configure(
    ncols: int,
    special: dict[str, int],
    key_map: dict[str, tuple[int, int, int, Callable[[str], Any]]],
    defaults: tuple[tuple[int, Any], ...],
    json_dumps: Callable[[Any], str],
    to_int: Callable[[str], int | None],
    to_float: Callable[[str], float | None],
    nullable_int64: Callable[[str], int | None],
    parse_iso_timestamp_us: Callable[[str], int | None],
    out_of_range: type[Exception],
    max_tokens: int,
    max_duration_ms: float,
    max_cost_usd: float,
    /,
) -> None: ...
def decode(
    body: bytes,
    max_rows: int,
    max_expanded: int,
    row_overhead: int,
    max_attributes: int,
    max_attribute_length: int,
    max_key_length: int,
    org_for: Callable[[str], str],
    /,
) -> tuple[Any, ...]: ...
def scan(body: bytes, /) -> tuple[int, str, int, int, list[int]]: ...
def blake2b(data: bytes, digest_size: int, /) -> bytes: ...
def native_block(names: list[str], types: list[str], columns: list[list[Any]], /) -> bytes: ...

"""PostgreSQL's binary COPY format, which the recorder writes itself for the `states` table.

The stream (PostgreSQL documentation, COPY, "Binary Format"): an 11-byte signature, int32 flags
and an int32 header-extension length; per row an int16 field count, then per field an int32
length (-1 for NULL) and the value in its type's binary form; an int16 -1 at the end. Values:
timestamptz and bigint as int64 (microseconds since 2000-01-01 UTC), double precision as an
IEEE 754 float8, text as UTF-8, jsonb as a version byte 1 and the JSON text. Big-endian throughout.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

LENGTH = struct.Struct(">i").pack
INT8 = struct.Struct(">iq").pack  # a bigint or timestamptz field: length 8 and the value
FLOAT8 = struct.Struct(">id").pack
_FIELD_COUNT = struct.Struct(">h").pack
_UNPACK_INT16 = struct.Struct(">h").unpack_from
_UNPACK_INT32 = struct.Struct(">i").unpack_from
_UNPACK_INT64 = struct.Struct(">q").unpack_from
_UNPACK_FLOAT8 = struct.Struct(">d").unpack_from

# The `states` columns' types (as format_type names them), in rows.COLUMNS["states"] order; checked
# against the table at connect.
STATES_TYPES = ("timestamp with time zone", "bigint", "double precision", "timestamp with time zone", "text",
                "jsonb", "text", "text", "text", "text")


def microseconds(value: datetime) -> int:
    """A timestamptz as PostgreSQL stores it; a naive datetime is local time, as asyncpg has it.

    Unlike asyncpg, the calendar's two ends (0001-01-01 and 9999-12-31 23:59:59.999999 UTC) are
    written as they are, not as -infinity and infinity.
    """
    if value.utcoffset() is None:
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):  # within hours of the calendar's ends
            value = value.replace(tzinfo=UTC)
    return (value - PG_EPOCH) // ONE_US


def text_bytes(value: str) -> bytes:
    """UTF-8 that PostgreSQL takes: no NUL characters, a lone surrogate replaced by '?'."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        return value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


def text_field(value: str) -> bytes:
    data = text_bytes(value)
    return LENGTH(len(data)) + data


def jsonb_field(json_text: str) -> bytes:
    data = text_bytes(json_text)
    return LENGTH(len(data) + 1) + b"\x01" + data


def _field(kind: str, value: Any) -> bytes:
    if value is None:
        return NULL
    if kind == "text":
        return text_field(value if isinstance(value, str) else str(value))
    if kind == "jsonb":
        return jsonb_field(value)
    if kind == "timestamp with time zone":
        return INT8(8, microseconds(value))
    if kind == "bigint":
        return INT8(8, value)
    if kind == "double precision":
        return FLOAT8(8, value)
    raise ValueError(f"no binary COPY encoder for type {kind!r}")


def encode_row(types: Sequence[str], row: Sequence[Any]) -> bytes:
    """One row (any values the types allow, NULLs included): the general, slower path."""
    if len(row) != len(types):
        raise ValueError(f"a row of {len(row)} values for {len(types)} columns")
    return _FIELD_COUNT(len(types)) + b"".join(_field(kind, value) for kind, value in zip(types, row, strict=True))


def _value(kind: str, data: bytes, at: int, length: int) -> Any:
    if kind == "text":
        return data[at:at + length].decode()
    if kind == "jsonb":
        if data[at] != 1:
            raise ValueError(f"jsonb version {data[at]}, expected 1")
        return data[at + 1:at + length].decode()
    if kind == "timestamp with time zone":
        return PG_EPOCH + timedelta(microseconds=_UNPACK_INT64(data, at)[0])
    if kind == "bigint":
        return _UNPACK_INT64(data, at)[0]
    if kind == "double precision":
        return _UNPACK_FLOAT8(data, at)[0]
    raise ValueError(f"no binary COPY decoder for type {kind!r}")


def decode_rows(types: Sequence[str], data: bytes) -> list[tuple[Any, ...]]:
    """Rows (without header or trailer) back as values: jsonb as its text, times in UTC."""
    rows: list[tuple[Any, ...]] = []
    at = 0
    while at < len(data):
        count = _UNPACK_INT16(data, at)[0]
        if count != len(types):
            raise ValueError(f"a row of {count} fields for {len(types)} columns at byte {at}")
        at += 2
        row: list[Any] = []
        for kind in types:
            length = _UNPACK_INT32(data, at)[0]
            at += 4
            if length < 0:
                row.append(None)
                continue
            row.append(_value(kind, data, at, length))
            at += length
        rows.append(tuple(row))
    return rows


@dataclass
class EncodedRows:
    """One table's rows, encoded (no header or trailer), grouped by one column and in arrival order
    within a group. They are sent group after group in the key's order: PostgreSQL then inserts
    each entity's rows next to each other into the (entity_id, time) index, which cost it about
    a sixth less CPU per row than rows in arrival order (a side experiment, docs/recorder.md)."""

    types: tuple[str, ...]
    key_column: int
    # A bytearray per group: it holds no references, so the garbage collector never tracks it
    # (a list of rows per entity and batch doubled the young collections in the bench's latency
    # rounds).
    groups: dict[str, bytearray] = field(default_factory=dict)
    count: int = 0

    def add(self, row: Sequence[Any]) -> None:
        key = str(row[self.key_column])
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = bytearray()
        group += encode_row(self.types, row)
        self.count += 1

    def ordered(self) -> Iterator[bytearray]:
        """The rows as they are sent: one piece per group."""
        groups = self.groups
        for key in sorted(groups):
            yield groups[key]

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as values, in the order they are sent."""
        return decode_rows(self.types, b"".join(self.ordered()))


def stream(chunks: Iterable[bytes | bytearray], send_bytes: int) -> Iterable[bytes]:
    """The COPY data: header, the rows in pieces of about `send_bytes`, trailer."""
    group: list[bytes | bytearray] = [HEADER]
    size = len(HEADER)
    for chunk in chunks:
        group.append(chunk)
        size += len(chunk)
        if size >= send_bytes:
            yield b"".join(group)
            group, size = [], 0
    group.append(TRAILER)
    yield b"".join(group)

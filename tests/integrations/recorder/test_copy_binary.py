"""The recorder's own binary COPY of state rows: what PostgreSQL reads from it is what asyncpg's
record path writes for the same values, and what the state machine set."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from orbiteos.core import Context, Event, Hub, State
from orbiteos.integrations.recorder.copy_binary import STATES_TYPES, EncodedRows, decode_rows, encode_row
from orbiteos.integrations.recorder.rows import COLUMNS, STATES_ENTITY_ID, RowBuilder
from orbiteos.integrations.recorder.writer import SchemaMismatch, Writer, apply_schema

T = datetime(2026, 12, 2, 4, 30, 1, 123456, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

# ROWS: every column type, NULLs, non-ASCII, the float8 specials, times in other zones and naive
# (local). Listed in this order; _row puts them in the writer's (COLUMNS["states"]).
_LISTED_AS = ("time", "seq", "entity_id", "state", "value", "attributes", "last_changed", "context_id",
              "context_user_id", "context_parent_id")


def _row(*values: Any) -> tuple[Any, ...]:
    by_name = dict(zip(_LISTED_AS, values, strict=True))
    return tuple(by_name[name] for name in COLUMNS["states"])


ROWS: list[tuple[Any, ...]] = [_row(*values) for values in [
    (T, 1, "sensor.a", "12.5", 12.5, '{"unit":"kW"}', None, "c1", None, None),
    (T.astimezone(BERLIN), 2, "sensor.ü", "héllo ✓ 😀", None, '{"name":"\\u00dcn\\u00efcode"}', T - timedelta(days=400),
     "c2", "usér", "parent ✓"),
    (datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))), 3, "sensor.b", "nan",
     math.nan, "{}", datetime(1999, 12, 31, 23, 59, 59), "", "", ""),
    (datetime(2026, 12, 2, 5, 0, 0), 4, "sensor.b", "inf", math.inf, '{"a":[1,2.5,null,true,{"b":"c"}]}',
     None, None, None, None),
    (T, 5, "sensor.b", "-inf", -math.inf, None, None, "c5", None, None),
    (T, 6, "sensor.b", "-0.0", -0.0, '{"big":1000000000000000000000000000000}', None, "c6", None, None),
    (T, 7, "sensor.b", "1e308", 1e308, '"just a string"', None, "c7", None, None),
    (T, 2**62, "sensor." + "x" * 300, "y" * 5000, 5e-324, json.dumps({"long": "z" * 10_000}), None, "i" * 100,
     None, None),
    (T, -1, "sensor.c", None, None, None, None, None, None, None),
]]


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await apply_schema(conn)
    await conn.execute("CREATE TABLE states_records (LIKE states INCLUDING ALL)")
    return conn


async def _read(conn: asyncpg.Connection, table: str) -> list[dict[str, Any]]:
    return [dict(row) for row in await conn.fetch(f"SELECT * FROM {table} ORDER BY seq")]  # noqa: S608


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


async def test_binary_copy_reads_back_as_the_records_path_writes(postgres_url: str):
    conn = await _connect(postgres_url)
    try:
        await conn.copy_records_to_table("states_records", records=ROWS, columns=COLUMNS["states"])
        encoded = EncodedRows(STATES_TYPES, STATES_ENTITY_ID)
        for row in ROWS:
            encoded.add(row)
        await _write(conn, encoded)
        by_records, by_binary = await _read(conn, "states_records"), await _read(conn, "states")
    finally:
        await conn.close()
    assert len(by_binary) == len(ROWS)
    for expected, found in zip(by_records, by_binary, strict=True):
        assert expected.keys() == found.keys()
        assert all(_same(expected[k], found[k]) for k in expected), (expected, found)


def test_encoded_rows_decode_to_their_values():
    data = b"".join(encode_row(STATES_TYPES, row) for row in ROWS)
    for row, decoded in zip(ROWS, decode_rows(STATES_TYPES, data), strict=True):
        as_utc = tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)
        assert all(_same(a, b) for a, b in zip(as_utc, decoded, strict=True)), (as_utc, decoded)


def _states() -> list[State | Event]:
    clock_state = Context()
    return [
        State("sensor.a", "12.5", {"unit_of_measurement": "kW"}, None, T, clock_state),
        State("sensor.a", "13", {"unit_of_measurement": "kW"}, None, T + timedelta(seconds=1), clock_state),
        State("sensor.a", "13", {"unit_of_measurement": "kW", "n": 1}, T + timedelta(seconds=1),
              T + timedelta(seconds=2), Context(user_id="installer", parent_id="p-1")),
        State("sensor.ü", "wörld ✓ 😀", {"name": "Ünïcode", "list": [1, 2.5, None, True]}, None,
              T.astimezone(BERLIN), Context()),
        State("sensor.b", "nan", {"nan": math.nan}, None, T, Context()),
        State("sensor.b", "-inf", {}, None, T, Context()),
        State("sensor.b", "1_000", {}, None, T, Context()),
        State("sensor.b", "", {}, None, T, Context()),
        State("sensor.c", "a\x00b", {"n": "x\x00y"}, None, T, Context(id="ctx\x00id")),
        State("sensor.c", "lone \ud800 surrogate", {}, None, T, Context()),
        State("sensor.c", "naive", {}, None, datetime(2026, 12, 2, 5, 0, 0), Context()),
        State("sensor.c", "ends", {}, None, datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), Context()),
        Event("state_changed", {"entity_id": "sensor.a", "old_state": None, "new_state": None}, T, Context()),
    ]


async def test_state_rows_read_back_as_the_states_were_set(postgres_url: str):
    items = _states()
    rows = await _written(postgres_url, items)
    assert [r["seq"] for r in rows] == list(range(1, len(items) + 1))
    states = [item for item in items if isinstance(item, State)]
    for state, row in zip(states, rows, strict=False):
        assert row["time"] == state.last_updated.astimezone(), state
        assert row["last_changed"] == (None if state.last_changed is state.last_updated else state.last_changed)
        assert json.loads(row["attributes"]) == {k: (None if k == "nan" else v.replace("\x00", "")
                                                     if isinstance(v, str) else v) for k, v in state.attributes.items()}
    assert [r["state"] for r in rows] == ["12.5", "13", "13", "wörld ✓ 😀", "nan", "-inf", "1_000", "", "ab",
                                          "lone ? surrogate", "naive", "ends", None]
    assert [r["value"] for r in rows] == [12.5, 13.0, 13.0, None, None, None, 1000.0, None, None, None, None, None,
                                          None]
    assert [r["entity_id"] for r in rows][3] == "sensor.ü"
    assert (rows[0]["context_id"], rows[1]["context_id"]) == (states[0].context.id,) * 2
    assert (rows[2]["context_user_id"], rows[2]["context_parent_id"]) == ("installer", "p-1")
    assert rows[8]["context_id"] == "ctxid"
    assert rows[10]["time"] == datetime(2026, 12, 2, 5, 0, 0).astimezone()  # naive: local time, as asyncpg has it
    assert (rows[-1]["entity_id"], rows[-1]["attributes"]) == ("sensor.a", None)  # removed: no state


async def test_state_rows_of_the_state_machine_read_back_as_they_were_set(postgres_url: str):
    hub = Hub()
    seen: list[State] = []
    hub.bus.listen("state_changed", lambda e: seen.append(e.data["new_state"]))
    for n in range(100):
        hub.states.set(f"sensor.load_{n % 7}", n * 0.5 if n % 3 else "unavailable", {"n": n // 10})
    rows = await _written(postgres_url, seen)
    assert [(r["entity_id"], r["state"], r["time"], json.loads(r["attributes"])) for r in rows] == [
        (s.entity_id, s.state, s.last_updated, dict(s.attributes)) for s in seen]
    assert [r["value"] for r in rows] == [None if s.state == "unavailable" else float(s.state) for s in seen]


async def test_a_states_table_of_other_column_types_is_refused_at_connect(postgres_url: str):
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE states (time timestamptz NOT NULL, seq bigint NOT NULL, "
                           "entity_id text NOT NULL, state text, value real, attributes json)")
        with pytest.raises(SchemaMismatch, match="value is real, expected double precision"):
            await apply_schema(conn)
    finally:
        await conn.close()


async def _written(url: str, items: Sequence[State | Event]) -> list[dict[str, Any]]:
    """The states rows the builder makes of `items`, written by the writer and read back."""
    conn = await _connect(url)
    try:
        await _write(conn, RowBuilder(1).build(items).states)
        return await _read(conn, "states")
    finally:
        await conn.close()


async def _write(conn: asyncpg.Connection, states: EncodedRows) -> None:
    writer = Writer(_no_dsn)
    writer.conn = conn
    batch = RowBuilder(1).build([])
    batch.states = states
    assert await writer.write(batch)


async def _no_dsn() -> str:
    raise AssertionError("the test hands the writer its connection")

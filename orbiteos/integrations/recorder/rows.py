"""Turns what the listeners queued (State and Event objects) into rows for COPY, one batch at a time.

State rows, nearly all of the volume, are encoded here straight into binary COPY data
(copy_binary.py): asyncpg's encoding of row tuples cost about twice as much per row as building
them did. The other tables stay as columns of plain values for asyncpg's `copy_records_to_table`.
"""

from __future__ import annotations

import json
import math
import struct
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from types import MappingProxyType
from typing import Any, cast

from orbiteos.core import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED, Context, Event, State
from orbiteos.integrations.recorder import energy, traces
from orbiteos.integrations.recorder.copy_binary import (
    LENGTH,
    NULL,
    ONE_US,
    PG_EPOCH,
    STATES_TYPES,
    EncodedRows,
    encode_row,
    jsonb_field,
    text_field,
)

EVENT_GRID = "grid_event"
# Events that are grid events too: the fail-safe entering and leaving, setpoint conflicts (orbiteos.natures).
GRID_EVENT_TYPES = frozenset({EVENT_GRID, "failsafe", "setpoint_conflict"})
EVENT_AUTOMATION_RUN_FINISHED = "automation_run_finished"
# Fired by orbiteos.forecast and orbiteos.optimiser: one row per slot of the forecast / the plan.
EVENT_FORECAST_UPDATED = "forecast_updated"
EVENT_OPTIMIZATION_RESULT = "optimization_result"

# Column order of each table as the recorder writes it (a subset of schema.sql's columns).
COLUMNS: dict[str, tuple[str, ...]] = {
    # The fixed-size columns first: the builder packs them in one go (see RowBuilder.build).
    "states": ("time", "seq", "value", "last_changed", "entity_id", "attributes", "state",
               "context_id", "context_user_id", "context_parent_id"),
    "events": ("time", "seq", "event_type", "data", "context_id", "context_user_id", "context_parent_id"),
    "audit_log": ("time", "seq", "user_id", "domain", "service", "service_data", "handled",
                  "context_id", "context_parent_id"),
    "automation_runs": ("time", "seq", "finished", "automation_id", "entity_id", "run_id", "result", "error",
                        "trace", "context_id"),
    "grid_events": ("time", "kind", "entity_id", "value", "data", "context_id"),
    "device_telemetry": energy.DEVICE_TELEMETRY_COLUMNS,
    "energy_flows": energy.ENERGY_FLOWS_COLUMNS,
    "energy_prices": energy.ENERGY_PRICES_COLUMNS,
    "forecasts": ("time", "created", "source", "entity_id", "value", "unit"),
    "optimization_results": ("time", "created", "run_id", "entity_id", "setpoint_kw", "objective", "cost", "data"),
}

STATES_ENTITY_ID = COLUMNS["states"].index("entity_id")

Row = tuple[Any, ...]
# A table's rows column by column: plain values in a few lists. A row tuple per row would be a
# container the garbage collector tracks, and tens of thousands of them alive at a time make
# it collect often; values in lists cost it nothing.
Columns = list[list[Any]]
QueueItem = State | Event

_PLAIN, _NATURE, _PRICE = "plain", "nature", "price"


def new_columns(table: str) -> Columns:
    return [[] for _ in COLUMNS[table]]


@dataclass
class Batch:
    """Rows for several tables, written in one transaction under one id (so a replay is recognised)."""

    batch_id: uuid.UUID
    first_seq: int
    last_seq: int
    tables: dict[str, Columns] = field(default_factory=dict)  # every table but states
    states: EncodedRows = field(default_factory=lambda: EncodedRows(STATES_TYPES, STATES_ENTITY_ID))

    @property
    def items(self) -> int:
        return self.last_seq - self.first_seq + 1

    @property
    def rows(self) -> int:
        return self.states.count + sum(len(columns[0]) for columns in self.tables.values())

    def add(self, table: str, row: Row) -> None:
        if table == "states":
            self.states.add(row)
            return
        columns = self.tables.get(table)
        if columns is None:
            columns = self.tables[table] = new_columns(table)
        for column, value in zip(columns, row, strict=True):
            column.append(value)

    def rows_of(self, table: str) -> list[Row]:
        """A table's rows as tuples (for tests and benchmarks)."""
        if table == "states":
            return self.states.rows()
        columns = self.tables.get(table)
        return list(zip(*columns, strict=True)) if columns else []


# ---------------------------------------------------------------- JSON for jsonb columns


def _default(value: Any) -> Any:
    if isinstance(value, State | Context):
        return value.as_dict()
    if isinstance(value, Event):
        return value.as_dict()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


_encode = json.JSONEncoder(default=_default, allow_nan=False, separators=(",", ":")).encode


def _clean(value: Any) -> Any:
    """What PostgreSQL's jsonb refuses, made acceptable: NaN/inf become null, NUL characters go."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    if isinstance(value, State | Context | Event):
        return _clean(value.as_dict())
    return value


def to_json(value: Any) -> str | None:
    """jsonb text for COPY (asyncpg sends a str to a jsonb column as is)."""
    if value is None:
        return None
    if type(value) is MappingProxyType:  # State.attributes: the C encoder takes a dict only
        if not value:
            return "{}"
        value = value.copy()
    try:
        text = _encode(value)
    except (ValueError, TypeError, RecursionError):
        return _encode(_clean(value))
    if "\\u0000" in text:
        return _encode(_clean(value))
    return text


def text(value: Any) -> str | None:
    """A text column: PostgreSQL refuses NUL characters in text."""
    if value is None:
        return None
    value = value if isinstance(value, str) else str(value)
    return value.replace("\x00", "") if "\x00" in value else value


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo is not None else fallback
    return fallback


# ---------------------------------------------------------------- the builder

# A states row starts with its field count and its fixed-size fields (time, seq, value,
# last_changed; COLUMNS["states"] puts them first): one pack for each of the four shapes.
_HEAD = struct.Struct(">hiqiqidi").pack  # a number; last_changed NULL (changed in this row)
_HEAD_NO_VALUE = struct.Struct(">hiqiqii").pack
_HEAD_CHANGED = struct.Struct(">hiqiqidiq").pack
_HEAD_NO_VALUE_CHANGED = struct.Struct(">hiqiqiiiq").pack
_LENGTHS = tuple(LENGTH(n) for n in range(256))
# The three context fields of a context as `Context()` makes it: a 32-character id, no user, no parent.
_NEW_CONTEXT = struct.Struct(">i32sii").pack


class _Entity:
    """What the builder keeps per entity: its last attributes, and its id and those attributes encoded."""

    __slots__ = ("entity_id_field", "attributes", "fields", "kind")

    def __init__(self, entity_id: str, kind: str) -> None:
        self.entity_id_field = text_field(entity_id)
        self.attributes: Mapping[str, Any] | None = None
        self.fields = b""  # entity_id and attributes, next to each other in COLUMNS["states"]
        self.kind = kind


def _attributes_field(attributes: Mapping[str, Any]) -> bytes:
    try:
        # State.attributes is a MappingProxyType: copy() is its dict's fast copy.
        json_text = _encode(attributes.copy()) if attributes else "{}"  # type: ignore[attr-defined]
        if "\\u0000" in json_text:
            raise ValueError("NUL character")
    except (ValueError, TypeError, RecursionError):
        json_text = to_json(attributes) or "{}"
    return jsonb_field(json_text)


def _context_fields(ctx: Context) -> bytes:
    return b"".join(NULL if value is None else text_field(value) for value in (ctx.id, ctx.user_id, ctx.parent_id))


class RowBuilder:
    """Numbers queue items in order (`seq`) and converts them to rows per table."""

    def __init__(self, first_seq: int, price_entities: Collection[str] = ()) -> None:
        self.next_seq = first_seq
        self._price_entities = frozenset(price_entities)
        self._entities: dict[str, _Entity] = {}

    def new_batch(self) -> Batch:
        """An empty batch whose rows will be numbered on from the last ones."""
        return Batch(uuid.uuid4(), self.next_seq, self.next_seq - 1)

    def build(self, items: Iterable[QueueItem], into: Batch | None = None) -> Batch:
        """Rows for `items`, numbered on from the last ones; added to `into` when given.

        The hot loop of the recorder: a state row costs one float() attempt, two struct packs,
        five appends to its entity's bytearray and, when the attributes changed, one JSON encode.
        """
        batch = into if into is not None else self.new_batch()
        seq = self.next_seq - 1
        groups = batch.states.groups
        state_rows = 0
        entities = self._entities
        epoch, one_us, lengths, new_context = PG_EPOCH, ONE_US, _LENGTHS, _NEW_CONTEXT
        last_context: Context | None = None
        context_fields = b""
        for item in items:
            seq += 1
            if type(item) is not State:
                event = cast(Event, item)
                if event.event_type == EVENT_STATE_CHANGED:  # an entity removed: a states row with no state
                    batch.states.add(self._removed_row(event, seq))
                    entities.pop(event.data.get("entity_id", ""), None)  # its cached fields go with it
                else:
                    self._event_rows(event, seq, batch)
                continue
            state_rows += 1
            state_text = item.state
            value: float | None
            try:
                value = float(state_text)
                if value - value != 0.0:  # nan, inf
                    value = None
            except ValueError:
                value = None
            entity_id = item.entity_id
            entity = entities.get(entity_id)
            if entity is None:
                entity = entities[entity_id] = _Entity(entity_id, self._kind(item))
            attributes = item.attributes
            if entity.attributes != attributes:  # most updates change the state, not the attributes
                entity.fields = entity.entity_id_field + _attributes_field(attributes)
                entity.attributes = attributes
            rows_of_entity = groups.get(entity_id)
            if rows_of_entity is None:
                rows_of_entity = groups[entity_id] = bytearray()
            ctx = item.context
            updated = item.last_updated
            changed = item.last_changed
            try:
                time_us = (updated - epoch) // one_us
                if changed is updated:  # last_changed NULL: changed with this row
                    head = (_HEAD(10, 8, time_us, 8, seq, 8, value, -1) if value is not None
                            else _HEAD_NO_VALUE(10, 8, time_us, 8, seq, -1, -1))
                else:
                    changed_us = (changed - epoch) // one_us
                    head = (_HEAD_CHANGED(10, 8, time_us, 8, seq, 8, value, 8, changed_us) if value is not None
                            else _HEAD_NO_VALUE_CHANGED(10, 8, time_us, 8, seq, -1, 8, changed_us))
                if ctx is not last_context:
                    last_context = ctx
                    context_id = ctx.id.encode()
                    if (len(context_id) == 32 and ctx.user_id is None and ctx.parent_id is None
                            and b"\x00" not in context_id):
                        context_fields = new_context(32, context_id, -1, -1)
                    else:
                        context_fields = _context_fields(ctx)
                if "\x00" in state_text:
                    state_text = state_text.replace("\x00", "")
                state_bytes = state_text.encode()
            except (TypeError, ValueError, struct.error):  # a naive datetime, a lone surrogate: the general path
                last_context = None
                rows_of_entity += encode_row(STATES_TYPES, (
                    updated, seq, value, None if changed is updated else changed, entity_id,
                    entity.fields[len(entity.entity_id_field) + 5:].decode(), state_text,
                    ctx.id, ctx.user_id, ctx.parent_id,
                ))
            else:  # every piece is made: only now append (nothing half-written if one failed)
                size = len(state_bytes)
                rows_of_entity += head
                rows_of_entity += entity.fields
                rows_of_entity += lengths[size] if size < 256 else LENGTH(size)
                rows_of_entity += state_bytes
                rows_of_entity += context_fields
            kind = entity.kind
            if kind is _PLAIN:
                continue
            if kind is _NATURE:
                batch.add("device_telemetry", energy.telemetry_row(item, value))
                for flow in energy.flow_rows(item, value):
                    batch.add("energy_flows", flow)
            else:
                price = energy.price_row(item, value)
                if price is not None:
                    batch.add("energy_prices", price)
        batch.states.count += state_rows
        batch.last_seq = seq
        self.next_seq = seq + 1
        return batch

    def _kind(self, state: State) -> str:
        """What else a state of this entity feeds besides `states` (decided once per entity)."""
        if state.domain in energy.NATURES:
            return _NATURE
        if energy.is_price_sensor(state, self._price_entities):
            return _PRICE
        return _PLAIN

    def _removed_row(self, event: Event, seq: int) -> Row:
        ctx = event.context
        return (event.time_fired, seq, None, None, text(event.data.get("entity_id")), None, None,
                ctx.id, ctx.user_id, ctx.parent_id)

    def _event_rows(self, event: Event, seq: int, batch: Batch) -> None:
        ctx = event.context
        data = event.data
        kind = event.event_type
        event_data: Mapping[str, Any] = data
        if kind == EVENT_CALL_SERVICE:
            batch.add("audit_log", (
                event.time_fired, seq, text(ctx.user_id), text(data.get("domain")), text(data.get("service")),
                to_json(data.get("service_data")), bool(data.get("handled", True)), ctx.id, ctx.parent_id,
            ))
        elif kind in GRID_EVENT_TYPES:
            grid_kind = data.get("kind") or data.get("type") or data.get("event") or kind
            batch.add("grid_events", (
                event.time_fired, text(grid_kind), text(data.get("entity_id")), energy.number(data.get("value")),
                to_json(data), ctx.id,
            ))
        elif kind == EVENT_AUTOMATION_RUN_FINISHED:
            started = _time(data.get("started"), event.time_fired)
            batch.add("automation_runs", (
                started, seq, _time(data.get("finished"), event.time_fired),
                text(data.get("automation_id") or data.get("entity_id") or "unknown"), text(data.get("entity_id")),
                text(data.get("run_id")), text(data.get("result")), text(data.get("error")),
                to_json(traces.compact(data.get("trace"))), ctx.id,
            ))
            return  # its row in automation_runs holds all of it: no events row besides
        elif kind == EVENT_FORECAST_UPDATED:
            self._forecast_rows(event, batch)
            event_data = {k: v for k, v in data.items() if k != "forecast"}  # the slots live in `forecasts`
        elif kind == EVENT_OPTIMIZATION_RESULT:
            self._optimization_rows(event, batch)
            event_data = {k: v for k, v in data.items() if k != "rows"}
        batch.add("events", (
            event.time_fired, seq, text(kind), to_json(event_data), ctx.id, ctx.user_id, ctx.parent_id,
        ))

    @staticmethod
    def _forecast_rows(event: Event, batch: Batch) -> None:
        data = event.data
        created = _time(data.get("created"), event.time_fired)
        for entry in data.get("forecast") or ():
            if isinstance(entry, Mapping):
                batch.add("forecasts", (
                    _time(entry.get("start"), event.time_fired), created, text(data.get("source")),
                    text(data.get("entity_id")), energy.number(entry.get("value")), text(data.get("unit")),
                ))

    @staticmethod
    def _optimization_rows(event: Event, batch: Batch) -> None:
        data = event.data
        created = _time(data.get("created"), event.time_fired)
        for row in data.get("rows") or ():
            if isinstance(row, Mapping):
                batch.add("optimization_results", (
                    _time(row.get("time"), event.time_fired), created, text(data.get("run_id")),
                    text(row.get("entity_id")), energy.number(row.get("setpoint_kw")), text(data.get("objective")),
                    energy.number(data.get("cost")), to_json({k: v for k, v in row.items()
                                                             if k not in ("time", "entity_id", "setpoint_kw")}),
                ))

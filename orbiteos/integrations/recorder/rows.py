"""Turns what the listeners queued (State and Event objects) into rows for COPY, one batch at a time."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from types import MappingProxyType
from typing import Any

from orbiteos.core import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED, Context, Event, State
from orbiteos.integrations.recorder import energy

EVENT_GRID = "grid_event"
EVENT_AUTOMATION_RUN_FINISHED = "automation_run_finished"

# Column order of each table as the recorder writes it (a subset of schema.sql's columns).
COLUMNS: dict[str, tuple[str, ...]] = {
    "states": ("time", "seq", "entity_id", "state", "value", "attributes", "last_changed",
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
}

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
    tables: dict[str, Columns] = field(default_factory=dict)

    @property
    def items(self) -> int:
        return self.last_seq - self.first_seq + 1

    @property
    def rows(self) -> int:
        return sum(len(columns[0]) for columns in self.tables.values())

    def add(self, table: str, row: Row) -> None:
        columns = self.tables.get(table)
        if columns is None:
            columns = self.tables[table] = new_columns(table)
        for column, value in zip(columns, row, strict=True):
            column.append(value)

    def rows_of(self, table: str) -> list[Row]:
        """A table's rows as tuples (for tests and benchmarks)."""
        columns = self.tables.get(table)
        return list(zip(*columns, strict=True)) if columns else []

    def extend(self, later: Batch) -> None:
        """Append the rows of the batch that directly follows this one (keeping this one's id)."""
        if later.first_seq != self.last_seq + 1:
            raise ValueError(f"batch {later.first_seq}.. does not follow ..{self.last_seq}")
        for table, columns in later.tables.items():
            mine = self.tables.get(table)
            if mine is None:
                self.tables[table] = columns
            else:
                for column, more in zip(mine, columns, strict=True):
                    column.extend(more)
        self.last_seq = later.last_seq


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


class RowBuilder:
    """Numbers queue items in order (`seq`) and converts them to rows per table."""

    def __init__(self, first_seq: int, price_entities: Collection[str] = ()) -> None:
        self.next_seq = first_seq
        self._price_entities = frozenset(price_entities)
        self._kinds: dict[str, str] = {}
        # Per entity, its last attributes and their JSON.
        self._last_attributes: dict[str, tuple[Mapping[str, Any], str]] = {}

    def build(self, items: Iterable[QueueItem], into: Batch | None = None) -> Batch:
        """Rows for `items`, numbered on from the last ones; added to `into` when given.

        The hot loop of the recorder: a state row costs one float() attempt and, when the
        attributes changed, one JSON encode.
        """
        batch = into if into is not None else Batch(uuid.uuid4(), self.next_seq, self.next_seq - 1)
        seq = self.next_seq - 1
        states = batch.tables.get("states")
        if states is None:
            states = batch.tables["states"] = new_columns("states")
        (a_time, a_seq, a_entity, a_state, a_value, a_attributes, a_changed,
         a_context, a_user, a_parent) = (column.append for column in states)
        kinds = self._kinds
        last_attributes = self._last_attributes
        encode = _encode
        for item in items:
            seq += 1
            if type(item) is not State:
                self._event_rows(item, seq, batch)  # type: ignore[arg-type]
                continue
            state_text = item.state
            value: float | None
            try:
                number = float(state_text)
                value = number if number - number == 0.0 else None  # not nan, inf
            except ValueError:
                value = None
            attributes = item.attributes
            entity_id = item.entity_id
            last = last_attributes.get(entity_id)
            if last is not None and last[0] == attributes:
                attributes_json = last[1]  # most updates change the state, not the attributes
            else:
                try:
                    # State.attributes is a MappingProxyType: copy() is its dict's fast copy.
                    attributes_json = encode(attributes.copy()) if attributes else "{}"  # type: ignore[attr-defined]
                    if "\\u0000" in attributes_json:
                        raise ValueError("NUL character")
                except (ValueError, TypeError, RecursionError):
                    attributes_json = to_json(attributes) or "{}"
                last_attributes[entity_id] = (attributes, attributes_json)
            if "\x00" in state_text:
                state_text = state_text.replace("\x00", "")
            ctx = item.context
            a_time(item.last_updated)
            a_seq(seq)
            a_entity(entity_id)
            a_state(state_text)
            a_value(value)
            a_attributes(attributes_json)
            changed = item.last_changed
            a_changed(None if changed is item.last_updated else changed)  # NULL: changed with this row
            a_context(ctx.id)
            a_user(ctx.user_id)
            a_parent(ctx.parent_id)
            kind = kinds.get(entity_id)
            if kind is None:
                kind = kinds[entity_id] = self._kind(item)
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
        if not states[0]:
            del batch.tables["states"]
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

    def _event_rows(self, event: Event, seq: int, batch: Batch) -> None:
        ctx = event.context
        data = event.data
        kind = event.event_type
        if kind == EVENT_STATE_CHANGED:  # an entity removed: a states row with no state
            batch.add("states", (
                event.time_fired, seq, text(data.get("entity_id")), None, None, None, None,
                ctx.id, ctx.user_id, ctx.parent_id,
            ))
            return
        event_data: Mapping[str, Any] = data
        if kind == EVENT_CALL_SERVICE:
            batch.add("audit_log", (
                event.time_fired, seq, text(ctx.user_id), text(data.get("domain")), text(data.get("service")),
                to_json(data.get("service_data")), bool(data.get("handled", True)), ctx.id, ctx.parent_id,
            ))
        elif kind == EVENT_GRID:
            grid_kind = data.get("kind") or data.get("type") or data.get("event") or "unknown"
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
                to_json(data.get("trace")), ctx.id,
            ))
            # The trace lives in automation_runs; the events row keeps the rest.
            event_data = {k: v for k, v in data.items() if k != "trace"}
        batch.add("events", (
            event.time_fired, seq, text(kind), to_json(event_data), ctx.id, ctx.user_id, ctx.parent_id,
        ))

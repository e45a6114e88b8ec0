"""Replay timelines: a CSV of states and events fed into a simulation at their moments.

Header `time,entity_id,state,attributes`. `time` is seconds relative to the start (float, may be
negative) or an ISO 8601 timestamp; `attributes` is a JSON object or empty; an `entity_id` of the
form `event:<event_type>` fires that event with `attributes` as its data. Rows before the start set
the initial states before automations start, so they trigger nothing.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import groupby
from pathlib import Path
from typing import Any

from orbiteos.core import MAX_STATE_LENGTH, Context, Hub, valid_entity_id
from orbiteos.errors import ConfigError

_LOGGER = logging.getLogger(__name__)

HEADER = ["time", "entity_id", "state", "attributes"]
EVENT_PREFIX = "event:"


class ReplayError(ConfigError):
    """A replay file that cannot be read; names the CSV line."""


@dataclass(frozen=True)
class ReplayRow:
    offset: float  # seconds since the start
    entity_id: str | None
    event_type: str | None
    state: str
    attributes: dict[str, Any] = field(default_factory=dict)
    line: int = 0


def _parse_time(text: str, start: datetime, tz: tzinfo) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text)  # ValueError is reported by the caller
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return (moment - start).total_seconds()


def parse_replay(lines: Iterable[str], start: datetime, tz: tzinfo, name: str = "replay.csv") -> list[ReplayRow]:
    """Rows in time order (rows at the same time keep their file order)."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ReplayError(f"expected the header '{','.join(HEADER)}', found an empty file", name, 1)
    if [h.strip().lower() for h in header] != HEADER:
        raise ReplayError(f"expected the header '{','.join(HEADER)}', found {','.join(header)!r}", name, 1)
    rows: list[ReplayRow] = []
    for row in reader:
        line = reader.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) not in (3, 4):
            raise ReplayError(
                f"expected 4 columns (time,entity_id,state,attributes), found {len(row)}: {','.join(row)!r}", name, line
            )
        time_text, target, state = row[0], row[1].strip(), row[2]
        attributes_text = row[3].strip() if len(row) == 4 else ""
        try:
            offset = _parse_time(time_text, start, tz)
        except ValueError:
            raise ReplayError(
                f"time: expected seconds since the start or an ISO 8601 timestamp, found {time_text!r}", name, line
            ) from None
        attributes: dict[str, Any] = {}
        if attributes_text:
            try:
                parsed = json.loads(attributes_text)
            except json.JSONDecodeError as err:
                raise ReplayError(f"attributes: expected a JSON object, found invalid JSON ({err.msg})", name,
                                  line) from None
            if not isinstance(parsed, dict):
                raise ReplayError(f"attributes: expected a JSON object, found {attributes_text!r}", name, line)
            attributes = parsed
        if target.startswith(EVENT_PREFIX):
            event_type = target[len(EVENT_PREFIX):].strip()
            if not event_type:
                raise ReplayError("entity_id: expected 'event:<event_type>', found no event type", name, line)
            rows.append(ReplayRow(offset, None, event_type, state, attributes, line))
            continue
        entity_id = target.lower()
        if not valid_entity_id(entity_id):
            raise ReplayError(
                f"entity_id: expected an entity id like 'sensor.price' or 'event:<type>', found {target!r}", name, line
            )
        if len(state) > MAX_STATE_LENGTH:
            raise ReplayError(
                f"state: expected at most {MAX_STATE_LENGTH} characters (Home Assistant's limit), found {len(state)}",
                name, line,
            )
        rows.append(ReplayRow(offset, entity_id, None, state, attributes, line))
    rows.sort(key=lambda r: r.offset)  # stable: same-time rows keep file order
    return rows


def read_replay(path: Path, start: datetime, tz: tzinfo) -> list[ReplayRow]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return parse_replay(handle, start, tz, str(path))
    except OSError as err:
        raise ReplayError(f"cannot read the replay file: {err.strerror}", str(path)) from None
    except UnicodeDecodeError:
        raise ReplayError("expected a UTF-8 text CSV file", str(path)) from None


def apply_row(hub: Hub, row: ReplayRow) -> None:
    context = Context()
    if row.event_type is not None:
        hub.bus.fire(row.event_type, dict(row.attributes), context=context)
    elif row.entity_id is not None:
        hub.states.set(row.entity_id, row.state, row.attributes, context=context)


def apply_initial(hub: Hub, rows: list[ReplayRow]) -> int:
    """Apply the rows before the start (in time order), before automations are set up."""
    initial = [r for r in rows if r.offset < 0]
    for row in initial:
        apply_row(hub, row)
    return len(initial)


def schedule(hub: Hub, rows: list[ReplayRow], start: datetime) -> None:
    """Schedule the rows at or after the start on the hub's clock, one timer per moment."""
    elapsed = (hub.clock.now() - start).total_seconds()
    timed = [r for r in rows if r.offset >= 0]
    for offset, group in groupby(timed, key=lambda r: r.offset):
        batch = list(group)
        hub.clock.call_later(offset - elapsed, _apply_batch, hub, batch)


def _apply_batch(hub: Hub, batch: list[ReplayRow]) -> None:
    for row in batch:
        try:
            apply_row(hub, row)
        except Exception:
            _LOGGER.exception("replay line %d (%s) failed", row.line, row.entity_id or row.event_type)

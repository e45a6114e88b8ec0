"""The history API: recorded states of entities between two moments, raw or in time buckets.

    from orbiteos.integrations.recorder.history import states_between, get_recorder
    rows = await states_between(hub, ["meter.grid"], start, end)              # state dicts
    rows = await states_between(hub, ["meter.grid"], start, end, timedelta(minutes=5))  # buckets

Raw: per entity, Home Assistant's history shape, oldest first: `entity_id`, `state`, `attributes`,
`last_changed`, `last_updated` (ISO 8601). The first item is the state in effect at `start`
(its times clipped to `start`) when there is one.
Bucketed: per entity, one item per bucket that holds rows: `start`, `end`, `mean`, `min`, `max`
(of the numeric states; null when none were numeric), `state` (the last state in the bucket),
`count`. Buckets are aligned to `start`.
Raises RecorderUnavailable when there is no recorder or its database cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from orbiteos.core import Hub

if TYPE_CHECKING:
    from orbiteos.integrations.recorder.recorder import Recorder

DATA_KEY = "recorder"
# How long a history query waits for rows still queued, so that what was just written shows.
FLUSH_WAIT = 2.0


class RecorderUnavailable(Exception):
    """No recorder runs, or its database cannot be reached."""


class TooManyRows(Exception):
    """A history query would return more than its `max_rows`."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(f"more than {max_rows:,} rows")
        self.max_rows = max_rows


def get_recorder(hub: Hub) -> Recorder | None:
    """The running recorder, or None."""
    return hub.data.get(DATA_KEY)


_RAW = """
SELECT s.entity_id, s.state, s.attributes::text AS attributes, s.last_changed, s.time, 0 AS part, s.seq
FROM unnest($3::text[]) AS e(entity_id)
CROSS JOIN LATERAL (
    SELECT * FROM states WHERE states.entity_id = e.entity_id AND time < $1
    ORDER BY time DESC, seq DESC LIMIT 1
) AS s
UNION ALL
SELECT entity_id, state, attributes::text, last_changed, time, 1, seq
FROM states WHERE entity_id = ANY($3::text[]) AND time >= $1 AND time < $2
ORDER BY entity_id, part, time, seq
"""

_BUCKETED = """
SELECT entity_id, date_bin($4::interval, time, $1) AS bucket,
       avg(value) AS mean, min(value) AS min, max(value) AS max, count(*) AS count,
       (array_agg(state ORDER BY time DESC, seq DESC))[1] AS state
FROM states WHERE entity_id = ANY($3::text[]) AND time >= $1 AND time < $2
GROUP BY entity_id, bucket ORDER BY entity_id, bucket
"""

_SEEN = "SELECT DISTINCT entity_id FROM states WHERE time >= $1 AND time < $2"


async def states_between(
    hub: Hub,
    entity_ids: list[str] | None,
    start: datetime,
    end: datetime,
    bucket: timedelta | None = None,
    max_rows: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Recorded states of `entity_ids` (None: every entity) in [start, end).

    With `max_rows`, at most that many rows are read; `TooManyRows` says there were more.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("states_between: start and end must be timezone-aware")
    if bucket is not None and bucket <= timedelta(0):
        raise ValueError(f"states_between: bucket must be a positive duration, got {bucket}")
    recorder = get_recorder(hub)
    if recorder is None:
        raise RecorderUnavailable("the recorder is not set up")
    try:
        async with asyncio.timeout(FLUSH_WAIT):
            await recorder.flush()
    except TimeoutError:
        pass  # the database is slow or away: answer with what it has
    try:
        pool = await recorder.read_pool()
        async with pool.acquire() as conn:
            if entity_ids is None:
                seen = {r["entity_id"] for r in await conn.fetch(_SEEN, start, end)}
                ids = sorted(seen | set(hub.states.entity_ids()))
            else:
                ids = [e.lower() for e in entity_ids]
            limit = "" if max_rows is None else f" LIMIT {int(max_rows) + 1}"
            if bucket is None:
                records = await conn.fetch(_RAW + limit, start, end, ids)
            else:
                records = await conn.fetch(_BUCKETED + limit, start, end, ids, bucket)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as err:
        raise RecorderUnavailable(f"the recorder's database cannot be reached: {err}") from err
    if max_rows is not None and len(records) > max_rows:
        raise TooManyRows(max_rows)
    result: dict[str, list[dict[str, Any]]] = {}
    if bucket is None:
        for r in records:
            if r["state"] is None:  # the entity was removed
                continue
            clipped = r["part"] == 0
            updated = start if clipped else r["time"]
            changed = start if clipped else (r["last_changed"] or r["time"])
            result.setdefault(r["entity_id"], []).append({
                "entity_id": r["entity_id"],
                "state": r["state"],
                "attributes": _attributes(r["attributes"]),
                "last_changed": changed.isoformat(),
                "last_updated": updated.isoformat(),
            })
    else:
        for r in records:
            result.setdefault(r["entity_id"], []).append({
                "start": r["bucket"].isoformat(),
                "end": (r["bucket"] + bucket).isoformat(),
                "mean": r["mean"],
                "min": r["min"],
                "max": r["max"],
                "state": r["state"],
                "count": r["count"],
            })
    return result


def _attributes(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}

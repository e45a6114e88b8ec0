"""`/api/history/period/<start>`: recorded states from the recorder, in Home Assistant's shape.

Without the recorder the answer is 404 with a message saying so (there is no history to give);
when its database cannot be reached, 503. `bucket=<seconds>` asks for mean/min/max per bucket.
An answer holds at most `MAX_ROWS` rows (raw states or buckets, all entities together): a query
that would return more is a 413 that says how to narrow it, never a response built in memory
without bound. Times are between 1900 and 9998; a bucket between 1 ms and 366 days.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from orbiteos.core import Hub, State
from orbiteos.integrations.http.appkeys import HUB
from orbiteos.integrations.http.auth import Role, requires
from orbiteos.integrations.http.errors import ApiError, json_response
from orbiteos.integrations.recorder.history import RecorderUnavailable, TooManyRows, get_recorder, states_between

routes = web.RouteTableDef()
DEFAULT_PERIOD = timedelta(days=1)
MAX_ROWS = 50_000
MAX_BUCKET = timedelta(days=366)
NO_RECORDER = "history needs the recorder integration, which is not set up (add 'recorder:' to the configuration)"


def parse_time(hub: Hub, text: str, what: str) -> datetime:
    """ISO 8601; a '+' that a query string turned into a space is put back; naive means site time."""
    candidate = text.strip()
    if " " in candidate and "T" in candidate:
        candidate = candidate.replace(" ", "+")
    try:
        value = datetime.fromisoformat(candidate)
    except ValueError:
        raise ApiError(400, f"{what}: expected an ISO 8601 time like 2024-06-01T00:00:00+02:00, got {text!r}") from None
    if not 1900 <= value.year <= 9998:
        raise ApiError(400, f"{what}: expected a time between the years 1900 and 9998, got {text!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=hub.config.tzinfo)


def _as_dict(item: Any) -> Any:
    return item.as_dict() if isinstance(item, State) else item


def _bucket(request: web.Request) -> timedelta | None:
    """`bucket=<seconds>` (an OrbitEOS extension): one mean/min/max per bucket instead of every state."""
    raw = request.query.get("bucket")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not (math.isfinite(seconds) and 0.001 <= seconds <= MAX_BUCKET.total_seconds()):
        raise ApiError(400, f"bucket: expected a number of seconds from 0.001 to {MAX_BUCKET.total_seconds():g}, "
                            f"got {raw!r}")
    return timedelta(seconds=seconds)


def requested_period(hub: Hub, request: web.Request) -> tuple[datetime, datetime]:
    """The period of a history or logbook request: `/{start}` and `?end_time=`, a day by default."""
    end = parse_time(hub, request.query["end_time"], "end_time") if "end_time" in request.query else None
    if "start" in request.match_info:
        start = parse_time(hub, request.match_info["start"], "start")
    else:
        start = (end or hub.clock.now()) - DEFAULT_PERIOD
    end = end or start + DEFAULT_PERIOD
    if end <= start:
        raise ApiError(400, f"end_time {end.isoformat()} is not after the start {start.isoformat()}")
    return start, end


@routes.get("/api/history/period")
@routes.get("/api/history/period/{start}")
@requires(Role.VIEWER)
async def history_period(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    raw_ids = request.query.get("filter_entity_id", "")
    entity_ids = [e.strip().lower() for e in raw_ids.split(",") if e.strip()]
    if not entity_ids:
        raise ApiError(400, "filter_entity_id: expected one or more comma-separated entity ids")
    start, end = requested_period(hub, request)
    bucket = _bucket(request)
    if bucket is not None and (end - start) / bucket * len(entity_ids) > MAX_ROWS:
        raise ApiError(400, f"bucket: {bucket.total_seconds():g} s makes more than {MAX_ROWS:,} buckets over "
                            f"{len(entity_ids)} entities and this period; ask for a larger bucket")
    if get_recorder(hub) is None:
        raise ApiError(404, NO_RECORDER)
    try:
        result = await states_between(hub, entity_ids, start, end, bucket, max_rows=MAX_ROWS)
    except RecorderUnavailable as err:
        raise ApiError(503, f"history unavailable: {err}") from None
    except TooManyRows:
        raise ApiError(413, f"history: more than {MAX_ROWS:,} rows in this period; ask for a shorter period "
                            "(end_time), fewer entities, or buckets (bucket=<seconds>)") from None
    # Home Assistant's shape: one list per entity that has rows, in the order asked for; buckets
    # carry their entity_id too, so every list says whose it is.
    series = [[{"entity_id": e, **_as_dict(row)} for row in result[e]] for e in entity_ids if result.get(e)]
    return json_response(series)

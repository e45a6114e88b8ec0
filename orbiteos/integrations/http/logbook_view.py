"""`/api/logbook/<start>`: the state changes of a period, in Home Assistant's logbook shape.

Built from the recorder's states (a logbook entry is a change of state text; attribute-only changes
are not entries). Without the recorder the answer is 404 saying so, as for `/api/history`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from orbiteos.integrations.http.appkeys import HUB
from orbiteos.integrations.http.auth import Role, requires
from orbiteos.integrations.http.errors import ApiError, json_response
from orbiteos.integrations.http.history_view import MAX_ROWS, NO_RECORDER, requested_period
from orbiteos.integrations.recorder.history import RecorderUnavailable, TooManyRows, get_recorder, states_between

routes = web.RouteTableDef()


def logbook_entries(rows: dict[str, list[dict[str, Any]]], start: datetime) -> list[dict[str, Any]]:
    """One entry per change of state text, oldest first; the state already holding at `start` is not one."""
    entries: list[dict[str, Any]] = []
    clipped = start.isoformat()
    for entity_id, states in rows.items():
        previous: str | None = None
        for index, row in enumerate(states):
            if index == 0 and row["last_changed"] == clipped:
                previous = row["state"]
                continue
            if row["state"] == previous:
                continue
            previous = row["state"]
            name = row["attributes"].get("friendly_name") or entity_id.partition(".")[2].replace("_", " ")
            entries.append({
                "when": row["last_changed"],
                "name": str(name),
                "state": row["state"],
                "entity_id": entity_id,
                "domain": entity_id.partition(".")[0],
            })
    entries.sort(key=lambda entry: datetime.fromisoformat(entry["when"]))
    return entries


@routes.get("/api/logbook")
@routes.get("/api/logbook/{start}")
@requires(Role.VIEWER)
async def logbook(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    raw_ids = request.query.get("entity", "")
    entity_ids = [e.strip().lower() for e in raw_ids.split(",") if e.strip()] or None
    start, end = requested_period(hub, request)
    if get_recorder(hub) is None:
        raise ApiError(404, NO_RECORDER.replace("history", "the logbook", 1))
    try:
        rows = await states_between(hub, entity_ids, start, end, max_rows=MAX_ROWS)
    except RecorderUnavailable as err:
        raise ApiError(503, f"logbook unavailable: {err}") from None
    except TooManyRows:
        raise ApiError(413, f"logbook: more than {MAX_ROWS:,} rows in this period; ask for a shorter period "
                            "(end_time) or fewer entities (entity=a,b)") from None
    return json_response(logbook_entries(rows, start))

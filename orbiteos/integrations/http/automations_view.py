"""`/api/automations`, `/api/automations/<id>/traces` and `/api/automations/<id>/explain`: read-only.

Turning automations on and off, running and reloading them go through the automation services
(`automation.turn_on`, `automation.trigger`, `automation.reload`) so they are audited as
service calls with the caller's token name. A viewer's traces show webhook ids redacted.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from orbiteos.automation import Automation, AutomationManager
from orbiteos.automation.explain import explain
from orbiteos.automation.manager import DATA_KEY
from orbiteos.automation.unavailable import STATE_UNAVAILABLE, InvalidAutomation
from orbiteos.core import Hub
from orbiteos.integrations.http.appkeys import HUB
from orbiteos.integrations.http.auth import Role, requires, token_of
from orbiteos.integrations.http.errors import ApiError, dumps, json_response
from orbiteos.integrations.http.redact import redact, sees_secrets

routes = web.RouteTableDef()


def _automations(hub: Hub) -> list[Automation]:
    manager = hub.data.get(DATA_KEY)  # never create a manager just to list nothing
    return list(manager.automations) if isinstance(manager, AutomationManager) else []


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def describe(automation: Automation) -> dict[str, Any]:
    return {
        "id": automation.automation_id,
        "entity_id": automation.entity_id,
        "alias": automation.alias,
        "enabled": bool(automation.enabled),
        "mode": automation.mode,
        "current": automation.current,
        "last_triggered": _iso(automation.last_triggered),
        "state": "on" if automation.enabled else "off",
    }


def describe_invalid(invalid: InvalidAutomation) -> dict[str, Any]:
    """An automation that did not validate: `unavailable`, with its errors (`file:line: ...`)."""
    return {
        "id": invalid.automation_id,
        "entity_id": invalid.entity_id,
        "alias": invalid.alias,
        "enabled": False,
        "mode": None,
        "current": 0,
        "last_triggered": None,
        "state": STATE_UNAVAILABLE,
        "errors": [str(error) for error in invalid.errors],
    }


def find(hub: Hub, automation_id: str) -> Automation:
    manager = hub.data.get(DATA_KEY)
    found = manager.get(automation_id) if isinstance(manager, AutomationManager) else None
    if found is None:
        raise ApiError(404, f"automation {automation_id} not found")
    return found


@routes.get("/api/automations")
@requires(Role.VIEWER)
async def list_automations(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    manager = hub.data.get(DATA_KEY)
    invalid = manager.invalid if isinstance(manager, AutomationManager) else []
    return json_response([*(describe(a) for a in _automations(hub)), *(describe_invalid(i) for i in invalid)])


@routes.get("/api/automations/{automation_id}/traces")
@requires(Role.VIEWER)
async def automation_traces(request: web.Request) -> web.Response:
    automation = find(request.app[HUB], request.match_info["automation_id"])
    traces = list(automation.traces())
    return json_response(traces if sees_secrets(token_of(request)) else redact(json.loads(dumps(traces))))


@routes.get("/api/automations/{automation_id}/explain")
@requires(Role.VIEWER)
async def automation_explain(request: web.Request) -> web.Response:
    """Why it did or did not fire: each trigger's status, the last run and the last refused run."""
    automation = find(request.app[HUB], request.match_info["automation_id"])
    at = None
    if "at" in request.query:
        try:
            at = datetime.fromisoformat(request.query["at"])
        except ValueError:
            raise ApiError(400, f"at: expected an ISO 8601 time, found {request.query['at']!r}") from None
        if at.tzinfo is None:
            raise ApiError(400, f"at: expected a time with its UTC offset, found {request.query['at']!r}")
    report = explain(automation, at)
    # The same redaction as the traces: a viewer never sees a webhook id.
    return json_response(report if sees_secrets(token_of(request)) else redact(json.loads(dumps(report))))

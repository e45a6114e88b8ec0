"""`/api/automations` and `/api/automations/<id>/traces`: the automation manager, read-only.

Turning automations on and off, running and reloading them go through the automation services
(`automation.turn_on`, `automation.trigger`, `automation.reload`) so they are audited as
service calls with the caller's token name.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from aiohttp import web

from orbiteos.core import Hub
from orbiteos.integrations.http.appkeys import HUB
from orbiteos.integrations.http.auth import Role, requires
from orbiteos.integrations.http.errors import ApiError, json_response

routes = web.RouteTableDef()


def _manager(hub: Hub) -> Any:
    """The automation manager, or None when automations are not set up."""
    try:
        module = importlib.import_module("orbiteos.automation")
    except ImportError:
        return None
    get_manager = getattr(module, "get_manager", None)
    return get_manager(hub) if get_manager is not None else None


def _automations(hub: Hub) -> list[Any]:
    manager = _manager(hub)
    if manager is None:
        return []
    automations = manager.automations
    return list(automations.values()) if isinstance(automations, dict) else list(automations)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def describe(automation: Any) -> dict[str, Any]:
    return {
        "id": automation.automation_id,
        "entity_id": automation.entity_id,
        "alias": automation.alias,
        "enabled": bool(automation.enabled),
        "mode": automation.mode,
        "current": automation.current,
        "last_triggered": _iso(automation.last_triggered),
    }


def find(hub: Hub, automation_id: str) -> Any:
    for automation in _automations(hub):
        if automation_id in (automation.automation_id, automation.entity_id):
            return automation
    raise ApiError(404, f"automation {automation_id} not found")


@routes.get("/api/automations")
@requires(Role.VIEWER)
async def list_automations(request: web.Request) -> web.Response:
    return json_response([describe(a) for a in _automations(request.app[HUB])])


@routes.get("/api/automations/{automation_id}/traces")
@requires(Role.VIEWER)
async def automation_traces(request: web.Request) -> web.Response:
    automation = find(request.app[HUB], request.match_info["automation_id"])
    return json_response(list(automation.traces()))

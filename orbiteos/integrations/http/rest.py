"""The Home Assistant REST views: /api/, config, states, services, events, template."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from orbiteos.core import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED, Context, valid_entity_id
from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import Role, context_user, has_role, requires, token_of
from orbiteos.integrations.http.body import json_object, read_json
from orbiteos.integrations.http.durable import recorded
from orbiteos.integrations.http.errors import ApiError, dumps, json_response
from orbiteos.integrations.http.service_call import call_service, role_for_service
from orbiteos.integrations.http.site_config import config_dict
from orbiteos.template import Template

routes = web.RouteTableDef()

STATE_BODY = vol.Schema(
    vol.All(
        json_object,
        {
            vol.Required("state"): vol.Any(str, int, float, bool, None),
            vol.Optional("attributes", default=dict): dict,
            vol.Optional("force_update", default=False): bool,
        },
    ),
    # Home Assistant ignores other keys: clients post back a whole state (last_changed, context...).
    extra=vol.REMOVE_EXTRA,
)
TEMPLATE_BODY = vol.Schema(
    vol.All(json_object, {vol.Required("template"): str, vol.Optional("variables", default=dict): dict})
)
# Events whose data must hold engine objects; firing them from outside would break their listeners.
RESERVED_EVENTS = frozenset({EVENT_STATE_CHANGED, EVENT_CALL_SERVICE})


def _text(body: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


@routes.get("/api/")
@requires(Role.VIEWER)
async def api_status(request: web.Request) -> web.Response:
    return json_response({"message": "API running."})


@routes.get("/api/config")
@requires(Role.VIEWER)
async def api_config(request: web.Request) -> web.Response:
    return json_response(config_dict(request.app[appkeys.HUB]))


@routes.get("/api/auth/whoami")
@requires(Role.VIEWER)
async def api_whoami(request: web.Request) -> web.Response:
    record = token_of(request)
    return json_response({"name": record.name, "role": record.role})


@routes.get("/api/states")
@requires(Role.VIEWER)
async def api_states(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    return _text(request.app[appkeys.JSON_CACHE].states(hub.states.all()))


@routes.get("/api/states/{entity_id}")
@requires(Role.VIEWER)
async def api_state(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    state = hub.states.get(request.match_info["entity_id"])
    if state is None:
        raise ApiError(404, f"entity {request.match_info['entity_id']} not found")
    return _text(request.app[appkeys.JSON_CACHE].state(state))


@routes.post("/api/states/{entity_id}")
@requires(Role.ADMIN)
async def api_set_state(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    entity_id = request.match_info["entity_id"].lower()
    if not valid_entity_id(entity_id):
        raise ApiError(400, f"invalid entity id {entity_id!r}: expected 'domain.object_id' in lower case")
    body = await read_json(request, STATE_BODY)
    existed = entity_id in hub.states
    user = context_user(request)
    state = hub.states.set(
        entity_id, body["state"], body["attributes"], force_update=body["force_update"], context=Context(user_id=user)
    )
    request.app[appkeys.AUDIT].request_action(request, "state", user, f"{entity_id} = {state.state}")
    await recorded(hub)
    return _text(
        request.app[appkeys.JSON_CACHE].state(state),
        status=200 if existed else 201,
        headers={"Location": f"/api/states/{entity_id}"},
    )


@routes.delete("/api/states/{entity_id}")
@requires(Role.ADMIN)
async def api_remove_state(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    entity_id = request.match_info["entity_id"].lower()
    if not hub.states.remove(entity_id):
        raise ApiError(404, f"entity {entity_id} not found")
    request.app[appkeys.AUDIT].request_action(request, "state", context_user(request), f"{entity_id} removed")
    await recorded(hub)
    return json_response({"message": "Entity removed."})


@routes.get("/api/services")
@requires(Role.VIEWER)
async def api_services(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    return json_response(
        [
            {
                "domain": domain,
                "services": {
                    name: {"name": name, "description": svc.description, "fields": {}}
                    for name, svc in sorted(services.items())
                },
            }
            for domain, services in sorted(hub.services.services().items())
        ]
    )


@routes.post("/api/services/{domain}/{service}")
@requires(Role.OPERATOR)
async def api_call_service(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    domain, service = request.match_info["domain"].lower(), request.match_info["service"].lower()
    record = token_of(request)
    needed = role_for_service(domain, service)
    audit = request.app[appkeys.AUDIT]
    if not has_role(record, needed):
        audit.forbidden(record.name, request.remote, f"{domain}.{service} needs {needed.label}")
        raise ApiError(403, f"forbidden: {domain}.{service} needs the {needed.label} role, "
                            f"token '{record.name}' has {record.role}")
    data = await read_json(request, vol.Schema(json_object))
    outcome = await call_service(hub, domain, service, data, None, record.name, audit, request.remote)
    await recorded(hub)
    cache = request.app[appkeys.JSON_CACHE]
    changed = cache.states(outcome.changed_states)
    if "return_response" in request.query:
        return _text('{"changed_states":' + changed + ',"service_response":' + dumps(outcome.response) + "}")
    return _text(changed)


@routes.get("/api/events")
@requires(Role.VIEWER)
async def api_event_listeners(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    counts = hub.bus.listener_counts()
    return json_response([{"event": name, "listener_count": n} for name, n in sorted(counts.items())])


@routes.post("/api/events/{event_type}")
@requires(Role.ADMIN)
async def api_fire_event(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    event_type = request.match_info["event_type"]
    if event_type in RESERVED_EVENTS:
        raise ApiError(400, f"event type {event_type} is fired by the engine itself and cannot be posted")
    data = await read_json(request, vol.Schema(json_object))
    user = context_user(request)
    hub.bus.fire(event_type, data, context=Context(user_id=user))
    request.app[appkeys.AUDIT].request_action(request, "event", user, f"{event_type} {_short(data)}")
    await recorded(hub)
    return json_response({"message": f"Event {event_type} fired."})


@routes.post("/api/template")
@requires(Role.VIEWER)
async def api_template(request: web.Request) -> web.Response:
    hub = request.app[appkeys.HUB]
    body = await read_json(request, TEMPLATE_BODY, allow_empty=False)
    rendered = Template(body["template"], hub).render_str(body["variables"])
    return web.Response(text=rendered, content_type="text/plain")


def _short(data: Any, limit: int = 200) -> str:
    text = dumps(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."

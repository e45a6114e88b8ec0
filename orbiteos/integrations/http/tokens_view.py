"""Token management for admins: list, create (the token is shown once), revoke."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import Role, requires, token_of
from orbiteos.integrations.http.body import json_object, read_json
from orbiteos.integrations.http.errors import ApiError, json_response

routes = web.RouteTableDef()

CREATE_BODY = vol.Schema(
    vol.All(
        json_object,
        {
            vol.Required("name"): vol.All(str, vol.Length(min=1, max=100)),
            vol.Required("role"): vol.In(("viewer", "operator", "admin"), msg="expected viewer, operator or admin"),
        },
    )
)


@routes.get("/api/tokens")
@requires(Role.ADMIN)
async def list_tokens(request: web.Request) -> web.Response:
    return json_response([r.public() for r in request.app[appkeys.TOKENS].records()])


@routes.post("/api/tokens")
@requires(Role.ADMIN)
async def create_token(request: web.Request) -> web.Response:
    body = await read_json(request, CREATE_BODY, allow_empty=False)
    store = request.app[appkeys.TOKENS]
    try:
        token = store.create(body["name"], body["role"])
    except ValueError as err:
        raise ApiError(409, str(err)) from None
    request.app[appkeys.AUDIT].request_action(
        request, "token", token_of(request).name, f"created token {body['name']!r} ({body['role']})"
    )
    return json_response({"name": body["name"], "role": body["role"], "token": token}, status=201)


@routes.delete("/api/tokens/{name}")
@requires(Role.ADMIN)
async def revoke_token(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not request.app[appkeys.TOKENS].revoke(name):
        raise ApiError(404, f"no token named {name!r}")
    request.app[appkeys.AUDIT].request_action(request, "token", token_of(request).name, f"revoked token {name!r}")
    return json_response({"message": f"Token {name} revoked."})


@routes.get("/api/audit")
@requires(Role.ADMIN)
async def recent_audit(request: web.Request) -> web.Response:
    return json_response([entry.as_dict() for entry in request.app[appkeys.AUDIT].recent])

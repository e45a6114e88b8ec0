"""`/api/webhook/<webhook_id>`: delivers to the hub's webhook registry (orbiteos/webhook.py).

No token: the id is the secret, as in Home Assistant. An unknown id answers 200 with nothing
done (so ids cannot be probed) and is logged; so is a remote call to a `local_only` webhook.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import logging
from typing import Any

from aiohttp import web

from orbiteos import webhook
from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import public
from orbiteos.integrations.http.errors import ApiError, json_response

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_local(remote: str | None) -> bool:
    """Loopback, private or link-local addresses count as the local network."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_private or address.is_link_local


async def build_request(request: web.Request) -> webhook.WebhookRequest:
    """The body as JSON (JSON content type, or a body that looks like JSON) or as form data."""
    content_type = request.content_type
    json_body: Any = None
    form: dict[str, Any] = {}
    if content_type in FORM_TYPES:
        posted = await request.post()
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
    else:
        text = await request.text()
        looks_json = text.lstrip()[:1] in ("{", "[")
        if text.strip() and ("json" in content_type or looks_json):
            try:
                json_body = json.loads(text)
            except ValueError as err:
                raise ApiError(400, f"malformed JSON: {err}") from None
    return webhook.WebhookRequest(
        method=request.method,
        json=json_body,
        data=form,
        query=dict(request.query),
        headers=dict(request.headers),
        remote=request.remote,
    )


@routes.route("*", "/api/webhook/{webhook_id}")
@public
async def handle_webhook(request: web.Request) -> web.StreamResponse:
    hub = request.app[appkeys.HUB]
    webhook_id = request.match_info["webhook_id"]
    method = request.method.upper()
    registered = webhook.get(hub, webhook_id)
    if registered is None:
        _LOGGER.warning("webhook %s: %s from %s for an unknown id, nothing done", webhook_id, method, request.remote)
        return web.Response(status=200)
    if method not in registered.allowed_methods:
        _LOGGER.warning("webhook %s: method %s not allowed (allowed: %s)", webhook_id, method,
                        ", ".join(sorted(registered.allowed_methods)))
        raise ApiError(405, f"method {method} not allowed for this webhook")
    if registered.local_only and not is_local(request.remote):
        _LOGGER.warning("webhook %s: remote request from %s to a local-only webhook, nothing done",
                        webhook_id, request.remote)
        return web.Response(status=200)
    delivered = await build_request(request)
    _LOGGER.debug("webhook %s: %s from %s delivered", webhook_id, method, request.remote)
    result = registered.handler(hub, webhook_id, delivered)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=200)
    return json_response(result)

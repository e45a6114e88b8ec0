"""`/api/webhook/<webhook_id>`: delivers to the hub's webhook registry (orbiteos/webhook.py).

No token: the id is the secret, as in Home Assistant, and a webhook may also require a signed body
(`secret`, see orbiteos/webhook.py). An unknown id, a method the webhook does not allow, a remote
call to a `local_only` webhook and a missing or wrong signature all answer 200 with nothing done,
alike, so ids cannot be probed (Home Assistant answers 405 to a known id's wrong method). Every
delivery, done or not, is in the audit trail with the sender's address; more than the webhook's
`rate_limit` a minute are answered 429.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
import logging
from typing import Any

from aiohttp import web

from orbiteos import webhook
from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import public
from orbiteos.integrations.http.durable import recorded
from orbiteos.integrations.http.errors import ApiError, json_response
from orbiteos.log_guard import printable

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BODY_TIMEOUT = 30.0  # seconds a sender may take to send its body


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


async def build_request(request: web.Request, body: bytes) -> webhook.WebhookRequest:
    """The body as JSON (JSON content type, or a body that looks like JSON) or as form data."""
    content_type = request.content_type
    json_body: Any = None
    form: dict[str, Any] = {}
    if content_type in FORM_TYPES:
        try:
            posted = await request.post()  # parses the body read before
        except Exception as err:  # aiohttp's multipart parser raises several kinds
            raise ApiError(400, f"body: malformed {content_type} data ({type(err).__name__}: {err})") from None
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
    else:
        try:
            text = body.decode(request.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            charset = request.charset or "utf-8"
            raise ApiError(400, f"body: expected text in {charset}, got bytes that are not") from None
        looks_json = text.lstrip()[:1] in ("{", "[")
        if text.strip() and ("json" in content_type or looks_json):
            try:
                json_body = json.loads(text)
            except (ValueError, RecursionError) as err:
                raise ApiError(400, f"body: malformed JSON ({type(err).__name__}: {err})") from None
    return webhook.WebhookRequest(
        method=request.method,
        json=json_body,
        data=form,
        query=dict(request.query),
        headers=dict(request.headers),
        remote=request.remote,
    )


def _shown(webhook_id: str) -> str:
    """A webhook id as the log and the audit trail show it: escaped, and cut short."""
    text = printable(webhook_id)
    return text if len(text) <= 64 else text[:61] + "..."


@routes.route("*", "/api/webhook/{webhook_id}")
@public
async def handle_webhook(request: web.Request) -> web.StreamResponse:
    hub = request.app[appkeys.HUB]
    audit = request.app[appkeys.AUDIT]
    webhook_id = request.match_info["webhook_id"]
    method = request.method.upper()
    shown = _shown(webhook_id)

    def refused(why: str) -> web.Response:
        _LOGGER.warning("webhook %s: %s from %s: %s, nothing done", shown, method, request.remote, why)
        audit.action("webhook", None, request.remote, f"{method} {shown}: {why}, nothing done")
        return web.Response(status=200)

    registered = webhook.get(hub, webhook_id)
    if registered is None:
        return refused("unknown id")
    if method not in registered.allowed_methods:
        return refused(f"method not allowed (allowed: {', '.join(sorted(registered.allowed_methods))})")
    if registered.local_only and not is_local(request.remote):
        return refused("remote request to a local-only webhook")
    if not registered.admit(hub.clock.monotonic()):
        audit.action("webhook", None, request.remote, f"{method} {shown}: over {registered.rate_limit} a minute")
        raise ApiError(429, f"more than {registered.rate_limit} deliveries a minute to this webhook; try later")
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            body = await request.read()
    except TimeoutError:
        raise ApiError(408, f"body: not received within {BODY_TIMEOUT:g} s") from None
    if not registered.signed(body, request.headers):
        return refused("missing or wrong signature")
    delivered = await build_request(request, body)
    audit.action("webhook", None, request.remote, f"{method} {shown} delivered to {registered.name}")
    result = registered.handler(hub, webhook_id, delivered)
    if inspect.isawaitable(result):
        result = await result
    await recorded(hub)
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=200)
    return json_response(result)

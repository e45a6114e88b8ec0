"""`/api/websocket` with Home Assistant's message shapes.

    server: {"type": "auth_required", "ha_version": ...}
    client: {"type": "auth", "access_token": "..."}
    server: {"type": "auth_ok", ...} | {"type": "auth_invalid", "message": ...} (then closes)
    client: {"id": 1, "type": "subscribe_events", "event_type": "state_changed"}
    server: {"id": 1, "type": "result", "success": true, "result": null}
    server: {"id": 1, "type": "event", "event": {...}}              (one per event)

Commands: get_states, get_config, get_services, subscribe_events, unsubscribe_events,
subscribe_trigger, call_service, fire_event, ping, supported_features, auth/current_user,
render_template (websocket_templates.py), subscribe_entities (websocket_entities.py),
validate_config and execute_script (websocket_scripts.py). Any other type gets Home Assistant's
unknown-command answer (docs/api.md lists what is deliberately not served). Outgoing messages go through a bounded
queue per connection; a client that cannot keep up is disconnected rather than slowing the hub.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import voluptuous as vol
from aiohttp import WSCloseCode, WSMsgType, web

from orbiteos import __version__
from orbiteos.automation.trigger import async_attach_triggers
from orbiteos.core import EVENT_STATE_CHANGED, MATCH_ALL, Context, Event, Hub, Unsubscribe
from orbiteos.errors import InvalidStateError, ServiceNotFound, ServiceValidationError, TemplateError
from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import Role, TokenRecord, has_role, public
from orbiteos.integrations.http.errors import ApiError, describe_invalid, domain_error, dumps
from orbiteos.integrations.http.redact import redact_text, sees_secrets
from orbiteos.integrations.http.rest import RESERVED_EVENTS
from orbiteos.integrations.http.service_call import call_service, role_for_service
from orbiteos.integrations.http.site_config import config_dict
from orbiteos.integrations.http.websocket_entities import SUBSCRIBE_ENTITIES, cmd_subscribe_entities
from orbiteos.integrations.http.websocket_scripts import EXECUTE_SCRIPT, cmd_execute_script, cmd_validate_config
from orbiteos.integrations.http.websocket_templates import RENDER_TEMPLATE, cmd_render_template

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
AUTH_TIMEOUT_S = 10.0
# How often an open websocket checks that its token was not revoked meanwhile.
TOKEN_RECHECK_S = 5.0
# Subscriptions (events and triggers) one connection, and all connections of one token, may hold
# at once: each costs memory and work on every matching event, and a viewer may open them.
MAX_SUBSCRIPTIONS = 500
MAX_TOKEN_SUBSCRIPTIONS = 2_000
OPEN_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("orbiteos_websockets")
# Token name -> subscriptions its open connections hold.
TOKEN_SUBSCRIPTIONS: web.AppKey[dict[str, int]] = web.AppKey("orbiteos_token_subscriptions")

ERR_INVALID_FORMAT = "invalid_format"
ERR_UNKNOWN_COMMAND = "unknown_command"
ERR_NOT_FOUND = "not_found"
ERR_UNAUTHORIZED = "unauthorized"
ERR_ID_REUSE = "id_reuse"
ERR_SERVICE_VALIDATION = "service_validation_error"
ERR_UNKNOWN = "unknown_error"
ERR_TEMPLATE = "template_error"
# Home Assistant's answer to a command it does not know, word for word.
UNKNOWN_COMMAND_MESSAGE = "Unknown command."

COMMAND = vol.Schema({vol.Required("id"): int, vol.Required("type"): str}, extra=vol.ALLOW_EXTRA)
COMMAND_SCHEMAS: dict[str, vol.Schema] = {
    "subscribe_events": vol.Schema({vol.Optional("event_type", default=MATCH_ALL): str}, extra=vol.ALLOW_EXTRA),
    "unsubscribe_events": vol.Schema({vol.Required("subscription"): int}, extra=vol.ALLOW_EXTRA),
    "subscribe_trigger": vol.Schema(
        {vol.Required("trigger"): vol.Any(dict, list), vol.Optional("variables", default=dict): dict},
        extra=vol.ALLOW_EXTRA,
    ),
    "call_service": vol.Schema(
        {
            vol.Required("domain"): str,
            vol.Required("service"): str,
            vol.Optional("service_data", default=dict): dict,
            vol.Optional("target"): dict,
            vol.Optional("return_response", default=False): bool,
        },
        extra=vol.ALLOW_EXTRA,
    ),
    "fire_event": vol.Schema(
        {vol.Required("event_type"): str, vol.Optional("event_data", default=dict): dict}, extra=vol.ALLOW_EXTRA
    ),
    "supported_features": vol.Schema({vol.Optional("features", default=dict): dict}, extra=vol.ALLOW_EXTRA),
    "render_template": RENDER_TEMPLATE,
    "subscribe_entities": SUBSCRIBE_ENTITIES,
    "execute_script": EXECUTE_SCRIPT,
}


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connection:
    """One authenticated websocket: its subscriptions and its outgoing queue."""

    def __init__(self, app: web.Application, ws: web.WebSocketResponse, token: TokenRecord, remote: str | None):
        self.app = app
        self.hub: Hub = app[appkeys.HUB]
        self.ws = ws
        self.token = token
        self.remote = remote
        self.subscriptions: dict[int, Unsubscribe] = {}
        self.outgoing: asyncio.Queue[str | None] = asyncio.Queue(maxsize=app[appkeys.SETTINGS].websocket_queue)
        self.last_id = 0
        self.overflowed = False
        self.revoked = False
        self.closed = False

    # --- sending ---------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        self.send_text(dumps(message))

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.outgoing.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True
            _LOGGER.warning("websocket client %s (%s) too slow: %d messages queued, disconnecting",
                            self.token.name, self.remote, self.outgoing.qsize())
            self.close()

    def result(self, msg_id: int, result: Any = None) -> None:
        self.send({"id": msg_id, "type": "result", "success": True, "result": result})

    def error(self, msg_id: int | None, code: str, message: str) -> None:
        self.send({"id": msg_id, "type": "result", "success": False, "error": {"code": code, "message": message}})

    async def writer(self) -> None:
        while True:
            text = await self.outgoing.get()
            if text is None:
                refused = self.overflowed or self.revoked
                await self.ws.close(code=WSCloseCode.POLICY_VIOLATION if refused else WSCloseCode.OK)
                return
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except ConnectionError:
                return

    async def watch_token(self) -> None:
        """A token revoked while connected ends the connection (revocation needs no reconnect)."""
        store = self.app[appkeys.TOKENS]
        while True:
            await asyncio.sleep(TOKEN_RECHECK_S)
            if not store.is_active(self.token):
                _LOGGER.warning("websocket client %s (%s): token revoked, disconnecting", self.token.name, self.remote)
                self.send({"type": "auth_invalid", "message": "token revoked"})
                self.revoked = True
                self.close()
                return

    def room_for_a_subscription(self) -> None:
        """CommandError when this connection, or its token, holds as many subscriptions as it may."""
        by_token = self.app[TOKEN_SUBSCRIPTIONS]
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise CommandError(ERR_UNKNOWN, f"this connection holds {len(self.subscriptions)} subscriptions, the "
                                            "most one may hold; unsubscribe some first")
        if by_token.get(self.token.name, 0) >= MAX_TOKEN_SUBSCRIPTIONS:
            raise CommandError(ERR_UNKNOWN, f"token '{self.token.name}' holds {MAX_TOKEN_SUBSCRIPTIONS} "
                                            "subscriptions over its connections, the most it may; unsubscribe some")

    def subscribe(self, msg_id: int, unsubscribe: Unsubscribe) -> None:
        """Keep a subscription (after `room_for_a_subscription`); undone by `unsubscribe(msg_id)`."""
        self.subscriptions[msg_id] = unsubscribe
        by_token = self.app[TOKEN_SUBSCRIPTIONS]
        by_token[self.token.name] = by_token.get(self.token.name, 0) + 1

    def unsubscribe(self, msg_id: int) -> bool:
        remove = self.subscriptions.pop(msg_id, None)
        if remove is None:
            return False
        remove()
        by_token = self.app[TOKEN_SUBSCRIPTIONS]
        left = by_token.get(self.token.name, 1) - 1
        if left > 0:
            by_token[self.token.name] = left
        else:
            by_token.pop(self.token.name, None)
        return True

    def close(self) -> None:
        """Drop the subscriptions and stop the writer (pending messages are dropped if the queue is full)."""
        if self.closed:
            return
        self.closed = True
        for msg_id in list(self.subscriptions):
            self.unsubscribe(msg_id)
        if self.outgoing.full():
            self.outgoing = asyncio.Queue()
        self.outgoing.put_nowait(None)

    # --- receiving -------------------------------------------------------
    async def handle(self, raw: Any) -> None:
        """One incoming command; every failure becomes an error result, never a dropped connection."""
        msg_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            msg = COMMAND(raw)
            msg_id = msg["id"]
            if msg_id <= self.last_id and msg["type"] != "ping":
                raise CommandError(ERR_ID_REUSE, f"id {msg_id} is not greater than the last one ({self.last_id})")
            self.last_id = max(self.last_id, msg_id)
            handler = COMMANDS.get(msg["type"])
            if handler is None:
                raise CommandError(ERR_UNKNOWN_COMMAND, UNKNOWN_COMMAND_MESSAGE)
            schema = COMMAND_SCHEMAS.get(msg["type"])
            if schema is not None:
                msg = schema(msg)
            await handler(self, msg)
        except CommandError as err:
            self.error(msg_id if isinstance(msg_id, int) else None, err.code, err.message)
        except vol.Invalid as err:
            self.error(msg_id if isinstance(msg_id, int) else None, ERR_INVALID_FORMAT, describe_invalid(err))
        except ServiceNotFound as err:
            self.error(msg_id, ERR_NOT_FOUND, str(err))
        except ServiceValidationError as err:
            self.error(msg_id, ERR_SERVICE_VALIDATION, str(err))
        except TemplateError as err:
            self.error(msg_id, ERR_TEMPLATE, str(err))
        except InvalidStateError as err:
            self.error(msg_id, ERR_INVALID_FORMAT, str(err))
        except ApiError as err:
            self.error(msg_id, ERR_NOT_FOUND if err.status == 404 else ERR_INVALID_FORMAT, err.message)
        except Exception as err:
            mapped = domain_error(err)
            if mapped is not None:
                self.error(msg_id, ERR_INVALID_FORMAT if mapped.status == 400 else ERR_UNKNOWN, mapped.message)
            else:
                _LOGGER.exception("websocket command %r failed", raw)
                self.error(msg_id, ERR_UNKNOWN, "internal error; the details are in the server log")

    def require(self, role: Role, what: str) -> None:
        if not has_role(self.token, role):
            self.app[appkeys.AUDIT].forbidden(self.token.name, self.remote, f"websocket {what} needs {role.label}")
            raise CommandError(ERR_UNAUTHORIZED, f"{what} needs the {role.label} role, token "
                                                 f"'{self.token.name}' has {self.token.role}")


# --- commands ----------------------------------------------------------------

Command = Callable[[Connection, dict[str, Any]], Awaitable[None]]


async def cmd_ping(conn: Connection, msg: dict[str, Any]) -> None:
    conn.send({"id": msg["id"], "type": "pong"})


async def cmd_get_states(conn: Connection, msg: dict[str, Any]) -> None:
    states = conn.app[appkeys.JSON_CACHE].states(conn.hub.states.all())
    conn.send_text('{"id":' + str(msg["id"]) + ',"type":"result","success":true,"result":' + states + "}")


async def cmd_get_config(conn: Connection, msg: dict[str, Any]) -> None:
    conn.result(msg["id"], config_dict(conn.hub))


async def cmd_supported_features(conn: Connection, msg: dict[str, Any]) -> None:
    """Accepted and acknowledged; none of Home Assistant's optional features (coalesced messages) is used."""
    conn.result(msg["id"])


async def cmd_current_user(conn: Connection, msg: dict[str, Any]) -> None:
    """The token, in Home Assistant's user shape: OrbitEOS users are named tokens with a role."""
    token = conn.token
    is_admin = has_role(token, Role.ADMIN)
    conn.result(msg["id"], {
        "id": token.name, "name": token.name, "is_owner": is_admin, "is_admin": is_admin,
        "credentials": [{"auth_provider_type": "orbiteos_token", "auth_provider_id": None}],
        "mfa_modules": [], "role": token.role,
    })


async def cmd_get_services(conn: Connection, msg: dict[str, Any]) -> None:
    services = conn.hub.services.services()
    conn.result(msg["id"], {
        domain: {name: {"name": name, "description": svc.description, "fields": {}} for name, svc in items.items()}
        for domain, items in services.items()
    })


async def cmd_subscribe_events(conn: Connection, msg: dict[str, Any]) -> None:
    msg_id, event_type = msg["id"], msg["event_type"]
    conn.room_for_a_subscription()
    cache = conn.app[appkeys.JSON_CACHE]
    prefix = '{"id":' + str(msg_id) + ',"type":"event","event":'

    if sees_secrets(conn.token):

        def forward(event: Event) -> None:
            conn.send_text(prefix + cache.event(event) + "}")
    else:

        def forward(event: Event) -> None:
            conn.send_text(prefix + redact_text(cache.event(event)) + "}")

    unsubscribes = [conn.hub.bus.listen(event_type, forward)]
    if event_type == MATCH_ALL:  # the bus's catch-all leaves out state_changed; a client's does not
        unsubscribes.append(conn.hub.bus.listen(EVENT_STATE_CHANGED, forward))

    def unsubscribe() -> None:
        for remove in unsubscribes:
            remove()

    conn.subscribe(msg_id, unsubscribe)
    conn.result(msg_id)


async def cmd_unsubscribe_events(conn: Connection, msg: dict[str, Any]) -> None:
    if not conn.unsubscribe(msg["subscription"]):
        raise CommandError(ERR_NOT_FOUND, f"no subscription with id {msg['subscription']}")
    conn.result(msg["id"])


async def cmd_subscribe_trigger(conn: Connection, msg: dict[str, Any]) -> None:
    msg_id = msg["id"]
    triggers = msg["trigger"] if isinstance(msg["trigger"], list) else [msg["trigger"]]

    def forward(run_variables: dict[str, Any], context: Context | None = None) -> None:
        conn.send({"id": msg_id, "type": "event",
                   "event": {"variables": run_variables, "context": (context or Context()).as_dict()}})

    conn.room_for_a_subscription()
    conn.subscribe(msg_id, lambda: None)  # the place is taken now: attaching awaits, others may come meanwhile
    failures: list[str] = []
    try:
        unsubscribe = await async_attach_triggers(
            conn.hub, triggers, forward, f"websocket:{conn.token.name}:{msg_id}", msg["variables"], failures=failures
        )
    except BaseException:
        conn.unsubscribe(msg_id)
        raise
    if conn.closed or failures:  # the client left while the triggers attached, or one did not attach
        unsubscribe()
        conn.unsubscribe(msg_id)
        if failures:
            raise CommandError(ERR_UNKNOWN, "; ".join(failures))
        return
    conn.subscriptions[msg_id] = unsubscribe  # in the place taken above
    conn.result(msg_id)


async def cmd_call_service(conn: Connection, msg: dict[str, Any]) -> None:
    domain, service = msg["domain"].lower(), msg["service"].lower()
    conn.require(role_for_service(domain, service), f"{domain}.{service}")
    outcome = await call_service(conn.hub, domain, service, msg["service_data"], msg.get("target"), conn.token.name,
                                 conn.app[appkeys.AUDIT], conn.remote)
    result: dict[str, Any] = {"context": outcome.context.as_dict()}
    if msg["return_response"]:
        result["response"] = outcome.response
    conn.result(msg["id"], result)


async def cmd_fire_event(conn: Connection, msg: dict[str, Any]) -> None:
    conn.require(Role.ADMIN, "fire_event")
    if msg["event_type"] in RESERVED_EVENTS:
        raise CommandError(ERR_INVALID_FORMAT, f"event type {msg['event_type']} is fired by the engine itself")
    context = Context(user_id=conn.token.name)
    conn.hub.bus.fire(msg["event_type"], msg["event_data"], context=context)
    conn.app[appkeys.AUDIT].action("event", conn.token.name, conn.remote, f"{msg['event_type']} (websocket)")
    conn.result(msg["id"], {"context": context.as_dict()})


COMMANDS: dict[str, Command] = {
    "ping": cmd_ping,
    "get_states": cmd_get_states,
    "get_config": cmd_get_config,
    "get_services": cmd_get_services,
    "subscribe_events": cmd_subscribe_events,
    "unsubscribe_events": cmd_unsubscribe_events,
    "subscribe_trigger": cmd_subscribe_trigger,
    "call_service": cmd_call_service,
    "fire_event": cmd_fire_event,
    "supported_features": cmd_supported_features,
    "auth/current_user": cmd_current_user,
    "render_template": cmd_render_template,
    "subscribe_entities": cmd_subscribe_entities,
    "validate_config": cmd_validate_config,
    "execute_script": cmd_execute_script,
}
# Slow commands run as their own tasks so that pings and events keep flowing meanwhile.
CONCURRENT = frozenset({"call_service", "subscribe_trigger", "execute_script"})


# --- the view ----------------------------------------------------------------


async def _authenticate(app: web.Application, ws: web.WebSocketResponse, remote: str | None) -> TokenRecord | None:
    await ws.send_str(dumps({"type": "auth_required", "ha_version": __version__}))
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            msg = await ws.receive()
    except TimeoutError:
        app[appkeys.AUDIT].auth_failed(remote, "websocket: no auth message in time")
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"auth timeout")
        return None
    if msg.type != WSMsgType.TEXT:
        return None
    try:
        payload = json.loads(msg.data)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict) or payload.get("type") != "auth" or not isinstance(
        payload.get("access_token"), str
    ):
        app[appkeys.AUDIT].auth_failed(remote, "websocket: first message was not an auth message")
        await ws.send_str(dumps({"type": "auth_invalid", "message": "expected {\"type\": \"auth\", "
                                 "\"access_token\": \"...\"} as the first message"}))
        await ws.close()
        return None
    record = app[appkeys.TOKENS].lookup(payload["access_token"])
    if record is None:
        app[appkeys.AUDIT].auth_failed(remote, "websocket: unknown or revoked token")
        await ws.send_str(dumps({"type": "auth_invalid", "message": "invalid or revoked token"}))
        await ws.close()
        return None
    await ws.send_str(dumps({"type": "auth_ok", "ha_version": __version__, "user": record.public()}))
    return record


@routes.get("/api/websocket")
@public
async def websocket_view(request: web.Request) -> web.StreamResponse:
    app = request.app
    ws = web.WebSocketResponse(heartbeat=55, max_msg_size=app[appkeys.SETTINGS].max_body_bytes)
    await ws.prepare(request)
    app[OPEN_SOCKETS].add(ws)
    try:
        token = await _authenticate(app, ws, request.remote)
        if token is not None:
            await _serve(Connection(app, ws, token, request.remote))
    finally:
        app[OPEN_SOCKETS].discard(ws)
    return ws


async def _serve(conn: Connection) -> None:
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(conn.writer(), name=f"websocket-writer:{conn.token.name}")
        watcher = tasks.create_task(conn.watch_token(), name=f"websocket-token:{conn.token.name}")
        try:
            async for message in conn.ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(message.data)
                except ValueError as err:
                    conn.error(None, ERR_INVALID_FORMAT, f"malformed JSON: {err}")
                    continue
                except RecursionError:
                    conn.error(None, ERR_INVALID_FORMAT, "malformed JSON: nested too deeply")
                    continue
                if isinstance(payload, dict) and payload.get("type") in CONCURRENT:
                    tasks.create_task(conn.handle(payload))
                else:
                    await conn.handle(payload)
                if conn.closed:
                    break
        finally:
            watcher.cancel()
            conn.close()


async def close_all(app: web.Application) -> None:
    """On shutdown: say goodbye to every open websocket."""
    sockets: set[web.WebSocketResponse] = app[OPEN_SOCKETS]
    for ws in tuple(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

"""The aiohttp application: routes, middlewares (errors, CORS, auth) and the server that owns it."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from orbiteos.core import Event, Hub
from orbiteos.integrations.http import (
    appkeys,
    automations_view,
    diagnostics_view,
    history_view,
    logbook_view,
    rest,
    tokens_view,
    webhook_view,
    websocket_api,
)
from orbiteos.integrations.http.audit import AuditLog
from orbiteos.integrations.http.auth import TokenStore, auth_middleware
from orbiteos.integrations.http.connections import ConnectionGuard
from orbiteos.integrations.http.error_log import RECENT_ERRORS, RecentErrors, keep_recent_errors
from orbiteos.integrations.http.errors import Handler, error_middleware
from orbiteos.integrations.http.state_json import StateJsonCache
from orbiteos.natures.failsafe import EVENT_FAILSAFE

_LOGGER = logging.getLogger(__name__)
UI_DIR = Path(__file__).parent / "ui"
# The UI loads nothing from elsewhere: it works offline and a stray CDN link would be refused.
UI_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'"
)


def cors_middleware(allowed_origins: tuple[str, ...]) -> web.middleware:  # type: ignore[valid-type]
    """Answer preflights and add CORS headers for the configured origins only."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        allowed = origin is not None and (origin in allowed_origins or "*" in allowed_origins)
        if request.method == "OPTIONS" and allowed and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if allowed:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin  # type: ignore[assignment]
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = "Authorization, Content-Type"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "GET, POST, PUT, DELETE, OPTIONS"
            response.headers[hdrs.VARY] = "Origin"
        return response

    return cors


async def ui_index(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(UI_DIR / "index.html")
    response.headers["Content-Security-Policy"] = UI_POLICY
    response.headers["Cache-Control"] = "no-cache"
    return response


GUARD = web.AppKey("orbiteos_connection_guard", ConnectionGuard)


def build_app(hub: Hub, settings: appkeys.HttpSettings, tokens: TokenStore) -> web.Application:
    audit = AuditLog(hub)
    guard = ConnectionGuard(settings.idle_timeout, settings.max_unauthenticated)
    # The guard first (it sees every request on its connection); CORS next, so that error answers
    # (made by error_middleware) carry its headers too.
    middlewares: list[Any] = [guard.middleware]
    if settings.cors_allowed_origins:
        middlewares.append(cors_middleware(settings.cors_allowed_origins))
    middlewares += [error_middleware, auth_middleware(tokens, audit)]
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app[appkeys.HUB] = hub
    app[appkeys.SETTINGS] = settings
    app[appkeys.TOKENS] = tokens
    app[appkeys.AUDIT] = audit
    app[GUARD] = guard
    app[appkeys.JSON_CACHE] = StateJsonCache()
    app[websocket_api.OPEN_SOCKETS] = set()
    app[websocket_api.TOKEN_SUBSCRIPTIONS] = {}
    app[RECENT_ERRORS] = RecentErrors()
    views = (rest, diagnostics_view, history_view, logbook_view, automations_view, tokens_view, webhook_view)
    for module in (*views, websocket_api):
        app.router.add_routes(module.routes)
    app.router.add_get("/", ui_index)
    app.router.add_static("/ui/", UI_DIR, append_version=False)
    app.on_shutdown.append(websocket_api.close_all)
    app.cleanup_ctx.append(_audit_failsafe)
    app.cleanup_ctx.append(keep_recent_errors)
    return app


async def _audit_failsafe(app: web.Application) -> AsyncIterator[None]:
    """The fail-safe's entering and leaving are in `/api/audit` too (the recorder has them as grid_events)."""
    audit = app[appkeys.AUDIT]

    def record(event: Event) -> None:
        data = event.data
        audit.action("failsafe", event.context.user_id, None,
                     f"{data.get('entity_id')} {'on' if data.get('active') else 'off'}: {data.get('action')} "
                     f"({data.get('reason')})")

    unsubscribe = app[appkeys.HUB].bus.listen(EVENT_FAILSAFE, record)
    yield
    unsubscribe()


def ssl_context(settings: appkeys.HttpSettings) -> ssl.SSLContext | None:
    if settings.ssl_certificate is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(settings.ssl_certificate), str(settings.ssl_key) if settings.ssl_key else None)
    return context


class _GuardedRunner(web.AppRunner):
    """An AppRunner whose sites make their connections through the app's ConnectionGuard."""

    @property
    def server(self) -> Any:
        made = super().server
        return None if made is None else self.app[GUARD].factory(made)


class HttpServer:
    """The running server; `port` is the bound port (useful when configured as 0)."""

    def __init__(self, hub: Hub, settings: appkeys.HttpSettings, tokens: TokenStore) -> None:
        self.hub = hub
        self.settings = settings
        self.app = build_app(hub, settings, tokens)
        self.runner = _GuardedRunner(
            self.app, access_log=None, shutdown_timeout=5.0, keepalive_timeout=settings.idle_timeout
        )
        self._sweeper: Any = None
        self.port: int | None = None
        self.scheme = "https" if settings.ssl_certificate else "http"

    async def start(self) -> None:
        await self.runner.setup()
        context = ssl_context(self.settings)
        hosts = self.settings.server_host
        port = self.settings.server_port
        for host in [hosts] if isinstance(hosts, str) else hosts:
            site = web.TCPSite(self.runner, host, port, ssl_context=context)
            await site.start()
            if port == 0:  # the other addresses take the port the first one was given
                port = int(self.runner.addresses[0][1])
        self.port = port
        self._sweeper = self.hub.create_task(self.app[GUARD].sweep_forever(), name="http: connection guard")
        _LOGGER.info("http: listening on %s://%s:%s", self.scheme, hosts, self.port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.runner.cleanup()
        _LOGGER.info("http: stopped")

    @property
    def url(self) -> str:
        hosts = self.settings.server_host
        host = hosts if isinstance(hosts, str) else (hosts[0] if hosts else "")
        host = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}"

"""Home Assistant's REST views about the engine itself: components, error log, configuration check."""

from __future__ import annotations

import asyncio

from aiohttp import web

from orbiteos.config import load_config
from orbiteos.integrations.http import appkeys
from orbiteos.integrations.http.auth import Role, requires
from orbiteos.integrations.http.error_log import RECENT_ERRORS
from orbiteos.integrations.http.errors import json_response
from orbiteos.integrations.http.site_config import config_dict

routes = web.RouteTableDef()


@routes.get("/api/components")
@requires(Role.VIEWER)
async def api_components(request: web.Request) -> web.Response:
    """The integrations set up, as Home Assistant's list of loaded components."""
    return json_response(config_dict(request.app[appkeys.HUB])["components"])


@routes.get("/api/error_log")
@requires(Role.ADMIN)
async def api_error_log(request: web.Request) -> web.Response:
    """The last warnings and errors, as text (Home Assistant answers its log file, admins only)."""
    return web.Response(text=request.app[RECENT_ERRORS].text(), content_type="text/plain")


@routes.post("/api/config/core/check_config")
@requires(Role.ADMIN)
async def api_check_config(request: web.Request) -> web.Response:
    """Load and validate the configuration directory again, as `orbiteos check` does."""
    config_dir = request.app[appkeys.HUB].config.config_dir
    if config_dir is None:
        return json_response({"result": "invalid", "errors": "the engine runs without a configuration directory",
                              "warnings": None})
    loaded = await asyncio.to_thread(load_config, config_dir)
    errors = "\n".join(str(e) for e in loaded.errors) or None
    warnings = "\n".join(str(w) for w in loaded.warnings) or None
    return json_response({"result": "invalid" if errors else "valid", "errors": errors, "warnings": warnings})

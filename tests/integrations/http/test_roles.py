"""Every API route against every role: below its role 403, at its role it works; no token 401."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from orbiteos.core import Hub
from orbiteos.integrations.http.app import build_app
from orbiteos.integrations.http.appkeys import HttpSettings
from orbiteos.integrations.http.auth import REQUIRED_ROLE, TokenStore
from tests.integrations.http.conftest import ROLES, Site

# (method, path, JSON body, least role). Bodies are valid, so the least role gets a 2xx.
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/", None, "viewer"),
    ("GET", "/api/config", None, "viewer"),
    ("GET", "/api/auth/whoami", None, "viewer"),
    ("GET", "/api/states", None, "viewer"),
    ("GET", "/api/states/meter.grid", None, "viewer"),
    ("POST", "/api/states/sensor.new", {"state": "1"}, "admin"),
    ("DELETE", "/api/states/meter.grid", None, "admin"),
    ("GET", "/api/services", None, "viewer"),
    ("POST", "/api/services/battery/set_power", {"entity_id": "battery.main", "power_kw": 1}, "operator"),
    ("POST", "/api/services/automation/reload", {}, "admin"),
    ("GET", "/api/events", None, "viewer"),
    ("POST", "/api/events/tariff_changed", {}, "admin"),
    ("POST", "/api/template", {"template": "{{ 1 }}"}, "viewer"),
    ("GET", "/api/automations", None, "viewer"),
    ("GET", "/api/tokens", None, "admin"),
    ("POST", "/api/tokens", {"name": "new", "role": "viewer"}, "admin"),
    ("DELETE", "/api/tokens/viewer", None, "admin"),
    ("GET", "/api/audit", None, "admin"),
    ("GET", "/api/components", None, "viewer"),
    ("GET", "/api/error_log", None, "admin"),
    ("POST", "/api/config/core/check_config", None, "admin"),
]
# Routes whose answer at the least role is not a plain 2xx here (no recorder, no automation).
ROUTES_NOT_2XX = {
    ("GET", "/api/history/period/2026-01-01T00:00:00Z?filter_entity_id=meter.grid"): ("viewer", 404),
    ("GET", "/api/history/period?filter_entity_id=meter.grid"): ("viewer", 404),
    ("GET", "/api/automations/nope/traces"): ("viewer", 404),
    ("GET", "/api/automations/nope/explain"): ("viewer", 404),
    ("GET", "/api/logbook/2026-01-01T00:00:00Z"): ("viewer", 404),
    ("GET", "/api/logbook"): ("viewer", 404),
}


def test_every_route_is_in_the_matrix() -> None:
    """A new route must be added above (and so get its role tested)."""
    app = build_app(Hub(), HttpSettings(), TokenStore(None))
    marked = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None and route.resource.canonical.startswith("/api/")
        and getattr(route.handler, REQUIRED_ROLE, None) is not None
    }
    covered = {(m, p) for m, p, _, _ in ROUTES} | set(ROUTES_NOT_2XX)
    canonical_covered = {(m, _canonical(app, m, p)) for m, p in covered}
    assert marked <= canonical_covered, sorted(marked - canonical_covered)


def _canonical(app: Any, method: str, path: str) -> str:
    url = URL(path)
    for resource in app.router.resources():
        match = resource.get_info()
        if "path" in match and match["path"] == url.path:
            return resource.canonical
        if "formatter" in match and match["pattern"].fullmatch(url.path):
            return resource.canonical
    raise AssertionError(f"no route for {method} {path}")


@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_route_roles(site: Site, method: str, path: str, body: Any, least: str) -> None:
    status, _ = await site.request(method, path, role=None, json=body)
    assert status == 401
    for role in ROLES[: ROLES.index(least)]:
        status, answer = await site.request(method, path, role=role, json=body)
        assert status == 403, (role, answer)
        assert answer["message"].startswith("forbidden")
    status, answer = await site.request(method, path, role=least, json=body)
    assert 200 <= status < 300, (least, status, answer)


@pytest.mark.parametrize(("method", "path"), list(ROUTES_NOT_2XX))
async def test_read_routes_need_a_token(site: Site, method: str, path: str) -> None:
    least, expected = ROUTES_NOT_2XX[(method, path)]
    assert (await site.request(method, path, role=None))[0] == 401
    assert (await site.request(method, path, role=least))[0] == expected

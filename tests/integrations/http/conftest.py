"""A running `http` integration on a free loopback port, with one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import voluptuous as vol

from orbiteos.core import Hub, ServiceCall, SiteConfig
from orbiteos.errors import DeviceUnavailable
from orbiteos.integrations.http import async_setup
from orbiteos.integrations.http.app import HttpServer
from orbiteos.integrations.http.auth import TokenStore

ROLES = ("viewer", "operator", "admin")


@dataclass
class Site:
    hub: Hub
    server: HttpServer
    session: aiohttp.ClientSession
    tokens: dict[str, str]
    config_dir: Path
    calls: list[ServiceCall] = field(default_factory=list)

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    async def request(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> tuple[int, Any]:
        """(status, JSON body or text) of one request."""
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        async with self.session.request(method, path, headers=headers, **kwargs) as response:
            text = await response.text()
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, text


def add_demo_entities(hub: Hub, calls: list[ServiceCall]) -> None:
    """A battery and a meter, with a battery service that writes the battery's state."""
    hub.states.set("battery.main", "0.0", {"soc": 55.0, "capacity_kwh": 100.0, "friendly_name": "Main battery"})
    hub.states.set("meter.grid", "12.5", {"frequency_hz": 50.0})

    def set_power(call: ServiceCall) -> None:
        calls.append(call)
        for entity_id in call.entity_ids:
            old = hub.states.get(entity_id)
            attrs = dict(old.attributes) if old else {}
            hub.states.set(entity_id, call.data["power_kw"], {**attrs, "setpoint_kw": call.data["power_kw"]},
                           context=call.context)
        return None

    def fail(call: ServiceCall) -> None:
        raise RuntimeError("secret internal detail")

    def unreachable(call: ServiceCall) -> None:
        raise DeviceUnavailable("battery.main did not answer within 2 s")

    def reload(call: ServiceCall) -> None:
        calls.append(call)

    hub.services.register(
        "battery", "set_power", set_power,
        vol.Schema({vol.Required("entity_id"): [str], vol.Required("power_kw"): vol.Coerce(float)}),
    )
    hub.services.register("battery", "auto", lambda call: {"handed_back": call.entity_ids})
    hub.services.register("test", "explode", fail)
    hub.services.register("test", "unreachable", unreachable)
    hub.services.register("automation", "reload", reload)


PEAK_SHAVING = """
- id: peak_shaving
  alias: Peak shaving
  description: Discharge the battery when the grid import goes over 20 kW.
  triggers:
    - trigger: numeric_state
      entity_id: meter.grid
      above: 20
  conditions:
    - condition: numeric_state
      entity_id: battery.main
      attribute: soc
      above: 20
  actions:
    - action: battery.set_power
      target:
        entity_id: battery.main
      data:
        power_kw: "{{ [states('meter.grid') | float(0) - 20, 0] | max }}"
"""


async def start_site(
    tmp_path: Path, recorder_url: str | None = None, automations: str | None = None, **http_config: Any
) -> Site:
    """A started hub with the http integration (the recorder on `recorder_url`, automations from YAML)."""
    hub = Hub(config=SiteConfig(name="Test depot", config_dir=tmp_path))
    if recorder_url is not None:
        from orbiteos.integrations import recorder

        await recorder.async_setup(hub, {"db_url": recorder_url, "commit_interval": 0.05})
    store = TokenStore.for_config_dir(tmp_path)
    tokens = {role: store.create(role, role) for role in ROLES}
    calls: list[ServiceCall] = []
    add_demo_entities(hub, calls)
    if automations is not None:
        from orbiteos import automation
        from orbiteos.config import parse_yaml

        validated, errors = automation.validate_config(parse_yaml(automations, "automations.yaml"))
        assert not errors, [str(e) for e in errors]
        await automation.async_setup(hub, validated)
    await async_setup(hub, {"server_host": "127.0.0.1", "server_port": 0, **http_config})
    await hub.start()
    server = hub.data["http"]
    session = aiohttp.ClientSession(base_url=server.url, timeout=aiohttp.ClientTimeout(total=10))
    return Site(hub, server, session, tokens, tmp_path, calls)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    running = await start_site(tmp_path)
    try:
        yield running
    finally:
        await running.session.close()
        await running.hub.stop()

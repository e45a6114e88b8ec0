"""One site behind each provider: the in-process simulator itself, or a simulator (the "device" hub,
as `orbiteos sim-devices` runs it) behind real Modbus TCP, MQTT (mosquitto) and OCPP servers, read
and controlled by an engine hub through the integration under test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from orbiteos.core import Hub, SiteConfig, State
from orbiteos.integrations import modbus, mqtt, ocpp, sim
from orbiteos.integrations.modbus.sim_server import DEVICES, DeviceServer
from orbiteos.integrations.mqtt.sim_server import SimMqttServer
from orbiteos.integrations.ocpp.sim_server import SimulatedChargerClient
from orbiteos.natures import nature_layer
from orbiteos.natures.settings import FailsafeSettings
from tests.servers.mosquitto import MosquittoBroker

WAIT_S = 15.0
PROVIDERS = ("sim", "modbus", "mqtt", "ocpp")
NATURES_OF = {"sim": ("battery", "pv", "ev_charger"), "modbus": ("battery", "pv"), "mqtt": ("battery",),
              "ocpp": ("ev_charger",)}
ENTITY_OF = {"battery": "battery.main", "pv": "pv.roof", "ev_charger": "ev_charger.depot_1"}

# The same devices whatever they are behind: a 10 kW inverter, a 5 kW battery, a 32 A charger.
SIM_BLOCK: dict[str, Any] = {
    "step": 0.1,
    "pv": [{"name": "roof", "peak_power_kw": 10, "inverter_kw": 10}],
    "battery": [{"name": "main", "capacity_kwh": 20, "max_charge_kw": 5, "max_discharge_kw": 5,
                 "initial_soc": 50}],
    "ev_charger": [{"name": "depot_1", "max_power_kw": 22.08, "preparing_s": 0}],
}


@dataclass
class Site:
    provider: str
    engine: Hub  # where the calls are made
    devices: Hub  # where the simulated devices live (the engine itself for the simulator)
    cleanups: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    @property
    def natures(self) -> tuple[str, ...]:
        return NATURES_OF[self.provider]


async def wait_state(hub: Hub, entity_id: str, predicate: Callable[[State], bool], what: str = "") -> State:
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                state = hub.states.get(entity_id)
                if state is not None and predicate(state):
                    return state
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {entity_id} {what}: {hub.states.get(entity_id)}") from None


def _cancelled_on_cleanup(task: asyncio.Task[Any]) -> Callable[[], Awaitable[None]]:
    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return cancel


async def _device_hub() -> Hub:
    hub = Hub(config=SiteConfig(latitude=0.0, longitude=0.0))
    nature_layer(hub).controller = False  # the devices' side, as in `orbiteos sim-devices`
    await sim.async_setup(hub, SIM_BLOCK)
    await hub.start()
    return hub


def _engine(settings: FailsafeSettings | None) -> Hub:
    hub = Hub(config=SiteConfig(latitude=0.0, longitude=0.0))
    # No meter here: the fail-safe watches nothing unless a test gives it inputs.
    nature_layer(hub).configure(settings or FailsafeSettings())
    return hub


async def start_site(provider: str, mosquitto: MosquittoBroker | None = None,
                     settings: FailsafeSettings | None = None) -> Site:
    engine = _engine(settings)
    if provider == "sim":
        await sim.async_setup(engine, SIM_BLOCK)
        await engine.start()
        site = Site(provider, engine, engine)
        site.cleanups.append(engine.stop)
        return site
    devices = await _device_hub()
    site = Site(provider, engine, devices)
    site.cleanups.append(devices.stop)
    if provider == "modbus":
        servers = []
        for domain, entity_id in (("pv", "pv.roof"), ("battery", "battery.main")):
            image_of, on_write, keeps = DEVICES[domain]
            server = DeviceServer(devices, entity_id, image_of, on_write, keeps=keeps)
            await server.start()
            servers.append(server)
            site.cleanups.append(server.stop)
        block = [
            {"name": "inverter", "host": "127.0.0.1", "port": servers[0].port, "timeout": 1, "retry_max": 0.5,
             "pv": [{"name": "roof", "profile": "sunspec", "scan_interval": 0.1}]},
            {"name": "storage", "host": "127.0.0.1", "port": servers[1].port, "timeout": 1, "retry_max": 0.5,
             "battery": [{"name": "main", "profile": "orbiteos_battery", "scan_interval": 0.1}]},
        ]
        await modbus.async_setup(engine, modbus.CONFIG_SCHEMA(block))
    elif provider == "mqtt":
        assert mosquitto is not None
        server = SimMqttServer(devices, mosquitto.host, mosquitto.port, "orbiteos-sim", 0.1)
        site.cleanups.append(_cancelled_on_cleanup(asyncio.create_task(server.serve())))
        block = {"broker": mosquitto.host, "port": mosquitto.port, "client_id": f"engine-{id(engine):x}",
                 "battery": [{"name": "main", "state_topic": "orbiteos-sim/battery/main"}]}
        await mqtt.async_setup(engine, mqtt.CONFIG_SCHEMA(block))
    elif provider == "ocpp":
        await ocpp.async_setup(engine, {"host": "127.0.0.1", "port": 0, "accept_all": True,
                                        "charge_points": [{"id": "depot", "max_current_a": 32}]})
        system = engine.data["ocpp"]
        client = SimulatedChargerClient(devices, "ev_charger.depot_1", f"ws://127.0.0.1:{system.port}/ocpp",
                                        "depot", meter_interval=0.2)
        site.cleanups.append(_cancelled_on_cleanup(asyncio.create_task(client.run())))
    await engine.start()
    site.cleanups.insert(0, engine.stop)
    for nature in site.natures:
        await wait_state(engine, ENTITY_OF[nature], lambda s: s.state not in ("unavailable", "unknown"),
                         "to be read over the protocol")
    if provider == "modbus":
        await wait_state(engine, "battery.main", lambda s: s.attributes.get("max_charge_kw") == 5.0)
        await wait_state(engine, "pv.roof", lambda s: s.attributes.get("inverter_kw") == 10.0)
    if provider == "mqtt":
        await wait_state(engine, "battery.main", lambda s: s.attributes.get("max_charge_kw") == 5.0)
    return site


SiteFactory = Callable[..., Awaitable[Site]]


@pytest.fixture
async def site_over(request: pytest.FixtureRequest) -> AsyncIterator[SiteFactory]:
    sites: list[Site] = []

    async def start(provider: str, settings: FailsafeSettings | None = None) -> Site:
        broker = request.getfixturevalue("mosquitto") if provider == "mqtt" else None
        site = await start_site(provider, broker, settings)
        sites.append(site)
        return site

    yield start
    for site in sites:
        for cleanup in site.cleanups:
            async with asyncio.timeout(WAIT_S):
                await cleanup()

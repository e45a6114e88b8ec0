from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol

from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import load_config
from orbiteos.core import EVENT_STATE_CHANGED, Event, Hub, SiteConfig
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations import sim
from orbiteos.simulate.kpis import KpiCollector

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 6, 16, 0, 0, tzinfo=AMSTERDAM)  # a Tuesday with plenty of sun
DEMO = Path(__file__).parents[3] / "config.example"

SITE: dict[str, Any] = {
    "seed": 3,
    "step": 10,  # day-long tests step at 10 s to stay fast; the physics takes any step
    "pv": {"name": "roof", "peak_power_kw": 60, "tilt": 20},
    "battery": {"name": "main", "capacity_kwh": 80, "max_charge_kw": 40, "max_discharge_kw": 40,
                "initial_soc": 50},
    "ev_charger": {"name": "bay", "max_power_kw": 22,
                   "sessions": [{"arrival": "07:00", "departure": "11:00", "capacity_kwh": 60, "arrival_soc": 10,
                                 "target_soc": 95, "max_power_kw": 22}]},
    "load": {"profile": "office", "base_kw": 5, "peak_kw": 40},
    "tariff": {"time_of_use": [{"start": "00:00", "price": 0.2}, {"start": "08:00", "price": 0.35}]},
    "grid": {"import_limit_kw": 50, "export_limit_kw": 30},
}

Scenario = Callable[[Hub, VirtualClock], Awaitable[Any]]


def run_site(config: dict[str, Any], seconds: float, scenario: Scenario | None = None, start: datetime = START) -> Any:
    async def main(clock: VirtualClock) -> Any:
        hub = Hub(clock, SiteConfig(time_zone="Europe/Amsterdam", latitude=52.09, longitude=5.12))
        await sim.async_setup(hub, sim.CONFIG_SCHEMA(config))
        await hub.start()
        outcome = await scenario(hub, clock) if scenario else None
        remaining = seconds - (clock.now() - start).total_seconds()
        await clock.sleep(remaining)
        await hub.stop()
        return hub.data["sim"], outcome

    return run_virtual(main, start)


def test_energy_balance_closes_over_a_day() -> None:
    async def collect(hub: Hub, clock: VirtualClock) -> KpiCollector:
        return KpiCollector(hub, clock.now())

    site, kpis = run_site(SITE, 86_400, collect)
    meter, load = site.meter, site.load
    pv = site.pv["pv.roof"]
    bat = site.batteries["battery.main"]
    charger = site.chargers["ev_charger.bay"]
    assert pv.energy_kwh > 100 and bat.discharged_kwh > 10 and charger.energy_kwh > 10  # a day with everything
    net_grid = meter.import_kwh - meter.export_kwh
    net_devices = load.energy_kwh + charger.energy_kwh - pv.energy_kwh - (bat.discharged_kwh - bat.charged_kwh)
    throughput = meter.import_kwh + meter.export_kwh
    assert abs(net_grid - net_devices) <= 0.001 * throughput
    # The same balance integrated from the written states (rounded to the watt) by the KPI collector.
    figures = kpis.kpis(START.replace(day=17))
    assert figures["grid_import_kwh"] == pytest.approx(meter.import_kwh, rel=0.001)
    assert figures["grid_export_kwh"] == pytest.approx(meter.export_kwh, rel=0.001)
    assert figures["pv_kwh"] == pytest.approx(pv.energy_kwh, rel=0.001)
    assert figures["ev_energy_kwh"] == pytest.approx(charger.energy_kwh, rel=0.001)
    assert figures["consumption_kwh"] == pytest.approx(load.energy_kwh + charger.energy_kwh, rel=0.001)
    # Inside the battery: what went in and out, less the conversion losses and capacity fade.
    initial = 0.5 * 80
    expected = initial + bat.efficiency * bat.charged_kwh - bat.discharged_kwh / bat.efficiency - bat.faded_kwh
    assert bat.stored_kwh == pytest.approx(expected, rel=1e-6)


def _trace(config: dict[str, Any], seconds: float) -> list[tuple[str, str, str, str]]:
    async def record(hub: Hub, clock: VirtualClock) -> list[tuple[str, str, str, str]]:
        log: list[tuple[str, str, str, str]] = []

        def on_change(event: Event) -> None:
            new = event.data["new_state"]
            log.append((event.time_fired.isoformat(), new.entity_id, new.state, repr(sorted(new.attributes.items()))))

        hub.bus.listen(EVENT_STATE_CHANGED, on_change)
        return log

    start = START.replace(hour=7)
    return run_site(config, seconds, record, start=start)[1]


def test_the_same_seed_gives_the_same_site() -> None:
    one_second = {**SITE, "step": 1}
    first = _trace(one_second, 1800)
    assert len(first) > 5_000
    assert first == _trace(one_second, 1800)
    assert first != _trace({**one_second, "seed": 4}, 1800)


def test_services_control_the_devices() -> None:
    async def scenario(hub: Hub, clock: VirtualClock) -> dict[str, Any]:
        await clock.sleep(9 * 3600)  # 09:00, sun up, vehicle connected
        seen: dict[str, Any] = {}
        await hub.services.call("battery", "set_power", {"power_kw": -25}, target={"entity_id": "battery.main"})
        assert hub.states.get("battery.main").attributes["setpoint_kw"] == -25  # acknowledged at once
        await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 10})
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.bay", "current_a": 8})
        await clock.sleep(SITE["step"])  # the power follows at the next step
        seen["battery"] = float(hub.states.get("battery.main").state)
        seen["pv"] = float(hub.states.get("pv.roof").state)
        seen["ev"] = float(hub.states.get("ev_charger.bay").state)
        await hub.services.call("battery", "auto", {"entity_id": ["battery.main"]})
        await hub.services.call("ev_charger", "stop", {"entity_id": "ev_charger.bay"})
        await clock.sleep(SITE["step"])
        seen["ev_status"] = hub.states.get("ev_charger.bay").attributes["status"]
        seen["mode"] = hub.states.get("battery.main").attributes["mode"]
        seen["battery_in_auto"] = float(hub.states.get("battery.main").state)
        unknown = r"no device provides battery.other \(provided: battery.main\)"
        with pytest.raises(ServiceValidationError, match=unknown):
            await hub.services.call("battery", "set_power", {"entity_id": "battery.other", "power_kw": 1})
        with pytest.raises(ServiceValidationError, match="exactly one of power_kw, percent"):
            await hub.services.call("pv", "set_limit", {"entity_id": "pv.roof", "power_kw": 1, "percent": 5})
        return seen

    _site, seen = run_site(SITE, 9 * 3600 + 20, scenario)
    assert seen["battery"] == -25
    assert 0 < seen["pv"] <= 6.0
    assert seen["ev"] == pytest.approx(8 * 230 * 3 / 1000)
    assert seen["ev_status"] == "SuspendedEVSE"
    assert seen["mode"] == "auto"
    assert seen["battery_in_auto"] > 0  # self-consumption again: covering the morning load


def test_entities_follow_the_device_natures() -> None:
    async def scenario(hub: Hub, clock: VirtualClock) -> dict[str, Any]:
        await clock.sleep(10 * 3600)
        return {s.entity_id: s for s in hub.states.all()}

    site, states = run_site(SITE, 10 * 3600, scenario)
    assert set(site.entity_ids) <= set(states)
    assert {"import_kwh", "export_kwh", "frequency_hz", "voltage_l1", "current_l3", "power_l2"} <= set(
        states["meter.grid"].attributes
    )
    assert {"energy_kwh", "peak_power_kw", "limit_kw", "dc_voltage", "temperature_c"} <= set(
        states["pv.roof"].attributes
    )
    assert {"soc", "soh", "capacity_kwh", "max_charge_kw", "max_discharge_kw", "setpoint_kw", "cycles",
            "temperature_c"} <= set(states["battery.main"].attributes)
    assert {"status", "limit_kw", "session_kwh", "connector_id"} <= set(states["ev_charger.bay"].attributes)
    assert states["sensor.electricity_price"].state == "0.35"
    assert states["sensor.grid_import_limit"].state == "50.0"
    # grid = load + EV - PV - battery, from the states themselves
    devices = ("pv", "battery", "ev_charger", "meter")
    value = {e: float(s.state) for e, s in states.items() if e.split(".")[0] in devices}
    load = float(states["sensor.site_load"].state)
    assert value["meter.grid"] == pytest.approx(
        load + value["ev_charger.bay"] - value["pv.roof"] - value["battery.main"], abs=0.005
    )


def test_a_frequency_dip_happens_when_configured() -> None:
    config = {**SITE, "step": 1, "meter": {"disturbances": [{"at": "14:00", "duration": 20, "frequency_hz": 49.7}]}}

    async def scenario(hub: Hub, clock: VirtualClock) -> list[float]:
        await clock.sleep(3600 - 60)
        seen = []
        for _ in range(120):
            await clock.sleep(1)
            seen.append(hub.states.get("meter.grid").attributes["frequency_hz"])
        return seen

    _site, seen = run_site(config, 3600 + 60, scenario, start=START.replace(hour=13))
    before, during = seen[:55], seen[65:80]
    assert all(49.9 < f < 50.1 for f in before)
    assert all(49.65 < f < 49.75 for f in during)


def test_config_errors_name_the_place() -> None:
    with pytest.raises(vol.Invalid) as err:
        sim.CONFIG_SCHEMA({"pv": [{"name": "roof", "peak_power_kw": 10}, {"name": "Roof", "peak_power_kw": 5}]})
    assert "pv.roof twice" in str(err.value)
    with pytest.raises(vol.Invalid) as err:
        sim.CONFIG_SCHEMA({"battery": {"capacity_kwh": -1, "max_charge_kw": 1, "max_discharge_kw": 1}})
    assert err.value.path[:2] == ["battery", 0] or "capacity_kwh" in str(err.value)


def test_the_demo_configuration_is_the_issue_site() -> None:
    loaded = load_config(DEMO)
    assert loaded.errors == []
    block = loaded.blocks["sim"]
    assert block["pv"][0]["peak_power_kw"] == 50
    assert block["battery"][0]["capacity_kwh"] == 100
    assert block["ev_charger"][0]["max_power_kw"] == 22 and len(block["ev_charger"][0]["sessions"]) == 2
    assert block["grid"]["import_limit_kw"] == 80
    assert block["meter"]["disturbances"][0]["frequency_hz"] == 49.7


def test_a_live_hub_steps_in_real_time() -> None:
    async def main() -> tuple[str, str]:
        hub = Hub(config=SiteConfig(time_zone="Europe/Amsterdam"))
        await sim.async_setup(hub, sim.CONFIG_SCHEMA({**SITE, "step": 0.05}))
        first = hub.states.get("meter.grid").last_updated
        stepped = asyncio.Event()
        hub.states.listen("meter.grid", lambda _event: stepped.set())
        async with asyncio.timeout(5):
            await stepped.wait()
        second = hub.states.get("meter.grid").last_updated
        await hub.stop()
        return first.isoformat(), second.isoformat()

    first, second = asyncio.run(main())
    assert second > first


def test_every_device_has_a_state_from_the_start_even_asleep_at_night() -> None:
    async def scenario(hub: Hub, clock: VirtualClock) -> dict[str, str]:
        return {s.entity_id: s.state for s in hub.states.all()}

    site, states = run_site(SITE, 30, scenario, start=START.replace(hour=23))
    assert set(site.entity_ids) <= set(states)
    assert states["pv.roof"] == "0.0" and states["ev_charger.bay"] == "0.0"


def test_the_entities_a_block_provides_are_known_before_it_runs() -> None:
    async def scenario(hub: Hub, clock: VirtualClock) -> set[str]:
        return {s.entity_id for s in hub.states.all()}

    _site, written = run_site(SITE, 5, scenario)
    assert set(sim.entity_ids(SITE)) == written

"""What the recorder writes: states with attributes, events, service calls, runs, energy rows."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from orbiteos.core import Context
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder


async def test_every_state_change_is_recorded_with_its_attributes(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub() as hub:
        context = Context(user_id="installer", parent_id="parent-1")
        hub.states.set("sensor.site_load", 12.5, {"unit_of_measurement": "kW", "friendly_name": "Site load"})
        hub.states.set("sensor.site_load", 13.0, {"unit_of_measurement": "kW", "friendly_name": "Site load"},
                       context=context)
        hub.states.set("sensor.site_load", 13.0, {"unit_of_measurement": "kW", "friendly_name": "Site load"})
        hub.states.set("switch.heater", True, {"nested": {"a": [1, 2]}})
        hub.states.set("sensor.site_load", "unavailable", {})
        await running_recorder(hub).flush()
        rows = await fetch(postgres_url, "SELECT * FROM states ORDER BY seq")

    assert [(r["entity_id"], r["state"], r["value"]) for r in rows] == [
        ("sensor.site_load", "12.5", 12.5),
        ("sensor.site_load", "13.0", 13.0),  # the same state again changes nothing and records nothing
        ("switch.heater", "on", None),
        ("sensor.site_load", "unavailable", None),
    ]
    assert json.loads(rows[0]["attributes"]) == {"unit_of_measurement": "kW", "friendly_name": "Site load"}
    assert json.loads(rows[2]["attributes"]) == {"nested": {"a": [1, 2]}}
    assert (rows[1]["context_id"], rows[1]["context_user_id"], rows[1]["context_parent_id"]) == (
        context.id, "installer", "parent-1")
    assert rows[0]["time"].tzinfo is not None and rows[0]["last_changed"] is None  # changed in this very row
    assert len({r["seq"] for r in rows}) == 4


async def test_an_attribute_only_update_keeps_when_the_state_last_changed(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub() as hub:
        first = hub.states.set("battery.main", -5.0, {"soc": 50})
        await asyncio.sleep(0.01)
        hub.states.set("battery.main", -5.0, {"soc": 49})
        await running_recorder(hub).flush()
        rows = await fetch(postgres_url, "SELECT time, last_changed FROM states ORDER BY seq")
    assert rows[0]["last_changed"] is None
    assert rows[1]["last_changed"] == first.last_updated and rows[1]["time"] > first.last_updated


async def test_values_postgresql_refuses_are_cleaned_not_lost(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub() as hub:
        hub.states.set("sensor.odd", "nul\x00here", {"ratio": float("nan"), "big": float("inf"), "text": "a\x00b",
                                                   "when": datetime(2026, 1, 1, tzinfo=UTC), "ids": {1}})
        hub.states.set("sensor.odd", "nan", {})
        await running_recorder(hub).flush()
        rows = await fetch(postgres_url, "SELECT state, value, attributes FROM states ORDER BY seq")

    assert rows[0]["state"] == "nulhere"
    assert json.loads(rows[0]["attributes"]) == {
        "ratio": None, "big": None, "text": "ab", "when": "2026-01-01T00:00:00+00:00", "ids": [1]}
    assert (rows[1]["state"], rows[1]["value"]) == ("nan", None)


async def test_a_removed_entity_is_recorded_as_a_row_without_state(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub() as hub:
        hub.states.set("sensor.temporary", 1)
        hub.states.remove("sensor.temporary")
        await running_recorder(hub).flush()
        rows = await fetch(postgres_url, "SELECT entity_id, state FROM states ORDER BY seq")
    assert [(r["entity_id"], r["state"]) for r in rows] == [("sensor.temporary", "1"), ("sensor.temporary", None)]


async def test_service_calls_go_to_the_audit_log_with_who_and_why(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub() as hub:
        hub.services.register("battery", "set_power", lambda call: None)
        await hub.services.call("battery", "set_power", {"power_kw": -20}, target={"entity_id": "battery.main"},
                                context=Context(id="ctx-1", user_id="ems-token", parent_id="trigger-ctx"))
        hub.services.dry_run_unknown = True
        await hub.services.call("pv", "set_limit", {"percent": 50})
        await running_recorder(hub).flush()
        audit = await fetch(postgres_url, "SELECT * FROM audit_log ORDER BY seq")
        events = await fetch(postgres_url, "SELECT event_type FROM events WHERE event_type = 'call_service'")

    assert [(r["user_id"], r["domain"], r["service"], json.loads(r["service_data"]), r["handled"],
             r["context_id"], r["context_parent_id"]) for r in audit] == [
        ("ems-token", "battery", "set_power", {"power_kw": -20, "entity_id": ["battery.main"]}, True,
         "ctx-1", "trigger-ctx"),
        (None, "pv", "set_limit", {"percent": 50}, False, audit[1]["context_id"], None),
    ]
    assert len(events) == 2  # and in the events table too


async def test_device_natures_fill_telemetry_and_energy_flows(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub() as hub:
        hub.states.set("meter.grid", 12.0, {"import_kwh": 1500.5, "export_kwh": 300.25, "frequency_hz": 49.98,
                                            "voltage_l1": 231.0, "current_l2": 16.5, "power_l1": 4.0})
        hub.states.set("meter.grid", -8.0, {"import_kwh": 1500.5, "export_kwh": 300.5, "frequency_hz": 50.01})
        hub.states.set("pv.roof", 31.5, {"energy_kwh": 88.0, "limit_kw": 50, "temperature_c": 41.0})
        hub.states.set("battery.main", -20.0, {"soc": 55.5, "soh": 98, "setpoint_kw": -20, "capacity_kwh": 100})
        hub.states.set("ev_charger.bay_1", 11.0, {"status": "Charging", "session_kwh": 4.2, "limit_kw": 11})
        hub.states.set("battery.main", "unavailable", {"soc": 55.5})
        await running_recorder(hub).flush()
        telemetry = await fetch(postgres_url, "SELECT * FROM device_telemetry ORDER BY time, device_id")
        flows = await fetch(postgres_url, "SELECT entity_id, flow, power_kw FROM energy_flows ORDER BY time, flow")

    by_device = [(r["device_id"], r["nature"], r["available"], r["power_kw"]) for r in telemetry]
    assert sorted(by_device) == sorted([
        ("meter.grid", "meter", True, 12.0), ("meter.grid", "meter", True, -8.0), ("pv.roof", "pv", True, 31.5),
        ("battery.main", "battery", True, -20.0), ("ev_charger.bay_1", "ev_charger", True, 11.0),
        ("battery.main", "battery", False, None),
    ])
    meter = next(r for r in telemetry if r["device_id"] == "meter.grid" and r["power_kw"] == 12.0)
    assert (meter["import_kwh"], meter["export_kwh"], meter["frequency_hz"], meter["voltage_l1"],
            meter["current_l2"]) == (1500.5, 300.25, 49.98, 231.0, 16.5)
    battery = next(r for r in telemetry if r["device_id"] == "battery.main" and r["available"])
    assert (battery["soc"], battery["soh"], battery["setpoint_kw"]) == (55.5, 98.0, -20.0)
    charger = next(r for r in telemetry if r["device_id"] == "ev_charger.bay_1")
    assert (charger["status"], charger["energy_kwh"], charger["limit_kw"]) == ("Charging", 4.2, 11.0)
    pv = next(r for r in telemetry if r["device_id"] == "pv.roof")
    assert (pv["energy_kwh"], pv["limit_kw"], pv["temperature_c"]) == (88.0, 50.0, 41.0)

    assert sorted(((r["entity_id"], r["flow"], r["power_kw"]) for r in flows), key=repr) == sorted([
        ("meter.grid", "grid_import", 12.0), ("meter.grid", "grid_export", 0.0),
        ("meter.grid", "grid_import", 0.0), ("meter.grid", "grid_export", 8.0),
        ("pv.roof", "pv", 31.5),
        ("battery.main", "battery_discharge", 0.0), ("battery.main", "battery_charge", 20.0),
        ("ev_charger.bay_1", "ev", 11.0),
        ("battery.main", "battery_discharge", None), ("battery.main", "battery_charge", None),
    ], key=repr)  # the unavailable battery writes NULL power: a gap, not a zero


async def test_price_sensors_fill_energy_prices(recorder_hub: RecorderHub, postgres_url: str):
    async with asyncio.timeout(30), recorder_hub(price_entities=["sensor.tariff_index"]) as hub:
        hub.states.set("sensor.epex_price", 0.231, {"unit_of_measurement": "EUR/kWh"})
        hub.states.set("sensor.tariff_index", 3, {})
        hub.states.set("sensor.site_load", 40, {"unit_of_measurement": "kW"})
        hub.states.set("sensor.epex_price", "unknown", {"unit_of_measurement": "EUR/kWh"})
        await running_recorder(hub).flush()
        prices = await fetch(postgres_url, "SELECT entity_id, price, unit FROM energy_prices ORDER BY time, entity_id")
    assert [tuple(r) for r in prices] == [("sensor.epex_price", 0.231, "EUR/kWh"), ("sensor.tariff_index", 3.0, None)]


async def test_grid_events_and_automation_runs_get_their_tables(recorder_hub: RecorderHub, postgres_url: str):
    # Recent: the recorder's purge deletes rows older than purge_keep_days as soon as it connects.
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    async with asyncio.timeout(30), recorder_hub() as hub:
        hub.bus.fire("grid_event", {"kind": "frequency_dip", "entity_id": "meter.grid", "value": 49.7,
                                    "duration_s": 20})
        hub.bus.fire("automation_run_finished", {
            "automation_id": "peak_shaving", "entity_id": "automation.peak_shaving", "run_id": "run-7",
            "started": started, "finished": (started + timedelta(seconds=2)).isoformat(),
            "result": "finished", "error": None,
            "trace": {"trigger": {"platform": "numeric_state"}, "run_id": "run-7", "result": "finished",
                      "steps": [{"path": "action/0", "service": "battery.set_power", "data": {"power_kw": -5}}]},
        }, context=Context(id="run-ctx"))
        hub.bus.fire("automation_run_finished", {
            "automation_id": "pv_surplus_ev", "entity_id": "automation.pv_surplus_ev", "run_id": "run-8",
            "started": started, "finished": started, "result": "failed_conditions", "error": None,
            "trace": {"trigger": {"platform": "time_pattern", "description": "time pattern"},
                      "result": "failed_conditions",
                      "steps": [{"path": "condition/0", "condition": "time", "result": False}]},
        })
        await running_recorder(hub).flush()
        grid = await fetch(postgres_url, "SELECT * FROM grid_events")
        runs = await fetch(postgres_url, "SELECT * FROM automation_runs ORDER BY seq")
        events = await fetch(postgres_url, "SELECT event_type, data FROM events ORDER BY seq")

    assert [(r["kind"], r["entity_id"], r["value"], json.loads(r["data"])["duration_s"]) for r in grid] == [
        ("frequency_dip", "meter.grid", 49.7, 20)]
    run = runs[0]
    assert (run["automation_id"], run["entity_id"], run["run_id"], run["result"], run["time"],
            run["finished"], run["context_id"]) == (
        "peak_shaving", "automation.peak_shaving", "run-7", "finished", started,
        started + timedelta(seconds=2), "run-ctx")
    # The trace without what the columns hold.
    assert json.loads(run["trace"]) == {"trigger": {"platform": "numeric_state"}, "steps": [
        {"path": "action/0", "service": "battery.set_power", "data": {"power_kw": -5}}]}
    # A run that did nothing: the short form.
    assert json.loads(runs[1]["trace"]) == {"did_nothing": True, "trigger": {"platform": "time_pattern"},
                                            "steps": 1, "last_step": "condition/0", "failed": "condition/0"}
    # automation_runs holds the runs: no events rows repeat them.
    assert "automation_run_finished" not in {r["event_type"] for r in events}
    assert "grid_event" in {r["event_type"] for r in events}


async def test_include_and_exclude_decide_what_is_recorded(recorder_hub: RecorderHub, postgres_url: str):
    config = {
        "include": {"domains": ["sensor", "meter"], "entities": ["switch.pump"]},
        "exclude": {"entity_globs": ["sensor.debug_*"], "entities": ["meter.test"], "event_types": ["call_service"]},
    }
    async with asyncio.timeout(30), recorder_hub(**config) as hub:
        for entity_id in ("sensor.load", "sensor.debug_x", "meter.grid", "meter.test", "switch.pump", "switch.fan"):
            hub.states.set(entity_id, 1)
        hub.services.register("switch", "turn_on", lambda call: None)
        await hub.services.call("switch", "turn_on", {"entity_id": "switch.pump"})
        await running_recorder(hub).flush()
        states = await fetch(postgres_url, "SELECT entity_id FROM states ORDER BY seq")
        events = await fetch(postgres_url, "SELECT event_type FROM events")
        audit = await fetch(postgres_url, "SELECT count(*) AS n FROM audit_log")
    assert [r["entity_id"] for r in states] == ["sensor.load", "meter.grid", "switch.pump"]
    assert "call_service" not in {r["event_type"] for r in events}
    assert "service_registered" in {r["event_type"] for r in events}
    assert audit[0]["n"] == 0

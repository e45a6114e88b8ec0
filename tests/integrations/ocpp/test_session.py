"""Boot, status, a whole transaction with MeterValues, and the session event for the recorder."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import call

from orbiteos.core import Event

from .conftest import CentralFactory, connect, until


async def test_boot_is_accepted_and_the_connector_becomes_available(central: CentralFactory) -> None:
    hub, system, url = await central(heartbeat_interval=42)
    assert hub.states.get("ev_charger.cp1_1").state == "unavailable"
    async with connect(url, "cp1") as c:
        answer = await c.cp.boot()
        assert answer.status == "Accepted"
        assert answer.interval == 42
        await c.cp.status(1, "Available")
        state = hub.states.get("ev_charger.cp1_1")
        assert state.state == "0.0"
        assert state.attributes["status"] == "Available"
        assert state.attributes["connector_id"] == 1
        assert system.devices["cp1"].info["vendor"] == "OrbitEOS"
        heartbeat = await c.cp.call(call.Heartbeat())
        assert heartbeat.current_time.endswith("Z")


async def test_a_whole_session_updates_the_entity_and_fires_ocpp_session(central: CentralFactory) -> None:
    hub, system, url = await central(id_tags=["TAG1"])
    sessions: list[Event] = []
    hub.bus.listen("ocpp_session", sessions.append)
    async with connect(url, "cp1") as c:
        await c.cp.boot()
        assert (await c.cp.call(call.Authorize(id_tag="TAG1"))).id_tag_info["status"] == "Accepted"
        assert (await c.cp.call(call.Authorize(id_tag="STRANGER"))).id_tag_info["status"] == "Invalid"
        await c.cp.status(1, "Preparing")
        started = await c.cp.call(call.StartTransaction(
            connector_id=1, id_tag="TAG1", meter_start=10_000, timestamp="2026-01-01T12:00:00Z"))
        tx_id = started.transaction_id
        assert started.id_tag_info["status"] == "Accepted"
        await c.cp.status(1, "Charging")
        await c.cp.meter(1, tx_id, energy_wh=12_500, power_w=7_400, soc=55)
        state = hub.states.get("ev_charger.cp1_1")
        assert state.state == "7.4"
        assert state.attributes["session_kwh"] == 2.5
        assert state.attributes["vehicle_soc"] == 55
        assert state.attributes["transaction_id"] == tx_id
        assert state.attributes["id_tag"] == "TAG1"
        stopped = await c.cp.call(call.StopTransaction(
            meter_stop=15_000, timestamp="2026-01-01T13:00:00Z", transaction_id=tx_id, reason="EVDisconnected",
            id_tag="TAG1"))
        assert stopped.id_tag_info["status"] == "Accepted"
        await c.cp.status(1, "Available")
    state = hub.states.get("ev_charger.cp1_1")
    assert state.attributes["session_kwh"] == 5.0
    assert "transaction_id" not in state.attributes
    assert len(sessions) == 1
    data: dict[str, Any] = dict(sessions[0].data)
    assert data == {
        "charge_point_id": "cp1", "connector_id": 1, "entity_id": "ev_charger.cp1_1", "transaction_id": tx_id,
        "id_tag": "TAG1", "start": "2026-01-01T12:00:00+00:00", "stop": "2026-01-01T13:00:00+00:00",
        "meter_start_wh": 10000.0, "meter_stop_wh": 15000.0, "energy_kwh": 5.0, "reason": "EVDisconnected",
    }
    assert list(system.sessions.completed)[0].transaction_id == tx_id


async def test_unknown_id_tag_starts_a_transaction_marked_invalid(central: CentralFactory) -> None:
    hub, system, url = await central(id_tags=["TAG1"])
    async with connect(url, "cp1") as c:
        started = await c.cp.call(call.StartTransaction(
            connector_id=1, id_tag="NOPE", meter_start=0, timestamp="2026-01-01T12:00:00Z"))
        assert started.id_tag_info["status"] == "Invalid"


async def test_accept_all_accepts_any_id_tag(central: CentralFactory) -> None:
    hub, system, url = await central(accept_all=True)
    async with connect(url, "cp1") as c:
        assert (await c.cp.call(call.Authorize(id_tag="ANYONE"))).id_tag_info["status"] == "Accepted"


async def test_meter_values_in_kw_and_per_phase_currents(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with connect(url, "cp1") as c:
        await c.cp.call(call.MeterValues(connector_id=1, meter_value=[{"timestamp": "2026-01-01T12:00:00Z",
            "sampledValue": [
                {"value": "11.0", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "15.5", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                {"value": "16.1", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
                {"value": "1.5", "unit": "kWh"},
            ]}]))
    state = hub.states.get("ev_charger.cp1_1")
    assert state.state == "11.0"
    assert (state.attributes["current_l1"], state.attributes["current_l2"], state.attributes["current_l3"]) == (
        16.0, 15.5, 16.1)
    assert state.attributes["energy_kwh"] == 1.5


async def test_data_transfer_and_firmware_status_are_handled(central: CentralFactory) -> None:
    hub, system, url = await central()
    seen: list[Event] = []
    hub.bus.listen("ocpp_data_transfer", seen.append)
    async with connect(url, "cp1") as c:
        answer = await c.cp.call(call.DataTransfer(vendor_id="acme", message_id="hello", data="{}"))
        assert answer.status == "Accepted"
        await c.cp.call(call.FirmwareStatusNotification(status="Downloading"))
        await c.cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    await until(lambda: bool(seen), "the data transfer event")
    assert seen[0].data["vendor_id"] == "acme"
    assert system.devices["cp1"].firmware_status == "Downloading"
    assert system.devices["cp1"].diagnostics_status == "Uploaded"


async def test_connectors_get_their_own_entities_and_connector_zero_none(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=[{"id": "Depot-CP2", "connectors": 2}])
    assert hub.states.get("ev_charger.depot_cp2_2").state == "unavailable"
    async with connect(url, "Depot-CP2") as c:
        await c.cp.status(0, "Available")
        await c.cp.status(2, "Charging")
        for bad in (3, -1):  # more connectors than configured, or none: refused, no entity
            with pytest.raises(PropertyConstraintViolationError, match=f"connectorId {bad}: expected 0 to 2"):
                await c.cp.call(call.StatusNotification(connector_id=bad, error_code="NoError", status="Available"),
                                suppress=False)
        assert hub.states.get("ev_charger.depot_cp2_2").attributes["status"] == "Charging"
        assert hub.states.get("ev_charger.depot_cp2_1").attributes["status"] is None
        assert not [e for e in hub.states.entity_ids() if e.startswith("ev_charger.depot_cp2_") and e[-1] not in "12"]
        assert "ev_charger.depot_cp2_0" not in hub.states
        assert system.devices["Depot-CP2"].status == "Available"


async def test_stop_of_an_unknown_transaction_is_still_announced(central: CentralFactory) -> None:
    hub, system, url = await central()
    sessions: list[Event] = []
    hub.bus.listen("ocpp_session", sessions.append)
    async with connect(url, "cp1") as c:
        await c.cp.call(call.StopTransaction(meter_stop=900, timestamp="2026-01-01T13:00:00Z", transaction_id=77))
    assert [(s.data["transaction_id"], s.data["start"], s.data["meter_stop_wh"]) for s in sessions] == [
        (77, None, 900.0)]


async def test_limit_falls_back_to_the_default_when_the_transaction_ends(central: CentralFactory) -> None:
    hub, system, url = await central(charging_rate_unit="W")
    async with connect(url, "cp1") as c:
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 11})
        started = await c.cp.call(call.StartTransaction(
            connector_id=1, id_tag="orbiteos", meter_start=0, timestamp="2026-01-01T12:00:00Z"))
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 4})
        assert hub.states.get("ev_charger.cp1_1").attributes["limit_kw"] == 4.0
        await c.cp.call(call.StopTransaction(meter_stop=10, timestamp="2026-01-01T12:30:00Z",
                                             transaction_id=started.transaction_id))
        assert hub.states.get("ev_charger.cp1_1").attributes["limit_kw"] == 11.0

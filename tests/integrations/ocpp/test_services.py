"""ev_charger.set_limit/start/stop and the ocpp.* operations, against a real charge point."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ocpp.v16 import call

from orbiteos.core import ServiceCall
from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from orbiteos.integrations.ocpp.charge_point import ChargerCallError

from .conftest import CentralFactory, connect, until


def _period(profile: dict[str, Any]) -> tuple[str, Decimal | float]:
    schedule = profile["charging_schedule"]
    return schedule["charging_rate_unit"], schedule["charging_schedule_period"][0]["limit"]


async def _limit_profile(cp: Any) -> dict[str, Any]:
    """The next SetChargingProfile that is not the charger's fallback (stack level 0, see below)."""
    while True:
        sent = await cp.wait_for("SetChargingProfile")
        if sent["profile"]["stack_level"] != 0:
            return sent  # type: ignore[no-any-return]


async def test_a_limit_is_bounded_and_the_charger_gets_its_safe_fallback_first(central: CentralFactory) -> None:
    """If OrbitEOS dies, the limit's profile runs out after revert_after and the charger falls back to
    the stack-level-0 TxDefaultProfile at its fail-safe floor (6 A by default), not to its maximum."""
    hub, system, url = await central()
    async with connect(url, "cp1") as c:
        c.cp.rate_units = "Current"
        await c.cp.boot()
        await c.cp.wait_for("GetConfiguration")
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "current_a": 16})
        fallback = await c.cp.wait_for("SetChargingProfile")
        assert fallback["profile"]["stack_level"] == 0
        assert fallback["profile"]["charging_profile_purpose"] == "TxDefaultProfile"
        assert "duration" not in fallback["profile"]["charging_schedule"]
        assert _period(fallback["profile"]) == ("A", 6)
        limit = await c.cp.wait_for("SetChargingProfile")
        assert limit["profile"]["stack_level"] == 1
        assert limit["profile"]["charging_schedule"]["duration"] == 60
        assert _period(limit["profile"]) == ("A", 16)
        state = hub.states.get("ev_charger.cp1_1")
        assert state.attributes["setpoint_source"] == "unknown" and state.attributes["setpoint_until"]
        # The fallback goes once per connection; the next limit is only the limit.
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "current_a": 10})
        assert _period((await c.cp.wait_for("SetChargingProfile"))["profile"]) == ("A", 10)


async def test_set_limit_outside_a_transaction_sends_a_tx_default_profile_in_watts(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with connect(url, "cp1") as c:
        c.cp.rate_units = "Current,Power"
        await c.cp.boot()
        await c.cp.wait_for("GetConfiguration")
        await until(lambda: system.devices["cp1"].advertised_unit == "W", "the advertised unit")
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 7.4})
        sent = await _limit_profile(c.cp)
        assert sent["connector_id"] == 1
        assert sent["profile"]["charging_profile_purpose"] == "TxDefaultProfile"
        assert "transaction_id" not in sent["profile"]
        assert _period(sent["profile"]) == ("W", 7400)
        assert hub.states.get("ev_charger.cp1_1").attributes["limit_kw"] == 7.4


async def test_set_limit_in_a_transaction_sends_a_tx_profile_in_amps(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=[{"id": "cp1", "phases": 3, "voltage": 230}])
    async with connect(url, "cp1") as c:
        c.cp.rate_units = "Current"
        await c.cp.boot()
        await c.cp.wait_for("GetConfiguration")
        await until(lambda: system.devices["cp1"].advertised_unit == "A", "the advertised unit")
        started = await c.cp.call(call.StartTransaction(
            connector_id=1, id_tag="orbiteos", meter_start=0, timestamp="2026-01-01T12:00:00Z"))
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 11.04})
        sent = await _limit_profile(c.cp)
        assert sent["profile"]["charging_profile_purpose"] == "TxProfile"
        assert sent["profile"]["transaction_id"] == started.transaction_id
        assert _period(sent["profile"]) == ("A", 16)
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "current_a": 10})
        assert _period((await _limit_profile(c.cp))["profile"]) == ("A", 10)
        assert hub.states.get("ev_charger.cp1_1").attributes["limit_kw"] == 6.9


async def test_configured_unit_wins_over_the_advertised_one(central: CentralFactory) -> None:
    hub, system, url = await central(charging_rate_unit="A", charge_points=[{"id": "cp1", "phases": 1}])
    async with connect(url, "cp1") as c:
        await c.cp.boot()
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 2.3})
        assert _period((await _limit_profile(c.cp))["profile"]) == ("A", 10)
        assert not any(name == "GetConfiguration" for name, _ in c.cp.received)


async def test_rejected_profile_raises_and_leaves_the_limit(central: CentralFactory) -> None:
    hub, system, url = await central(charging_rate_unit="W")
    async with connect(url, "cp1") as c:
        c.cp.profile_status = "Rejected"
        with pytest.raises(ChargerCallError, match="Rejected"):
            await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 3})
    assert hub.states.get("ev_charger.cp1_1").attributes["limit_kw"] is None


async def test_set_limit_needs_power_or_current_and_names_the_field(central: CentralFactory) -> None:
    hub, system, url = await central()
    with pytest.raises(ServiceValidationError, match="power_kw, current_a"):
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1"})
    with pytest.raises(ServiceValidationError, match="power_kw"):
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": "lots"})


async def test_set_limit_on_a_disconnected_charger_is_device_unavailable(central: CentralFactory) -> None:
    hub, system, url = await central()
    with pytest.raises(DeviceUnavailable, match="ev_charger.cp1_1 is unavailable; nothing was sent"):
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 3})


async def test_remote_start_and_stop(central: CentralFactory) -> None:
    hub, system, url = await central(remote_id_tag="CSMS")
    async with connect(url, "cp1") as c:
        await hub.services.call("ev_charger", "start", {"entity_id": "ev_charger.cp1_1"})
        assert await c.cp.wait_for("RemoteStartTransaction") == {"id_tag": "CSMS", "connector_id": 1}
        started = await c.cp.call(call.StartTransaction(
            connector_id=1, id_tag="CSMS", meter_start=0, timestamp="2026-01-01T12:00:00Z"))
        assert started.id_tag_info["status"] == "Accepted"
        await hub.services.call("ev_charger", "stop", {"entity_id": "ev_charger.cp1_1"})
        assert await c.cp.wait_for("RemoteStopTransaction") == {"transaction_id": started.transaction_id}
        await c.cp.call(call.StopTransaction(meter_stop=100, timestamp="2026-01-01T12:10:00Z",
                                             transaction_id=started.transaction_id, reason="Remote"))
        # Nothing is charging: stopped already, the same answer as every other ev_charger provider.
        await hub.services.call("ev_charger", "stop", {"entity_id": "ev_charger.cp1_1"})


async def test_ocpp_services_reach_the_charge_point(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with connect(url, "cp1") as c:
        config = await hub.services.call("ocpp", "get_configuration", {"entity_id": "ev_charger.cp1_1"})
        assert config["configuration_key"][0]["key"] == "ChargingScheduleAllowedChargingRateUnit"
        answer = await hub.services.call("ocpp", "change_configuration",
                                         {"charge_point_id": "cp1", "key": "MeterValueSampleInterval", "value": 10})
        assert answer == {"status": "Accepted"}
        assert await c.cp.wait_for("ChangeConfiguration") == {"key": "MeterValueSampleInterval", "value": "10"}
        # Actions the test charger has no handler for come back as CALLERROR NotImplemented.
        with pytest.raises(ChargerCallError, match="NotImplemented"):
            await hub.services.call("ocpp", "unlock_connector", {"entity_id": "ev_charger.cp1_1"})
        with pytest.raises(ChargerCallError, match="NotImplemented"):
            await hub.services.call("ocpp", "trigger_message",
                                    {"charge_point_id": "cp1", "requested_message": "StatusNotification"})


async def test_ocpp_services_validate_their_target(central: CentralFactory) -> None:
    hub, system, url = await central()
    with pytest.raises(ServiceValidationError, match="unknown charge point 'nope'"):
        await hub.services.call("ocpp", "reset", {"charge_point_id": "nope"})
    with pytest.raises(ServiceValidationError, match="type"):
        await hub.services.call("ocpp", "change_availability", {"charge_point_id": "cp1", "type": "Sideways"})
    with pytest.raises(ServiceValidationError, match="connector_id: required"):
        await hub.services.call("ocpp", "unlock_connector", {"charge_point_id": "cp1"})


async def test_ev_charger_services_of_other_integrations_keep_working(central: CentralFactory) -> None:
    from orbiteos.core import Hub
    from orbiteos.integrations.ocpp import async_setup

    hub = Hub()
    handled: list[ServiceCall] = []
    hub.services.register_for_entities("ev_charger", "set_limit", handled.append,
                                       lambda e: e == "ev_charger.simulated")  # e.g. the simulator
    await async_setup(hub, {"host": "127.0.0.1", "port": 0, "charge_points": ["cp1"]})
    try:
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.simulated", "power_kw": 3})
        assert [c.data["entity_id"] for c in handled] == [["ev_charger.simulated"]]
        with pytest.raises(DeviceUnavailable):
            await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.cp1_1", "power_kw": 3})
    finally:
        await hub.stop()


async def test_unknown_ev_charger_is_a_validation_error(central: CentralFactory) -> None:
    hub, system, url = await central()
    unknown = r"no device provides ev_charger.ghost \(provided: ev_charger.cp1_1\)"
    with pytest.raises(ServiceValidationError, match=unknown):
        await hub.services.call("ev_charger", "start", {"entity_id": "ev_charger.ghost"})


async def test_ev_charger_services_registered_later_by_another_integration_keep_ocpp_working(
    central: CentralFactory,
) -> None:
    hub, system, url = await central(charging_rate_unit="W")
    handled: list[ServiceCall] = []
    hub.services.register_for_entities("ev_charger", "set_limit", handled.append,
                                       lambda e: e == "ev_charger.simulated")  # e.g. the simulator, set up after us
    async with connect(url, "cp1") as c:
        await hub.services.call("ev_charger", "set_limit",
                                {"entity_id": ["ev_charger.cp1_1", "ev_charger.simulated"], "power_kw": 3})
        assert (await _limit_profile(c.cp))["connector_id"] == 1
    assert [c.data["entity_id"] for c in handled] == [["ev_charger.simulated"]]

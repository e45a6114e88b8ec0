"""The simulated charger as a real OCPP client against the real central system, both on real sockets."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orbiteos.core import Event, Hub, cancel_and_wait
from orbiteos.integrations.ocpp import sim_server
from orbiteos.integrations.ocpp.sim_server import SimulatedChargerClient

from .conftest import TIMEOUT, CentralFactory, until

sim = pytest.importorskip("orbiteos.integrations.sim")


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


async def _sim_hub(vehicle_present: bool = True) -> Hub:
    now = datetime.now(UTC)
    sessions = [{"arrival": _hhmm(now - timedelta(hours=1)), "departure": _hhmm(now + timedelta(hours=2)),
                 "capacity_kwh": 60, "arrival_soc": 20, "target_soc": 90, "max_power_kw": 22}]
    hub = Hub()
    await sim.async_setup(hub, {"step": 0.05, "ev_charger": [{
        "name": "depot", "max_power_kw": 22, "phases": 3, "preparing_s": 0, "finishing_s": 0,
        "sessions": sessions if vehicle_present else [],
    }]})
    await hub.start()
    return hub


@contextlib.asynccontextmanager
async def _client(sim_hub: Hub, url: str, **kwargs: Any) -> AsyncIterator[SimulatedChargerClient]:
    client = SimulatedChargerClient(sim_hub, "ev_charger.depot", url, "depot", meter_interval=0.1, **kwargs)
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(TIMEOUT):
            await client.connected.wait()
        yield client
    finally:
        assert not await cancel_and_wait([task]), "the simulated charger ignored cancellation"
        await sim_hub.stop()


def _power(hub: Hub, entity_id: str) -> float:
    state = hub.states.get(entity_id)
    return float(state.state) if state and state.state not in ("unavailable", "unknown") else -1.0


async def test_simulated_charger_charges_obeys_a_profile_and_remote_stop_start(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=["depot"], id_tags=["SIMTAG01"])
    sessions: list[Event] = []
    hub.bus.listen("ocpp_session", sessions.append)
    sim_hub = await _sim_hub()
    async with _client(sim_hub, url):
        await until(lambda: _power(hub, "ev_charger.depot_1") > 21, "full power reported over MeterValues")
        state = hub.states.get("ev_charger.depot_1")
        assert state.attributes["status"] == "Charging"
        assert state.attributes["transaction_id"] is not None
        assert 20 <= state.attributes["vehicle_soc"] <= 90
        await until(lambda: system.devices["depot"].advertised_unit == "W", "the charger's rate unit")

        # A charging profile from the central system changes the simulated power.
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot_1", "power_kw": 7})
        await until(lambda: abs(_power(sim_hub, "ev_charger.depot") - 7.0) < 0.01, "the simulator at 7 kW")
        await until(lambda: abs(_power(hub, "ev_charger.depot_1") - 7.0) < 0.01, "7 kW over MeterValues")
        assert hub.states.get("ev_charger.depot_1").attributes["limit_kw"] == 7.0

        await hub.services.call("ev_charger", "stop", {"entity_id": "ev_charger.depot_1"})
        await until(lambda: len(sessions) == 1, "the session to end")
        assert sessions[0].data["reason"] == "Remote"
        assert sessions[0].data["id_tag"] == "SIMTAG01"
        assert sessions[0].data["energy_kwh"] >= 0
        await until(lambda: _power(sim_hub, "ev_charger.depot") == 0.0, "the simulator to stop charging")

        await hub.services.call("ev_charger", "start", {"entity_id": "ev_charger.depot_1"})
        await until(lambda: hub.states.get("ev_charger.depot_1").attributes.get("id_tag") == "orbiteos",
                    "a remote-started transaction")
        await until(lambda: _power(sim_hub, "ev_charger.depot") > 0, "the simulator charging again")


async def test_simulated_charger_reconnects_and_keeps_its_transaction(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=["depot"], accept_all=True)
    sim_hub = await _sim_hub()
    async with _client(sim_hub, url) as client:
        await until(lambda: client.transaction_id is not None, "a transaction")
        tx_id = client.transaction_id
        await system.devices["depot"].connection.close("test drops the line")
        await until(lambda: hub.states.get("ev_charger.depot_1").state == "unavailable", "unavailable")
        await until(lambda: _power(hub, "ev_charger.depot_1") > 0, "reconnected and metering")
        assert client.transaction_id == tx_id
        assert hub.states.get("ev_charger.depot_1").attributes["transaction_id"] == tx_id
        assert len(list(system.sessions.open_for("depot"))) == 1


async def test_serve_runs_a_client_per_simulated_charger(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=["cp-a"], accept_all=True)
    sim_hub = await _sim_hub(vehicle_present=False)
    parser = argparse.ArgumentParser()
    sim_server.add_arguments(parser)
    args = parser.parse_args(["--ocpp-url", url, "--ocpp-charge-point-id", "cp-a", "--ocpp-meter-interval", "0.1"])
    task = asyncio.create_task(sim_server.serve(sim_hub, args))
    try:
        await until(lambda: hub.states.get("ev_charger.cp_a_1").attributes.get("status") == "Available",
                    "the simulated charger to report Available")
        assert system.devices["cp-a"].info["model"] == "Simulated AC charger"
    finally:
        assert not await cancel_and_wait([task]), "the simulated charger ignored cancellation"
        await sim_hub.stop()


async def test_refused_simulated_charger_keeps_retrying(central: CentralFactory,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    hub, system, url = await central(charge_points=["someone-else"])
    sim_hub = await _sim_hub(vehicle_present=False)
    client = SimulatedChargerClient(sim_hub, "ev_charger.depot", url, "depot")
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: caplog.text.count("refused unknown charge point 'depot'") >= 2, "a second attempt")
        assert not task.done()
        assert "HTTP 404" in caplog.text
    finally:
        stragglers = await cancel_and_wait([task])
        await sim_hub.stop()
        assert not stragglers, "the simulated charger ignored cancellation"


async def test_simulated_charger_answers_the_ocpp_operations(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=["depot"], accept_all=True)
    sessions: list[Event] = []
    hub.bus.listen("ocpp_session", sessions.append)
    sim_hub = await _sim_hub()
    async with _client(sim_hub, url) as client:
        await until(lambda: client.transaction_id is not None, "a transaction")
        config = await hub.services.call("ocpp", "get_configuration", {"charge_point_id": "depot",
                                                                       "key": ["NumberOfConnectors", "Nope"]})
        assert config["configuration_key"][0]["value"] == "1"
        assert config["unknown_key"] == ["Nope"]
        assert (await hub.services.call("ocpp", "change_configuration", {
            "charge_point_id": "depot", "key": "MeterValueSampleInterval", "value": "0.2"})) == {"status": "Accepted"}
        assert client.meter_interval == 0.2
        assert (await hub.services.call("ocpp", "trigger_message", {
            "entity_id": "ev_charger.depot_1", "requested_message": "StatusNotification"})) == {"status": "Accepted"}

        # A default limit, then clearing it: the simulator goes back to the charger's maximum.
        await hub.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot_1", "current_a": 8})
        await until(lambda: abs(_power(sim_hub, "ev_charger.depot") - 8 * 230 * 3 / 1000) < 0.01, "8 A on 3 phases")
        assert (await hub.services.call("ocpp", "clear_charging_profile", {"charge_point_id": "depot"})) == {
            "status": "Accepted"}
        await until(lambda: _power(sim_hub, "ev_charger.depot") > 21, "full power after clearing")

        # Out of service: scheduled until the transaction ends, then Unavailable until back in service.
        assert (await hub.services.call("ocpp", "change_availability", {
            "charge_point_id": "depot", "type": "Inoperative"})) == {"status": "Scheduled"}
        assert client.transaction_id is not None
        await hub.services.call("ocpp", "change_availability", {"charge_point_id": "depot", "type": "Operative"})

        # A reset ends the transaction and the charger boots again.
        assert (await hub.services.call("ocpp", "reset", {"charge_point_id": "depot"})) == {"status": "Accepted"}
        await until(lambda: len(sessions) == 1, "the transaction to end with the reset")
        assert sessions[0].data["reason"] == "SoftReset"
        await until(lambda: client.transaction_id is not None and system.devices["depot"].connected,
                    "a new transaction after the reboot")


async def test_simulated_charger_out_of_service_reports_unavailable(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=["depot"], accept_all=True)
    sim_hub = await _sim_hub(vehicle_present=False)
    async with _client(sim_hub, url):
        await until(lambda: hub.states.get("ev_charger.depot_1").attributes.get("status") == "Available", "Available")
        assert (await hub.services.call("ocpp", "change_availability", {
            "entity_id": "ev_charger.depot_1", "type": "Inoperative"})) == {"status": "Accepted"}
        await until(lambda: hub.states.get("ev_charger.depot_1").attributes.get("status") == "Unavailable",
                    "Unavailable")
        await hub.services.call("ocpp", "change_availability", {"entity_id": "ev_charger.depot_1",
                                                                "type": "Operative"})
        await until(lambda: hub.states.get("ev_charger.depot_1").attributes.get("status") == "Available",
                    "Available again")

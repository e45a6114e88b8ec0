"""Malformed frames, refused handshakes, dropped connections and silent chargers."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from ocpp.v16 import call

from orbiteos.errors import DeviceUnavailable
from orbiteos.integrations.ocpp.transport import basic_auth_header

from .conftest import TIMEOUT, CentralFactory, connect, until

METER_BAD_VALUE = json.dumps([2, "m1", "MeterValues", {"connectorId": 1, "meterValue": [
    {"timestamp": "2026-01-01T12:00:00Z", "sampledValue": [{"value": "lots"}]}]}])

MALFORMED = [
    ("not json at all", "-1", "FormationViolation"),
    ('{"a": 1}', "-1", "ProtocolError"),
    ('[2, "short"]', "short", "ProtocolError"),
    ('[9, "x9", "Heartbeat", {}]', "x9", "PropertyConstraintViolation"),
    ('[2, 5, "Heartbeat", {}]', "-1", "FormationViolation"),
    ('[2, "p1", "Heartbeat", []]', "p1", "FormationViolation"),
    ('[2, "u1", "Heartbeat", {"extra": 1}]', "u1", "FormationViolation"),
    ('[2, "u2", "BootNotification", {"chargePointVendor": "x"}]', "u2", "ProtocolError"),
    ('[2, "u3", "BootNotification", {"chargePointVendor": 5, "chargePointModel": "m"}]', "u3",
     "TypeConstraintViolation"),
    ('[2, "u4", "GetDiagnostics", {"location": "ftp://x"}]', "u4", "NotImplemented"),
    ('[2, "u5", "FlyToTheMoon", {}]', "u5", "NotSupported"),
    (METER_BAD_VALUE, "m1", "PropertyConstraintViolation"),
    # Non-finite numbers: as strings they are no decimal numbers, as JSON they are no JSON.
    (METER_BAD_VALUE.replace('"lots"', '"NaN"').replace('"m1"', '"m2"'), "m2", "PropertyConstraintViolation"),
    (METER_BAD_VALUE.replace('"lots"', '"1e309"').replace('"m1"', '"m3"'), "m3", "PropertyConstraintViolation"),
    (METER_BAD_VALUE.replace('"lots"', '"-Infinity"').replace('"m1"', '"m4"'), "m4", "PropertyConstraintViolation"),
    (METER_BAD_VALUE.replace('"connectorId": 1', '"connectorId": NaN').replace('"m1"', '"m5"'), "m5",
     "FormationViolation"),
    ('[2, "m6", "StatusNotification", {"connectorId": 1e999, "errorCode": "NoError", "status": "Available"}]', "m6",
     "FormationViolation"),
    # Deep frames: past the library's parser (RecursionError), and past the depth bound.
    ('[2, "d1", "DataTransfer", {"vendorId": "x", "data": ' + "[" * 100_000 + "]" * 100_000 + "}]", "d1",
     "FormationViolation"),
    ('[2, "d2", "DataTransfer", {"vendorId": "x", "data": ' + "[" * 40 + "]" * 40 + "}]", "d2", "FormationViolation"),
]


async def _raw(url: str, charge_point_id: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"{url}/{charge_point_id}", protocols=("ocpp1.6",))
    return session, ws


@pytest.mark.parametrize(("frame", "unique_id", "code"), MALFORMED, ids=[m[2] + ":" + m[0][:20] for m in MALFORMED])
async def test_malformed_frame_gets_the_right_callerror_and_the_connection_stays_up(
    central: CentralFactory, frame: str, unique_id: str, code: str
) -> None:
    hub, system, url = await central()
    session, ws = await _raw(url, "cp1")
    try:
        async with asyncio.timeout(TIMEOUT):
            await ws.send_str(frame)
            reply = json.loads((await ws.receive()).data)
            assert reply[:3] == [4, unique_id, code]
            assert isinstance(reply[3], str) and isinstance(reply[4], dict)
            await ws.send_str('[2, "hb", "Heartbeat", {}]')
            reply = json.loads((await ws.receive()).data)
            assert reply[:2] == [3, "hb"]
        assert system.devices["cp1"].connected
    finally:
        await ws.close()
        await session.close()


async def test_an_answer_nobody_waits_for_is_dropped(central: CentralFactory) -> None:
    hub, system, url = await central()
    session, ws = await _raw(url, "cp1")
    try:
        async with asyncio.timeout(TIMEOUT):
            await ws.send_str('[3, "stray", {}]')
            await ws.send_str('[2, "hb", "Heartbeat", {}]')
            reply = json.loads((await ws.receive()).data)
            assert reply[:2] == [3, "hb"]
        assert system.devices["cp1"].connection._response_queue.empty()
    finally:
        await ws.close()
        await session.close()


async def test_unknown_charge_point_is_refused_with_404_before_the_upgrade(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(f"{url}/intruder", protocols=("ocpp1.6",))
    assert err.value.status == 404
    assert "ev_charger.intruder_1" not in hub.states


@pytest.mark.parametrize("password", [None, "wrong"])
async def test_missing_or_wrong_password_is_refused_with_401(central: CentralFactory, password: str | None) -> None:
    hub, system, url = await central(charge_points=[{"id": "cp1", "password": "s3cret"}])
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": basic_auth_header("cp1", password)} if password else {}
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(f"{url}/cp1", protocols=("ocpp1.6",), headers=headers)
    assert err.value.status == 401
    assert not system.devices["cp1"].connected


async def test_password_of_another_charge_point_is_refused(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=[{"id": "cp1", "password": "a"}, {"id": "cp2", "password": "b"}])
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(
                f"{url}/cp1", protocols=("ocpp1.6",), headers={"Authorization": basic_auth_header("cp2", "b")}
            )
    assert err.value.status == 401


async def test_right_password_is_let_in(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=[{"id": "cp1", "password": "s3cret"}])
    async with connect(url, "cp1", password="s3cret") as c:
        assert (await c.cp.boot()).status == "Accepted"
        assert system.devices["cp1"].connected


async def test_client_without_the_ocpp16_subprotocol_is_refused(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(f"{url}/cp1", protocols=("ocpp2.0.1",))
    assert err.value.status == 400


async def test_dropped_connection_makes_the_charger_unavailable(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with connect(url, "cp1") as c:
        await c.cp.boot()
        await c.cp.status(1, "Available")
        assert hub.states.get("ev_charger.cp1_1").state == "0.0"
    await until(lambda: hub.states.get("ev_charger.cp1_1").state == "unavailable", "unavailable after the drop")
    assert not system.devices["cp1"].connected


async def test_reconnect_during_a_transaction_restores_it(central: CentralFactory) -> None:
    hub, system, url = await central()
    sessions = []
    hub.bus.listen("ocpp_session", sessions.append)
    async with connect(url, "cp1") as c:
        await c.cp.boot()
        started = await c.cp.call(call.StartTransaction(
            connector_id=1, id_tag="orbiteos", meter_start=0, timestamp="2026-01-01T12:00:00Z"))
        tx_id = started.transaction_id
        await c.cp.status(1, "Charging")
        await c.cp.meter(1, tx_id, energy_wh=1_000, power_w=11_000)
    await until(lambda: hub.states.get("ev_charger.cp1_1").state == "unavailable", "unavailable after the drop")
    async with connect(url, "cp1") as c:
        await until(lambda: hub.states.get("ev_charger.cp1_1").state != "unavailable", "available again")
        state = hub.states.get("ev_charger.cp1_1")
        assert state.attributes["transaction_id"] == tx_id
        assert state.attributes["status"] == "Charging"
        await c.cp.meter(1, tx_id, energy_wh=3_000, power_w=11_000)
        assert hub.states.get("ev_charger.cp1_1").attributes["session_kwh"] == 3.0
        await hub.services.call("ev_charger", "stop", {"entity_id": "ev_charger.cp1_1"})
        assert (await c.cp.wait_for("RemoteStopTransaction")) == {"transaction_id": tx_id}
        await c.cp.call(call.StopTransaction(meter_stop=3_500, timestamp="2026-01-01T13:00:00Z",
                                             transaction_id=tx_id))
    assert [s.data["energy_kwh"] for s in sessions] == [3.5]


async def test_a_second_connection_replaces_the_first(central: CentralFactory) -> None:
    hub, system, url = await central()
    async with connect(url, "cp1") as first:
        async with connect(url, "cp1") as second:
            await until(lambda: first.ws.closed, "the first connection to close")
            assert (await second.cp.boot()).status == "Accepted"
            assert system.devices["cp1"].connected
        await until(lambda: not system.devices["cp1"].connected, "disconnect")


async def test_a_call_the_charger_never_answers_times_out_without_blocking_others(central: CentralFactory) -> None:
    hub, system, url = await central(charge_points=["cp1", "cp2"], call_timeout=0.3)
    async with connect(url, "cp1") as silent, connect(url, "cp2") as lively:
        silent.cp.silent_on.add("Reset")
        slow = asyncio.create_task(hub.services.call("ocpp", "reset", {"charge_point_id": "cp1"}))
        await silent.cp.wait_for("Reset")
        # cp1's own messages are still handled while our call to it waits.
        assert (await silent.cp.call(call.Heartbeat())).current_time
        # While cp1 keeps us waiting, cp2 is served.
        answer = await hub.services.call("ocpp", "reset", {"charge_point_id": "cp2", "type": "Hard"})
        assert answer == {"status": "Accepted"}
        assert await lively.cp.wait_for("Reset") == {"type": "Hard"}
        assert not slow.done()
        with pytest.raises(DeviceUnavailable, match="no answer to Reset"):
            await slow
        # And cp1 can be called again afterwards.
        silent.cp.silent_on.clear()
        assert await hub.services.call("ocpp", "reset", {"charge_point_id": "cp1"}) == {"status": "Accepted"}


async def test_a_refused_frame_is_logged_in_one_line_without_traceback(
    central: CentralFactory, caplog: pytest.LogCaptureFixture
) -> None:
    hub, system, url = await central()
    session, ws = await _raw(url, "cp1")
    try:
        async with asyncio.timeout(TIMEOUT):
            await ws.send_str(METER_BAD_VALUE)
            await ws.receive()
    finally:
        await ws.close()
        await session.close()
    records = [r for r in caplog.records if r.name == "orbiteos.integrations.ocpp.frames"]
    assert records
    assert all(r.exc_info is None and r.levelname == "WARNING" for r in records)
    assert "expected a finite decimal number, found 'lots'" in records[0].getMessage()

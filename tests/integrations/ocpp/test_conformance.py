"""OCPP 1.6J conformance with a raw-websocket charge point: every frame, both ways, is checked
against the `ocpp` package's own JSON schemas (the official OCPP 1.6 ones), and every CALLERROR
against the frame shape and error codes of OCPP-J 1.6 section 4.2.3.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import ocpp
import pytest

from orbiteos.core import Event, Hub, SiteConfig
from orbiteos.errors import ServiceValidationError
from orbiteos.integrations import http
from orbiteos.integrations import ocpp as ocpp_integration
from orbiteos.integrations.http.auth import TokenStore
from orbiteos.integrations.ocpp.central_system import CentralSystem
from orbiteos.integrations.ocpp.transport import SUBPROTOCOL

from .conftest import TIMEOUT, until

SCHEMAS = Path(ocpp.__file__).parent / "v16" / "schemas"
CALL, CALLRESULT, CALLERROR = 2, 3, 4
ERROR_CODES = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError", "FormationViolation",
    "PropertyConstraintViolation", "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError",
}


@cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def check_payload(action: str, payload: Any, response: bool) -> None:
    jsonschema.validate(payload, _schema(f"{action}Response" if response else action))


def check_call_error(frame: list[Any]) -> None:
    assert len(frame) == 5, frame
    assert frame[2] in ERROR_CODES and isinstance(frame[3], str) and isinstance(frame[4], dict), frame


class RawChargePoint:
    """Frames by hand; answers the central system's calls from `answers` (a payload, or a CALLERROR)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.pending: dict[str, asyncio.Future[list[Any]]] = {}
        self.answers: dict[str, dict[str, Any] | tuple[str, str]] = {}
        self.received: list[list[Any]] = []
        self.frames = 0

    async def serve(self) -> None:
        async for message in self.ws:
            frame = json.loads(message.data)
            self.frames += 1
            if frame[0] == CALL:
                await self._answer(frame)
            else:
                future = self.pending.pop(frame[1])
                future.set_result(frame)

    async def _answer(self, frame: list[Any]) -> None:
        _, unique_id, action, payload = frame
        check_payload(action, payload, response=False)
        self.received.append(frame)
        answer = self.answers.get(action, {"status": "Accepted"})
        if isinstance(answer, tuple):
            await self.ws.send_str(json.dumps([CALLERROR, unique_id, answer[0], answer[1], {}]))
            return
        check_payload(action, answer, response=True)
        await self.ws.send_str(json.dumps([CALLRESULT, unique_id, answer]))

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL (schema-checked) and return the central system's answer frame (checked too)."""
        check_payload(action, payload, response=False)
        unique_id = str(uuid.uuid4())
        future = self.pending[unique_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(json.dumps([CALL, unique_id, action, payload]))
        async with asyncio.timeout(TIMEOUT):
            frame = await future
        if frame[0] == CALLRESULT:
            check_payload(action, frame[2], response=True)
        else:
            check_call_error(frame)
        return frame


@contextlib.asynccontextmanager
async def raw_charge_point(url: str, charge_point_id: str) -> AsyncIterator[RawChargePoint]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{url}/{charge_point_id}", protocols=(SUBPROTOCOL,), heartbeat=None) as ws,
    ):
        cp = RawChargePoint(ws)
        task = asyncio.create_task(cp.serve())
        try:
            boot = await cp.call("BootNotification", {"chargePointVendor": "Raw", "chargePointModel": "Frames"})
            assert boot[0] == CALLRESULT and boot[2]["status"] == "Accepted"
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Hub, CentralSystem, str, str]]:
    """A hub with the central system (one charger, two connectors, limits in A) and the HTTP API."""
    hub = Hub(config=SiteConfig(name="Depot", config_dir=tmp_path))
    token = TokenStore.for_config_dir(tmp_path).create("scada", "operator")
    await ocpp_integration.async_setup(hub, {
        "host": "127.0.0.1", "port": 0, "charging_rate_unit": "A",
        "charge_points": [{"id": "CP1", "connectors": 2}],
    })
    await http.async_setup(hub, {"server_host": "127.0.0.1", "server_port": 0})
    await hub.start()
    system: CentralSystem = hub.data["ocpp"]
    try:
        yield hub, system, f"ws://127.0.0.1:{system.port}/ocpp", token
    finally:
        async with asyncio.timeout(TIMEOUT):
            await hub.stop()


async def _rest_call(hub: Hub, token: str, service: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    url = hub.data["http"].url
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/api/services/{service.replace('.', '/')}", json=data,
                     headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, await response.json()


async def test_a_rejected_charging_profile_is_a_400_naming_the_status(site: Any) -> None:
    hub, _system, url, token = site
    async with raw_charge_point(url, "CP1") as cp:
        cp.answers["SetChargingProfile"] = {"status": "Rejected"}
        status, body = await _rest_call(hub, token, "ev_charger.set_limit",
                                        {"entity_id": "ev_charger.cp1_1", "current_a": 10})
        assert status == 400, body
        assert "SetChargingProfile" in body["message"] and "Rejected" in body["message"]
        assert [f[2] for f in cp.received] == ["SetChargingProfile"]
        cp.answers["SetChargingProfile"] = {"status": "Accepted"}
        status, body = await _rest_call(hub, token, "ev_charger.set_limit",
                                        {"entity_id": "ev_charger.cp1_1", "current_a": 10})
        assert status == 200, body


async def test_a_call_error_answer_is_a_service_validation_error_naming_the_code(site: Any) -> None:
    hub, _system, url, token = site
    async with raw_charge_point(url, "CP1") as cp:
        cp.answers["RemoteStartTransaction"] = ("NotSupported", "remote start is off on this unit")
        with pytest.raises(ServiceValidationError, match="RemoteStartTransaction with NotSupported"):
            await hub.services.call("ev_charger", "start", {"entity_id": "ev_charger.cp1_2"})
        cp.answers["SetChargingProfile"] = ("InternalError", "profile store full")
        status, body = await _rest_call(hub, token, "ev_charger.set_limit",
                                        {"entity_id": "ev_charger.cp1_1", "current_a": 6})
        assert status == 400 and "InternalError" in body["message"], body


@pytest.mark.parametrize(("action", "payload"), [
    ("StatusNotification", {"connectorId": 7, "errorCode": "NoError", "status": "Available"}),
    ("StatusNotification", {"connectorId": -1, "errorCode": "NoError", "status": "Available"}),
    ("MeterValues", {"connectorId": 9, "meterValue": [
        {"timestamp": "2026-06-01T12:00:00Z", "sampledValue": [{"value": "10"}]}]}),
    ("StartTransaction", {"connectorId": 0, "idTag": "TAG", "meterStart": 0, "timestamp": "2026-06-01T12:00:00Z"}),
    ("StartTransaction", {"connectorId": 3, "idTag": "TAG", "meterStart": 0, "timestamp": "2026-06-01T12:00:00Z"}),
])
async def test_connector_ids_outside_the_charge_point_are_refused(site: Any, action: str, payload: Any) -> None:
    hub, _system, url, _token = site
    async with raw_charge_point(url, "CP1") as cp:
        answer = await cp.call(action, payload)
        ok = await cp.call("StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Preparing"})
    assert answer[0] == CALLERROR and answer[2] == "PropertyConstraintViolation", answer
    assert f"connectorId {payload['connectorId']}: expected" in answer[3]
    assert ok[0] == CALLRESULT
    assert sorted(e for e in hub.states.entity_ids() if e.startswith("ev_charger.")) == [
        "ev_charger.cp1_1", "ev_charger.cp1_2"
    ]
    assert hub.states.get("ev_charger.cp1_2").attributes["status"] == "Preparing"


async def test_session_times_are_utc_and_bad_timestamps_are_refused(site: Any) -> None:
    hub, _system, url, _token = site
    sessions: list[Event] = []
    hub.bus.listen("ocpp_session", sessions.append)
    async with raw_charge_point(url, "CP1") as cp:
        bad_start = await cp.call("StartTransaction", {
            "connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": "yesterday"})
        assert bad_start[0] == CALLERROR and bad_start[2] == "PropertyConstraintViolation"
        assert "timestamp" in bad_start[3] and "yesterday" in bad_start[3]
        assert hub.states.get("ev_charger.cp1_1").attributes.get("transaction_id") is None
        started = await cp.call("StartTransaction", {
            "connectorId": 1, "idTag": "TAG", "meterStart": 1000, "timestamp": "2026-06-01T13:00:00+01:00"})
        transaction_id = started[2]["transactionId"]
        bad_stop = await cp.call("StopTransaction", {
            "transactionId": transaction_id, "meterStop": 5000, "timestamp": "2026-13-45T99:00:00Z"})
        assert bad_stop[0] == CALLERROR and bad_stop[2] == "PropertyConstraintViolation"
        bad_meter = await cp.call("MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": [
            {"timestamp": "now", "sampledValue": [{"value": "3000"}]}]})
        assert bad_meter[0] == CALLERROR and "meterValue[0].timestamp" in bad_meter[3]
        stopped = await cp.call("StopTransaction", {
            "transactionId": transaction_id, "meterStop": 5000, "timestamp": "2026-06-01T14:30:00+01:00"})
        assert stopped[0] == CALLRESULT
    await until(lambda: bool(sessions), "the ocpp_session event")
    assert len(sessions) == 1
    session = sessions[0].data
    assert (session["start"], session["stop"]) == ("2026-06-01T12:00:00+00:00", "2026-06-01T13:30:00+00:00")
    assert session["energy_kwh"] == 4.0

"""`/api/websocket` with Home Assistant's message shapes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from orbiteos.integrations.http import websocket_api
from orbiteos.integrations.http.auth import TokenStore
from tests.integrations.http.conftest import Site, start_site


class Client:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            return await self.ws.receive_json()

    async def send(self, message: dict[str, Any]) -> int:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, **message})
        return self.next_id

    async def command(self, message: dict[str, Any]) -> dict[str, Any]:
        msg_id = await self.send(message)
        while True:
            reply = await self.receive()
            if reply.get("id") == msg_id and reply["type"] in ("result", "pong"):
                return reply


@asynccontextmanager
async def connect(site: Site, role: str) -> AsyncIterator[Client]:
    async with site.session.ws_connect("/api/websocket") as ws:
        client = Client(ws)
        assert (await client.receive())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": site.tokens[role]})
        reply = await client.receive()
        assert reply["type"] == "auth_ok", reply
        yield client


async def test_bad_token_gets_auth_invalid_and_is_closed(site: Site) -> None:
    async with site.session.ws_connect("/api/websocket") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": "oeos_wrong"})
        assert (await ws.receive_json(timeout=5)) == {"type": "auth_invalid", "message": "invalid or revoked token"}
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_first_message_must_be_auth(site: Site) -> None:
    async with site.session.ws_connect("/api/websocket") as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"id": 1, "type": "get_states"})
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "auth_invalid"
        assert "auth" in reply["message"]


async def test_ping_and_get_states(site: Site) -> None:
    async with connect(site, "viewer") as client:
        assert (await client.command({"type": "ping"}))["type"] == "pong"
        reply = await client.command({"type": "get_states"})
        assert reply["success"] is True
        assert {s["entity_id"] for s in reply["result"]} == {"battery.main", "meter.grid"}
        config = await client.command({"type": "get_config"})
        assert config["result"]["location_name"] == "Test depot"
        services = await client.command({"type": "get_services"})
        assert "set_power" in services["result"]["battery"]


async def test_state_changes_arrive_as_events_until_unsubscribed(site: Site) -> None:
    async with connect(site, "viewer") as client:
        reply = await client.command({"type": "subscribe_events", "event_type": "state_changed"})
        assert reply == {"id": 1, "type": "result", "success": True, "result": None}
        site.hub.states.set("meter.grid", "-3.2", {"frequency_hz": 49.98})
        event = await client.receive()
        assert event["id"] == 1 and event["type"] == "event"
        assert event["event"]["event_type"] == "state_changed"
        data = event["event"]["data"]
        assert data["entity_id"] == "meter.grid"
        assert data["old_state"]["state"] == "12.5"
        assert data["new_state"]["state"] == "-3.2"
        assert data["new_state"]["attributes"] == {"frequency_hz": 49.98}

        assert (await client.command({"type": "unsubscribe_events", "subscription": 1}))["success"] is True
        site.hub.states.set("meter.grid", "1.0")
        assert (await client.command({"type": "ping"}))["type"] == "pong"  # nothing else came in between


async def test_subscribe_to_all_events_includes_state_changes(site: Site) -> None:
    async with connect(site, "viewer") as client:
        await client.command({"type": "subscribe_events"})
        site.hub.bus.fire("tariff_changed", {"price": 0.2})
        site.hub.states.set("meter.grid", "2.0")
        types = [(await client.receive())["event"]["event_type"] for _ in range(2)]
        assert types == ["tariff_changed", "state_changed"]


async def test_call_service_needs_operator(site: Site) -> None:
    async with connect(site, "viewer") as client:
        reply = await client.command(
            {"type": "call_service", "domain": "battery", "service": "set_power",
             "service_data": {"power_kw": 4}, "target": {"entity_id": "battery.main"}}
        )
        assert reply["success"] is False
        assert reply["error"]["code"] == "unauthorized"
    assert site.calls == []


async def test_call_service_as_operator_is_attributed(site: Site) -> None:
    async with connect(site, "operator") as client:
        reply = await client.command(
            {"type": "call_service", "domain": "battery", "service": "set_power",
             "service_data": {"power_kw": 4}, "target": {"entity_id": "battery.main"}}
        )
        assert reply["success"] is True, reply
        assert reply["result"]["context"]["user_id"] == "operator"
    assert site.hub.states.get("battery.main").state == "4.0"
    assert site.calls[0].context.user_id == "operator"


async def test_call_service_errors(site: Site) -> None:
    async with connect(site, "operator") as client:
        reply = await client.command({"type": "call_service", "domain": "battery", "service": "nope"})
        assert reply["error"]["code"] == "not_found"
        reply = await client.command({"type": "call_service", "domain": "battery", "service": "set_power",
                                      "service_data": {"entity_id": "battery.main", "power_kw": "lots"}})
        assert reply["error"]["code"] == "service_validation_error"
        assert "power_kw" in reply["error"]["message"]
        reply = await client.command({"type": "call_service", "domain": "battery", "service": "set_power",
                                      "service_data": {"entity_id": "battery.gone", "power_kw": 1}})
        assert reply["error"]["code"] == "not_found"
        reply = await client.command({"type": "call_service", "service": "set_power"})
        assert reply["error"]["code"] == "invalid_format"
        assert "domain" in reply["error"]["message"]
        reply = await client.command({"type": "call_service", "domain": "automation", "service": "reload"})
        assert reply["error"]["code"] == "unauthorized"
        reply = await client.command({"type": "call_service", "domain": "test", "service": "explode"})
        assert reply["error"]["code"] == "unknown_error"
        assert reply["error"]["message"] == "internal error; the details are in the server log"


async def test_protocol_errors_do_not_drop_the_connection(site: Site) -> None:
    async with connect(site, "viewer") as client:
        await client.ws.send_str("{not json")
        reply = await client.receive()
        assert reply["error"]["code"] == "invalid_format"
        assert "malformed JSON" in reply["error"]["message"]
        assert (await client.command({"type": "make_coffee"}))["error"]["code"] == "unknown_command"
        await client.ws.send_json({"id": 1, "type": "get_states"})
        assert (await client.receive())["error"]["code"] == "id_reuse"
        await client.ws.send_json({"type": "get_states"})
        assert "id" in (await client.receive())["error"]["message"]
        reply = await client.command({"type": "unsubscribe_events", "subscription": 99})
        assert reply["error"]["code"] == "not_found"
        assert (await client.command({"type": "ping"}))["type"] == "pong"


async def test_fire_event_needs_admin(site: Site) -> None:
    seen: list[Any] = []
    site.hub.bus.listen("tariff_changed", seen.append)
    async with connect(site, "operator") as client:
        reply = await client.command({"type": "fire_event", "event_type": "tariff_changed"})
        assert reply["error"]["code"] == "unauthorized"
    async with connect(site, "admin") as client:
        reply = await client.command({"type": "fire_event", "event_type": "tariff_changed", "event_data": {"p": 1}})
        assert reply["success"] is True
    assert [(e.data, e.context.user_id) for e in seen] == [({"p": 1}, "admin")]


async def test_many_clients_all_receive_each_change(site: Site) -> None:
    async with connect(site, "viewer") as a, connect(site, "viewer") as b:
        for client in (a, b):
            await client.command({"type": "subscribe_events", "event_type": "state_changed"})
        for value in range(5):
            site.hub.states.set("meter.grid", str(value))
        for client in (a, b):
            states = [(await client.receive())["event"]["data"]["new_state"]["state"] for _ in range(5)]
            assert states == ["0", "1", "2", "3", "4"]


async def test_slow_client_is_disconnected_while_a_reading_client_gets_everything(site: Site) -> None:
    await site.session.close()
    await site.hub.stop()
    slow_site = await start_site(site.config_dir / "slow", websocket_queue=64)
    changes = 300
    big = "x" * 200_000  # 300 changes of 200 kB: ~60 MB, far more than the socket buffers hold
    try:
        async with connect(slow_site, "viewer") as reader, connect(slow_site, "viewer") as sleeper:
            for client in (reader, sleeper):
                await client.command({"type": "subscribe_events", "event_type": "state_changed"})

            async def read_all() -> int:
                count = 0
                while count < changes:
                    message = await reader.ws.receive(timeout=20)
                    assert message.type == aiohttp.WSMsgType.TEXT, message
                    count += 1
                return count

            reading = asyncio.create_task(read_all())
            for n in range(changes):
                slow_site.hub.states.set("sensor.blob", str(n), {"blob": big})
                await asyncio.sleep(0.005)
            async with asyncio.timeout(30):
                assert await reading == changes
                message = await sleeper.ws.receive()
                while message.type == aiohttp.WSMsgType.TEXT:
                    message = await sleeper.ws.receive()
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert sleeper.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    finally:
        await slow_site.session.close()
        await slow_site.hub.stop()


async def test_open_websockets_are_closed_when_the_hub_stops(site: Site) -> None:
    async with connect(site, "viewer") as client:
        await client.command({"type": "subscribe_events", "event_type": "state_changed"})
        await site.hub.stop()
        async with asyncio.timeout(5):
            message = await client.ws.receive()
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)




async def test_subscribe_trigger_sends_the_trigger_variables(site: Site) -> None:
    async with connect(site, "viewer") as client:
        reply = await client.command({"type": "subscribe_trigger",
                                      "trigger": {"trigger": "state", "entity_id": "meter.grid", "to": "30.0"}})
        assert reply["success"] is True, reply
        site.hub.states.set("meter.grid", "29.0")
        site.hub.states.set("meter.grid", "30.0")
        event = await client.receive()
        assert event["id"] == reply["id"] and event["type"] == "event"
        trigger = event["event"]["variables"]["trigger"]
        assert trigger["platform"] == "state"
        assert trigger["entity_id"] == "meter.grid"
        assert trigger["from_state"]["state"] == "29.0"
        assert trigger["to_state"]["state"] == "30.0"
        assert (await client.command({"type": "unsubscribe_events", "subscription": reply["id"]}))["success"]
        site.hub.states.set("meter.grid", "1.0")
        site.hub.states.set("meter.grid", "30.0")
        assert (await client.command({"type": "ping"}))["type"] == "pong"


async def test_subscribe_trigger_with_a_bad_trigger_names_the_problem(site: Site) -> None:
    async with connect(site, "viewer") as client:
        reply = await client.command({"type": "subscribe_trigger", "trigger": {"trigger": "no_such_platform"}})
        assert reply["success"] is False
        assert reply["error"]["code"] == "invalid_format"
        assert "no_such_platform" in reply["error"]["message"]
        reply = await client.command({"type": "subscribe_trigger",
                                      "trigger": {"trigger": "numeric_state", "entity_id": "meter.grid"}})
        assert reply["error"]["code"] == "invalid_format"
        assert reply["error"]["message"]


async def test_revoking_the_token_closes_its_open_websocket(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket_api, "TOKEN_RECHECK_S", 0.05)
    async with connect(site, "viewer") as client, connect(site, "operator") as other:
        await client.command({"type": "subscribe_events", "event_type": "state_changed"})
        assert TokenStore.for_config_dir(site.config_dir).revoke("viewer")
        assert (await client.receive()) == {"type": "auth_invalid", "message": "token revoked"}
        async with asyncio.timeout(5):
            message = await client.ws.receive()
            while message.type == aiohttp.WSMsgType.TEXT:
                message = await client.ws.receive()
        assert client.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert (await other.command({"type": "ping"}))["type"] == "pong"  # the others stay

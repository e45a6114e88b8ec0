"""The third-party `HomeAssistant-API` client (REST `Client`, `WebsocketClient`) against a real server.

The client is synchronous (niquests); each test drives it in a worker thread while the hub's loop
serves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from homeassistant_api import Client, State, WebsocketClient
from homeassistant_api.errors import EndpointNotFoundError, RequestError, ResponseError

from orbiteos.integrations.recorder.history import get_recorder
from tests.integrations.http.conftest import Site, start_site

T = TypeVar("T")


def rest(site: Site, role: str = "admin") -> Client:
    return Client(f"{site.server.url}/api", site.tokens[role])


def websocket(site: Site, role: str = "admin") -> WebsocketClient:
    return WebsocketClient(site.server.url.replace("http", "ws", 1) + "/api/websocket", site.tokens[role])


async def in_thread(function: Callable[[], T]) -> T:
    async with asyncio.timeout(30):
        return await asyncio.to_thread(function)


# --- REST ---------------------------------------------------------------------------------------


async def test_rest_set_state_posts_back_a_whole_state(site: Site) -> None:
    def run() -> tuple[State, State]:
        with rest(site) as client:
            state = client.get_state(entity_id="meter.grid")
            state.state = "7.5"
            # The client posts last_changed, last_updated, last_reported and context too: ignored, as HA.
            client.set_state(state)
            created = client.set_state(State(entity_id="sensor.price", state="0.21", attributes={"unit": "EUR"}))
            return client.get_state(entity_id="meter.grid"), created

    grid, created = await in_thread(run)
    assert grid.state == "7.5"
    assert grid.attributes["frequency_hz"] == 50.0
    assert grid.last_reported is not None
    assert created.state == "0.21"
    assert site.hub.states.get("sensor.price").attributes == {"unit": "EUR"}


async def test_rest_refuses_a_state_longer_than_255_characters(site: Site) -> None:
    def run() -> str:
        with rest(site) as client:
            with pytest.raises(RequestError) as refused:
                client.set_state(State(entity_id="sensor.note", state="x" * 256))
            client.set_state(State(entity_id="sensor.note", state="x" * 255))
            return str(refused.value)

    message = await in_thread(run)
    assert "255" in message
    assert len(site.hub.states.get("sensor.note").state) == 255


async def test_rest_config_components_and_states_have_home_assistant_fields(site: Site) -> None:
    def run() -> tuple[dict[str, Any], tuple[str, ...], tuple[State, ...]]:
        with rest(site, "viewer") as client:
            return client.get_config(), client.get_components(), client.get_states()

    config, components, states = await in_thread(run)
    assert {"length", "mass", "volume", "pressure", "temperature"} <= set(config["unit_system"])
    assert config["config_dir"] == str(site.config_dir)
    assert config["currency"] == "EUR"
    assert config["language"] == "en"
    assert config["state"] == "RUNNING"
    assert "http" in components or components == tuple(config["components"])
    assert {s.entity_id for s in states} >= {"battery.main", "meter.grid"}


async def test_rest_error_log_is_admin_only_and_holds_recent_warnings(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    # Its own logger at WARNING: earlier tests may have configured the levels of others.
    with caplog.at_level(logging.WARNING, logger="orbiteos.error_log_test"):
        logging.getLogger("orbiteos.error_log_test").warning("battery.main did not answer (test marker 4711)")

    def run() -> str:
        with rest(site, "viewer") as viewer:
            with pytest.raises(Exception) as refused:
                viewer.get_error_log()
            assert "403" in str(refused.value)
        with rest(site) as admin:
            return admin.get_error_log()

    text = await in_thread(run)
    assert "WARNING" in text and "test marker 4711" in text


async def test_rest_check_config_validates_the_configuration_directory(site: Site) -> None:
    config_file = site.config_dir / "configuration.yaml"
    config_file.write_text("orbiteos:\n  name: Test depot\n")

    def check() -> bool:
        with rest(site) as client:
            return client.check_api_config()

    assert await in_thread(check) is True
    config_file.write_text("orbiteos:\n  name: [unclosed\n")
    assert await in_thread(check) is False
    status, body = await site.request("POST", "/api/config/core/check_config")
    assert status == 200 and body["result"] == "invalid" and "configuration.yaml" in body["errors"]


async def test_rest_logbook_without_recorder_is_404(site: Site) -> None:
    def run() -> None:
        with rest(site) as client:
            list(client.get_logbook_entries())

    with pytest.raises(EndpointNotFoundError):
        await in_thread(run)
    status, body = await site.request("GET", "/api/logbook")
    assert status == 404 and "recorder" in body["message"]


@pytest.fixture
async def recorded_site(tmp_path: Path, postgres_url: str) -> AsyncIterator[Site]:
    site = await start_site(tmp_path, recorder_url=postgres_url)
    try:
        recorder = get_recorder(site.hub)
        assert recorder is not None
        async with asyncio.timeout(60):
            await recorder.wait_connected()
        yield site
    finally:
        await site.session.close()
        await site.hub.stop()


async def test_rest_logbook_lists_state_changes_from_the_recorder(recorded_site: Site) -> None:
    hub = recorded_site.hub
    await asyncio.sleep(0.01)
    start = hub.clock.now()  # after the site's first states: those hold at the start, not entries
    await asyncio.sleep(0.01)
    hub.states.set("meter.grid", "20.0")
    hub.states.set("meter.grid", "20.0", {"frequency_hz": 49.9})  # attribute only: no entry
    hub.states.set("meter.grid", "21.0")
    hub.states.set("battery.main", "-3.0", {"friendly_name": "Main battery"})

    def run() -> list[Any]:
        with rest(recorded_site) as client:
            return list(client.get_logbook_entries(filter_entities="meter.grid", start_timestamp=start))

    entries = await in_thread(run)
    assert [(e.entity_id, e.state) for e in entries] == [("meter.grid", "20.0"), ("meter.grid", "21.0")]
    assert entries[0].name == "grid"
    status, body = await recorded_site.request("GET", f"/api/logbook/{start.isoformat().replace('+', '%2B')}")
    assert status == 200
    assert ("battery.main", "Main battery") in {(e["entity_id"], e["name"]) for e in body}


# --- websocket ----------------------------------------------------------------------------------


async def test_websocket_client_connects_and_reads(site: Site) -> None:
    def run() -> tuple[dict[str, Any], tuple[State, ...], str]:
        with websocket(site, "viewer") as client:
            return client.get_config(), client.get_states(), client.get_rendered_template(
                "{{ states('meter.grid') | float * 2 }}"
            )

    config, states, rendered = await in_thread(run)
    assert config["elevation"] == 0.0 and config["state"] == "RUNNING"
    assert {"length", "mass", "volume", "pressure"} <= set(config["unit_system"])
    assert {s.entity_id for s in states} >= {"meter.grid"}
    assert rendered == "25.0"


async def test_websocket_client_calls_services_and_fires_events(site: Site) -> None:
    def run() -> tuple[Any, Any]:
        with websocket(site) as client:
            client.trigger_service("battery", "set_power", entity_id=["battery.main"], power_kw=4.0)
            with client.listen_events("site_alarm") as events:
                context = client.fire_event("site_alarm", level=2)
                event = next(iter(events))
            return context, event

    context, event = await in_thread(run)
    assert site.hub.states.get("battery.main").state == "4.0"
    assert event.event_type == "site_alarm" and event.data == {"level": 2}
    assert context.user_id == "admin"


async def test_websocket_answers_unknown_command_for_what_is_not_served(site: Site) -> None:
    def run() -> list[str]:
        messages = []
        with websocket(site) as client:
            for call in (client.list_entity_registry, lambda: client.recv_result(client.send("get_panels"))):
                with pytest.raises(ResponseError) as refused:
                    call()
                messages.append(str(refused.value))
        return messages

    assert await in_thread(run) == ["[unknown_command] Unknown command."] * 2


def _command(client: WebsocketClient, kind: str, **data: Any) -> Any:
    return client.recv_result(client.send(kind, **data)).result


async def test_websocket_current_user_validate_config_and_execute_script(site: Site) -> None:
    def run() -> tuple[Any, Any, Any, Any]:
        with websocket(site) as client:
            user = _command(client, "auth/current_user")
            verdict = _command(
                client, "validate_config",
                trigger=[{"trigger": "state", "entity_id": "meter.grid"}],
                condition=[{"condition": "numeric_state", "entity_id": "meter.grid"}],  # no above/below
                action=[{"action": "battery.set_power", "target": {"entity_id": "battery.main"},
                         "data": {"power_kw": "{{ power }}"}}],
            )
            ran = _command(client, "execute_script", variables={"power": -2.5}, sequence=[
                {"action": "battery.set_power", "target": {"entity_id": "battery.main"},
                 "data": {"power_kw": "{{ power }}"}},
            ])
        with websocket(site, "operator") as operator, pytest.raises(ResponseError) as refused:
            _command(operator, "execute_script", sequence=[{"event": "x"}])
        return user, verdict, ran, str(refused.value)

    user, verdict, ran, refused = await in_thread(run)
    assert user["name"] == "admin" and user["is_admin"] is True
    assert verdict["trigger"] == {"valid": True, "error": None}
    assert verdict["condition"]["valid"] is False and verdict["condition"]["error"]
    assert verdict["action"] == {"valid": True, "error": None}
    assert site.hub.states.get("battery.main").state == "-2.5"
    assert ran["context"]["user_id"] == "admin" and ran["response"] is None
    assert refused.startswith("[unauthorized]")


async def test_websocket_subscribe_entities_sends_compressed_states_and_diffs(site: Site) -> None:
    # The client library cannot parse these events (its models lack the compressed shape), so this
    # one speaks Home Assistant's documented protocol over a plain websocket.
    hub = site.hub
    async with site.session.ws_connect("/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": site.tokens["viewer"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "subscribe_entities", "entity_ids": ["meter.grid", "sensor.new"]})
        assert (await ws.receive_json())["success"] is True
        first = (await ws.receive_json())["event"]["a"]["meter.grid"]
        hub.states.set("meter.grid", "13.0", {"voltage_l1": 231.0})
        hub.states.set("sensor.new", "1")
        hub.states.remove("sensor.new")
        hub.states.set("battery.main", "1.0")  # not subscribed
        hub.states.set("meter.grid", "13.0", {"voltage_l1": 231.0}, force_update=True)
        raw = [(await ws.receive_json())["event"] for _ in range(4)]
    assert first["s"] == "12.5" and first["a"] == {"frequency_hz": 50.0} and isinstance(first["lc"], float)
    assert isinstance(first["c"], str) and "lu" not in first
    change = raw[0]["c"]["meter.grid"]
    assert change["+"]["s"] == "13.0" and change["+"]["a"] == {"voltage_l1": 231.0} and "lc" in change["+"]
    assert change["-"] == {"a": ["frequency_hz"]}
    assert raw[1]["a"]["sensor.new"]["s"] == "1"
    assert raw[2] == {"r": ["sensor.new"]}
    assert set(raw[3]["c"]["meter.grid"]["+"]) == {"lu", "c"}  # same state again: only the update time


async def test_render_template_follows_the_state_and_reports_errors(site: Site) -> None:
    loop = asyncio.get_running_loop()

    def run() -> tuple[Any, Any, str]:
        with websocket(site, "viewer") as client:
            msg_id = client.send("render_template", template="{{ states('meter.grid') }}")
            client.recv_result(msg_id)
            first = client.recv_event(msg_id).event
            asyncio.run_coroutine_threadsafe(_set(), loop).result(5)
            second = client.recv_event(msg_id).event
            with pytest.raises(ResponseError) as refused:
                client.recv_result(client.send("render_template", template="{{ 1 / 0 }}", report_errors=True))
            return first, second, str(refused.value)

    async def _set() -> None:
        site.hub.states.set("meter.grid", "30.0")

    first, second, refused = await in_thread(run)
    assert first.result == 12.5 and first.listeners["entities"] == ["meter.grid"]
    assert second.result == 30.0
    assert refused.startswith("[template_error]")

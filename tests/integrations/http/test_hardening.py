"""The HTTP surface under hostile input: webhook credentials, audit of deliveries, control characters,
idle and unauthenticated connections, 400s that name the field, unknown paths, the role matrix."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from orbiteos.core import ServiceCall
from orbiteos.integrations.http import websocket_api
from orbiteos.integrations.http.redact import REDACTED
from tests.integrations.http.conftest import Site, start_site

SECRET = "a-shared-secret-0123456789"
HOOKS = f"""
- id: signed_hook
  alias: signed_hook
  triggers:
    - trigger: webhook
      webhook_id: signed-7c1d9e
      secret: {SECRET}
  actions:
    - action: battery.set_power
      target: {{entity_id: battery.main}}
      data: {{power_kw: "{{{{ trigger.json.power_kw }}}}"}}
- id: limited_hook
  triggers:
    - trigger: webhook
      webhook_id: limited-0a9f3b
      rate_limit: 3
  actions:
    - action: battery.set_power
      target: {{entity_id: battery.main}}
      data: {{power_kw: 1}}
"""


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[Site]:
    site = await start_site(tmp_path, automations=HOOKS, idle_timeout=0.5, max_unauthenticated=5)
    try:
        yield site
    finally:
        await site.session.close()
        await site.hub.stop()


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_raw(site: Site, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    async with site.session.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})}) as r:
        return r.status


async def test_a_signed_webhook_takes_only_deliveries_signed_with_its_secret(hooked: Site) -> None:
    body = b'{"power_kw": 4.5}'
    assert await post_raw(hooked, "/api/webhook/signed-7c1d9e", body) == 200  # unsigned: nothing done
    wrong = {"X-Webhook-Signature-256": signature(body, "another-secret-0123456789")}
    assert await post_raw(hooked, "/api/webhook/signed-7c1d9e", body, wrong) == 200
    await hooked.hub.wait_idle()
    assert hooked.calls == []
    github_style = {"X-Hub-Signature-256": signature(body)}
    assert await post_raw(hooked, "/api/webhook/signed-7c1d9e", body, github_style) == 200
    await hooked.hub.wait_idle()
    assert [c.data["power_kw"] for c in hooked.calls] == [4.5]
    _, audit = await hooked.request("GET", "/api/audit")
    webhooks = [e for e in audit if e["kind"] == "webhook"]
    assert [e["remote"] for e in webhooks] == ["127.0.0.1"] * 3
    assert [e["detail"].endswith("nothing done") for e in webhooks] == [True, True, False]
    assert "delivered to signed_hook" in webhooks[2]["detail"]


async def test_a_webhook_takes_at_most_its_rate_limit_a_minute(hooked: Site) -> None:
    statuses = [await post_raw(hooked, "/api/webhook/limited-0a9f3b", b"{}") for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    await hooked.hub.wait_idle()
    assert len(hooked.calls) == 3


async def test_viewers_see_webhook_ids_redacted_in_traces(hooked: Site) -> None:
    body = b'{"power_kw": 2}'
    await post_raw(hooked, "/api/webhook/signed-7c1d9e", body, {"X-Webhook-Signature-256": signature(body)})
    await hooked.hub.wait_idle()
    _, seen_by_viewer = await hooked.request("GET", "/api/automations/signed_hook/traces", role="viewer")
    _, seen_by_operator = await hooked.request("GET", "/api/automations/signed_hook/traces", role="operator")
    assert seen_by_viewer[0]["trigger"]["webhook_id"] == REDACTED
    assert seen_by_operator[0]["trigger"]["webhook_id"] == "signed-7c1d9e"
    assert "signed-7c1d9e" not in str(seen_by_viewer)


async def test_viewers_see_webhook_ids_redacted_in_websocket_events(hooked: Site) -> None:
    async with hooked.session.ws_connect("/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": hooked.tokens["viewer"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "automation_run_finished"})
        assert (await ws.receive_json())["success"] is True
        body = b'{"power_kw": 2}'
        await post_raw(hooked, "/api/webhook/signed-7c1d9e", body, {"X-Webhook-Signature-256": signature(body)})
        event = await asyncio.wait_for(ws.receive_json(), 10)
    assert event["event"]["data"]["trace"]["trigger"]["webhook_id"] == REDACTED


async def test_control_characters_cannot_forge_audit_or_log_lines(
    hooked: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    forged = "x%0a2026-01-01 00:00:00,000 WARNING audit forged"
    assert (await hooked.request("GET", f"/api/states/{forged}", role=None))[0] == 401
    assert (await hooked.request("POST", f"/api/webhook/{forged}", role=None, json={}))[0] == 200
    _, audit = await hooked.request("GET", "/api/audit")
    assert audit and all("\n" not in str(entry) for entry in audit)
    assert any("x\\x0a2026" in entry["detail"] for entry in audit)
    messages = [r.getMessage() for r in caplog.records]
    assert any("x\\x0a2026" in m for m in messages)
    assert not any("\n" in m for m in messages)


async def test_unknown_api_paths_need_a_token_before_they_say_404(hooked: Site) -> None:
    status, body = await hooked.request("GET", "/api/no/such/thing", role=None)
    assert status == 401
    assert (await hooked.request("GET", "/api/no/such/thing", role="viewer"))[0] == 404
    assert (await hooked.request("GET", "/not-api", role=None))[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "field"),
    [
        ("POST", "/api/states/sensor.x", b"[" * 100_000 + b"]" * 100_000, {}, "nested too deeply"),
        ("POST", "/api/states/sensor.x", b'{"state": "\xff\xfe"}', {}, "body: expected UTF-8"),
        (
            "POST",
            "/api/webhook/limited-0a9f3b",
            b"--xx\r\nbroken",
            {"Content-Type": "multipart/form-data; boundary=zz"},
            "body: malformed multipart/form-data",
        ),
        (
            "POST",
            "/api/webhook/limited-0a9f3b",
            b"{" * 100_000,
            {"Content-Type": "application/json"},
            "body: malformed JSON",
        ),
        ("GET", "/api/history/period/2026-01-01T00:00:00Z?filter_entity_id=meter.grid&bucket=inf", b"", {}, "bucket"),
        ("GET", "/api/history/period/2026-01-01T00:00:00Z?filter_entity_id=meter.grid&bucket=1e-9", b"", {}, "bucket"),
        ("GET", "/api/history/period/0001-01-01T00:00:00Z?filter_entity_id=meter.grid", b"", {}, "start"),
    ],
)
async def test_bad_input_is_a_400_naming_what_is_wrong(
    hooked: Site, method: str, path: str, body: bytes, headers: dict[str, str], field: str
) -> None:
    async with hooked.session.request(
        method, path, data=body or None, headers={**hooked.headers("admin"), **headers}
    ) as answer:
        assert answer.status == 400, await answer.text()
        assert field in (await answer.json())["message"]


async def test_operators_can_stop_what_they_can_start(hooked: Site) -> None:
    hooked.hub.states.set("ev_charger.bay_1", "0.0")

    def record(call: ServiceCall) -> None:
        hooked.calls.append(call)

    for service in ("start", "stop"):
        hooked.hub.services.register("ev_charger", service, record)
    hooked.hub.services.register("homeassistant", "stop", record)
    for service in ("start", "stop"):
        status, _ = await hooked.request(
            "POST", f"/api/services/ev_charger/{service}", role="operator", json={"entity_id": "ev_charger.bay_1"}
        )
        assert status == 200, service
    assert (await hooked.request("POST", "/api/services/homeassistant/stop", role="operator", json={}))[0] == 403
    assert (await hooked.request("POST", "/api/services/automation/reload", role="operator", json={}))[0] == 403
    assert (
        await hooked.request(
            "POST", "/api/services/automation/turn_off", role="operator", json={"entity_id": "automation.signed_hook"}
        )
    )[0] == 200


async def _raw_connection(site: Site, first_bytes: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = site.server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first_bytes)
    await writer.drain()
    return reader, writer


async def test_idle_and_half_sent_connections_are_closed(hooked: Site) -> None:
    idle = await _raw_connection(hooked, b"")
    half = await _raw_connection(hooked, b"GET /api/ HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    for reader, _ in (idle, half):
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    assert (await hooked.request("GET", "/api/", role="viewer"))[0] == 200


async def test_unauthenticated_connections_are_capped_and_the_api_keeps_answering(hooked: Site) -> None:
    sockets = [await _raw_connection(hooked, b"GET /api/ HTTP/1.1\r\n") for _ in range(20)]
    # A new client with a token still gets its answer; the oldest unauthenticated ones were closed.
    assert (await hooked.request("GET", "/api/", role="viewer"))[0] == 200
    closed = 0
    for reader, writer in sockets:
        try:
            if await asyncio.wait_for(reader.read(), 0.2) == b"":
                closed += 1
        except TimeoutError:
            pass
        writer.close()
    assert closed >= 20 - 5


async def test_subscribe_trigger_reports_a_trigger_that_failed_to_attach(hooked: Site) -> None:
    async with hooked.session.ws_connect("/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": hooked.tokens["viewer"]})
        await ws.receive_json()
        # The webhook id is taken by an automation: attaching a second trigger to it fails.
        await ws.send_json(
            {"id": 1, "type": "subscribe_trigger", "trigger": {"platform": "webhook", "webhook_id": "limited-0a9f3b"}}
        )
        answer: dict[str, Any] = await ws.receive_json()
    assert answer["success"] is False
    assert "failed to attach" in answer["error"]["message"]


async def test_one_connection_holds_a_bounded_number_of_subscriptions(
    hooked: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket_api, "MAX_SUBSCRIPTIONS", 3)
    async with hooked.session.ws_connect("/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": hooked.tokens["viewer"]})
        await ws.receive_json()
        for n in range(1, 5):
            await ws.send_json(
                {"id": n, "type": "subscribe_trigger", "trigger": {"platform": "state", "entity_id": "meter.grid"}}
            )
        answers = [await ws.receive_json() for _ in range(4)]
    assert [a["success"] for a in sorted(answers, key=lambda a: a["id"])] == [True, True, True, False]


async def test_a_large_history_answer_is_refused_with_how_to_narrow_it(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orbiteos.integrations.http import history_view

    monkeypatch.setattr(history_view, "MAX_ROWS", 100)
    site = await start_site(tmp_path, recorder_url=postgres_url)
    try:
        for n in range(150):
            site.hub.states.set("meter.grid", n)
        start = site.hub.clock.now().replace(year=2000).isoformat()
        status, body = await site.request(
            "GET",
            f"/api/history/period/{start}?filter_entity_id=meter.grid&end_time=2100-01-01T00:00:00Z",
            role="viewer",
            timeout=aiohttp.ClientTimeout(total=30),
        )
    finally:
        await site.session.close()
        await site.hub.stop()
    assert status == 413
    assert "more than 100 rows" in body["message"] and "bucket" in body["message"]


def test_the_state_json_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from orbiteos.core import Hub
    from orbiteos.integrations.http import state_json

    monkeypatch.setattr(state_json, "MAX_ENTRIES", 10)
    hub, cache = Hub(), state_json.StateJsonCache()
    for n in range(25):
        state = hub.states.set(f"sensor.gone_{n}", n)
        assert '"state":"' + str(n) + '"' in cache.state(state)
        hub.states.remove(f"sensor.gone_{n}")
    assert len(cache._cache) <= 10


async def test_one_token_holds_a_bounded_number_of_subscriptions_over_its_connections(
    hooked: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket_api, "MAX_TOKEN_SUBSCRIPTIONS", 4)
    answers: list[bool] = []
    async with (
        hooked.session.ws_connect("/api/websocket") as first,
        hooked.session.ws_connect("/api/websocket") as second,
    ):
        for ws in (first, second):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": hooked.tokens["viewer"]})
            await ws.receive_json()
        for n in range(1, 4):
            for ws in (first, second):
                await ws.send_json({"id": n, "type": "subscribe_events", "event_type": "tick"})
                answers.append((await ws.receive_json())["success"])
        await second.send_json({"id": 10, "type": "unsubscribe_events", "subscription": 1})
        assert (await second.receive_json())["success"] is True
        await second.send_json({"id": 11, "type": "subscribe_events", "event_type": "tick"})
        answers.append((await second.receive_json())["success"])
    assert answers == [True, True, True, True, False, False, True]
    await asyncio.sleep(0.1)
    assert hooked.server.app[websocket_api.TOKEN_SUBSCRIPTIONS] == {}  # closed connections gave theirs back

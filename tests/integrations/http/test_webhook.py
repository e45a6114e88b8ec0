"""`/api/webhook/<id>` delivering to the hub's webhook registry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orbiteos import webhook
from orbiteos.core import Hub
from orbiteos.integrations.http.webhook_view import is_local
from tests.integrations.http.conftest import Site, start_site


def record_into(received: list[webhook.WebhookRequest]) -> webhook.WebhookHandler:
    async def handler(hub: Hub, webhook_id: str, request: webhook.WebhookRequest) -> None:
        received.append(request)

    return handler


async def test_json_body_and_query_arrive_without_a_token(site: Site) -> None:
    received: list[webhook.WebhookRequest] = []
    webhook.register(site.hub, "tariff-hook", record_into(received))
    status, _ = await site.request("POST", "/api/webhook/tariff-hook?source=epex", role=None, json={"price": 0.31})
    assert status == 200
    assert len(received) == 1
    assert received[0].json == {"price": 0.31}
    assert received[0].query == {"source": "epex"}
    assert received[0].method == "POST"


async def test_form_body_arrives_as_data(site: Site) -> None:
    received: list[webhook.WebhookRequest] = []
    webhook.register(site.hub, "form-hook", record_into(received), allowed_methods={"PUT"})
    status, _ = await site.request("PUT", "/api/webhook/form-hook", role=None, data={"level": "high"})
    assert status == 200
    assert received[0].data == {"level": "high"}
    assert received[0].json is None


async def test_get_webhook_with_query_only(site: Site) -> None:
    received: list[webhook.WebhookRequest] = []
    webhook.register(site.hub, "get-hook", record_into(received), allowed_methods={"GET"})
    status, _ = await site.request("GET", "/api/webhook/get-hook?soc=80", role=None)
    assert status == 200
    assert received[0].query == {"soc": "80"}


async def test_unknown_id_answers_200_does_nothing_and_is_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    status, _ = await site.request("POST", "/api/webhook/no-such-hook", role=None, json={})
    assert status == 200
    assert any("no-such-hook" in r.getMessage() and "unknown" in r.getMessage() for r in caplog.records)


async def test_method_not_allowed_answers_as_an_unknown_id_and_is_not_delivered(site: Site) -> None:
    received: list[webhook.WebhookRequest] = []
    webhook.register(site.hub, "post-only", record_into(received))
    # Home Assistant answers 405 here, which tells a prober the id exists; OrbitEOS answers as for any id.
    assert await site.request("GET", "/api/webhook/post-only", role=None) == await site.request(
        "GET", "/api/webhook/no-such-id", role=None
    )
    assert received == []


async def test_malformed_json_is_400(site: Site) -> None:
    received: list[webhook.WebhookRequest] = []
    webhook.register(site.hub, "json-hook", record_into(received))
    status, body = await site.request(
        "POST", "/api/webhook/json-hook", role=None, data="{oops", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert "malformed JSON" in body["message"]
    assert received == []


async def test_handler_result_is_returned_as_json(site: Site) -> None:
    webhook.register(site.hub, "answering", lambda hub, wid, request: {"accepted": request.json["n"]})
    assert await site.request("POST", "/api/webhook/answering", role=None, json={"n": 3}) == (200, {"accepted": 3})


async def test_local_only_webhook_accepts_loopback(site: Site) -> None:
    received: list[webhook.WebhookRequest] = []
    webhook.register(site.hub, "local", record_into(received), local_only=True)
    assert (await site.request("POST", "/api/webhook/local", role=None, json={}))[0] == 200
    assert received[0].remote == "127.0.0.1"


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True), ("::1", True), ("192.168.1.20", True), ("10.0.0.5", True), ("fe80::1%eth0", True),
        ("::ffff:192.168.0.3", True), ("8.8.8.8", False), ("2a00:1450::1", False), (None, False), ("junk", False),
    ],
)
def test_local_network_addresses(address: str | None, local: bool) -> None:
    assert is_local(address) is local


TARIFF_HOOK = """
- id: tariff_hook
  alias: Tariff from webhook
  triggers:
    - trigger: webhook
      webhook_id: tariff-update-6f1c2e
      allowed_methods: [POST]
  actions:
    - action: battery.set_power
      target:
        entity_id: battery.main
      data:
        power_kw: "{{ trigger.json.power_kw * (trigger.query.scale | float(1)) }}"
"""


async def test_webhook_trigger_runs_an_automation_with_json_and_query(tmp_path: Path) -> None:
    site = await start_site(tmp_path, automations=TARIFF_HOOK)
    try:
        status, _ = await site.request(
            "POST", "/api/webhook/tariff-update-6f1c2e?scale=2", role=None, json={"power_kw": 1.5}
        )
        assert status == 200
        await site.hub.wait_idle()
        assert site.hub.states.get("battery.main").state == "3.0"
        assert (await site.request("PUT", "/api/webhook/tariff-update-6f1c2e", role=None, json={}))[0] == 200
        await site.hub.wait_idle()
        assert site.hub.states.get("battery.main").state == "3.0"  # the PUT was not delivered
    finally:
        await site.session.close()
        await site.hub.stop()

"""The REST API: every endpoint, every role, and bad input."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orbiteos.core import EVENT_CALL_SERVICE, Event
from tests.integrations.http.conftest import PEAK_SHAVING, Site, start_site


async def test_api_without_token_is_401_and_audited(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    status, body = await site.request("GET", "/api/", role=None)
    assert status == 401
    assert "missing token" in body["message"]
    assert any("auth_failed" in r.getMessage() and "/api/" in r.getMessage() for r in caplog.records)


async def test_api_with_unknown_token_is_401(site: Site) -> None:
    status, body = await site.request("GET", "/api/", role=None, headers={"Authorization": "Bearer oeos_nope"})
    assert status == 401
    assert body == {"message": "invalid or revoked token"}


async def test_api_status_and_whoami_for_viewer(site: Site) -> None:
    assert await site.request("GET", "/api/", role="viewer") == (200, {"message": "API running."})
    assert await site.request("GET", "/api/auth/whoami", role="operator") == (200, {"name": "operator",
                                                                                     "role": "operator"})


async def test_config_describes_the_site(site: Site) -> None:
    status, body = await site.request("GET", "/api/config", role="viewer")
    assert status == 200
    assert body["location_name"] == "Test depot"
    assert body["time_zone"] == "UTC"
    assert body["state"] == "RUNNING"


async def test_states_lists_every_entity_in_home_assistant_shape(site: Site) -> None:
    status, body = await site.request("GET", "/api/states", role="viewer")
    assert status == 200
    by_id = {s["entity_id"]: s for s in body}
    assert set(by_id) == {"battery.main", "meter.grid"}
    battery = by_id["battery.main"]
    assert battery["state"] == "0.0"
    assert battery["attributes"]["soc"] == 55.0
    assert set(battery) == {
        "entity_id", "state", "attributes", "last_changed", "last_updated", "last_reported", "context"
    }


async def test_state_of_one_entity_and_404_for_unknown(site: Site) -> None:
    status, body = await site.request("GET", "/api/states/meter.grid", role="viewer")
    assert (status, body["state"]) == (200, "12.5")
    status, body = await site.request("GET", "/api/states/meter.nowhere", role="viewer")
    assert status == 404
    assert "meter.nowhere" in body["message"]


async def test_writing_a_state_needs_admin(site: Site) -> None:
    for role in ("viewer", "operator"):
        status, body = await site.request("POST", "/api/states/sensor.price", role=role, json={"state": "0.21"})
        assert status == 403, role
        assert "admin" in body["message"]
    assert site.hub.states.get("sensor.price") is None


async def test_admin_creates_then_updates_a_state(site: Site) -> None:
    status, body = await site.request(
        "POST", "/api/states/sensor.price", json={"state": 0.21, "attributes": {"unit_of_measurement": "EUR/kWh"}}
    )
    assert status == 201
    assert body["state"] == "0.21"
    assert site.hub.states.get("sensor.price").context.user_id == "admin"
    status, body = await site.request("POST", "/api/states/sensor.price", json={"state": "0.25"})
    assert (status, body["state"]) == (200, "0.25")


async def test_writing_a_state_with_bad_input_is_400_saying_why(site: Site) -> None:
    status, body = await site.request("POST", "/api/states/sensor.x", data="{not json", role="admin")
    assert status == 400
    assert body["message"].startswith("malformed JSON")
    status, body = await site.request("POST", "/api/states/sensor.x", json={"attributes": {}})
    assert status == 400
    assert "'state'" in body["message"]
    status, body = await site.request("POST", "/api/states/sensor.x", json={"state": "1", "attributes": [1]})
    assert status == 400
    assert "'attributes'" in body["message"]
    status, body = await site.request("POST", "/api/states/not_an_entity", json={"state": "1"})
    assert status == 400
    assert "domain.object_id" in body["message"]
    status, body = await site.request("POST", "/api/states/sensor.x", json=[1, 2])
    assert status == 400
    assert "JSON object" in body["message"]


async def test_admin_removes_a_state(site: Site) -> None:
    assert (await site.request("DELETE", "/api/states/meter.grid"))[0] == 200
    assert site.hub.states.get("meter.grid") is None
    assert (await site.request("DELETE", "/api/states/meter.grid"))[0] == 404


async def test_services_lists_domains_and_services(site: Site) -> None:
    status, body = await site.request("GET", "/api/services", role="viewer")
    assert status == 200
    battery = next(d for d in body if d["domain"] == "battery")
    assert set(battery["services"]) == {"set_power", "auto"}


async def test_viewer_may_not_call_services(site: Site) -> None:
    status, body = await site.request(
        "POST", "/api/services/battery/set_power", role="viewer", json={"entity_id": "battery.main", "power_kw": 5}
    )
    assert status == 403
    assert "operator" in body["message"]
    assert site.calls == []


async def test_operator_call_returns_changed_states_and_is_attributed(site: Site) -> None:
    seen: list[Event] = []
    site.hub.bus.listen(EVENT_CALL_SERVICE, seen.append)
    status, body = await site.request(
        "POST", "/api/services/battery/set_power", role="operator", json={"entity_id": "battery.main", "power_kw": 5}
    )
    assert status == 200
    assert [s["entity_id"] for s in body] == ["battery.main"]
    assert body[0]["state"] == "5.0"
    assert body[0]["context"]["user_id"] == "operator"
    assert [e.context.user_id for e in seen] == ["operator"]


async def test_service_call_with_return_response(site: Site) -> None:
    status, body = await site.request(
        "POST", "/api/services/battery/auto?return_response", role="operator", json={"entity_id": "battery.main"}
    )
    assert status == 200
    assert body == {"changed_states": [], "service_response": {"handed_back": ["battery.main"]}}


async def test_service_call_bad_input(site: Site) -> None:
    status, body = await site.request("POST", "/api/services/battery/nothing", role="operator", json={})
    assert status == 404
    assert "battery.nothing" in body["message"]
    status, body = await site.request(
        "POST", "/api/services/battery/set_power", role="operator", json={"entity_id": "battery.gone", "power_kw": 1}
    )
    assert status == 404
    assert "battery.gone" in body["message"]
    status, body = await site.request(
        "POST", "/api/services/battery/set_power", role="operator", json={"entity_id": "battery.main", "power_kw": "x"}
    )
    assert status == 400
    assert "power_kw" in body["message"]
    status, body = await site.request("POST", "/api/services/battery/set_power", role="operator", data="{]")
    assert status == 400
    assert "malformed JSON" in body["message"]
    status, body = await site.request("POST", "/api/services/battery/set_power", role="operator", json="5")
    assert status == 400
    assert "JSON object" in body["message"]
    assert site.calls == []


async def test_reload_needs_admin(site: Site) -> None:
    status, body = await site.request("POST", "/api/services/automation/reload", role="operator")
    assert status == 403
    assert "admin" in body["message"]
    assert site.calls == []
    status, _ = await site.request("POST", "/api/services/automation/reload", role="admin")
    assert status == 200
    assert [c.context.user_id for c in site.calls] == ["admin"]


async def test_failing_service_is_a_json_500_without_traceback(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    status, body = await site.request("POST", "/api/services/test/explode", role="operator")
    assert status == 500
    assert body == {"message": "internal error; the details are in the server log"}
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_unreachable_device_is_503(site: Site) -> None:
    status, body = await site.request("POST", "/api/services/test/unreachable", role="operator")
    assert status == 503
    assert "did not answer" in body["message"]


async def test_fire_event_needs_admin_and_carries_the_token_name(site: Site) -> None:
    seen: list[Event] = []
    site.hub.bus.listen("tariff_changed", seen.append)
    assert (await site.request("POST", "/api/events/tariff_changed", role="operator", json={}))[0] == 403
    status, body = await site.request("POST", "/api/events/tariff_changed", json={"price": 0.3})
    assert (status, body) == (200, {"message": "Event tariff_changed fired."})
    assert [(e.data, e.context.user_id) for e in seen] == [({"price": 0.3}, "admin")]


async def test_engine_events_cannot_be_posted(site: Site) -> None:
    status, body = await site.request("POST", "/api/events/state_changed", json={})
    assert status == 400
    assert "state_changed" in body["message"]


async def test_event_listeners_are_listed(site: Site) -> None:
    site.hub.bus.listen("tariff_changed", lambda event: None)
    status, body = await site.request("GET", "/api/events", role="viewer")
    assert status == 200
    assert {"event": "tariff_changed", "listener_count": 1} in body


async def test_template_renders_with_states(site: Site) -> None:
    status, body = await site.request(
        "POST", "/api/template", role="viewer",
        json={"template": "{{ state_attr('battery.main', 'soc') | int + extra }}", "variables": {"extra": 1}},
    )
    assert (status, body) == (200, "56")


async def test_template_bad_input(site: Site) -> None:
    status, body = await site.request("POST", "/api/template", role="viewer", json={"template": "{{ 1 + }}"})
    assert status == 400
    assert body["message"]
    status, body = await site.request("POST", "/api/template", role="viewer", json={"tmpl": "x"})
    assert status == 400
    assert "'template'" in body["message"]
    status, body = await site.request("POST", "/api/template", role="viewer")
    assert status == 400
    assert "empty" in body["message"]


async def test_revoked_token_is_refused_by_the_running_server(site: Site) -> None:
    assert (await site.request("GET", "/api/", role="operator"))[0] == 200
    from orbiteos.integrations.http.auth import TokenStore

    assert TokenStore.for_config_dir(site.config_dir).revoke("operator")
    status, body = await site.request("GET", "/api/", role="operator")
    assert status == 401
    assert "revoked" in body["message"]


async def test_admin_manages_tokens_through_the_api(site: Site) -> None:
    assert (await site.request("GET", "/api/tokens", role="operator"))[0] == 403
    status, body = await site.request("POST", "/api/tokens", json={"name": "scada", "role": "viewer"})
    assert status == 201
    new_token = body["token"]
    status, body = await site.request("GET", "/api/", role=None, headers={"Authorization": f"Bearer {new_token}"})
    assert status == 200
    status, body = await site.request("GET", "/api/tokens")
    assert {"scada", "admin"} <= {t["name"] for t in body}
    assert all("token_hash" not in t for t in body)
    status, body = await site.request("POST", "/api/tokens", json={"name": "scada", "role": "viewer"})
    assert status == 409
    status, body = await site.request("POST", "/api/tokens", json={"name": "x", "role": "root"})
    assert status == 400
    assert "'role'" in body["message"]
    assert (await site.request("DELETE", "/api/tokens/scada"))[0] == 200
    status, _ = await site.request("GET", "/api/", role=None, headers={"Authorization": f"Bearer {new_token}"})
    assert status == 401
    assert (await site.request("DELETE", "/api/tokens/scada"))[0] == 404


async def test_audit_lists_actions_and_failures_for_admins(site: Site) -> None:
    await site.request("GET", "/api/", role=None)
    await site.request(
        "POST", "/api/services/battery/set_power", role="operator", json={"entity_id": "battery.main", "power_kw": 2}
    )
    assert (await site.request("GET", "/api/audit", role="operator"))[0] == 403
    status, body = await site.request("GET", "/api/audit")
    assert status == 200
    kinds = [(e["kind"], e["user"]) for e in body]
    assert ("auth_failed", None) in kinds
    assert ("forbidden", "operator") in kinds
    assert ("service", "operator") in kinds


async def test_unknown_api_path_is_json_404(site: Site) -> None:
    status, body = await site.request("GET", "/api/nothing/here", role="viewer")
    assert status == 404
    assert body["message"]


async def test_history_without_recorder_is_404_saying_so(site: Site) -> None:
    status, body = await site.request(
        "GET", "/api/history/period/2026-01-01T00:00:00+00:00?filter_entity_id=battery.main", role="viewer"
    )
    assert status == 404
    assert "recorder" in body["message"]


async def test_history_bad_input(site: Site) -> None:
    status, body = await site.request("GET", "/api/history/period/2026-01-01T00:00:00", role="viewer")
    assert status == 400
    assert "filter_entity_id" in body["message"]
    status, body = await site.request("GET", "/api/history/period/yesterday?filter_entity_id=a.b", role="viewer")
    assert status == 400
    assert "yesterday" in body["message"]


async def test_automations_list_is_empty_without_automations(site: Site) -> None:
    assert await site.request("GET", "/api/automations", role="viewer") == (200, [])
    status, body = await site.request("GET", "/api/automations/nope/traces", role="viewer")
    assert status == 404


async def test_ui_is_served_without_token(site: Site) -> None:
    status, body = await site.request("GET", "/", role=None)
    assert status == 200
    assert "OrbitEOS" in body


@pytest.fixture
async def automated_site(tmp_path: Path) -> AsyncIterator[Site]:
    site = await start_site(tmp_path, automations=PEAK_SHAVING)
    try:
        yield site
    finally:
        await site.session.close()
        await site.hub.stop()


async def test_automations_are_listed(automated_site: Site) -> None:
    status, body = await automated_site.request("GET", "/api/automations", role="viewer")
    assert status == 200
    assert body == [{"id": "peak_shaving", "entity_id": "automation.peak_shaving", "alias": "Peak shaving",
                     "enabled": True, "mode": "single", "current": 0, "last_triggered": None, "state": "on"}]


async def test_a_triggered_run_shows_in_the_traces(automated_site: Site) -> None:
    hub = automated_site.hub
    hub.states.set("meter.grid", "26.0")
    await hub.wait_idle()
    status, traces = await automated_site.request("GET", "/api/automations/peak_shaving/traces", role="viewer")
    assert status == 200
    (trace,) = traces
    assert trace["result"] == "finished"
    steps = {step["path"]: step for step in trace["steps"]}
    assert steps["condition/0"]["result"] is True
    assert steps["action/0"]["service"] == "battery.set_power"
    assert hub.states.get("battery.main").state == "6.0"
    by_entity = await automated_site.request("GET", "/api/automations/automation.peak_shaving/traces", role="viewer")
    assert by_entity == (200, traces)


async def test_toggle_and_run_go_through_audited_services(automated_site: Site) -> None:
    seen: list[Event] = []
    automated_site.hub.bus.listen(EVENT_CALL_SERVICE, seen.append)
    target = {"entity_id": "automation.peak_shaving"}
    assert (await automated_site.request("POST", "/api/services/automation/turn_off", role="viewer",
                                         json=target))[0] == 403
    status, changed = await automated_site.request("POST", "/api/services/automation/turn_off", role="operator",
                                                   json=target)
    assert status == 200
    assert [(s["entity_id"], s["state"]) for s in changed] == [("automation.peak_shaving", "off")]
    assert (await automated_site.request("GET", "/api/automations", role="viewer"))[1][0]["enabled"] is False
    status, _ = await automated_site.request("POST", "/api/services/automation/trigger", role="operator", json=target)
    assert status == 200
    status, traces = await automated_site.request("GET", "/api/automations/peak_shaving/traces", role="viewer")
    assert traces[-1]["trigger_description"] == "manual trigger"
    by_api = [(e.data["service"], e.context.user_id) for e in seen if e.data["domain"] == "automation"]
    assert by_api == [("turn_off", "operator"), ("trigger", "operator")]


async def test_reload_with_a_broken_configuration_is_400_saying_why(automated_site: Site) -> None:
    status, body = await automated_site.request("POST", "/api/services/automation/reload", role="admin")
    assert status == 400
    assert "configuration.yaml" in body["message"]
    assert (await automated_site.request("GET", "/api/automations", role="viewer"))[1][0]["id"] == "peak_shaving"


async def test_failed_service_calls_are_audited_with_their_outcome(site: Site) -> None:
    await site.request("POST", "/api/services/battery/set_power", role="operator",
                       json={"entity_id": "battery.main", "power_kw": "x"})
    await site.request("POST", "/api/services/battery/set_power", role="operator",
                       json={"entity_id": "battery.main", "power_kw": 3})
    status, body = await site.request("GET", "/api/audit")
    services = [e["detail"] for e in body if e["kind"] == "service"]
    assert len(services) == 2
    assert services[0].startswith("battery.set_power") and "failed: ServiceValidationError" in services[0]
    assert "failed" not in services[1] and '"power_kw":3' in services[1]

"""time, time_pattern, cron, event, template, webhook and start/shutdown triggers, and common trigger keys."""

from __future__ import annotations

from datetime import UTC, datetime

from orbiteos import webhook
from tests.automation.scenario import Scenario, run_scenario

CALL = '  action: {service: test.call, data: {id: "{{ trigger.id }}", platform: "{{ trigger.platform }}"}}\n'


def test_time_at_fixed_times_in_the_site_time_zone() -> None:
    async def body(s: Scenario) -> None:
        await s.advance(2 * 86400)

    yaml = '- id: t\n  trigger: {platform: time, at: ["06:30", "22:00:15"]}\n' + CALL
    # 2026-06-01 10:00 UTC is 12:00 in Amsterdam (CEST)
    s = run_scenario(yaml, body, start=datetime(2026, 6, 1, 10, tzinfo=UTC), time_zone="Europe/Amsterdam")
    # local 22:00:15 is 10 h 0 min 15 s after the start, 06:30 the next day is 18.5 h after it
    assert [c.offset for c in s.calls] == [36015.0, 66600.0, 36015.0 + 86400, 66600.0 + 86400]


def test_time_at_an_entity_follows_its_changes() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.cheap_from", "2026-06-01T12:10:00+00:00")
        await s.advance(3600)
        s.set("input_datetime.start", "13:30:00", {"has_date": False, "has_time": True, "hour": 13, "minute": 30,
                                                   "second": 0})
        await s.advance(3600)

    yaml = '- id: t\n  trigger: {platform: time, at: [sensor.cheap_from, input_datetime.start]}\n' + CALL
    s = run_scenario(yaml, body)
    assert [c.offset for c in s.calls] == [600.0, 5400.0]


def test_time_pattern_with_divisor_and_defaults() -> None:
    async def body(s: Scenario) -> None:
        await s.advance(3600)

    yaml = """
- id: every15
  trigger: {platform: time_pattern, minutes: "/15"}
""" + CALL + """
- id: hourly
  trigger: {platform: time_pattern, hours: "*"}
""" + CALL
    s = run_scenario(yaml, body, start=datetime(2026, 6, 1, 12, 5, tzinfo=UTC))
    fired = sorted((c.offset / 60, c.service) for c in s.calls)
    assert fired == [(10.0, "test.call"), (25.0, "test.call"), (40.0, "test.call"), (55.0, "test.call"),
                     (55.0, "test.call")]
    assert [t["trigger"]["platform"] for t in s.traces("hourly")] == ["time_pattern"]


def test_cron_expression_in_local_time() -> None:
    async def body(s: Scenario) -> None:
        await s.advance(86400)

    yaml = '- id: c\n  trigger: {platform: cron, expression: "0 7 * * *"}\n' + CALL
    s = run_scenario(yaml, body, start=datetime(2026, 1, 5, 0, 0, tzinfo=UTC), time_zone="Europe/Amsterdam")
    assert [c.offset / 3600 for c in s.calls] == [6.0]  # 07:00 CET is 06:00 UTC
    assert s.calls[0].data["platform"] == "cron"


def test_event_trigger_matches_type_list_and_data() -> None:
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("tariff_changed", {"zone": "nl", "price": 0.1})
        s.hub.bus.fire("tariff_changed", {"zone": "de"})
        s.hub.bus.fire("grid_alarm", {"zone": "nl", "level": 2})
        s.hub.bus.fire("other", {"zone": "nl"})
        await s.advance(1)

    yaml = """
- id: e
  mode: parallel
  trigger: {platform: event, event_type: [tariff_changed, grid_alarm], event_data: {zone: nl}}
  action: {service: test.call, data: {type: "{{ trigger.event.event_type }}", zone: "{{ trigger.event.data.zone }}"}}
"""
    s = run_scenario(yaml, body)
    assert [c.data for c in s.calls] == [{"type": "tariff_changed", "zone": "nl"}, {"type": "grid_alarm", "zone": "nl"}]


def test_template_trigger_fires_on_false_to_true_only() -> None:
    async def body(s: Scenario) -> None:
        for value in ("3", "6", "7", "2", "8"):
            s.set("sensor.p", value)
            await s.advance(1)

    yaml = '- id: t\n  trigger: {platform: template, value_template: "{{ states(\'sensor.p\') | float > 5 }}"}\n' + CALL
    s = run_scenario(yaml, body, initial={"sensor.p": "0"})
    assert [c.offset for c in s.calls] == [1.0, 4.0]


def test_template_trigger_true_at_start_waits_for_false_first_and_for_resets() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.p", "8")
        await s.advance(5)
        s.set("sensor.p", "1")
        await s.advance(5)
        s.set("sensor.p", "9")   # t=10: true, timer 30s
        await s.advance(10)
        s.set("sensor.p", "0")   # t=20: false, cancelled
        await s.advance(5)
        s.set("sensor.p", "9")   # t=25: true again, fires at 55
        await s.advance(60)

    yaml = """
- id: t
  trigger:
    platform: template
    value_template: "{{ states('sensor.p') | float(0) > 5 }}"
    for: "00:00:30"
  action: {service: test.call}
"""
    s = run_scenario(yaml, body, initial={"sensor.p": "7"})
    assert [c.offset for c in s.calls] == [55.0]


def test_webhook_trigger_receives_json_through_the_registry() -> None:
    async def body(s: Scenario) -> None:
        hook = webhook.get(s.hub, "ev-plugged")
        assert hook is not None and hook.allowed_methods == frozenset({"POST"}) and hook.local_only is False
        hook.handler(s.hub, "ev-plugged", webhook.WebhookRequest(method="POST", json={"kw": 7.4}))
        await s.advance(1)

    yaml = """
- id: w
  trigger: {platform: webhook, webhook_id: ev-plugged, allowed_methods: [POST], local_only: false}
  action: {service: ev_charger.set_limit, data: {power_kw: "{{ trigger.json.kw }}"}}
"""
    s = run_scenario(yaml, body)
    assert s.called() == [(0.0, "ev_charger.set_limit", {"power_kw": 7.4})]


def test_start_and_shutdown_triggers() -> None:
    async def body(s: Scenario) -> None:
        await s.advance(1)

    yaml = """
- id: up
  trigger: {platform: homeassistant, event: start}
  action: {service: test.call, data: {what: start}}
- id: down
  trigger: {trigger: orbiteos, event: shutdown}
  action: {service: test.call, data: {what: shutdown}}
"""
    s = run_scenario(yaml, body)
    assert [c.data["what"] for c in s.calls] == ["start", "shutdown"]


def test_trigger_id_variables_and_enabled() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.a", "1")
        s.set("sensor.b", "1")
        await s.advance(1)

    yaml = """
- id: t
  mode: queued
  trigger_variables: {site: depot}
  variables: {from_automation: "{{ trigger.id }}-seen"}
  trigger:
    - platform: state
      entity_id: sensor.a
      id: first
      variables: {where: "{{ site }}-{{ trigger.entity_id }}"}
    - platform: state
      entity_id: sensor.b
      enabled: false
  action:
    - service: test.call
      data: {id: "{{ trigger.id }}", where: "{{ where }}", seen: "{{ from_automation }}"}
"""
    s = run_scenario(yaml, body, initial={"sensor.a": "0", "sensor.b": "0"})
    # As Home Assistant 2024.3 (run there): a trigger's own `variables:` see the run variables
    # (`trigger`) but not `trigger_variables`, so `site` renders empty.
    assert [c.data for c in s.calls] == [{"id": "first", "where": "-sensor.a", "seen": "first-seen"}]


def test_automation_variables_are_not_visible_to_trigger_options() -> None:
    async def body(s: Scenario) -> None:
        s.set("switch.a", "on")
        await s.advance(100)

    yaml = """
- id: t
  variables: {hold: 10}
  trigger: {platform: state, entity_id: switch.a, to: "on", for: "{{ hold | default(50) }}"}
  action: {service: test.call}
"""
    s = run_scenario(yaml, body, initial={"switch.a": "off"})
    assert [c.offset for c in s.calls] == [50.0]


def test_time_pattern_defaults_follow_home_assistant() -> None:
    from orbiteos.automation.trigger import validate_trigger

    def pattern(**given: str) -> tuple[str, str, str]:
        config = validate_trigger({"platform": "time_pattern", **given})
        return config["hours"], config["minutes"], config["seconds"]

    assert pattern(hours="5") == ("5", "0", "0")
    assert pattern(minutes="/15") == ("*", "/15", "0")
    assert pattern(seconds="/10") == ("*", "*", "/10")
    assert pattern(hours="/2", seconds="30") == ("/2", "0", "30")


def test_event_data_matches_by_equality_and_nested_mappings_by_containment() -> None:
    # Checked against Home Assistant 2024.3.3: "1" does not match 1; 1.0 does; nested extra keys are fine.
    async def body(s: Scenario) -> None:
        for n, data in enumerate(({"zone": "1", "nested": {"a": "b"}}, {"zone": 1, "nested": {"a": "b", "c": 1}},
                                  {"zone": 1.0, "nested": {"a": "b"}}, {"zone": 1}), start=1):
            s.hub.bus.fire("go", {**data, "n": n})
        await s.advance(1)

    yaml = """
- id: e
  mode: parallel
  trigger: {platform: event, event_type: go, event_data: {zone: 1, nested: {a: b}}}
  action: {service: test.call, data: {n: "{{ trigger.event.data.n }}"}}
"""
    s = run_scenario(yaml, body)
    assert [c.data["n"] for c in s.calls] == [2, 3]

"""`wait_template` followed as Home Assistant 2024.3.3 follows it (the same steps run there gave these)."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario

YAML = """
- id: waits
  trigger: {platform: event, event_type: go}
  action:
    - wait_template: "{{ states('sensor.x') | float > 5 }}"
      timeout: 5
    - service: test.call
      data: {w: "{{ wait.completed }}", k: 1}
    - wait_template: "{{ states.battery | map(attribute='state') | map('float') | sum > 5 }}"
      timeout: 5
    - service: test.call
      data: {w: "{{ wait.completed }}", k: 2}
"""


def test_a_failed_re_render_is_logged_and_a_domain_wait_is_rate_limited(caplog) -> None:  # noqa: ANN001
    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go")
        await s.advance(0.2)
        s.set("sensor.x", "abc")  # `| float` fails: logged, the wait goes on
        await s.advance(0.2)
        s.set("sensor.x", "6")  # named in the template: at once
        await s.advance(0.2)
        s.set("battery.a", "1")  # the second wait: renders at once (false)
        await s.advance(0.1)
        s.set("battery.a", "6")  # true, rendered when the second since the last render is over
        await s.advance(1.5)

    s = run_scenario(YAML, body, initial={"sensor.x": "1", "battery.a": "0"})
    assert s.called() == [(0.4, "test.call", {"w": True, "k": 1}), (1.6, "test.call", {"w": True, "k": 2})]
    assert "wait_template failed" in caplog.text

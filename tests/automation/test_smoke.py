from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario


def test_state_trigger_calls_service() -> None:
    async def body(s: Scenario) -> None:
        s.set("sensor.a", "on")
        await s.advance(1)

    s = run_scenario(
        """
- id: a
  trigger: {platform: state, entity_id: sensor.a, to: "on"}
  action:
    - service: test.call
      data: {value: "{{ trigger.to_state.state }}"}
""",
        body,
    )
    assert s.called() == [(0.0, "test.call", {"value": "on"})]

from __future__ import annotations

import json
from datetime import UTC, datetime

from orbiteos.automation.trace import Trace, TraceView
from orbiteos.clock import run_virtual
from orbiteos.core import Context, Hub, State


def test_trace_view_is_the_trace_as_json_built_once_on_first_read() -> None:
    async def main(clock: object) -> None:
        hub = Hub(clock)  # type: ignore[arg-type]
        to_state = State("sensor.grid", "8", {}, last_updated=hub.clock.now())
        trace = Trace(hub, "peak", "automation.peak", {"platform": "state", "to_state": to_state}, Context())
        trace.step("action/0", result="ok")
        trace.finish("finished")
        view = TraceView(trace)
        assert view.raw_trigger is not None and view.raw_trigger["to_state"] is to_state  # no JSON needed for this
        assert view._dict is None
        assert view["result"] == "finished"
        built = view.as_dict()
        assert dict(view) == built == trace.as_dict()
        assert view.as_dict() is built  # built once
        assert view["trigger"]["to_state"]["state"] == "8"
        json.dumps(dict(view))

    run_virtual(main, datetime(2026, 11, 24, tzinfo=UTC))


def test_a_time_conditions_step_reads_as_text_in_the_trace() -> None:
    from tests.automation.scenario import Scenario, run_scenario

    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go", {})
        await s.advance(1)

    s = run_scenario("""
- id: a
  trigger: {platform: event, event_type: go}
  condition:
    - condition: time
      after: "21:00"
      weekday: [mon, tue]
  action:
    - action: test.call
""", body)
    (trace,) = s.traces("a")
    (step,) = [step for step in trace["steps"] if step["path"] == "condition/0"]
    assert step["after"] == "21:00:00" and step["before"] == "23:59:59.999999"
    assert datetime.fromisoformat(step["now"]).tzinfo is not None
    json.dumps(trace)

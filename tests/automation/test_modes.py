"""Run modes and their overflow: single, restart, queued, parallel with max."""

from __future__ import annotations

from tests.automation.scenario import Scenario, run_scenario


def with_mode(mode: str) -> str:
    return f"""
- id: m
  alias: m
  {mode}
  trigger: {{platform: event, event_type: go}}
  action:
    - service: test.call
      data: {{n: "{{{{ trigger.event.data.n }}}}", step: start}}
    - delay: 10
    - service: test.call
      data: {{n: "{{{{ trigger.event.data.n }}}}", step: end}}
"""


async def three_triggers(s: Scenario) -> None:
    for n in (1, 2, 3):
        s.hub.bus.fire("go", {"n": n})
        await s.advance(2)
    await s.advance(60)


def steps(s: Scenario) -> list[tuple[float, int, str]]:
    return [(c.offset, c.data["n"], c.data["step"]) for c in s.calls]


def results(s: Scenario) -> list[str]:
    return [t["result"] for t in s.traces("m")]


def test_single_ignores_triggers_while_running() -> None:
    s = run_scenario(with_mode("mode: single"), three_triggers)
    assert steps(s) == [(0.0, 1, "start"), (10.0, 1, "end")]
    assert sorted(results(s)) == ["failed_single", "failed_single", "finished"]


def test_max_exceeded_silent_hides_the_warning(caplog) -> None:  # noqa: ANN001
    run_scenario(with_mode("mode: single"), three_triggers)
    assert "m: already running (mode single)" in caplog.text
    caplog.clear()
    run_scenario(with_mode("max_exceeded: silent"), three_triggers)
    assert "already running" not in caplog.text


def test_restart_cancels_the_running_run() -> None:
    s = run_scenario(with_mode("mode: restart"), three_triggers)
    assert steps(s) == [(0.0, 1, "start"), (2.0, 2, "start"), (4.0, 3, "start"), (14.0, 3, "end")]
    assert results(s) == ["cancelled", "cancelled", "finished"]


def test_queued_runs_one_after_another_and_overflow_is_refused() -> None:
    s = run_scenario(with_mode("mode: queued\n  max: 2"), three_triggers)
    assert steps(s) == [(0.0, 1, "start"), (10.0, 1, "end"), (10.0, 2, "start"), (20.0, 2, "end")]
    assert sorted(results(s)) == ["failed_max_runs", "finished", "finished"]


def test_parallel_runs_side_by_side_up_to_max() -> None:
    s = run_scenario(with_mode("mode: parallel\n  max: 2"), three_triggers)
    assert steps(s) == [(0.0, 1, "start"), (2.0, 2, "start"), (10.0, 1, "end"), (12.0, 2, "end")]
    assert sorted(results(s)) == ["failed_max_runs", "finished", "finished"]


def test_current_attribute_counts_runs() -> None:
    seen: list[int] = []

    async def body(s: Scenario) -> None:
        s.hub.bus.fire("go", {"n": 1})
        s.hub.bus.fire("go", {"n": 2})
        await s.advance(1)
        seen.append(s.hub.states.get("automation.m").attributes["current"])
        await s.advance(20)
        seen.append(s.hub.states.get("automation.m").attributes["current"])

    run_scenario(with_mode("mode: parallel"), body)
    assert seen == [2, 0]


def test_a_refused_run_fires_no_automation_triggered_event() -> None:
    # As Home Assistant 2024.3.3: only runs the mode lets start (or queue) are "triggered".
    s = run_scenario(with_mode("mode: queued\n  max: 2"), three_triggers)
    triggered = [e for e in s.events if e.event_type == "automation_triggered"]
    assert len(triggered) == 2
    s = run_scenario(with_mode("mode: single"), three_triggers)
    assert len([e for e in s.events if e.event_type == "automation_triggered"]) == 1

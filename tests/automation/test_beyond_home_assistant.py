"""OrbitEOS additions to the dialect: numeric_state hysteresis, the unavailable policy, explain."""

from __future__ import annotations

from orbiteos.automation import get_manager
from orbiteos.automation.explain import explain
from tests.automation.scenario import Scenario, run_scenario


def numeric(options: str, condition: str = "") -> str:
    return f"""
- id: n
  mode: parallel
  trigger: {{platform: numeric_state, entity_id: sensor.grid, {options}}}
  {condition}
  action:
    - service: test.call
      data: {{value: "{{{{ trigger.to_state.state }}}}"}}
"""


async def feed(s: Scenario, *values: str) -> None:
    for value in values:
        s.set("sensor.grid", value)
        await s.advance(1)


def fired(s: Scenario) -> list[object]:
    return [c[2]["value"] for c in s.called()]


def test_hysteresis_rearms_only_beyond_the_band() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "81", "79", "81", "78", "81", "77.9", "81")

    s = run_scenario(numeric("above: 80, hysteresis: 2"), body, initial={"sensor.grid": "70"})
    # 79 and 78 stay inside the band (re-arming needs a value below 78); 77.9 re-arms.
    assert fired(s) == [81, 81]
    assert [c[0] for c in s.called()] == [0.0, 6.0]


def test_hysteresis_below_and_without_it_as_home_assistant() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "9", "11", "9", "12.5", "9")

    s = run_scenario(numeric("below: 10, hysteresis: 2"), body, initial={"sensor.grid": "20"})
    assert fired(s) == [9, 9]  # 11 is inside the band; 12.5 re-arms
    plain = run_scenario(numeric("below: 10"), body, initial={"sensor.grid": "20"})
    assert fired(plain) == [9, 9, 9]


def test_hysteresis_with_for_latches_only_after_firing() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "81")  # leaves before 'for' has passed: never fired, so not latched
        await feed(s, "79", "81")
        await s.advance(10)
        await feed(s, "79", "81")  # fired: latched until below 78

    s = run_scenario(numeric("above: 80, hysteresis: 2, for: 5"), body, initial={"sensor.grid": "70"})
    assert fired(s) == [81]


def test_unavailable_policies_on_the_trigger() -> None:
    async def body(s: Scenario) -> None:
        await feed(s, "8", "unavailable", "7", "unknown")

    ignore = run_scenario(numeric("below: 5"), body, initial={"sensor.grid": "8"})
    assert fired(ignore) == []  # Home Assistant: unavailable never matches
    treat = run_scenario(numeric("below: 5, unavailable: {treat_as: 0}"), body, initial={"sensor.grid": "8"})
    assert fired(treat) == ["unavailable", "unknown"]  # judged as 0: below 5, fires (re-armed by 7)
    fail = run_scenario(numeric("below: 5, unavailable: fail"), body, initial={"sensor.grid": "8"})
    assert fired(fail) == []


def test_unavailable_fail_on_a_condition_ends_the_run_as_an_error() -> None:
    condition = """condition:
    - condition: numeric_state
      entity_id: sensor.soc
      above: 20
      unavailable: {policy}"""

    async def body(s: Scenario) -> None:
        await feed(s, "10")

    for policy, calls, result in (("ignore", [], "failed_conditions"), ("fail", [], "error"),
                                  ("'{treat_as: 50}'", [10], "finished")):
        yaml = numeric("above: 5", condition.format(policy=policy.strip("'")))
        s = run_scenario(yaml, body, initial={"sensor.grid": "0", "sensor.soc": "unavailable"})
        assert fired(s) == calls, policy
        (trace,) = s.traces("n")
        assert trace["result"] == result, policy
        if policy == "fail":
            assert "sensor.soc" in trace["error"] and "unavailable" in trace["error"]


def test_explain_says_why_a_trigger_did_not_fire() -> None:
    yaml = """
- id: peak
  trigger:
    - {platform: numeric_state, entity_id: sensor.grid, above: 80, hysteresis: 2, id: high}
    - {platform: state, entity_id: switch.force, to: "on", for: 60}
  condition:
    - condition: numeric_state
      entity_id: sensor.soc
      above: 20
  action:
    - service: test.call
"""
    reports = []

    async def body(s: Scenario) -> None:
        automation = get_manager(s.hub).get("peak")
        assert automation is not None
        await feed(s, "85")  # crosses; the SoC condition refuses
        s.set("sensor.soc", "50")
        await feed(s, "79", "85")  # inside the band: not re-armed
        s.set("switch.force", "on")
        await s.advance(15)
        reports.append(explain(automation))

    s = run_scenario(yaml, body, initial={"sensor.grid": "0", "sensor.soc": "12", "switch.force": "off"})
    assert s.calls == []
    (report,) = reports
    high, force = report["triggers"]
    assert high["watching"] == "sensor.grid above 80, hysteresis 2"
    grid = high["entities"]["sensor.grid"]
    assert grid["value"] == 85.0 and grid["armed"] is False
    assert "hysteresis" in grid["last_refusal"]
    assert force["entities"]["switch.force"]["pending_for"]["remaining_s"] == 45.0
    refused = report["last_refused"]
    assert refused["result"] == "failed_conditions"
    assert refused["false_conditions"] == [
        {"path": "condition/0", "value": {"sensor.soc": "12"}, "above": 20.0, "below": None,
         "condition": "numeric_state"}
    ]
    text = "\n".join(report["summary"])
    assert "condition/0 (numeric_state) was false" in text and "45 s to go" in text


def test_unavailable_policy_on_the_state_condition() -> None:
    def yaml(policy: str) -> str:
        return f"""
- id: guard
  trigger: {{platform: state, entity_id: sensor.x}}
  condition:
    - condition: state
      entity_id: switch.contactor
      state: "off"
      unavailable: {policy}
  action:
    - service: test.call
"""

    async def body(s: Scenario) -> None:
        s.set("sensor.x", "1")
        await s.advance(1)

    initial = {"sensor.x": "0", "switch.contactor": "unavailable"}
    for policy, called, result in (("ignore", 0, "failed_conditions"), ("fail", 0, "error"),
                                   ("{treat_as: 'off'}", 1, "finished"), ("{treat_as: 'on'}", 0, "failed_conditions")):
        s = run_scenario(yaml(policy), body, initial=initial)
        assert len(s.calls) == called, policy
        (trace,) = s.traces("guard")
        assert trace["result"] == result, policy


def test_explain_names_a_busy_single_mode_and_a_switched_off_automation() -> None:
    yaml = """
- id: slow
  trigger: {platform: state, entity_id: sensor.x}
  action:
    - delay: 60
    - service: test.call
"""
    reports = []

    async def body(s: Scenario) -> None:
        automation = get_manager(s.hub).get("slow")
        assert automation is not None
        s.set("sensor.x", "1")
        await s.advance(1)
        s.set("sensor.x", "2")  # refused: the first run is still in its delay
        await s.advance(1)
        reports.append(explain(automation))
        await automation.turn_off()
        reports.append(explain(automation))

    run_scenario(yaml, body, initial={"sensor.x": "0"})
    busy, off = reports
    assert busy["last_refused"]["result"] == "failed_single"
    assert busy["last_refused"]["why"] == "mode single: a run was already in progress"
    assert busy["last_run"]["result"] == "failed_single"
    assert any("mode single: a run was already in progress" in line for line in busy["summary"])
    assert off["enabled"] is False
    assert off["summary"][0].startswith("the automation is off")
    assert off["summary"][1].startswith("trigger 0 (state, id 0): not attached (the automation is off)")


def test_explain_gives_time_triggers_their_next_moment() -> None:
    yaml = """
- id: timed
  trigger:
    - {platform: time, at: ["12:30:00", sensor.start_at]}
    - {platform: time_pattern, minutes: "/15"}
  action:
    - service: test.call
"""
    reports = []

    async def body(s: Scenario) -> None:
        automation = get_manager(s.hub).get("timed")
        assert automation is not None
        reports.append(explain(automation))
        s.set("sensor.start_at", "unknown")
        await s.advance(1)
        reports.append(explain(automation))

    run_scenario(yaml, body, initial={"sensor.start_at": "12:10:00"})
    before, after = reports
    assert before["triggers"][0]["watching"] == "at 12:30:00, sensor.start_at"
    assert before["triggers"][0]["next_due"] == "2026-06-01T12:10:00+00:00"
    assert after["triggers"][0]["next_due"] == "2026-06-01T12:30:00+00:00"  # the entity has no time now
    assert before["triggers"][1]["next_due"] == "2026-06-01T12:15:00+00:00"
    assert "next due 2026-06-01T12:15:00+00:00" in before["summary"][1]

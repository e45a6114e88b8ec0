"""Automation traces are stored compact: nothing the columns hold, short form for runs that did nothing."""

from __future__ import annotations

from orbiteos.integrations.recorder.traces import compact, did_nothing

STARTED = "2026-06-16T12:00:00+00:00"


def _trace(result: str, steps: list[dict], **more: object) -> dict:
    return {
        "automation_id": "a",
        "entity_id": "automation.a",
        "run_id": "r",
        "started": STARTED,
        "finished": STARTED,
        "result": result,
        "error": None,
        "trigger_description": "state of meter.grid",
        "context": {"id": "r", "user_id": None, "parent_id": "p"},
        "trigger": {
            "platform": "state",
            "entity_id": "meter.grid",
            "description": "state of meter.grid",
            "to_state": {"entity_id": "meter.grid", "state": "55.0", "attributes": {"big": "x" * 500}},
        },
        "steps": steps,
        **more,
    }


def test_a_run_that_called_a_service_keeps_its_steps_without_what_the_columns_hold():
    steps = [
        {"path": "condition/0", "condition": "numeric_state", "result": True, "timestamp": STARTED},
        {
            "path": "action/0",
            "service": "battery.set_power",
            "data": {"power_kw": -5},
            "timestamp": "2026-06-16T12:00:01+00:00",
        },
    ]
    stored = compact(_trace("finished", steps))
    assert stored is not None
    assert set(stored) == {"trigger", "steps", "context_parent_id"}
    assert stored["context_parent_id"] == "p"
    assert stored["steps"] == [  # a step's time only when it is not the run's start
        {"path": "condition/0", "condition": "numeric_state", "result": True},
        {
            "path": "action/0",
            "service": "battery.set_power",
            "data": {"power_kw": -5},
            "timestamp": "2026-06-16T12:00:01+00:00",
        },
    ]


def test_failed_conditions_and_runs_without_an_acting_step_are_stored_short():
    failed = compact(
        _trace(
            "failed_conditions",
            [
                {"path": "condition/0", "condition": "time", "result": True},
                {"path": "condition/1", "condition": "template", "result": False},
            ],
        )
    )
    assert failed == {
        "did_nothing": True,
        "steps": 2,
        "last_step": "condition/1",
        "failed": "condition/1",
        "trigger": {"platform": "state", "entity_id": "meter.grid", "to_state": "55.0"},
    }
    quiet = compact(
        _trace(
            "finished",
            [
                {"path": "action/0/if/0", "condition": "template", "result": False},
                {"path": "action/0", "choice": "else"},
            ],
        )
    )
    assert quiet is not None and quiet["did_nothing"] and "failed" in quiet  # the if's condition said no
    assert quiet["last_step"] == "action/0"


def test_errors_waits_and_events_are_never_short():
    for step in (
        {"path": "action/0", "event": "grid_event"},
        {"path": "action/0", "delay": 5.0},
        {"path": "action/0", "wait_template": "{{ x }}"},
        {"path": "action/0", "stop": "no"},
    ):
        assert not did_nothing(_trace("finished", [step]))
    assert not did_nothing(_trace("error", [], error="boom"))
    assert not did_nothing(_trace("finished", [], error="boom"))
    assert compact(None) is None

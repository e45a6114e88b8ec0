"""Every YAML example in docs/automations.md and docs/templates.md validates; a few also run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orbiteos.automation import validate_config
from orbiteos.config import parse_yaml
from tests.automation.scenario import Scenario, run_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def examples(page: str) -> list[str]:
    return BLOCK.findall((DOCS / page).read_text())


ALL = [(page, index, text) for page in ("automations.md", "templates.md") for index, text in enumerate(examples(page))]


def test_the_pages_have_examples_for_every_trigger_platform() -> None:
    text = "\n".join(examples("automations.md"))
    for platform in ("state", "numeric_state", "time", "time_pattern", "cron", "event", "template", "webhook",
                     "mqtt", "homeassistant", "orbiteos"):
        assert f"trigger: {platform}\n" in text, platform


@pytest.mark.parametrize(("page", "index", "text"), ALL, ids=[f"{p}#{i}" for p, i, _ in ALL])
def test_example_validates(page: str, index: int, text: str) -> None:
    validated, errors = validate_config(parse_yaml(text, f"{page}#{index}"))
    assert errors == [], [str(e) for e in errors]
    assert validated


def test_peak_shaving_example_discharges_the_excess() -> None:
    async def body(s: Scenario) -> None:
        s.set("battery.main", "0", {"soc": 50, "max_discharge_kw": 20})
        s.set("meter.grid", "90")
        await s.advance(60)

    s = run_scenario(examples("automations.md")[0], body, initial={"meter.grid": "60"})
    assert s.called() == [(30.0, "battery.set_power", {"power_kw": 10.0, "entity_id": ["battery.main"]})]


def test_pv_surplus_example_sets_limits_from_the_surplus() -> None:
    async def body(s: Scenario) -> None:
        s.set("ev_charger.bay1", "0", {"status": "Charging"})
        s.set("meter.grid", "-6")
        await s.advance(120)

    pv_surplus = next(e for e in examples("automations.md") if "pv_surplus_ev" in e)
    s = run_scenario(pv_surplus, body, initial={"meter.grid": "0"})
    limits = [(c.data["entity_id"], c.data["power_kw"]) for c in s.calls]
    assert limits == [(["ev_charger.bay1"], 6.0), (["ev_charger.bay1"], 3.0), (["ev_charger.bay2"], 3.0)]
    assert [e.data for e in s.events if e.event_type == "surplus_dispatched"] == [{"kw": 6.0}]

"""`orbiteos simulate --fault`: what the fail-safe and the devices' own fallbacks do on the demo."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from orbiteos.cli import main as cli_main
from orbiteos.simulate.faults import FaultSpecError, parse_fault

DEMO = Path(__file__).parents[2] / "config.example"
SITE_IMPORT_LIMIT_KW = 80.0  # config.example/packages/site.yaml, sim.grid.import_limit_kw


def simulate(tmp_path: Path, *args: str) -> dict:
    report = tmp_path / "report.json"
    assert cli_main(["simulate", "-c", str(DEMO), "--start", "2026-11-24T12:00", "--duration", "2h",
                     "--report", str(report), "-q", *args]) == 0
    return json.loads(report.read_text())


def test_a_lost_meter_puts_every_steered_device_in_its_safe_state_within_15_s(tmp_path: Path) -> None:
    report = simulate(tmp_path, "--fault", "meter.grid:unavailable@13:00+10m")
    events = report["failsafe_events"]
    fault_at = datetime.fromisoformat("2026-11-24T13:00:00+01:00")
    # The demo's automations steer the battery, the charger and the inverter (orbiteos check).
    assert {e["entity_id"] for e in events} == {"battery.main", "ev_charger.depot", "pv.roof"}
    for event in events:
        assert timedelta(0) <= datetime.fromisoformat(event["time"]) - fault_at <= timedelta(seconds=15)
        assert event["offset"] == (datetime.fromisoformat(event["time"]) - fault_at).total_seconds() + 3600
        assert event["reason"] == "meter.grid is unavailable"
    assert {e["entity_id"]: e["action"] for e in events} == {
        "battery.main": "auto", "ev_charger.depot": "set_limit(current_a 6)",
        "pv.roof": "unchanged (no safe state configured)"}
    assert {e["entity_id"] for e in report["failsafe_ended"]} == {"battery.main", "ev_charger.depot", "pv.roof"}
    kpis = report["kpis"]
    # About the fault's 10 min: entry and exit each land on a 1 s step of the simulated site.
    assert 599 <= kpis["failsafe_seconds"] <= 615
    assert kpis["max_import_kw_during_faults"] <= SITE_IMPORT_LIMIT_KW
    assert report["faults"] == ["meter.grid:unavailable@13:00+10m"]


def test_with_the_engine_down_the_devices_fall_back_by_themselves(tmp_path: Path) -> None:
    report = simulate(tmp_path, "--fault", "engine:down@13:00+5m")
    assert report["failsafe_events"] == [] and report["kpis"]["failsafe_seconds"] == 0
    assert report["kpis"]["max_import_kw_during_faults"] is not None


def test_without_faults_the_new_figures_say_so(tmp_path: Path) -> None:
    report = simulate(tmp_path)
    assert report["failsafe_events"] == [] and report["faults"] == []
    assert report["kpis"]["failsafe_seconds"] == 0 and report["kpis"]["max_import_kw_during_faults"] is None


@pytest.mark.parametrize(("spec", "target", "kind", "start", "minutes"), [
    ("meter.grid:unavailable@13:00+10m", "meter.grid", "unavailable", time(13, 0), 10),
    ("meter.grid:stale@+2h+90s", "meter.grid", "stale", timedelta(hours=2), 1.5),
    ("battery.main:no_answer@08:15:30+1h", "battery.main", "no_answer", time(8, 15, 30), 60),
    ("engine:down@+30m+5m", "engine", "down", timedelta(minutes=30), 5),
])
def test_fault_specs_parse(spec: str, target: str, kind: str, start: object, minutes: float) -> None:
    fault = parse_fault(spec)
    assert (fault.target, fault.kind, fault.start, fault.duration) == (
        target, kind, start, timedelta(minutes=minutes))


@pytest.mark.parametrize(("spec", "message"), [
    ("meter.grid", "expected TARGET:KIND@START+DURATION"),
    ("meter.grid:broken@13:00+1m", "expected a kind among unavailable, stale, no_answer, found 'broken'"),
    ("engine:unavailable@13:00+1m", "expected engine:down, found engine:unavailable"),
    ("meter.grid:stale@25:00+1m", "'meter.grid:stale@25:00+1m'"),
    ("meter.grid:stale@13:00+soon", "expected a duration like 1d, 1h, 90m, 1h30m or 3600, found 'soon'"),
])
def test_bad_fault_specs_say_what_was_expected(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        parse_fault(spec)


def test_a_fault_on_something_the_site_does_not_have_is_refused(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["simulate", "-c", str(DEMO), "--duration", "1h", "-q",
                     "--fault", "meter.nope:stale@+1m+1m"]) == 2
    assert "meter.nope is not an entity of the simulated site" in capsys.readouterr().err

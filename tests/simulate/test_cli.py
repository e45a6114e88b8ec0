from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from orbiteos.cli import main as cli_main
from orbiteos.cli.simulate import parse_duration

DEMO = Path(__file__).parents[2] / "config.example"
# A plain-YAML peak shaving automation (the demo itself runs the shipped blueprints).
PEAK_SHAVING = Path(__file__).parent / "peak_shaving.yaml"


def demo_copy(tmp_path: Path, change: Any = None) -> Path:
    """The demo site in tmp_path with the plain peak shaving automation as its only automation."""
    config = tmp_path / "config"
    shutil.copytree(DEMO, config, ignore=shutil.ignore_patterns(".storage", "protocols", "var"))
    shutil.copy(PEAK_SHAVING, config / "packages" / "automations.yaml")
    if change is not None:
        site_file = config / "packages" / "site.yaml"
        site = yaml.safe_load(site_file.read_text(encoding="utf-8"))
        change(site["sim"])
        site_file.write_text(yaml.safe_dump(site, sort_keys=False), encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1d", 86_400), ("1h", 3600), ("90m", 5400), ("1h30m", 5400), ("3600", 3600), ("01:30:00", 5400), ("45s", 45)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "0", "-1h", "1w"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected a duration like 1d"):
        parse_duration(text)


def test_report_shape_and_plot(tmp_path: Path) -> None:
    config = demo_copy(tmp_path)
    report_file, plot_file = tmp_path / "report.json", tmp_path / "day.png"
    argv = ["simulate", "-c", str(config), "--start", "2026-11-24T08:00:00", "--duration", "30m", "-q",
            "--report", str(report_file), "--plot", str(plot_file)]
    assert cli_main(argv) == 0
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["start"] == "2026-11-24T08:00:00+01:00"
    assert report["end"] == "2026-11-24T08:30:00+01:00"
    assert "recorder" in report["skipped_live_only"] and "sim" in report["integrations"]
    assert report["failed_integrations"] == {}
    call = report["service_calls"][0]
    assert set(call) == {"time", "time_utc", "offset", "domain", "service", "data", "handled", "automation",
                         "context"}
    at_site = datetime.fromisoformat("2026-11-24T08:00:00+01:00") + timedelta(seconds=call["offset"])
    assert call["time"] == at_site.isoformat() and call["time"].endswith("+01:00")
    assert datetime.fromisoformat(call["time_utc"]) == at_site and call["time_utc"].endswith("+00:00")
    assert (call["domain"], call["service"], call["handled"]) == ("battery", "set_power", True)
    assert call["data"]["entity_id"] == ["battery.main"] and isinstance(call["data"]["power_kw"], float)
    assert call["automation"] == "automation.peak_shaving"
    assert set(call["context"]) == {"id", "parent_id", "user_id"}
    run = report["automation_runs"][0]
    assert set(run) >= {"automation", "offset", "trigger", "result", "error"}
    assert run["automation"] == "automation.peak_shaving" and run["offset"] == 10.0
    assert (run["time"], run["time_utc"]) == ("2026-11-24T08:00:10+01:00", "2026-11-24T07:00:10+00:00")
    assert run["trigger"]["platform"] == "time_pattern" and run["result"] == "finished" and run["error"] is None
    # Every 10 s from 08:00:10 to 08:30:00: the run at the last moment is done before the report is made.
    assert len(report["automation_runs"]) == report["kpis"]["automation_runs"] == 180
    assert {"grid_import_kwh", "grid_export_kwh", "peak_15min_import_kw", "energy_cost_eur", "self_consumption_pct",
            "self_sufficiency_pct", "battery_throughput_kwh", "battery_equivalent_full_cycles", "ev_energy_kwh",
            "ev_energy_missing_kwh", "seconds_over_grid_limit", "automation_runs"} <= set(report["kpis"])
    assert plot_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_shows_peak_shaving_lowering_the_quarter_hour_peak(tmp_path: Path) -> None:
    def faster(sim: dict[str, Any]) -> None:
        sim["step"] = 2  # fast enough for a test; the physics takes any step

    config = demo_copy(tmp_path, faster)
    report_file = tmp_path / "report.json"
    argv = ["simulate", "-c", str(config), "--start", "2026-11-24T06:00:00+01:00", "--duration", "5h", "-q",
            "--compare", "--report", str(report_file)]
    assert cli_main(argv) == 0
    report = json.loads(report_file.read_text(encoding="utf-8"))
    with_automations = report["kpis"]
    without = report["compare"]["without_automations"]["kpis"]
    assert without["peak_15min_import_kw"] > 85  # the battery emptied itself on the early load
    assert with_automations["peak_15min_import_kw"] < 80
    assert report["compare"]["difference"]["peak_15min_import_kw"] == pytest.approx(
        with_automations["peak_15min_import_kw"] - without["peak_15min_import_kw"], abs=1e-3
    )
    assert without["automation_runs"] == 0 and report["compare"]["without_automations"]["service_calls"] == 0


def test_a_bad_replay_line_stops_with_its_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_copy(tmp_path)
    replay = tmp_path / "timeline.csv"
    replay.write_text("time,entity_id,state,attributes\n0,sensor.a,1,\nlater,sensor.a,2,\n", encoding="utf-8")
    assert cli_main(["simulate", "-c", str(config), "--duration", "1m", "--replay", str(replay), "-q"]) == 1
    assert f"{replay}:3: time: expected seconds" in capsys.readouterr().err


def test_the_progress_bar_draws_once_it_has_taken_a_second_and_ends_once() -> None:
    import io

    from orbiteos.cli.simulate import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream, "simulating")
    bar(0.5)
    assert stream.getvalue() == ""  # quick runs show nothing
    bar.began -= 2.0
    bar(0.5)
    bar(1.0)
    bar(1.0)
    text = stream.getvalue()
    assert "50.0%" in text and text.count("100.0%") == 1 and text.endswith("\n")


def test_the_same_run_gives_the_same_report_apart_from_context_ids(tmp_path: Path) -> None:
    from orbiteos.config import load_config
    from orbiteos.simulate import simulate

    loaded = load_config(demo_copy(tmp_path))
    start = datetime.fromisoformat("2026-11-24T08:00:00+01:00")

    def report() -> dict[str, Any]:
        result = simulate(loaded, start, timedelta(minutes=20)).report
        for call in result["service_calls"]:
            call.pop("context")
        return result

    first = report()
    assert first["service_calls"] and first == report()

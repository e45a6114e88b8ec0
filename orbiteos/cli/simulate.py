"""`orbiteos simulate -c DIR --start ISO --duration 1d`: run a configuration on the virtual clock.

Prints the KPIs; `--report` writes the JSON report, `--replay` feeds a CSV timeline, `--compare`
also runs without automations, `--plot` draws the run. See docs/simulate.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from orbiteos.config import load_config
from orbiteos.errors import ConfigError
from orbiteos.logging_setup import LEVELS, apply_logger_config

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNIT_S = {"d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """`1d`, `1h`, `90m`, `1h30m`, `3600` (seconds) or `HH:MM:SS`."""
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        seconds = -1.0
        if ":" in cleaned:
            parts = cleaned.split(":")
            if len(parts) in (2, 3) and all(p.replace(".", "", 1).isdigit() for p in parts):
                values = [float(p) for p in parts]
                seconds = sum(v * m for v, m in zip(reversed(values), (1, 60, 3600), strict=False))
        elif _DURATION_PART.fullmatch(cleaned.replace(" ", "")) or re.fullmatch(r"(\d+(\.\d+)?[dhms])+", cleaned):
            seconds = sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(cleaned))
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 1d, 1h, 90m, 1h30m or 3600, found {text!r}")
    return timedelta(seconds=seconds)


def parse_start(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2026-11-24T00:00:00+01:00, found {text!r}"
        ) from None


def _fault(text: str) -> Any:
    from orbiteos.simulate.faults import FaultSpecError, parse_fault

    try:
        return parse_fault(text)
    except FaultSpecError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "simulate", help="run a configuration on the virtual clock and report calls, runs and KPIs"
    )
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    parser.add_argument("--start", type=parse_start, help="ISO 8601 start; without an offset, in the site's time "
                        "zone (default: today 00:00 at the site)")
    parser.add_argument("--duration", type=parse_duration, default=timedelta(days=1), help="1d, 1h, 90m (default 1d)")
    parser.add_argument("--replay", type=Path, help="CSV timeline: time,entity_id,state,attributes")
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.add_argument("--compare", action="store_true", help="also run without automations and report both")
    parser.add_argument("--plot", type=Path, help="draw the run to this PNG file")
    parser.add_argument("--seed", type=int, help="override the sim: seed")
    parser.add_argument("--fault", dest="faults", action="append", default=[], type=_fault, metavar="SPEC",
                        help="inject a failure, repeatable: ENTITY:unavailable|stale|no_answer@START+DURATION or "
                        "engine:down@START+DURATION; START 14:00 (site time) or +2h, DURATION like 10m")
    parser.add_argument("--log-level", choices=list(LEVELS), default="warning", help="default: warning")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no KPI table")
    parser.set_defaults(func=main)


class ProgressBar:
    """A one-line bar on a terminal, shown once a run has taken more than a second."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.began = time.monotonic()
        self.shown = False
        self.done = False
        self._last_draw = 0.0

    def __call__(self, fraction: float) -> None:
        if self.done:
            return
        now = time.monotonic()
        if now - self.began < 1.0 and not self.shown:
            return
        if fraction < 1.0 and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.shown = True
        width = 30
        filled = int(width * fraction)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% "
                          f"{now - self.began:5.1f}s")
        if fraction >= 1.0:
            self.done = True
            self.stream.write("\n")
        self.stream.flush()


def main(args: argparse.Namespace) -> int:
    from orbiteos.simulate.faults import FaultSpecError
    from orbiteos.simulate.plot import draw
    from orbiteos.simulate.replay import read_replay
    from orbiteos.simulate.report import kpi_difference
    from orbiteos.simulate.runner import simulate

    loaded = load_config(args.config_dir)
    if loaded.errors:
        for error in loaded.errors:
            print(error, file=sys.stderr)
        print(f"{len(loaded.errors)} configuration error(s); not simulating", file=sys.stderr)
        return 1
    apply_logger_config(loaded.blocks.get("logger"), args.log_level)
    tz = loaded.site.tzinfo
    start = args.start or datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if start.tzinfo is None:
        start = start.replace(tzinfo=tz)
    rows = []
    if args.replay is not None:
        try:
            rows = read_replay(args.replay, start, tz)
        except ConfigError as err:
            print(f"replay: {err}", file=sys.stderr)
            return 1
    interactive = sys.stderr.isatty() and not args.quiet
    sample_s = 60.0 if args.plot else None

    def bar(label: str) -> ProgressBar | None:
        return ProgressBar(sys.stderr, label) if interactive else None

    try:
        result = simulate(loaded, start, args.duration, rows, seed=args.seed, progress=bar("simulating"),
                          sample_s=sample_s, faults=args.faults)
    except FaultSpecError as err:
        print(f"--fault {err}", file=sys.stderr)
        return 2
    report = result.report
    baseline = None
    if args.compare:
        baseline = simulate(loaded, start, args.duration, rows, automations=False, seed=args.seed,
                            progress=bar("without automations"), sample_s=sample_s, faults=args.faults)
        report["compare"] = {
            "without_automations": {
                "kpis": baseline.report["kpis"],
                "service_calls": len(baseline.report["service_calls"]),
            },
            "difference": kpi_difference(report["kpis"], baseline.report["kpis"]),
        }
    report["wall_s"] = round(result.wall_s + (baseline.wall_s if baseline else 0.0), 3)
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.plot is not None and result.timeline is not None:
        title = f"{loaded.site.name}: {start.isoformat()} + {args.duration}"
        draw(result.timeline, args.plot, title, baseline.timeline if baseline else None)
    if not args.quiet:
        print(format_summary(report))
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def format_summary(report: dict[str, Any]) -> str:
    """The KPIs as a text table (with the run without automations and the difference if compared)."""
    kpis = report["kpis"]
    compare = report.get("compare")
    lines = [
        f"{report['site']}: {report['start']} -> {report['end']}",
        f"{len(report['service_calls'])} service call(s), {len(report['automation_runs'])} automation run(s), "
        f"{report.get('wall_s', 0):.1f} s wall",
    ]
    if report.get("skipped_live_only"):
        lines.append(f"left out (live only): {', '.join(report['skipped_live_only'])}")
    if report.get("failed_integrations"):
        lines.append(f"failed to set up: {', '.join(report['failed_integrations'])}")
    if compare:
        without = compare["without_automations"]["kpis"]
        difference = compare["difference"]
        lines.append(f"{'':32} {'automations':>14} {'without':>14} {'difference':>12}")
        for key, value in kpis.items():
            lines.append(f"{key:32} {_fmt(value):>14} {_fmt(without.get(key)):>14} {_fmt(difference.get(key)):>12}")
    else:
        lines.extend(f"{key:32} {_fmt(value):>14}" for key, value in kpis.items())
    return "\n".join(lines)

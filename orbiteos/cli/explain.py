"""`orbiteos explain automation.x [--at TIME]`: why an automation did or did not fire.

Without `--url` it runs the configuration on the virtual clock (as `orbiteos simulate`, with
`--replay` if given) from `--start` (default: 00:00 of the `--at` day at the site) up to `--at`
(default: now) and explains the automation as it stands at that moment. With `--url` it asks a
running engine (`GET /api/automations/<id>/explain`, token from `--token` or `ORBITEOS_TOKEN`).
See docs/automations.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from orbiteos.cli.simulate import parse_start
from orbiteos.config import load_config
from orbiteos.core import Hub
from orbiteos.errors import ConfigError
from orbiteos.logging_setup import LEVELS, apply_logger_config


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("explain", help="why an automation did or did not fire (triggers, conditions)")
    parser.add_argument("automation", help="automation id or entity id (automation.x)")
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    parser.add_argument(
        "--at",
        type=parse_start,
        help="ISO 8601 moment to explain (default: now); without an offset, in the site's time zone",
    )
    parser.add_argument("--start", type=parse_start, help="where the simulation starts (default: 00:00 of that day)")
    parser.add_argument("--replay", type=Path, help="CSV timeline to feed in, as for orbiteos simulate")
    parser.add_argument("--url", help="ask a running engine at this base URL instead of simulating")
    parser.add_argument("--token", help="API token for --url (default: $ORBITEOS_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--log-level", choices=list(LEVELS), default="error", help="default: error")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        report = _live(args) if args.url else _simulated(args)
    except ConfigError as err:
        print(f"explain: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['entity_id']} ({report['alias']}) at {report['at']}: "
            f"{'on' if report['enabled'] else 'off'}, mode {report['mode']}, "
            f"last triggered {report['last_triggered'] or 'never'}"
        )
        for line in report["summary"]:
            print(line)
    return 0


def _live(args: argparse.Namespace) -> dict[str, Any]:
    automation_id = args.automation.removeprefix("automation.") if "." in args.automation else args.automation
    url = f"{args.url.rstrip('/')}/api/automations/{automation_id}/explain"
    if args.at is not None:
        if args.at.tzinfo is None:
            raise ConfigError("--at needs a UTC offset when asking a running engine")
        url += "?at=" + urllib.parse.quote(args.at.isoformat())
    token = args.token or os.environ.get("ORBITEOS_TOKEN")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - an operator-given URL
            report: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as err:
        raise ConfigError(f"{url}: HTTP {err.code}: {err.read().decode(errors='replace')[:200]}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise ConfigError(f"{url}: {err}") from None
    return report


def _simulated(args: argparse.Namespace) -> dict[str, Any]:
    from orbiteos.automation import get_manager
    from orbiteos.automation.explain import explain
    from orbiteos.simulate.replay import read_replay
    from orbiteos.simulate.runner import simulate

    loaded = load_config(args.config_dir)
    if loaded.errors:
        raise ConfigError(f"{len(loaded.errors)} configuration error(s), the first: {loaded.errors[0]}")
    apply_logger_config(loaded.blocks.get("logger"), args.log_level)
    tz = loaded.site.tzinfo
    at = args.at or datetime.now(tz)
    at = at if at.tzinfo is not None else at.replace(tzinfo=tz)
    start = args.start or at.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    start = start if start.tzinfo is not None else start.replace(tzinfo=tz)
    if at <= start:
        raise ConfigError(f"--at {at.isoformat()} is not after the start {start.isoformat()}")
    rows = read_replay(args.replay, start, tz) if args.replay is not None else []
    found: list[dict[str, Any]] = []

    def at_the_end(hub: Hub) -> None:
        automation = get_manager(hub).get(args.automation)
        if automation is not None:
            found.append(explain(automation))

    simulate(loaded, start, at - start, rows, on_end=at_the_end)
    if not found:
        raise ConfigError(f"no automation {args.automation!r} in {args.config_dir}")
    return found[0]

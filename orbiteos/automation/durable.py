"""Durable timers: a run waiting in a top-level `delay:`, and a pending `for:` of a state trigger,
survive a restart and a reload (a `for:` resumes in triggers/hold.py `resume_pending`).

When the engine stops (or automations reload), each run sleeping in a `delay:` of its
automation's own action list is written down: the automation's id and a fingerprint of its
configuration, the step, the deadline, and the run's variables (as JSON: a state becomes its
mapping, which templates read the same way). When the automation loads again with the same
fingerprint, the run resumes: it sleeps until the original deadline (at once if that has passed
while the engine was down) and goes on with the next step. A changed automation starts fresh.
Every run cut off by the stop is closed in its trace as `interrupted`; a resumed run gets a new
trace that names the run it continues. Kept in `<config_dir>/.storage/automation_runs.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orbiteos.automation.status import TriggerStatus
from orbiteos.automation.storage import read_json, write_json
from orbiteos.automation.trace import to_jsonable

_LOGGER = logging.getLogger(__name__)

STORAGE_FILE = "automation_runs.json"
KIND_FOR = "for"
INTERRUPTED = "interrupted"


def fingerprint(config: Mapping[str, Any]) -> str | None:
    """A digest of a validated automation configuration (templates by their source), or None."""

    def plain(value: Any) -> Any:
        return getattr(value, "source", None) or str(value)

    try:
        text = json.dumps(config, sort_keys=True, default=plain)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def pending_entry(
    automation_id: str,
    digest: str,
    step: int,
    deadline: datetime,
    variables: Mapping[str, Any],
    run_id: str,
    parent_id: str | None,
) -> dict[str, Any] | None:
    """What resuming a run needs, as JSON; None when its variables do not survive JSON."""
    try:
        plain = json.loads(json.dumps(to_jsonable({k: v for k, v in variables.items() if k != "context"})))
    except (TypeError, ValueError):
        return None
    return {
        "automation_id": automation_id,
        "fingerprint": digest,
        "step": step,
        "deadline": deadline.isoformat(),
        "variables": plain,
        "run_id": run_id,
        "parent_id": parent_id,
    }


def pending_for_entries(automation_id: str, digest: str | None, statuses: list[TriggerStatus]) -> list[dict[str, Any]]:
    """The pending `for:` timers of an automation's state triggers, as JSON entries."""
    if digest is None:
        return []
    return [
        {
            "kind": KIND_FOR,
            "automation_id": automation_id,
            "fingerprint": digest,
            "trigger": status.index,
            "entity_id": entity_id,
            "deadline": entity.pending_until.isoformat(),
            "value": to_jsonable(entity.value),
            "period": entity.pending_for.total_seconds(),
        }
        for status in statuses
        if status.platform == "state"
        for entity_id, entity in status.entities.items()
        if entity.pending_until is not None and entity.pending_for is not None
    ]


def for_deadline(entry: Mapping[str, Any]) -> tuple[datetime, Any, timedelta]:
    """(deadline, held value, period) of a `for:` entry."""
    return datetime.fromisoformat(entry["deadline"]), entry["value"], timedelta(seconds=float(entry["period"]))


class PendingRuns:
    """Runs waiting to resume, by automation id; kept in memory across a reload, on disk across a restart."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: list[dict[str, Any]] = []
        self._loaded = False

    def add(self, entries: list[dict[str, Any]], save: bool = False) -> None:
        self._load_once()
        self._entries.extend(entries)
        if save:
            self.save()

    def take(self, automation_id: str, digest: str | None) -> list[dict[str, Any]]:
        """The runs of this automation to resume; runs of a changed automation are dropped (and logged)."""
        self._load_once()
        mine = [e for e in self._entries if e.get("automation_id") == automation_id]
        self._entries = [e for e in self._entries if e.get("automation_id") != automation_id]
        resumable = [e for e in mine if digest is not None and e.get("fingerprint") == digest]
        if len(resumable) < len(mine):
            _LOGGER.info(
                "%s: changed since it was stopped; %d waiting run(s) not resumed",
                automation_id,
                len(mine) - len(resumable),
            )
        return resumable

    def clear(self, save: bool = True) -> None:
        """Forget what no automation took (those automations are gone)."""
        self._load_once()
        self._entries = []
        if save:
            self.save()

    def _load_once(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        stored = read_json(self.path, "waiting runs") or {}
        runs = stored.get("runs")
        self._entries = (
            [r for r in runs if isinstance(r, dict) and isinstance(r.get("step", r.get("trigger")), int)]
            if isinstance(runs, list)
            else []
        )

    def save(self) -> None:
        write_json(self.path, {"version": 1, "runs": self._entries}, "waiting runs")

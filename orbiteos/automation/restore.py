"""Each automation's last on/off and `last_triggered`, restored across reloads and restarts.

As Home Assistant's RestoreEntity does for automations: an automation an operator switched off
stays off after `automation.reload` or a restart, unless its YAML says `initial_state`; and
`last_triggered` carries over. Kept by entity id, in memory for reloads and in
`<config_dir>/.storage/automation_states.json` for restarts (written when one is switched on or
off, and when the engine stops).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from orbiteos.automation.storage import read_json, write_json

if TYPE_CHECKING:
    from orbiteos.automation.automation import Automation

_LOGGER = logging.getLogger(__name__)

STORAGE_FILE = "automation_states.json"


@dataclass(frozen=True)
class LastState:
    enabled: bool
    last_triggered: datetime | None


class LastStates:
    """entity_id -> LastState; `remember` the live automations, `restore` them into new ones."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._states: dict[str, LastState] = {}
        self._loaded = False

    def restore(self, automation: Automation) -> None:
        """Give a new automation its last on/off (unless `initial_state` is set) and last_triggered."""
        self._load_once()
        last = self._states.get(automation.entity_id)
        if last is None:
            return
        if "initial_state" not in automation.config:
            automation.enabled = last.enabled
        if automation.last_triggered is None:
            automation.last_triggered = last.last_triggered

    def remember(self, automations: Iterable[Automation], save: bool = False) -> None:
        for automation in automations:
            self._states[automation.entity_id] = LastState(automation.enabled, automation.last_triggered)
        if save:
            self.save()

    def _load_once(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        stored = read_json(self.path, "automation states")
        if stored is None:
            return
        try:
            for entity_id, item in stored.get("states", {}).items():
                last = item.get("last_triggered")
                self._states.setdefault(
                    entity_id, LastState(bool(item["enabled"]), datetime.fromisoformat(last) if last else None)
                )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            _LOGGER.warning("automation states in %s could not be read (%s); using the YAML's", self.path, err)

    def save(self) -> None:
        if self.path is None:
            return
        states = {
            entity_id: {
                "enabled": last.enabled,
                "last_triggered": last.last_triggered.isoformat() if last.last_triggered else None,
            }
            for entity_id, last in self._states.items()
        }
        write_json(self.path, {"version": 1, "states": states}, "automation states")

"""Automations in the Home Assistant dialect: the `automation:` integration and its public API.

Integration contract (see orbiteos/loader.py and orbiteos/config.py):

- `DOMAIN = "automation"`, `SERVICES` (what this package registers, for `orbiteos check`).
- `validate_config(block, root) -> (validated_list, errors)`: each automation is validated on
  its own; an error names `file:line` and `automation[i].path`; the valid ones are kept.
- `async_setup(hub, automations)`: creates the automation entities, attaches their triggers and
  registers `automation.trigger/turn_on/turn_off/toggle/reload`.
- `check_references(loaded) -> list[ConfigError]`: warnings for unknown services and entities.

Public API (used by the HTTP API and the simulator):

- `get_manager(hub) -> AutomationManager`: `.automations` (each with `automation_id`, `entity_id`,
  `alias`, `enabled`, `last_triggered`, `current`, `mode`, `traces()`, `await trigger(variables,
  skip_condition)`, `await turn_on()`, `await turn_off()`), `await reload()` and `get(id)`.
- `async_attach_triggers(hub, trigger_configs, action, name, variables=None) -> unsubscribe`.
- Events: `automation_triggered` (`name`, `entity_id`, `source`) and `automation_run_finished`
  (`automation_id`, `entity_id`, `run_id`, `started`, `finished`, `result`, `error`, `trace`).
  Both carry the run's context; so does every service call the run makes.
"""

from __future__ import annotations

from orbiteos.automation.automation import EVENT_AUTOMATION_RUN_FINISHED, EVENT_AUTOMATION_TRIGGERED, Automation
from orbiteos.automation.manager import (
    SERVICES,
    AutomationManager,
    async_setup,
    check_references,
    get_manager,
    validate_config,
)
from orbiteos.automation.trigger import async_attach_triggers

DOMAIN = "automation"

__all__ = [
    "DOMAIN",
    "EVENT_AUTOMATION_RUN_FINISHED",
    "EVENT_AUTOMATION_TRIGGERED",
    "SERVICES",
    "Automation",
    "AutomationManager",
    "async_attach_triggers",
    "async_setup",
    "check_references",
    "get_manager",
    "validate_config",
]

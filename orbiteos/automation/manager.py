"""The automation integration: validating the `automation:` list, setting it up, services, reload."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.automation.automation import Automation
from orbiteos.automation.breaker import Breaker
from orbiteos.automation.durable import STORAGE_FILE as RUNS_FILE
from orbiteos.automation.durable import PendingRuns
from orbiteos.automation.restore import STORAGE_FILE as STATES_FILE
from orbiteos.automation.restore import LastStates
from orbiteos.automation.schema import expand_blueprint, validate_automation
from orbiteos.automation.trace import STORAGE_FILE, TraceStore
from orbiteos.automation.unavailable import InvalidAutomation, invalid_automations
from orbiteos.core import Hub, ServiceCall
from orbiteos.entity import slugify
from orbiteos.errors import ConfigError, ServiceValidationError
from orbiteos.template import is_template_string

_LOGGER = logging.getLogger("orbiteos.automation")

DOMAIN = "automation"
DATA_KEY = "automation"
SERVICES: dict[str, tuple[str, ...]] = {DOMAIN: ("trigger", "turn_on", "turn_off", "toggle", "reload")}


# --- configuration ---------------------------------------------------------------------------


def _error_from_invalid(err: vol.Invalid, node: Any, prefix: str) -> list[ConfigError]:
    try:
        from orbiteos.config import error_from_invalid
    except ImportError:  # the config module not there: still say what and where in the list
        return [ConfigError(f"{prefix}: {err}")]
    return error_from_invalid(err, node, prefix)


def validate_config(block: Any, root: Any = None, config_dir: Path | None = None) -> tuple[list[dict[str, Any]],
                                                                                            list[ConfigError]]:
    """Validate each automation on its own: `(the valid ones, an error per problem with file:line)`."""
    validated, broken = validate_each(block, config_dir)
    return validated, [error for _, errors in broken for error in errors]


def validate_each(block: Any, config_dir: Path | None = None) -> tuple[list[dict[str, Any]],
                                                                       list[tuple[Any, list[ConfigError]]]]:
    """`(the valid automations, each invalid item with its errors)`, in list order."""
    if block is None:
        return [], []
    items = block if isinstance(block, list) else [block]
    validated: list[dict[str, Any]] = []
    broken: list[tuple[Any, list[ConfigError]]] = []
    for index, item in enumerate(items):
        prefix = f"automation[{index}]"
        expanded: Any = item
        try:
            if isinstance(item, Mapping):
                expanded = expand_blueprint(item, config_dir)
            validated.append(validate_automation(expanded))
        except ConfigError as err:
            broken.append((item, [err]))
        except vol.Invalid as err:
            # Errors inside a blueprint's body point into the blueprint file when it carries positions.
            node = expanded if expanded is not item and _has_position(expanded) else item
            broken.append((item, _error_from_invalid(err, node, prefix)))
    return validated, broken


def _has_position(node: Any) -> bool:
    return getattr(node, "__line__", None) is not None


def automation_names(configs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each automation's name: its alias, else `automation <n>` with n its place in the list from 0,
    as Home Assistant names them."""
    return [str(config.get("alias") or f"{DOMAIN} {index}") for index, config in enumerate(configs)]


def entity_ids_for(configs: Iterable[Mapping[str, Any]]) -> list[str]:
    """`automation.<slug of the name>`, as Home Assistant derives them (the `id` stays the unique id,
    not part of the entity id); a name taken before gets `_2`, `_3` in list order."""
    taken: set[str] = set()
    result = []
    for name in automation_names(configs):
        base = slugify(name)
        candidate, suffix = base, 2
        while candidate in taken:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        result.append(f"{DOMAIN}.{candidate}")
    return result


# --- the manager -----------------------------------------------------------------------------


class AutomationManager:
    """Every automation of a hub: set-up, reload, lookup, and their traces."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        storage = hub.config.storage_dir
        self.traces = TraceStore(hub, storage / STORAGE_FILE if storage is not None else None)
        self.last_states = LastStates(storage / STATES_FILE if storage is not None else None)
        self.pending = PendingRuns(storage / RUNS_FILE if storage is not None else None)
        self.automations: list[Automation] = []
        # Automations that failed validation, shown as `unavailable` entities with their errors.
        self.invalid: list[InvalidAutomation] = []
        self._by_entity: dict[str, Automation] = {}
        self.breaker = Breaker(hub, hub.config.limits, lambda: self.automations)

    def get(self, automation_id_or_entity_id: str) -> Automation | None:
        found = self._by_entity.get(automation_id_or_entity_id)
        if found is not None:
            return found
        return next((a for a in self.automations if a.automation_id == automation_id_or_entity_id), None)

    async def load(self, configs: list[dict[str, Any]], broken: list[tuple[Any, list[ConfigError]]] | None = None
                   ) -> None:
        for config, entity_id, name in zip(configs, entity_ids_for(configs), automation_names(configs), strict=True):
            try:
                automation = Automation(self.hub, config, entity_id, self.traces, name, self.breaker)
            except Exception as err:  # a compile failure of one automation must not stop the others
                _LOGGER.error("%s: could not be set up: %s", config.get("id") or entity_id, err)
                continue
            self.last_states.restore(automation)  # on/off and last_triggered, as Home Assistant
            self.automations.append(automation)
            self._by_entity[entity_id] = automation
        self.invalid = invalid_automations(broken or [], self._by_entity)
        for invalid in self.invalid:
            _LOGGER.error("%s: not started, %d error(s): %s", invalid.entity_id, len(invalid.errors),
                          "; ".join(str(e) for e in invalid.errors))
            invalid.write_state(self.hub)
        self.traces.load()
        self.traces.forget(a.automation_id for a in self.automations)  # automations that are gone
        for automation in self.automations:  # runs in a delay go on, `for:` timers with the attach (durable.py)
            for entry in self.pending.take(automation.automation_id, automation.fingerprint):
                if automation.enabled:
                    automation.resume(entry)
        self.pending.clear()
        for automation in self.automations:
            # The entity exists before its triggers attach, as in Home Assistant: a trigger does not
            # see its own automation being created (a template over all states would render on it).
            automation.write_state()
            if automation.enabled:
                await automation.attach()
        _LOGGER.info("%d automation(s) set up", len(self.automations))

    async def unload(self) -> None:
        self.last_states.remember(self.automations)
        self._keep_waiting_runs("automations reloaded")
        for automation in self.automations:
            automation.detach()
        for automation in self.automations:
            await automation.stop_runs()
        for entity_id in [*self._by_entity, *(invalid.entity_id for invalid in self.invalid)]:
            self.hub.states.remove(entity_id)
        self.automations = []
        self.invalid = []
        self._by_entity = {}

    async def reload(self) -> list[ConfigError]:
        """Re-read the YAML; on any error keep the running set and return the errors."""
        config_dir = self.hub.config.config_dir
        if config_dir is None:
            return [ConfigError("reload: this hub was not started from a configuration directory")]
        from orbiteos.config import load_config

        loaded = load_config(Path(config_dir))
        if loaded.errors:
            for error in loaded.errors:
                _LOGGER.error("reload refused, automations left as they are: %s", error)
            return list(loaded.errors)
        configs = loaded.blocks.get(DOMAIN) or []
        self.traces.save()
        await self.unload()
        await self.load(configs)
        _LOGGER.info("automations reloaded: %d", len(self.automations))
        return []

    def _keep_waiting_runs(self, reason: str) -> None:
        """Write down the runs waiting in a delay, then close every running run's trace as interrupted."""
        self.pending.add([entry for a in self.automations for entry in a.waiting_runs()], save=True)
        for automation in self.automations:
            automation.interrupt(reason)

    async def async_stop(self) -> None:
        self._keep_waiting_runs("the engine stopped")
        for automation in self.automations:
            automation.detach()
        self.traces.save()
        self.last_states.remember(self.automations, save=True)

    def resolve(self, call: ServiceCall) -> list[Automation]:
        ids = call.entity_ids
        if not ids or ids == ["all"]:
            return list(self.automations)
        found = []
        for entity_id in ids:
            automation = self._by_entity.get(entity_id)
            if automation is None:
                raise ServiceValidationError(f"{call.domain}.{call.service}: no automation {entity_id}")
            found.append(automation)
        return found


def broken_in(loaded: Any) -> list[tuple[Any, list[ConfigError]]]:
    """The automations of a loaded configuration (`orbiteos.config.LoadedConfig`) that did not validate."""
    raw = getattr(loaded, "raw", None)
    if not isinstance(raw, dict):
        return []
    from orbiteos.config import merge_split_keys

    return validate_each(merge_split_keys(raw).get(DOMAIN), getattr(loaded, "config_dir", None))[1]


def get_manager(hub: Hub) -> AutomationManager:
    """The hub's automation manager (created empty when automations were never set up)."""
    manager = hub.data.get(DATA_KEY)
    if not isinstance(manager, AutomationManager):
        manager = hub.data[DATA_KEY] = AutomationManager(hub)
    return manager


# --- set-up and services ---------------------------------------------------------------------

_TARGET = {vol.Optional("entity_id"): vol.Any(cv.entity_ids, vol.All(str, vol.In(["all"]), cv.ensure_list))}
_TRIGGER_SCHEMA = vol.Schema(
    {**_TARGET, vol.Optional("skip_condition", default=True): cv.boolean, vol.Optional("variables"): dict}
)
_TURN_OFF_SCHEMA = vol.Schema({**_TARGET, vol.Optional("stop_actions", default=True): cv.boolean})
_TARGET_SCHEMA = vol.Schema(_TARGET)


async def async_setup(hub: Hub, automations: list[dict[str, Any]] | None) -> None:
    manager = get_manager(hub)
    await manager.load(list(automations or []), broken_in(hub.data.get("config")))
    hub.on_stop(manager.async_stop)

    async def trigger(call: ServiceCall) -> None:
        for automation in manager.resolve(call):
            await automation.trigger(call.data.get("variables"), call.data["skip_condition"], call.context)

    async def turn_on(call: ServiceCall) -> None:
        for automation in manager.resolve(call):
            await automation.turn_on()
        manager.last_states.remember(manager.resolve(call), save=True)

    async def turn_off(call: ServiceCall) -> None:
        for automation in manager.resolve(call):
            await automation.turn_off(call.data["stop_actions"])
        manager.last_states.remember(manager.resolve(call), save=True)

    async def toggle(call: ServiceCall) -> None:
        for automation in manager.resolve(call):
            await (automation.turn_off() if automation.enabled else automation.turn_on())
        manager.last_states.remember(manager.resolve(call), save=True)

    async def reload(call: ServiceCall) -> None:
        errors = await manager.reload()
        if errors:
            shown = "; ".join(str(e) for e in errors[:5])
            raise ServiceValidationError(f"automation.reload: configuration has {len(errors)} error(s): {shown}")

    hub.services.register(DOMAIN, "trigger", trigger, _TRIGGER_SCHEMA, "run automations now")
    hub.services.register(DOMAIN, "turn_on", turn_on, _TARGET_SCHEMA, "enable automations")
    hub.services.register(DOMAIN, "turn_off", turn_off, _TURN_OFF_SCHEMA, "disable automations")
    hub.services.register(DOMAIN, "toggle", toggle, _TARGET_SCHEMA, "enable or disable automations")
    hub.services.register(DOMAIN, "reload", reload, vol.Schema({}), "re-read automations from YAML")


# --- orbiteos check --------------------------------------------------------------------------


def check_references(loaded: Any) -> list[ConfigError]:
    """Warnings: services that nothing provides, and entity ids that nothing provides (where knowable)."""
    return [*unknown_services(loaded), *unknown_entities(loaded)]


def unknown_services(loaded: Any) -> list[ConfigError]:
    """An error per `service:`/`action:` of an automation that no configured integration provides."""
    known = {f"{d}.{s}" for d, names in (getattr(loaded, "services", {}) or {}).items() for s in names}
    known |= {f"{d}.{s}" for d, names in SERVICES.items() for s in names}
    return [
        ConfigError(f"{value}: no integration provides this service", *_place(node))
        for node, field, value in _automation_nodes(loaded)
        if field in ("service", "action") and isinstance(value, str) and "." in value
        and not is_template_string(value) and value.lower() not in known
    ]


def unknown_entities(loaded: Any) -> list[ConfigError]:
    """An error per `entity_id` of an automation that nothing provides: no configured integration
    creates it (each says which with `entity_ids(validated_block) -> Iterable[str]`), it is no
    automation and not the engine's own. Empty when some integration cannot say."""
    provided = provided_entity_ids(loaded)
    if provided is None:
        return []
    return [
        ConfigError(f"{entity_id}: no integration provides this entity", *_place(node))
        for node, field, value in _automation_nodes(loaded) if field == "entity_id"
        for entity_id in _entity_ids(value) if entity_id not in provided
    ]


def provided_entity_ids(loaded: Any) -> set[str] | None:
    """Every entity id the configuration will create, or None when an integration does not say."""
    from orbiteos.loader import load_integration
    from orbiteos.natures.alerts import ALERTS_ENTITY

    blocks: Mapping[str, Any] = getattr(loaded, "blocks", {}) or {}
    provided = set(entity_ids_for(blocks.get(DOMAIN) or [])) | {ALERTS_ENTITY}
    provided |= {invalid.entity_id for invalid in invalid_automations(broken_in(loaded), provided)}
    for domain, block in blocks.items():
        if domain in (DOMAIN, "logger"):
            continue
        module = load_integration(domain)
        hook = getattr(module, "entity_ids", None) if module is not None else None
        if hook is None:
            return None
        try:
            provided |= {str(e).lower() for e in hook(block)}
        except Exception:
            _LOGGER.debug("%s: entity_ids failed", domain, exc_info=True)
            return None
    return provided


def _automation_nodes(loaded: Any) -> Iterable[tuple[Any, str, Any]]:
    from orbiteos.loader import domain_of_key

    for key, block in (getattr(loaded, "raw", {}) or {}).items():
        if domain_of_key(str(key)) == DOMAIN:
            yield from _walk(block)


def _place(node: Any) -> tuple[str | None, int | None]:
    from orbiteos.config import position

    return position(node) or (None, None)


def _walk(node: Any) -> Iterable[tuple[Any, str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield node, str(key), value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _entity_ids(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return [str(i).strip().lower() for i in items
            if isinstance(i, str) and "." in i and not is_template_string(i) and i.strip() != "all"]

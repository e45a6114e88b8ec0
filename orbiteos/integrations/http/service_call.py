"""A service call made through the API (REST or websocket): role, entity check, audit, changed states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orbiteos.core import EVENT_STATE_CHANGED, Context, Event, Hub, State, normalize_entity_ids
from orbiteos.errors import ServiceNotFound, ServiceValidationError
from orbiteos.integrations.http.audit import AuditLog
from orbiteos.integrations.http.auth import Role
from orbiteos.integrations.http.errors import ApiError, dumps

# Stopping or restarting the engine itself; a device's `stop` (`ev_charger.stop`) is an operator's,
# as its `start` is.
ADMIN_SERVICES = frozenset(
    {("homeassistant", "stop"), ("homeassistant", "restart"), ("orbiteos", "stop"), ("orbiteos", "restart")}
)


def role_for_service(domain: str, service: str) -> Role:
    """Reloading configuration (`automation.reload`, `reload_*`) and stopping or restarting the engine
    are admin; every other service (device control, automation on/off/trigger) operator."""
    domain, service = domain.lower(), service.lower()
    if service.startswith("reload") or (domain, service) in ADMIN_SERVICES:
        return Role.ADMIN
    return Role.OPERATOR


def unknown_entities(hub: Hub, *sources: Mapping[str, Any] | None) -> list[str]:
    """Entity ids named in the data or target that the state machine does not hold."""
    missing: list[str] = []
    for source in sources:
        if not source or "entity_id" not in source:
            continue
        try:
            ids = normalize_entity_ids(source["entity_id"])
        except ServiceValidationError as err:
            raise ApiError(400, str(err)) from None
        missing.extend(e for e in ids if e != "all" and e not in hub.states)
    return missing


@dataclass
class CallOutcome:
    changed_states: list[State]
    response: Any
    context: Context


async def call_service(
    hub: Hub,
    domain: str,
    service: str,
    data: Mapping[str, Any] | None,
    target: Mapping[str, Any] | None,
    user: str | None,
    audit: AuditLog,
    remote: str | None,
) -> CallOutcome:
    """Check the service and entities exist (404 otherwise), call it, and collect what it changed.

    Every attempt is one audit line, with its outcome.
    """
    what = f"{domain}.{service} {_short({**(data or {}), **(target or {})})}"
    try:
        outcome = await _call(hub, domain, service, data, target, user)
    except Exception as err:
        audit.action("service", user, remote, f"{what} -> failed: {type(err).__name__}: {err}")
        raise
    audit.action("service", user, remote, what)
    return outcome


def _short(data: Any, limit: int = 200) -> str:
    text = dumps(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def _call(
    hub: Hub,
    domain: str,
    service: str,
    data: Mapping[str, Any] | None,
    target: Mapping[str, Any] | None,
    user: str | None,
) -> CallOutcome:
    if not hub.services.has_service(domain, service) and not hub.services.dry_run_unknown:
        raise ServiceNotFound(domain, service)
    missing = unknown_entities(hub, data, target)
    if missing:
        raise ApiError(404, f"unknown entity: {', '.join(missing)}")
    context = Context(user_id=user)
    changed: dict[str, State] = {}

    def collect(event: Event) -> None:
        new_state = event.data.get("new_state")
        if isinstance(new_state, State):
            changed[new_state.entity_id] = new_state

    unsubscribe = hub.bus.listen(EVENT_STATE_CHANGED, collect)
    try:
        response = await hub.services.call(domain, service, data, target, context=context)
        # Changes that the handler set in motion as tasks land in the same call, as Home Assistant's.
        await hub.wait_idle(max_rounds=20)
    finally:
        unsubscribe()
    return CallOutcome(list(changed.values()), response, context)

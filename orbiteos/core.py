"""The engine's small vocabulary: Hub, EventBus, StateMachine, ServiceRegistry, State, Event, Context."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import voluptuous as vol

from orbiteos.clock import Clock, RealClock
from orbiteos.errors import InvalidStateError, ServiceNotFound, ServiceValidationError
from orbiteos.limits import Limits
from orbiteos.storage import storage_dir

_LOGGER = logging.getLogger(__name__)

MATCH_ALL = "*"
EVENT_STATE_CHANGED = "state_changed"
EVENT_CALL_SERVICE = "call_service"
EVENT_SERVICE_REGISTERED = "service_registered"
EVENT_START = "orbiteos_start"
EVENT_STARTED = "orbiteos_started"
EVENT_STOP = "orbiteos_stop"

STATE_UNAVAILABLE = "unavailable"
STATE_UNKNOWN = "unknown"
# Home Assistant refuses longer state texts (MAX_LENGTH_STATE_STATE).
MAX_STATE_LENGTH = 255

Unsubscribe = Callable[[], None]


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """`battery.main` -> (`battery`, `main`)."""
    domain, _, object_id = entity_id.partition(".")
    if not domain or not object_id:
        raise ValueError(f"invalid entity id {entity_id!r}: expected 'domain.object_id'")
    return domain, object_id


def valid_entity_id(entity_id: str) -> bool:
    domain, dot, object_id = entity_id.partition(".")
    return bool(domain and dot and object_id) and entity_id == entity_id.lower() and " " not in entity_id


_context_ids = random.Random()  # seeded from os.urandom; ids identify, they are not secrets


def new_context_id() -> str:
    """A random 128-bit id as 32 hex digits (same shape as uuid4().hex, about 5x cheaper)."""
    return f"{_context_ids.getrandbits(128):032x}"


@dataclass(frozen=True, slots=True)
class Context:
    """Who or what caused a change; `parent_id` links an automation's calls to its trigger."""

    id: str = field(default_factory=new_context_id)
    user_id: str | None = None
    parent_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "parent_id": self.parent_id, "user_id": self.user_id}


@dataclass(frozen=True, slots=True)
class Event:
    event_type: str
    data: Mapping[str, Any]
    time_fired: datetime
    context: Context

    def as_dict(self) -> dict[str, Any]:
        data = {
            k: (v.as_dict() if isinstance(v, State) else v) for k, v in self.data.items()
        }
        return {
            "event_type": self.event_type,
            "data": data,
            "time_fired": self.time_fired.isoformat(),
            "origin": "LOCAL",
            "context": self.context.as_dict(),
        }


_set_event_type = Event.__dict__["event_type"].__set__
_set_data = Event.__dict__["data"].__set__
_set_time_fired = Event.__dict__["time_fired"].__set__
_set_event_context = Event.__dict__["context"].__set__
_new_object = object.__new__


def _made_event(event_type: str, data: Mapping[str, Any], time_fired: datetime, context: Context) -> Event:
    """`Event(...)` for the bus and the state machine: the same object, built through the slots'
    setters (a frozen dataclass's __init__ goes through object.__setattr__ per field)."""
    event = _new_object(Event)
    _set_event_type(event, event_type)
    _set_data(event, data)
    _set_time_fired(event, time_fired)
    _set_event_context(event, context)
    return event


class State:
    """An entity's state at one moment. Immutable."""

    __slots__ = ("entity_id", "state", "attributes", "last_changed", "last_updated", "context")

    entity_id: str
    state: str
    attributes: Mapping[str, Any]
    last_changed: datetime
    last_updated: datetime
    context: Context

    def __init__(
        self,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any] | None = None,
        last_changed: datetime | None = None,
        last_updated: datetime | None = None,
        context: Context | None = None,
    ) -> None:
        if last_updated is None:
            raise ValueError("State needs last_updated (take it from hub.clock)")
        self._fill(entity_id, state, MappingProxyType(dict(attributes or {})), last_changed or last_updated,
                   last_updated, context or Context())

    @classmethod
    def _made(
        cls, entity_id: str, state: str, attributes: MappingProxyType[str, Any], last_changed: datetime,
        last_updated: datetime, context: Context,
    ) -> State:
        """The state machine's constructor: every field given, the attributes already a private copy."""
        self = object.__new__(cls)
        self._fill(entity_id, state, attributes, last_changed, last_updated, context)
        return self

    def _fill(
        self, entity_id: str, state: str, attributes: MappingProxyType[str, Any], last_changed: datetime,
        last_updated: datetime, context: Context,
    ) -> None:
        # Through the slots' own setters: object.__setattr__ would look each name up first.
        _set_entity_id(self, entity_id)
        _set_state(self, state)
        _set_attributes(self, attributes)
        _set_last_updated(self, last_updated)
        _set_last_changed(self, last_changed)
        _set_context(self, context)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("State is immutable")

    @property
    def domain(self) -> str:
        return self.entity_id.partition(".")[0]

    @property
    def object_id(self) -> str:
        return self.entity_id.partition(".")[2]

    @property
    def name(self) -> str:
        friendly = self.attributes.get("friendly_name")
        return str(friendly) if friendly else self.object_id.replace("_", " ")

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": dict(self.attributes),
            "last_changed": self.last_changed.isoformat(),
            "last_updated": self.last_updated.isoformat(),
            # Home Assistant 2024.4's field; a write that changes nothing fires nothing here and
            # leaves the State as it was, so it reads as last_updated (see docs/api.md).
            "last_reported": self.last_updated.isoformat(),
            "context": self.context.as_dict(),
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, State)
            and self.entity_id == other.entity_id
            and self.state == other.state
            and self.attributes == other.attributes
            and self.context == other.context
        )

    def __hash__(self) -> int:
        return hash((self.entity_id, self.state, self.last_updated))

    def __repr__(self) -> str:
        return f"<State {self.entity_id}={self.state} {dict(self.attributes)}>"


_set_entity_id = State.__dict__["entity_id"].__set__
_set_state = State.__dict__["state"].__set__
_set_attributes = State.__dict__["attributes"].__set__
_set_last_updated = State.__dict__["last_updated"].__set__
_set_last_changed = State.__dict__["last_changed"].__set__
_set_context = State.__dict__["context"].__set__


EventListener = Callable[[Event], Any]


class EventBus:
    """Fires events to listeners, synchronously, in the order they subscribed.

    A listener is a plain callable; when it returns an awaitable, the hub owns it as a task.
    A failing listener is logged and never stops the others.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._listeners: dict[str, list[EventListener]] = {}

    def listen(self, event_type: str, listener: EventListener) -> Unsubscribe:
        listeners = self._listeners.setdefault(event_type, [])
        listeners.append(listener)

        def unsubscribe() -> None:
            try:
                listeners.remove(listener)
            except ValueError:
                pass

        return unsubscribe

    def listen_once(self, event_type: str, listener: EventListener) -> Unsubscribe:
        def once(event: Event) -> Any:
            unsubscribe()
            return listener(event)

        unsubscribe = self.listen(event_type, once)
        return unsubscribe

    def has_listeners(self, event_type: str) -> bool:
        return bool(self._listeners.get(event_type) or self._listeners.get(MATCH_ALL))

    def listener_counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self._listeners.items() if v}

    def fire(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        context: Context | None = None,
        time_fired: datetime | None = None,
    ) -> Event:
        event = _made_event(
            event_type,
            data if data is not None else {},
            time_fired or self._hub.clock.now(),
            context or Context(),
        )
        self.dispatch(event)
        return event

    def dispatch(self, event: Event) -> None:
        event_type = event.event_type
        run_listener = self._hub.run_listener
        specific = self._listeners.get(event_type)
        catch_all = self._listeners.get(MATCH_ALL) if event_type != EVENT_STATE_CHANGED else None
        if specific:
            for listener in tuple(specific):  # a copy: a listener may unsubscribe while it runs
                run_listener(listener, event)
        if catch_all:
            for listener in tuple(catch_all):
                run_listener(listener, event)


class StateMachine:
    """Holds the current state of every entity and announces each change."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._states: dict[str, State] = {}
        self._by_entity: dict[str, list[EventListener]] = {}
        # entity id -> callbacks for writes that changed nothing (staleness watchers).
        self._reported: dict[str, list[Callable[[], None]]] = {}

    def get(self, entity_id: str) -> State | None:
        return self._states.get(entity_id.lower())

    def all(self, domain: str | Iterable[str] | None = None) -> list[State]:
        if domain is None:
            return list(self._states.values())
        domains = {domain} if isinstance(domain, str) else set(domain)
        return [s for s in self._states.values() if s.domain in domains]

    def entity_ids(self, domain: str | None = None) -> list[str]:
        if domain is None:
            return list(self._states)
        prefix = domain + "."
        return [e for e in self._states if e.startswith(prefix)]

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, entity_id: object) -> bool:
        return isinstance(entity_id, str) and entity_id.lower() in self._states

    def listen(self, entity_ids: str | Iterable[str], listener: EventListener) -> Unsubscribe:
        """Call `listener(event)` on each `state_changed` of these entities only."""
        ids = [entity_ids] if isinstance(entity_ids, str) else list(entity_ids)
        buckets = []
        for entity_id in {e.lower() for e in ids}:
            bucket = self._by_entity.setdefault(entity_id, [])
            bucket.append(listener)
            buckets.append((entity_id, bucket))

        def unsubscribe() -> None:
            for entity_id, bucket in buckets:
                try:
                    bucket.remove(listener)
                except ValueError:
                    continue
                if not bucket and self._by_entity.get(entity_id) is bucket:
                    del self._by_entity[entity_id]

        return unsubscribe

    def listen_reported(self, entity_id: str, callback: Callable[[], None]) -> Unsubscribe:
        """Call `callback()` on each write of this entity that changed nothing (and so fired nothing).

        With `listen`, it tells when an entity was last *reported*, not only last changed: what a
        staleness watchdog needs (Home Assistant's `last_reported`).
        """
        bucket = self._reported.setdefault(entity_id.lower(), [])
        bucket.append(callback)

        def unsubscribe() -> None:
            if callback in bucket:
                bucket.remove(callback)

        return unsubscribe

    def set(
        self,
        entity_id: str,
        new_state: Any,
        attributes: Mapping[str, Any] | None = None,
        force_update: bool = False,
        context: Context | None = None,
    ) -> State:
        """Write a state. The same state and attributes again change nothing and fire nothing."""
        states = self._states
        old = states.get(entity_id)
        if old is None:
            entity_id = entity_id.lower()
            old = states.get(entity_id)
        state_str = new_state if type(new_state) is str else _state_to_str(new_state)
        if len(state_str) > MAX_STATE_LENGTH:
            raise InvalidStateError(
                f"{entity_id}: a state is at most {MAX_STATE_LENGTH} characters (as in Home Assistant), "
                f"this one has {len(state_str)}"
            )
        attrs = attributes if attributes is not None else _NO_ATTRIBUTES
        if old is not None:
            if not force_update and old.state == state_str and old.attributes == attrs:
                reported = self._reported.get(entity_id)
                if reported:
                    for callback in tuple(reported):
                        callback()
                return old
        elif not valid_entity_id(entity_id):
            raise ValueError(f"invalid entity id {entity_id!r}: expected 'domain.object_id' in lower case")
        now = self._hub.clock.now()
        state = State._made(
            entity_id,
            state_str,
            MappingProxyType(dict(attrs)),
            now if old is None or old.state != state_str else old.last_changed,
            now,
            context or Context(),
        )
        states[entity_id] = state
        event = _made_event(
            EVENT_STATE_CHANGED,
            {"entity_id": entity_id, "old_state": old, "new_state": state},
            now,
            state.context,
        )
        self._dispatch(event, entity_id)
        return state

    def remove(self, entity_id: str, context: Context | None = None) -> bool:
        entity_id = entity_id.lower()
        old = self._states.pop(entity_id, None)
        if old is None:
            return False
        event = Event(
            EVENT_STATE_CHANGED,
            {"entity_id": entity_id, "old_state": old, "new_state": None},
            self._hub.clock.now(),
            context or Context(),
        )
        self._dispatch(event, entity_id)
        return True

    def _dispatch(self, event: Event, entity_id: str) -> None:
        watchers = self._by_entity.get(entity_id)
        if watchers:
            for listener in tuple(watchers):
                self._hub.run_listener(listener, event)
        self._hub.bus.dispatch(event)


_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})


def _state_to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return STATE_UNKNOWN
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return str(round(value, 6))
    return str(value)


@dataclass(frozen=True, slots=True)
class ServiceCall:
    domain: str
    service: str
    data: Mapping[str, Any]
    context: Context

    @property
    def entity_ids(self) -> list[str]:
        ids = self.data.get("entity_id")
        if ids is None:
            return []
        return [ids] if isinstance(ids, str) else list(ids)


ServiceHandler = Callable[[ServiceCall], Awaitable[Any] | Any]


@dataclass(frozen=True, slots=True)
class Service:
    domain: str
    service: str
    handler: ServiceHandler
    schema: vol.Schema | None
    description: str = ""


def normalize_entity_ids(value: Any) -> list[str]:
    """`"a.b, c.d"` or `["a.b"]` -> a list of lower-case ids, as Home Assistant's `comp_entity_ids`."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, Iterable):
        parts = [str(p).strip() for p in value]
    else:
        raise ServiceValidationError(f"entity_id: expected an entity id or a list of them, got {value!r}")
    return [p.lower() for p in parts if p]


@dataclass(frozen=True, slots=True, eq=False)
class _EntityProvider:
    handler: ServiceHandler
    owns: Callable[[str], bool]
    schema: vol.Schema | None


class ServiceRegistry:
    """Named service handlers, with their voluptuous schemas."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._services: dict[str, dict[str, Service]] = {}
        self._entity_providers: dict[tuple[str, str], list[_EntityProvider]] = {}
        self._routers: dict[tuple[str, str], ServiceHandler] = {}
        # In a dry run (orbiteos simulate) a call to a service nobody provides is recorded, not an error.
        self.dry_run_unknown = False

    def register(
        self,
        domain: str,
        service: str,
        handler: ServiceHandler,
        schema: vol.Schema | None = None,
        description: str = "",
    ) -> None:
        domain, service = domain.lower(), service.lower()
        router = self._routers.get((domain, service))
        current = self._services.get(domain, {}).get(service)
        if router is not None and current is not None and current.handler is router and handler is not router:
            _LOGGER.warning(
                "%s.%s: a plain registration replaces the per-entity routing of %d provider(s); "
                "use register_for_entities to serve only some entities",
                domain, service, len(self._entity_providers.get((domain, service), [])),
            )
        self._services.setdefault(domain, {})[service] = Service(domain, service, handler, schema, description)
        self._hub.bus.fire(EVENT_SERVICE_REGISTERED, {"domain": domain, "service": service})

    def register_for_entities(
        self,
        domain: str,
        service: str,
        handler: ServiceHandler,
        owns: Callable[[str], bool],
        schema: vol.Schema | None = None,
        description: str = "",
    ) -> Unsubscribe:
        """Serve `domain.service` for the entities `owns` claims; other integrations may serve others.

        Device-nature services (`battery.set_power`, `ev_charger.set_limit`, ...) are provided by
        every integration that has such a device. A call is split by entity: each provider gets
        the call with only its own `entity_id`s, validated by its own schema; an entity nobody
        claims is an error naming it.
        """
        domain, service = domain.lower(), service.lower()
        key = (domain, service)
        providers = self._entity_providers.setdefault(key, [])
        provider = _EntityProvider(handler, owns, schema)
        providers.append(provider)
        current = self._services.get(domain, {}).get(service)
        if current is None or current.handler is not self._routers.get(key):
            router = self._router(domain, service)
            self._routers[key] = router
            self.register(domain, service, router, None, description)

        def unregister() -> None:
            if provider in providers:
                providers.remove(provider)

        return unregister

    def _router(self, domain: str, service: str) -> ServiceHandler:
        providers = self._entity_providers[(domain, service)]

        async def route(call: ServiceCall) -> Any:
            requested = call.entity_ids
            if not requested:
                raise ServiceValidationError(f"{domain}.{service}: entity_id: required, found nothing")
            shares: dict[_EntityProvider, list[str]] = {}
            unclaimed = []
            for entity_id in requested:
                provider = next((p for p in providers if p.owns(entity_id)), None)
                if provider is None:
                    unclaimed.append(entity_id)
                else:
                    shares.setdefault(provider, []).append(entity_id)
            if unclaimed:
                raise ServiceValidationError(
                    f"{domain}.{service}: entity_id: no device provides {', '.join(unclaimed)} "
                    f"({self._provided(domain, providers)})"
                )
            # Every share is validated before any device is told anything.
            calls = []
            for provider, entity_ids in shares.items():
                data: dict[str, Any] = {**call.data, "entity_id": entity_ids}
                if provider.schema is not None:
                    try:
                        data = provider.schema(data)
                    except vol.Invalid as err:
                        raise ServiceValidationError(f"{domain}.{service}: {_describe_invalid(err)}") from None
                calls.append((provider.handler, ServiceCall(domain, service, MappingProxyType(data), call.context)))
            if len(calls) == 1:
                return await _run_handler(*calls[0])
            # One provider's slow or failing device must not hold up or cancel the others' share.
            outcomes = await asyncio.gather(*(_run_handler(h, c) for h, c in calls), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            return outcomes

        return route

    def _provided(self, domain: str, providers: list[_EntityProvider], most: int = 10) -> str:
        """The entities with a state that some provider claims, for an error message."""
        claimed = [e for e in self._hub.states.entity_ids(domain) if any(p.owns(e) for p in providers)]
        if not claimed:
            return "provided: none"
        more = f" and {len(claimed) - most} more" if len(claimed) > most else ""
        return f"provided: {', '.join(sorted(claimed)[:most])}{more}"

    def remove(self, domain: str, service: str) -> None:
        self._services.get(domain, {}).pop(service, None)

    def has_service(self, domain: str, service: str) -> bool:
        return service.lower() in self._services.get(domain.lower(), {})

    def services(self) -> dict[str, dict[str, Service]]:
        return {d: dict(s) for d, s in self._services.items()}

    def get(self, domain: str, service: str) -> Service:
        found = self._services.get(domain.lower(), {}).get(service.lower())
        if found is None:
            raise ServiceNotFound(domain, service)
        return found

    async def call(
        self,
        domain: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        target: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> Any:
        """Validate and run a service; returns what the handler returned."""
        domain, service = domain.lower(), service.lower()
        context = context or Context()
        merged: dict[str, Any] = dict(data or {})
        if target:
            for key, value in target.items():
                if key in merged and key == "entity_id":
                    merged[key] = normalize_entity_ids(merged[key]) + normalize_entity_ids(value)
                else:
                    merged[key] = value
        if "entity_id" in merged:
            merged["entity_id"] = normalize_entity_ids(merged["entity_id"])

        found = self._services.get(domain, {}).get(service)
        if found is None:
            if self.dry_run_unknown:
                self._announce(domain, service, merged, context, handled=False)
                return None
            raise ServiceNotFound(domain, service)

        if found.schema is not None:
            try:
                merged = found.schema(merged)
            except vol.Invalid as err:
                raise ServiceValidationError(
                    f"{domain}.{service}: {_describe_invalid(err)}"
                ) from None
        self._announce(domain, service, merged, context, handled=True)
        result = found.handler(ServiceCall(domain, service, MappingProxyType(merged), context))
        if inspect.isawaitable(result):
            result = await result
        return result

    def _announce(
        self, domain: str, service: str, data: dict[str, Any], context: Context, *, handled: bool
    ) -> None:
        self._hub.bus.fire(
            EVENT_CALL_SERVICE,
            {"domain": domain, "service": service, "service_data": data, "handled": handled},
            context=context,
        )


async def _run_handler(handler: ServiceHandler, call: ServiceCall) -> Any:
    result = handler(call)
    return await result if inspect.isawaitable(result) else result


def _describe_invalid(err: vol.Invalid) -> str:
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    parts = []
    for e in errors:
        path = ".".join(str(p) for p in e.path)
        parts.append(f"{path}: {e.msg}" if path else e.msg)
    return "; ".join(parts)


@dataclass
class SiteConfig:
    """The `orbiteos:` block: where the site is and what time zone it keeps."""

    name: str = "OrbitEOS"
    time_zone: str = "UTC"
    latitude: float = 52.37
    longitude: float = 4.90
    elevation: float = 0.0
    config_dir: Path | None = None
    # Resource bounds (`limits:`); see orbiteos/limits.py.
    limits: Limits = field(default_factory=Limits)
    # `--storage DIR`; None keeps the storage in `<config_dir>/.storage` (orbiteos/storage.py).
    storage_override: Path | None = None

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def storage_dir(self) -> Path | None:
        """Where tokens, traces, the journal and the embedded database live; None for a simulation."""
        return storage_dir(self.config_dir, self.storage_override)


class Hub:
    """The one object passed around: bus, states, services, clock, config and owned tasks."""

    def __init__(self, clock: Clock | None = None, config: SiteConfig | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.config = config or SiteConfig()
        self.bus = EventBus(self)
        self.states = StateMachine(self)
        self.services = ServiceRegistry(self)
        # Per-integration storage, keyed by domain.
        self.data: dict[str, Any] = {}
        self.running = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_stop: list[Callable[[], Awaitable[Any] | Any]] = []

    # --- tasks -----------------------------------------------------------
    def create_task(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Start a background task that the hub owns and cancels on stop."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            _LOGGER.error("task %s failed: %r", task.get_name(), exc, exc_info=exc)

    def run_listener(self, listener: EventListener, event: Event) -> None:
        try:
            result = listener(event)
        except Exception:
            _LOGGER.exception("listener %r failed on %s", listener, event.event_type)
            return
        if result is not None and inspect.isawaitable(result):
            self.create_task(_await(result), name=f"listener:{event.event_type}")

    @property
    def pending_tasks(self) -> int:
        return len(self._tasks)

    async def wait_idle(self, max_rounds: int = 1000) -> None:
        """Let every runnable task run until none is left runnable (tests and simulations)."""
        for _ in range(max_rounds):
            await asyncio.sleep(0)
            busy = [t for t in self._tasks if not t.done() and _is_runnable(t)]
            if not busy:
                return

    # --- life cycle ------------------------------------------------------
    def on_stop(self, callback: Callable[[], Awaitable[Any] | Any]) -> Unsubscribe:
        """Run `callback` when the hub stops (last registered runs first)."""
        self._on_stop.append(callback)
        return lambda: self._on_stop.remove(callback) if callback in self._on_stop else None

    async def start(self) -> None:
        self.running = True
        self.bus.fire(EVENT_START)
        await asyncio.sleep(0)
        self.bus.fire(EVENT_STARTED)

    async def stop(self) -> None:
        if not self.running and not self._tasks and not self._on_stop:
            return
        self.bus.fire(EVENT_STOP)
        await asyncio.sleep(0)
        self.running = False
        for callback in reversed(list(self._on_stop)):
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _LOGGER.exception("stop callback %r failed", callback)
        self._on_stop.clear()
        stragglers = await cancel_and_wait(self._tasks)
        for task in stragglers:
            _LOGGER.error("task %s ignored cancellation; abandoned at stop", task.get_name())
        self._tasks.clear()

    # --- conveniences ----------------------------------------------------
    def now_local(self) -> datetime:
        return self.clock.now().astimezone(self.config.tzinfo)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], rounds: int = 10, interval: float = 0.5
) -> set[asyncio.Task[Any]]:
    """Cancel `tasks` and wait for them; returns those still running after `rounds` tries.

    A cancellation can be lost (Python 3.11's `asyncio.wait_for`, used inside several protocol
    libraries, swallows one that races with its inner future), so a task still running after
    `interval` seconds is cancelled again instead of being awaited forever.
    """
    pending = {t for t in tasks if not t.done()}
    for _ in range(rounds):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=interval)
    return pending


def raise_if_cancel_lost() -> None:
    """Re-raise a cancellation that a library swallowed (Python 3.11's `asyncio.wait_for`).

    Call it right after awaiting such a library: the task still counts the request to cancel it,
    even though no CancelledError came out. Place it outside any `asyncio.timeout` block, which
    balances its own cancel request on exit, and not in a task that has run an `asyncio.TaskGroup`
    (on Python 3.11 a group can leave its parent counting a cancel request the group made itself).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _is_runnable(task: asyncio.Task[Any]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is None or waiter.done()

"""Jinja2 templates in the Home Assistant dialect: sandboxed, cached, rendered to native types.

`Template(source, hub).render(variables)` returns what Home Assistant's `async_render` returns:
the rendered text parsed as a Python literal when it looks like one (`"0.25"` -> 0.25,
`"[1, 2]"` -> a list) and the text itself otherwise (`"007"` stays a string). The helpers
(`states()`, `is_state()`, `state_attr()`, `now()`, `float(default)` ...) read the hub they
were built for; each hub has one environment whose compiled templates are cached by source.
"""

from __future__ import annotations

import logging
import math
import re
from ast import literal_eval
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from io import StringIO
from types import BuiltinMethodType, MappingProxyType
from typing import Any

import jinja2
import jinja2.meta
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.nodes import EvalContext
from jinja2.runtime import missing, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orbiteos import template_entities, template_json, template_math, template_text, template_time
from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Hub, State
from orbiteos.errors import TemplateError

_LOGGER = logging.getLogger(__name__)

_SENTINEL = object()
_ENV_KEY = "template_env"
# A rendered string counts as a number only when written as one: no leading zeros, no exponent.
_IS_NUMERIC = re.compile(r"^[+-]?(?!0\d)\d*(?:\.\d*)?$")
_TRUE = frozenset({"1", "true", "yes", "on", "enable"})
_FALSE = frozenset({"0", "false", "no", "off", "disable"})


def is_template_string(value: str) -> bool:
    """True when `value` contains Jinja markup, as Home Assistant decides it."""
    return "{" in value and ("{{" in value or "{%" in value or "{#" in value)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Any:
    """The literal `text` stands for, or `_SENTINEL` when it stays text (cached either way: a
    rendered word such as 'cheap' or 'unknown' comes back on every render)."""
    try:
        result = literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _SENTINEL
    if isinstance(result, str | complex):
        return _SENTINEL  # strings stay as rendered
    if isinstance(result, int | float) and not isinstance(result, bool) and _IS_NUMERIC.match(text) is None:
        return _SENTINEL  # numbers must be written plainly
    return result


_PLAIN_INT = re.compile(r"^[+-]?(?:0|[1-9][0-9]*)$")
_PLAIN_FLOAT = re.compile(r"^[+-]?(?!0[0-9])(?:[0-9]+\.[0-9]*|\.[0-9]+)$")


def parse_result(text: str) -> Any:
    """Home Assistant's native-type rule for a rendered (stripped) string."""
    # Fast path for plain numbers, which change from render to render and would miss the cache
    # (literal_eval compiles): the same values literal_eval gives for these forms.
    if _PLAIN_INT.match(text):
        return int(text)
    if _PLAIN_FLOAT.match(text):
        return float(text)
    result = _parse_cached(text)
    if result is _SENTINEL:
        return text
    # literal_eval may return a mutable container; hand out a copy so the cache stays intact.
    if isinstance(result, list | dict | set | tuple):
        return _copy_literal(result)
    return result


_IMMUTABLE_PLAIN = frozenset({str, bool, type(None)})


def _reads_back_as_itself(items: list[Any]) -> bool:
    """Whether a list's text (its repr) parses back to an equal list of the same item types: flat,
    of plain strings, booleans, None, ints str() can print, and finite floats (`{{ chargers }}`)."""
    for item in items:
        kind = type(item)
        if kind in _IMMUTABLE_PLAIN:
            continue
        if kind is float:
            if item - item != 0.0:  # nan and inf print as names literal_eval does not know
                return False
        elif kind is not int or item.bit_length() > 14_000:
            return False
    return True


def _copy_literal(value: Any) -> Any:
    """A copy of what literal_eval returned, fresh down to its mutable containers (the rest is
    immutable: numbers, strings, bytes, booleans, None, and tuples and frozensets of those)."""
    kind = type(value)
    if kind is list:
        return [_copy_literal(item) for item in value]
    if kind is dict:
        return {key: _copy_literal(item) for key, item in value.items()}
    if kind is set:
        return set(value)  # set members are hashable, hence immutable
    if kind is tuple:
        return tuple(_copy_literal(item) for item in value)  # a tuple may hold a list
    return value


# --- helpers -----------------------------------------------------------------------------------


_no_default = template_math.no_default


def forgiving_float(value: Any, default: Any = _SENTINEL) -> Any:
    try:
        return float(value)
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("float", value)
        return default


def forgiving_int(value: Any, default: Any = _SENTINEL, base: int = 10) -> Any:
    result = jinja2.filters.do_int(value, default=_SENTINEL, base=base)  # type: ignore[arg-type]
    if result is _SENTINEL:
        if default is _SENTINEL:
            _no_default("int", value)
        return default
    return result


def forgiving_boolean(value: Any, default: Any = _SENTINEL) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    if default is _SENTINEL:
        _no_default("bool", value)
    return default


def forgiving_round(value: Any, precision: int = 0, method: str = "common", default: Any = _SENTINEL) -> Any:
    try:
        number = float(value)
        multiplier = float(10**precision)
        if method == "ceil":
            number = math.ceil(number * multiplier) / multiplier
        elif method == "floor":
            number = math.floor(number * multiplier) / multiplier
        elif method == "half":
            number = round(number * 2) / 2.0
        else:
            number = round(number, precision)
        return int(number) if precision == 0 else number
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("round", value)
        return default


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (ValueError, TypeError):
        return False
    return math.isfinite(number)


def iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = _SENTINEL) -> Any:
    if value is None and if_none is not _SENTINEL:
        return if_none
    if value is None:
        return if_false
    return if_true if forgiving_boolean(value, default=bool(value)) else if_false


def _min_max(builtin: Callable[..., Any], name: str) -> Callable[..., Any]:
    def function(*args: Any, **kwargs: Any) -> Any:
        if not args:
            raise TypeError(f"{name} expected at least 1 argument, got 0")
        if len(args) == 1:
            return builtin(args[0], **kwargs)
        return builtin(args, **kwargs)

    return function


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return _to_datetime(float(value))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def as_datetime(value: Any, default: Any = _SENTINEL) -> Any:
    """A timestamp (UTC) or an ISO string (a string without an offset stays naive, and one that is
    no date gives None without a default, as in Home Assistant 2024.3); also a datetime or a date."""
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (ValueError, OverflowError, OSError):
            pass
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None if default is _SENTINEL else default
    parsed = _to_datetime(value)
    if parsed is None:
        if default is _SENTINEL:
            _no_default("as_datetime", value)
        return default
    return parsed


def is_defined(value: Any) -> Any:
    """`x | is_defined`: the value, or the undefined error when there is none."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def timestamp_utc(value: Any, default: Any = _SENTINEL) -> Any:
    """A UNIX timestamp (a number) as a UTC ISO 8601 string."""
    try:
        return datetime.fromtimestamp(value, UTC).isoformat()
    except (ValueError, TypeError, OverflowError, OSError):
        if default is _SENTINEL:
            _no_default("timestamp_utc", value)
        return default


def as_timestamp(value: Any, default: Any = _SENTINEL) -> Any:
    parsed = _to_datetime(value)
    if parsed is None:
        if default is _SENTINEL:
            _no_default("as_timestamp", value)
        return default
    return parsed.timestamp()


# --- what a render read ---------------------------------------------------------------------


class RenderInfo:
    """The entities, domains and clock a render read, so a template trigger knows what to watch.

    `domains`/`all_states`: a domain (all states) was iterated, so any of its state changes matters;
    `domains_lifecycle`/`all_states_lifecycle`: only counted, so only entities added or removed do.
    """

    __slots__ = ("entities", "domains", "all_states", "domains_lifecycle", "all_states_lifecycle", "uses_time")

    def __init__(self) -> None:
        self.entities: set[str] = set()
        self.domains: set[str] = set()
        self.all_states = False
        self.domains_lifecycle: set[str] = set()
        self.all_states_lifecycle = False
        self.uses_time = False


class _Tracker:
    __slots__ = ("info",)

    def __init__(self) -> None:
        self.info: RenderInfo | None = None

    def entity(self, entity_id: str) -> None:
        if self.info is not None:
            self.info.entities.add(entity_id.lower())

    def domain(self, domain: str) -> None:
        if self.info is not None:
            self.info.domains.add(domain)

    def everything(self) -> None:
        if self.info is not None:
            self.info.all_states = True

    def domain_lifecycle(self, domain: str) -> None:
        if self.info is not None:
            self.info.domains_lifecycle.add(domain)

    def everything_lifecycle(self) -> None:
        if self.info is not None:
            self.info.all_states_lifecycle = True

    def time(self) -> None:
        if self.info is not None:
            self.info.uses_time = True


# --- states access ------------------------------------------------------------------------------


class TemplateState:
    """A `State` as templates see it: `states.sensor.x.state`, `.attributes`, `.name` ..."""

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        self._state = state

    entity_id = property(lambda self: self._state.entity_id)
    state = property(lambda self: self._state.state)
    attributes = property(lambda self: self._state.attributes)
    last_changed = property(lambda self: self._state.last_changed)
    last_updated = property(lambda self: self._state.last_updated)
    context = property(lambda self: self._state.context)
    domain = property(lambda self: self._state.domain)
    object_id = property(lambda self: self._state.object_id)
    name = property(lambda self: self._state.name)

    def as_dict(self) -> dict[str, Any]:
        return self._state.as_dict()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TemplateState):
            return self._state == other._state
        return self._state == other

    def __hash__(self) -> int:
        return hash(self._state)

    def __str__(self) -> str:
        return self._state.state

    def __repr__(self) -> str:
        return f"<template TemplateState({self._state!r})>"


class DomainStates:
    """`states.sensor`: attribute access by object id, iteration over the domain."""

    def __init__(self, hub: Hub | None, domain: str, tracker: _Tracker) -> None:
        self._hub = hub
        self._domain = domain
        self._tracker = tracker

    def __getattr__(self, name: str) -> TemplateState | None:
        if name.startswith("_") or self._hub is None:
            return None
        self._tracker.entity(f"{self._domain}.{name}")
        state = self._hub.states.get(f"{self._domain}.{name}")
        return TemplateState(state) if state is not None else None

    __getitem__ = __getattr__

    def __iter__(self) -> Iterator[TemplateState]:
        self._tracker.domain(self._domain)
        if self._hub is None:
            return iter(())
        # In the order the entities were created, as Home Assistant iterates its state machine.
        return iter(TemplateState(s) for s in self._hub.states.all(self._domain))

    def __len__(self) -> int:
        self._tracker.domain_lifecycle(self._domain)
        return 0 if self._hub is None else len(self._hub.states.entity_ids(self._domain))


_RESERVED_NAMES = frozenset(
    {"contextfunction", "evalcontextfunction", "environmentfunction", "jinja_pass_arg", "unsafe_callable",
     "alters_data"}
)


class AllStates:
    """`states('sensor.x')`, `states.sensor.x`, and `states` as an iterable of every state."""

    # What Jinja and its sandbox look up on every call; as class attributes they skip __getattr__.
    jinja_pass_arg = None
    unsafe_callable = False
    alters_data = False

    def __init__(self, hub: Hub | None, tracker: _Tracker) -> None:
        self._hub = hub
        self._tracker = tracker

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in _RESERVED_NAMES:  # Jinja probes callables for these; they are not domains
            return None
        if "." in name:
            self._tracker.entity(name)
            state = self._hub.states.get(name) if self._hub else None
            return TemplateState(state) if state is not None else None
        return DomainStates(self._hub, name, self._tracker)

    __getitem__ = __getattr__

    def __call__(self, entity_id: Any, rounded: bool = False, with_unit: bool = False) -> str:
        self._tracker.entity(str(entity_id))
        state = self._hub.states.get(str(entity_id)) if self._hub else None
        if state is None:
            return STATE_UNKNOWN
        if with_unit and "unit_of_measurement" in state.attributes:
            return f"{state.state} {state.attributes['unit_of_measurement']}"
        return state.state

    def __iter__(self) -> Iterator[TemplateState]:
        self._tracker.everything()
        if self._hub is None:
            return iter(())
        return iter(TemplateState(s) for s in self._hub.states.all())  # in creation order

    def __len__(self) -> int:
        self._tracker.everything_lifecycle()
        return 0 if self._hub is None else len(self._hub.states)


def _entity_id_of(value: Any) -> str:
    if isinstance(value, TemplateState | State):
        return value.entity_id
    return str(value)


def _hub_globals(hub: Hub | None, tracker: _Tracker) -> dict[str, Any]:
    """The helpers that read the hub: states, is_state, now() ..."""

    def get_state(entity_id: Any) -> State | None:
        # The commonest call in a template: its steps inline.
        entity_id = entity_id if type(entity_id) is str else _entity_id_of(entity_id)
        if tracker.info is not None:
            tracker.info.entities.add(entity_id.lower())
        return hub.states.get(entity_id) if hub is not None else None

    def is_state(entity_id: Any, value: Any) -> bool:
        state = get_state(entity_id)
        if state is None:
            return False
        if isinstance(value, str):
            return state.state == value
        return isinstance(value, Iterable) and state.state in value

    def state_attr(entity_id: Any, name: str) -> Any:
        state = get_state(entity_id)
        return None if state is None else state.attributes.get(name)

    def is_state_attr(entity_id: Any, name: str, value: Any) -> bool:
        state = get_state(entity_id)
        return state is not None and name in state.attributes and state.attributes[name] == value

    def has_value(entity_id: Any) -> bool:
        state = get_state(entity_id)
        return state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)

    def utcnow() -> datetime:
        tracker.time()
        return hub.clock.now() if hub is not None else datetime.now(UTC)

    def now() -> datetime:
        tracker.time()
        return hub.now_local() if hub is not None else datetime.now(UTC)

    def as_local(value: datetime) -> datetime:
        tz = hub.config.tzinfo if hub is not None else UTC
        return value.astimezone(tz)

    def today_at(value: str = "00:00") -> datetime:
        try:
            moment = time.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"today_at expected a time 'HH:MM[:SS]', got {value!r}") from None
        return datetime.combine(now().date(), moment, tzinfo=now().tzinfo)

    def timestamp_local(value: Any, default: Any = _SENTINEL) -> Any:
        moment = _to_datetime(value)
        if moment is None:
            if default is _SENTINEL:
                _no_default("timestamp_local", value)
            return default
        return as_local(moment).isoformat()

    def relative_time(value: Any) -> Any:
        """`2 hours`: how long ago `value` was, in its largest unit; other values as they are."""
        current = now()
        if not isinstance(value, datetime):
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=current.tzinfo)
        if current < value:
            return value
        return template_time.age((current - value).total_seconds())

    def expand(*args: Any) -> list[Any]:
        def lookup(entity_id: str) -> TemplateState | None:
            state = get_state(entity_id)
            return TemplateState(state) if state is not None else None

        return template_entities.expand(lookup, tracker.entity, (TemplateState, State), *args)

    def state_translated(entity_id: Any) -> str:
        state = get_state(entity_id)
        if state is None:
            return STATE_UNKNOWN
        return template_entities.translate_state(state.domain, state.state, state.attributes.get("device_class"))

    def timestamp_custom(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S", local: bool = True,
                         default: Any = _SENTINEL) -> Any:
        moment = _to_datetime(value)
        if moment is None:
            if default is _SENTINEL:
                _no_default("timestamp_custom", value)
            return default
        return (as_local(moment) if local else moment.astimezone(UTC)).strftime(fmt)

    return {
        "states": AllStates(hub, tracker),
        "is_state": is_state,
        "state_attr": state_attr,
        "is_state_attr": is_state_attr,
        "has_value": has_value,
        "now": now,
        "utcnow": utcnow,
        "as_local": as_local,
        "today_at": today_at,
        "timestamp_local": timestamp_local,
        "timestamp_custom": timestamp_custom,
        "expand": expand,
        "state_translated": state_translated,
        "relative_time": relative_time,
    }


_PURE_FUNCTIONS: dict[str, Any] = {
    "float": forgiving_float,
    "int": forgiving_int,
    "bool": forgiving_boolean,
    "round": forgiving_round,
    "is_number": is_number,
    "iif": iif,
    "min": _min_max(min, "min"),
    "max": _min_max(max, "max"),
    "average": template_math.average,
    "median": template_math.median,
    "statistical_mode": template_math.statistical_mode,
    "as_datetime": as_datetime,
    "as_timestamp": as_timestamp,
    "timedelta": timedelta,
    "strptime": datetime.strptime,
    "as_timedelta": template_time.as_timedelta,
    "slugify": template_text.slugify,
    "pack": template_text.pack,
    "unpack": template_text.unpack,
    "urlencode": template_text.urlencode,
    "set": set,
    "tuple": tuple,
    "pi": math.pi,
    "tau": math.tau,
    "e": math.e,
    **template_math.TRIGONOMETRY,
    "atan2": template_math.atan2,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
}

_PURE_FILTERS: dict[str, Any] = {
    "float": forgiving_float,
    "int": forgiving_int,
    "bool": forgiving_boolean,
    "round": forgiving_round,
    "is_number": is_number,
    "iif": iif,
    "average": template_math.average,
    "median": template_math.median,
    "statistical_mode": template_math.statistical_mode,
    "bitwise_and": template_math.bitwise_and,
    "bitwise_or": template_math.bitwise_or,
    "bitwise_xor": template_math.bitwise_xor,
    **template_math.TRIGONOMETRY,
    "atan2": template_math.atan2,
    "as_datetime": as_datetime,
    "as_timestamp": as_timestamp,
    "timestamp_utc": timestamp_utc,
    "as_timedelta": template_time.as_timedelta,
    "to_json": template_json.to_json,
    "from_json": template_json.from_json,
    "regex_match": template_text.regex_match,
    "regex_search": template_text.regex_search,
    "regex_replace": template_text.regex_replace,
    "regex_findall": template_text.regex_findall,
    "regex_findall_index": template_text.regex_findall_index,
    "slugify": template_text.slugify,
    "base64_encode": template_text.base64_encode,
    "base64_decode": template_text.base64_decode,
    "ordinal": template_text.ordinal,
    "ord": ord,
    "pack": template_text.pack,
    "unpack": template_text.unpack,
    "is_defined": is_defined,
    "contains": lambda value, item: item in value,
    "multiply": lambda value, amount, default=_SENTINEL: forgiving_float(value, default) * amount,
    "log": lambda value, base=math.e: math.log(float(value), base),
    "sqrt": lambda value: math.sqrt(float(value)),
}

_PURE_TESTS: dict[str, Any] = {
    "is_number": is_number,
    "match": template_text.regex_match,
    "search": template_text.regex_search,
    "contains": lambda value, item: item in value,
    "list": lambda value: isinstance(value, list),
    "set": lambda value: isinstance(value, set),
    "tuple": lambda value: isinstance(value, tuple),
    "datetime": lambda value: isinstance(value, datetime),
    "string_like": lambda value: isinstance(value, str | bytes | bytearray),
}


_DICT_ATTRIBUTES = frozenset(dir(dict))
_STATE_FIELDS = frozenset(
    ("entity_id", "state", "attributes", "last_changed", "last_updated", "context", "domain", "object_id", "name")
)
_PROXY_METHODS = frozenset(("get", "items", "keys", "values", "copy"))
_FORMAT_METHODS = frozenset(("format", "format_map"))
_PROXY_ATTRIBUTES = frozenset(dir(MappingProxyType))

# Compiled Python code by template source, shared by every hub's environment (they are configured
# alike), so that validating a configuration and setting it up compile each template once.
_CODE_CACHE: dict[str, Any] = {}
_CODE_CACHE_SIZE = 20_000


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """One per hub: the helpers bound to it and a cache of compiled templates by source."""

    def __init__(self, hub: Hub | None) -> None:
        super().__init__(undefined=jinja2.Undefined, autoescape=False, keep_trailing_newline=False)
        self.hub = hub
        self.tracker = _Tracker()
        self.globals.update(_PURE_FUNCTIONS)
        self.globals.update(_hub_globals(hub, self.tracker))
        for name in ("states", "is_state", "state_attr", "is_state_attr", "has_value", "as_local",
                     "timestamp_local", "timestamp_custom", "expand", "state_translated", "today_at",
                     "relative_time"):
            self.filters[name] = self.globals[name]
        self.filters.update(_PURE_FILTERS)
        self.tests.update(_PURE_TESTS)
        self.tests["is_state"] = self.globals["is_state"]  # type: ignore[assignment]
        self.tests["has_value"] = self.globals["has_value"]  # type: ignore[assignment]
        self.tests["is_state_attr"] = self.globals["is_state_attr"]  # type: ignore[assignment]
        self._compiled: dict[str, jinja2.Template] = {}
        self._native: dict[str, jinja2.Template | None] = {}
        self._safe_attributes: dict[tuple[type, str], bool] = {}
        for helper in (*self.globals.values(), *self.filters.values(), *self.tests.values()):
            _mark_plain_callable(helper)
        # Our own helpers take no context and are safe to call: `call` skips the sandbox's and
        # the context's per-call probes for them (`states(x)` is the commonest call there is).
        helpers: list[Any] = list(self.globals.values())
        self._trusted_callables: frozenset[Any] = frozenset(
            helper for helper in helpers
            if callable(helper) and getattr(helper, "jinja_pass_arg", _SENTINEL) is None
            and not getattr(helper, "unsafe_callable", False) and not getattr(helper, "alters_data", False)
        )
        # Jinja's defaults (range, dict, namespace ...) and ours, flattened once for fast renders.
        self.flat_globals: dict[str, Any] = dict(self.globals)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `trigger.to_state`: a plain dict key that is no dict attribute, found without the
        # AttributeError Jinja's own lookup raises first. Same result, as a dict method would win.
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        # `state.attributes.get`, `trigger.to_state.state`: the public fields of our own read-only
        # types and the methods of a read-only mapping, which the sandbox always allows.
        elif (kind is State or kind is TemplateState) and attribute in _STATE_FIELDS:
            return getattr(obj, attribute)
        elif kind is MappingProxyType:
            if attribute in _PROXY_METHODS:
                return getattr(obj, attribute)
            if attribute not in _PROXY_ATTRIBUTES:  # a name such as __class__ goes the sandbox's way
                try:
                    return obj[attribute]
                except KeyError:
                    pass
        return super().getattr(obj, attribute)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any,  # noqa: N805
             **kwargs: Any) -> Any:
        # A builtin function or method (`attributes.get`) can carry no Jinja markers, so the
        # probes would find none: calling it directly is what they would end up doing. Except
        # str.format and format_map, which Jinja before 3.1.5 sandboxes only here, at the call.
        if type(__obj) is BuiltinMethodType:
            trusted = __obj.__name__ not in _FORMAT_METHODS
        else:
            try:
                trusted = __obj in __self._trusted_callables
            except TypeError:  # unhashable
                trusted = False
        if not trusted:
            return super().call(__context, __obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja's Context.call
            return __context.environment.undefined("value was undefined because a callable raised a "
                                                   "StopIteration exception")

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # The sandbox's verdict depends only on the object's type and the attribute's name.
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = super().is_safe_attribute(obj, attr, value)
            if len(self._safe_attributes) < 10_000:
                self._safe_attributes[key] = safe
        return safe

    def compile_source(self, source: str) -> jinja2.Template:
        compiled = self._compiled.get(source)
        if compiled is None:
            code, native_code = self._codes(source)
            compiled = self.template_class.from_code(self, code, self.make_globals(None))
            self._compiled[source] = compiled
            self._native[source] = (
                self.template_class.from_code(self, native_code, self.make_globals(None))
                if native_code is not None else None
            )
        return compiled

    def compile_native(self, source: str) -> jinja2.Template | None:
        """`source` compiled to yield its expression's value as it is (no `str()`), when it is
        exactly one `{{ expression }}`; None for any other template."""
        if source not in self._native:
            self.compile_source(source)
        return self._native[source]

    def _codes(self, source: str) -> tuple[Any, Any]:
        """The code objects of `source`: the text form, and the native form or None (one parse)."""
        codes = _CODE_CACHE.get(source)
        if codes is None:
            try:
                tree = self.parse(source)
                code = compile(self._generate(tree, None, None), "<template>", "exec")
            except jinja2.TemplateSyntaxError as err:
                raise TemplateError(
                    f"template syntax error: {err.message} (line {err.lineno}) in {source!r}"
                ) from None
            native_code = None
            body = tree.body
            if (len(body) == 1 and isinstance(body[0], jinja2.nodes.Output) and len(body[0].nodes) == 1
                    and not isinstance(body[0].nodes[0], jinja2.nodes.TemplateData)):
                stream = StringIO()
                NativeCodeGenerator(self, None, None, stream).visit(tree)
                returning = _returning_root(stream.getvalue())
                native_code = compile(returning, "<template>", "exec") if returning is not None else None
            codes = (code, native_code)
            if len(_CODE_CACHE) >= _CODE_CACHE_SIZE:
                _CODE_CACHE.pop(next(iter(_CODE_CACHE)))
            _CODE_CACHE[source] = codes
        return codes


def _returning_root(source: str) -> str | None:
    """A single-expression template's generated module, its `root` turned from a generator that
    yields the value once into a function that returns it (no generator to make and drain per
    render); None when the code is not of that one shape (then the text form renders it)."""
    lines = source.split("\n")
    try:
        start = lines.index("def root(context, missing=missing, environment=environment):")
        end = lines.index("blocks = {}", start)
    except ValueError:
        return None
    body = lines[start + 1:end]
    yields = [i for i, line in enumerate(body) if line.lstrip().startswith(("yield", "if 0: yield"))]
    if len(yields) != 2 or body[yields[0]] != "    if 0: yield None" or not body[yields[1]].startswith("    yield "):
        return None
    body[yields[0]] = "    pass"  # the same line numbers as before
    body[yields[1]] = "    return " + body[yields[1]][len("    yield "):]
    return "\n".join([*lines[:start + 1], *body, *lines[end:]])


def _mark_plain_callable(helper: Any) -> None:
    """Answer Jinja's per-call probes (pass_arg, sandbox flags) without a failed attribute lookup."""
    if not callable(helper) or hasattr(helper, "jinja_pass_arg"):
        return
    try:
        helper.jinja_pass_arg = None
        helper.unsafe_callable = False
        helper.alters_data = False
    except (AttributeError, TypeError):  # builtins and classes we do not own
        pass


class _RenderContext(jinja2.runtime.Context):
    """One render's context: its variables first, then the environment's globals.

    Jinja's own render() copies every global through a ChainMap on each call; this looks a name
    up in the variables and then in the globals, and copies neither.
    """

    environment: TemplateEnvironment

    def resolve_or_missing(self, key: str) -> Any:
        if key in self.vars:
            return self.vars[key]
        if key in self.parent:
            return self.parent[key]
        return self.environment.flat_globals.get(key, missing)

    def __contains__(self, name: object) -> bool:
        return name in self.vars or name in self.parent or name in self.environment.flat_globals

    def get_all(self) -> dict[str, Any]:
        return {**self.environment.flat_globals, **self.parent, **self.vars}


_NO_VARIABLES: Mapping[str, Any] = MappingProxyType({})


def _render_context(env: TemplateEnvironment, compiled: jinja2.Template,
                    variables: Mapping[str, Any] | None) -> jinja2.runtime.Context:
    """What `jinja2.runtime.new_context` builds, without its per-call probes."""
    if compiled.blocks:  # {% block %}: rare in a template string, so the general path
        scope = {**env.flat_globals, **variables} if variables else env.flat_globals
        return new_context(env, compiled.name, compiled.blocks, scope, True)
    context = object.__new__(_RenderContext)
    context.parent = variables if variables is not None else _NO_VARIABLES  # type: ignore[assignment]
    context.vars = {}
    context.environment = env
    eval_ctx = object.__new__(EvalContext)
    eval_ctx.environment = env
    eval_ctx.autoescape = False
    eval_ctx.volatile = False
    context.eval_ctx = eval_ctx
    context.exported_vars = set()
    context.name = compiled.name
    context.globals_keys = set()
    context.blocks = {}
    return context


def _released(context: _RenderContext) -> _RenderContext:
    """A context after a render, reset for the next render of the same template (what a
    `{% set %}` or an `{% autoescape %}` block left in it is cleared)."""
    context.parent = _NO_VARIABLES  # type: ignore[assignment]
    if context.vars:
        context.vars = {}
    if context.exported_vars:
        context.exported_vars = set()
    eval_ctx = context.eval_ctx
    eval_ctx.autoescape = False
    eval_ctx.volatile = False
    return context


_NO_HUB_ENV: TemplateEnvironment | None = None


def environment(hub: Hub | None) -> TemplateEnvironment:
    """The template environment of `hub` (created on first use)."""
    global _NO_HUB_ENV
    if hub is None:
        if _NO_HUB_ENV is None:
            _NO_HUB_ENV = TemplateEnvironment(None)
        return _NO_HUB_ENV
    env = hub.data.get(_ENV_KEY)
    if env is None:
        env = hub.data[_ENV_KEY] = TemplateEnvironment(hub)
    return env


class Template:
    """A template string bound to a hub; compiled once, on first render or `ensure_valid()`."""

    __slots__ = ("source", "hub", "is_static", "_compiled", "_native", "_static_value", "_env", "entities",
                 "_spare_text", "_spare_native")

    def __init__(self, source: str, hub: Hub | None = None) -> None:
        if not isinstance(source, str):
            raise TypeError(f"a template must be a string, got {type(source).__name__}")
        self.source = source
        self.hub = hub
        self.is_static = not is_template_string(source)
        self._compiled: jinja2.Template | None = None
        self._native: Any = _SENTINEL  # the single-expression form, None when there is none
        self._static_value: Any = _SENTINEL
        self._env: TemplateEnvironment | None = None
        # The entity ids the last `render_tracked()` read.
        self.entities: frozenset[str] = frozenset()
        # A render context the last successful render left behind, for the next one to reuse.
        self._spare_text: _RenderContext | None = None
        self._spare_native: _RenderContext | None = None

    def ensure_valid(self) -> None:
        """Compile now; raises TemplateError on a syntax error."""
        if not self.is_static and self._compiled is None:
            self._compiled = environment(self.hub).compile_source(self.source)

    def render_str(self, variables: Mapping[str, Any] | None = None) -> str:
        """Render to text (stripped), without native-type parsing."""
        if self.is_static:
            return self.source
        compiled = self._compiled
        if compiled is None:
            self.ensure_valid()
            compiled = self._compiled
        env = self._environment()
        context: Any = self._spare_text  # a new one below is Jinja's own for {% block %}: not kept
        if context is None:
            context = _render_context(env, compiled, variables)  # type: ignore[arg-type]
        else:
            self._spare_text = None  # taken: a render inside this render builds its own
            context.parent = variables if variables is not None else _NO_VARIABLES  # type: ignore[assignment]
        try:
            text = env.concat(compiled.root_render_func(context))  # type: ignore[union-attr, attr-defined]
        except TemplateError:
            raise
        except Exception as err:
            raise TemplateError(f"error rendering template {self.source!r}: {err}") from err
        if type(context) is _RenderContext:
            self._spare_text = _released(context)
        return text.strip()

    def render(self, variables: Mapping[str, Any] | None = None) -> Any:
        """Render to a native value, as Home Assistant does."""
        if self.is_static:
            if self._static_value is _SENTINEL:
                self._static_value = parse_result(self.source.strip())
            value = self._static_value
            return _copy_literal(value) if isinstance(value, list | dict | set | tuple) else value
        native = self._native
        if native is _SENTINEL:
            self.ensure_valid()  # syntax errors as the text form reports them
            native = self._native = environment(self.hub).compile_native(self.source)
        if native is None:
            return parse_result(self.render_str(variables))
        return self._render_native(native, variables)

    def _environment(self) -> TemplateEnvironment:
        env = self._env
        if env is None:
            env = self._env = environment(self.hub)
        return env

    def _render_native(self, native: jinja2.Template, variables: Mapping[str, Any] | None) -> Any:
        """`{{ expression }}`: a number stays the number it is, where its text would parse back to
        exactly that number; anything else goes the text way (str, strip, native-type parse)."""
        context: Any = self._spare_native
        if context is None:
            context = _render_context(self._environment(), native, variables)
        else:
            self._spare_native = None  # taken: a render inside this render builds its own
            context.parent = variables if variables is not None else _NO_VARIABLES
        try:
            value: Any = native.root_render_func(context)  # type: ignore[attr-defined]
            # Rendered through: whatever the value is, it leaves this method as a scalar or as
            # text, never holding the context. A lone expression sets no variables and opens no
            # autoescape block: only the variables are let go.
            context.parent = _NO_VARIABLES
            self._spare_native = context
            kind = type(value)
            if kind is float:
                # Text in plain notation only: repr switches to an exponent outside [1e-4, 1e16),
                # and Home Assistant leaves '1e+16' (and 'nan', 'inf') as text.
                if value == 0.0 or 1e-4 <= abs(value) < 1e16:
                    return value
            elif kind is bool or value is None or (kind is int and value.bit_length() <= 14_000):
                return value  # (an int of more than 4,300 digits: str() refuses it, as rendering did)
            elif kind is list and _reads_back_as_itself(value):
                return list(value)  # a fresh list, as the text's literal_eval would give
            text = str(value).strip()
        except TemplateError:
            raise
        except Exception as err:
            raise TemplateError(f"error rendering template {self.source!r}: {err}") from err
        return parse_result(text)

    def render_tracked(self, variables: Mapping[str, Any] | None = None) -> tuple[Any, RenderInfo]:
        """Render, and report what the render read; a failed render returns its TemplateError."""
        info = RenderInfo()
        if self.is_static:
            return self.render(variables), info
        tracker = environment(self.hub).tracker
        outer, tracker.info = tracker.info, info
        try:
            value: Any = self.render(variables)
        except TemplateError as err:
            value = err
        finally:
            tracker.info = outer
        self.entities = frozenset(info.entities)
        return value, info

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.source == self.source and other.hub is self.hub

    def __hash__(self) -> int:
        return hash(self.source)


def template_names(value: Any) -> set[str]:
    """The variable names the templates inside nested config data read (undeclared in them)."""
    names: set[str] = set()
    if isinstance(value, Template):
        value = value.source
    if isinstance(value, str):
        if is_template_string(value):
            try:
                # Parsed with our own filters and tests known: a plain Jinja environment refuses
                # `| bool` or `is has_value` while analysing, and the names would go unseen.
                names |= jinja2.meta.find_undeclared_variables(environment(None).parse(value))
            except jinja2.TemplateSyntaxError:
                pass  # reported where the template is compiled
    elif isinstance(value, list):
        for item in value:
            names |= template_names(item)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            names |= template_names(key) | template_names(item)
    return names


def compile_complex(value: Any, hub: Hub | None) -> Any:
    """Turn every template string inside nested data into a `Template` (compiled); the rest stays."""
    if isinstance(value, Template):
        return value
    if isinstance(value, str):
        if is_template_string(value):
            template = Template(value, hub)
            template.ensure_valid()
            return template
        return value
    if isinstance(value, list):
        return [compile_complex(v, hub) for v in value]
    if isinstance(value, Mapping):
        return {compile_complex(k, hub): compile_complex(v, hub) for k, v in value.items()}
    return value


def render_complex(value: Any, variables: Mapping[str, Any] | None = None, hub: Hub | None = None) -> Any:
    """Render every template inside nested data (strings and `Template`s) to native values."""
    if isinstance(value, Template):
        return value.render(variables)
    if isinstance(value, str):
        if is_template_string(value):
            return Template(value, hub).render(variables)
        return value
    if isinstance(value, list):
        return [render_complex(v, variables, hub) for v in value]
    if isinstance(value, Mapping):
        return {render_complex(k, variables, hub): render_complex(v, variables, hub) for k, v in value.items()}
    return value


def copy_plain(value: Any) -> Any:
    """What `render_complex` gives for data without templates: lists and mappings copied (so a
    run cannot change the configuration), everything else as it is."""
    if isinstance(value, Template):  # a static one: its text's native value
        return value.render()
    if isinstance(value, list):
        return [copy_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: copy_plain(v) for k, v in value.items()}
    return value


def has_templates(value: Any) -> bool:
    """True when nested data holds a template anywhere."""
    if isinstance(value, Template):
        return not value.is_static
    if isinstance(value, str):
        return is_template_string(value)
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    if isinstance(value, Mapping):
        return any(has_templates(k) or has_templates(v) for k, v in value.items())
    return False


def render_bool(template: Template, variables: Mapping[str, Any] | None = None) -> bool:
    """A template condition's truth, as Home Assistant's `result_as_boolean`."""
    return result_as_boolean(template.render(variables))


def result_as_boolean(value: Any) -> bool:
    """True for true, non-zero numbers and 'true'/'yes'/'on'/'enable'/'1'; False otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "enable", "1")
    return False

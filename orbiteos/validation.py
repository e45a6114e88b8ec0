"""Voluptuous validators shared by the configuration schemas (Home Assistant's `cv`, the small part).

Each validator raises `vol.Invalid` with a message that says what was expected and what was found.
Feature-specific validators live with their feature; only the generic ones belong here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from datetime import time as time_of_day
from datetime import timedelta
from typing import Any, TypeVar

import voluptuous as vol

from orbiteos.core import valid_entity_id

T = TypeVar("T")

_TIME_PERIOD_RE = re.compile(r"^(?P<sign>[-+])?(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)$")
_TIME_OF_DAY_RE = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?$")
_SLUG_RE = re.compile(r"^[a-z0-9_]+$")


def found(value: Any) -> str:
    """A short rendering of an offending value for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def ensure_list(value: T | list[T] | None) -> list[T]:
    """A single value becomes a one-item list; None becomes an empty list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def string(value: Any) -> str:
    """Coerce scalars to str, as Home Assistant does; refuse mappings and lists."""
    if value is None:
        raise vol.Invalid("expected a string, found nothing (null)")
    if isinstance(value, dict | list):
        raise vol.Invalid(f"expected a string, found {type(value).__name__} {found(value)}")
    return str(value)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on", "enable"):
            return True
        if lowered in ("0", "false", "no", "off", "disable"):
            return False
    elif isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise vol.Invalid(f"expected a boolean (true/false, on/off, yes/no), found {found(value)}")


def entity_id(value: Any) -> str:
    text = string(value).strip().lower()
    if not valid_entity_id(text):
        raise vol.Invalid(f"expected an entity id like 'sensor.grid_power', found {found(value)}")
    return text


def entity_ids(value: Any) -> list[str]:
    """One entity id, a comma-separated string of them, or a list of them."""
    if value is None:
        raise vol.Invalid("expected one or more entity ids, found nothing (null)")
    items = value.split(",") if isinstance(value, str) else ensure_list(value)
    return [entity_id(item) for item in items]


def entity_domain(*domains: str) -> Callable[[Any], str]:
    """An entity id in one of `domains`."""

    def validate(value: Any) -> str:
        checked = entity_id(value)
        if checked.partition(".")[0] not in domains:
            raise vol.Invalid(
                f"expected an entity of domain {' or '.join(domains)}, found {found(value)}"
            )
        return checked

    return validate


def slug(value: Any) -> str:
    text = string(value)
    if not _SLUG_RE.match(text):
        raise vol.Invalid(f"expected a slug (lower-case letters, digits, underscores), found {found(value)}")
    return text


def positive_int(value: Any) -> int:
    number = vol.Coerce(int)(value)
    if number < 0:
        raise vol.Invalid(f"expected a whole number >= 0, found {found(value)}")
    return number


def port(value: Any) -> int:
    number = vol.Coerce(int)(value)
    if not 1 <= number <= 65535:
        raise vol.Invalid(f"expected a TCP port 1-65535, found {found(value)}")
    return number


def _period_from_string(value: str) -> timedelta:
    match = _TIME_PERIOD_RE.match(value.strip())
    if not match:
        try:
            return timedelta(seconds=float(value))
        except ValueError:
            raise vol.Invalid(
                f"expected a duration ('HH:MM:SS', 'MM:SS', seconds or a mapping), found {found(value)}"
            ) from None
    sign = -1 if match.group("sign") == "-" else 1
    hours = int(match.group("h") or 0)
    return sign * timedelta(hours=hours, minutes=int(match.group("m")), seconds=float(match.group("s")))


_PERIOD_KEYS = ("days", "hours", "minutes", "seconds", "milliseconds")


def time_period(value: Any) -> timedelta:
    """A duration: seconds as a number, 'HH:MM:SS', 'MM:SS', or {hours:, minutes:, ...}."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a duration, found {found(value)}")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        return _period_from_string(value)
    if isinstance(value, dict):
        unknown = set(value) - set(_PERIOD_KEYS)
        if unknown:
            raise vol.Invalid(
                f"expected duration keys {', '.join(_PERIOD_KEYS)}, found {', '.join(sorted(map(str, unknown)))}"
            )
        try:
            return timedelta(**{k: float(v) for k, v in value.items()})
        except (TypeError, ValueError):
            raise vol.Invalid(f"expected numbers in the duration, found {found(value)}") from None
    raise vol.Invalid(f"expected a duration, found {found(value)}")


def positive_time_period(value: Any) -> timedelta:
    period = time_period(value)
    if period < timedelta(0):
        raise vol.Invalid(f"expected a duration >= 0, found {found(value)}")
    return period


def time_of_day_value(value: Any) -> time_of_day:
    """'HH:MM' or 'HH:MM:SS' -> datetime.time."""
    if isinstance(value, time_of_day):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 12:30 as sexagesimal 750 (minutes); undo that.
        hours, minutes = divmod(value, 60)
        if 0 <= hours < 24:
            return time_of_day(hours, minutes)
    match = _TIME_OF_DAY_RE.match(str(value).strip())
    if match:
        hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time_of_day(hour, minute, second)
    raise vol.Invalid(f"expected a time of day 'HH:MM' or 'HH:MM:SS', found {found(value)}")


def number_in_range(minimum: float | None = None, maximum: float | None = None) -> Callable[[Any], float]:
    def validate(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise vol.Invalid(f"expected a number, found {found(value)}") from None
        if minimum is not None and number < minimum:
            raise vol.Invalid(f"expected a number >= {minimum}, found {found(value)}")
        if maximum is not None and number > maximum:
            raise vol.Invalid(f"expected a number <= {maximum}, found {found(value)}")
        return number

    return validate


def finite_number(minimum: float | None = None, maximum: float | None = None) -> Callable[[Any], float]:
    """A finite number within the bounds (NaN and infinities are refused, as the devices would)."""

    def validate(value: Any) -> float:
        if isinstance(value, bool):
            raise vol.Invalid(f"expected a number, found {found(value)}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise vol.Invalid(f"expected a number, found {found(value)}") from None
        if not math.isfinite(number):
            raise vol.Invalid(f"expected a finite number, found {found(value)}")
        if minimum is not None and number < minimum:
            raise vol.Invalid(f"expected a number >= {minimum:g}, found {found(value)}")
        if maximum is not None and number > maximum:
            raise vol.Invalid(f"expected a number <= {maximum:g}, found {found(value)}")
        return number

    return validate


def one_of(*choices: Hashable) -> Callable[[Any], Any]:
    """Like vol.In, but the message lists the choices."""

    def validate(value: Any) -> Any:
        if value not in choices:
            raise vol.Invalid(f"expected one of {', '.join(map(str, choices))}, found {found(value)}")
        return value

    return validate


def has_at_least_one_key(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def validate(value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise vol.Invalid(f"expected a mapping, found {found(value)}")
        if not any(k in value for k in keys):
            raise vol.Invalid(f"expected at least one of {', '.join(keys)}")
        return value

    return validate


def exactly_one_key(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def validate(value: dict[str, Any]) -> dict[str, Any]:
        present = [k for k in keys if k in value]
        if len(present) != 1:
            raise vol.Invalid(
                f"expected exactly one of {', '.join(keys)}, found {', '.join(present) or 'none'}"
            )
        return value

    return validate


def validate_each(configs: Any, validate: Callable[[Any], T]) -> list[T]:
    """Validate every item of a list (a single item becomes a list) and report every bad one.

    The errors of all items are raised together, each with its list index in the path.
    """
    items = configs if isinstance(configs, list) else [configs]
    validated: list[T] = []
    problems: list[vol.Invalid] = []
    for index, item in enumerate(items):
        try:
            validated.append(validate(item))
        except vol.Invalid as err:
            err.prepend([index])
            problems.extend(err.errors if isinstance(err, vol.MultipleInvalid) else [err])
    if problems:
        raise vol.MultipleInvalid(problems)
    return validated

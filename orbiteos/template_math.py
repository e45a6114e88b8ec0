"""Template statistics, trigonometry and bitwise helpers, as Home Assistant 2024.3 defines them.

`average`, `median` and `statistical_mode` take one iterable or several values; with an iterable,
a second positional argument is the default, given back when the values have no mean (empty, or
not all numbers). Numbers are not converted from strings: `['1', '2'] | average` is an error, as
in Home Assistant.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

_SENTINEL = object()


def no_default(name: str, value: Any) -> None:
    """The error a forgiving helper raises when its input does not convert and it has no default."""
    raise ValueError(f"{name} got invalid input {value!r} but no default was specified")


def _statistic(name: str, compute: Callable[[Any], Any], *, any_iterable: bool = True) -> Callable[..., Any]:
    """A helper over one iterable or over its arguments, with a default for no result."""

    def helper(*args: Any, default: Any = _SENTINEL) -> Any:
        if not args:
            raise TypeError(f"{name} expected at least 1 argument, got 0")
        first = args[0]
        if len(args) == 1 and isinstance(first, Iterable):
            values = first
        elif isinstance(first, Iterable) and (any_iterable or isinstance(first, list | tuple)):
            values = first
            if default is _SENTINEL:
                default = args[1]
        elif len(args) == 1:
            raise TypeError(f"'{type(first).__name__}' object is not iterable")
        else:
            values = args
        try:
            return compute(values)
        except (TypeError, statistics.StatisticsError):
            if default is _SENTINEL:
                no_default(name, args)
            return default

    helper.__name__ = name
    return helper


average = _statistic("average", statistics.fmean)
median = _statistic("median", statistics.median)
# Home Assistant takes a second argument as the default only after a list or tuple here.
statistical_mode = _statistic("statistical_mode", statistics.mode, any_iterable=False)


def bitwise_and(first_value: Any, second_value: Any) -> Any:
    return first_value & second_value


def bitwise_or(first_value: Any, second_value: Any) -> Any:
    return first_value | second_value


def bitwise_xor(first_value: Any, second_value: Any) -> Any:
    return first_value ^ second_value


def _forgiving(name: str, function: Callable[[float], float]) -> Callable[..., Any]:
    """`sin(x)`, `x | sin`: the function of a number or of a string of one, else the default."""

    def helper(value: Any, default: Any = _SENTINEL) -> Any:
        try:
            return function(float(value))
        except (ValueError, TypeError):
            if default is _SENTINEL:
                no_default(name, value)
            return default

    helper.__name__ = name
    return helper


TRIGONOMETRY: dict[str, Callable[..., Any]] = {
    name: _forgiving(name, function)
    for name, function in (("sin", math.sin), ("cos", math.cos), ("tan", math.tan), ("asin", math.asin),
                           ("acos", math.acos), ("atan", math.atan))
}


def atan2(*args: Any, default: Any = _SENTINEL) -> Any:
    """`atan2(y, x)`, `(y, x) | atan2`; a last positional argument beyond those is the default."""
    try:
        if len(args) in (1, 2) and isinstance(args[0], list | tuple):
            if len(args) == 2 and default is _SENTINEL:
                default = args[1]
            args = tuple(args[0])
        elif len(args) == 3 and default is _SENTINEL:
            default = args[2]
        return math.atan2(float(args[0]), float(args[1]))
    except (ValueError, TypeError, IndexError):
        if default is _SENTINEL:
            no_default("atan2", args)
        return default

"""The numeric-state test shared by the `numeric_state` trigger and condition (Home Assistant's rules).

`unavailable`, `unknown`, an attribute the entity does not have, or a `None` never match (and so arm
a trigger); a value that is not a number cannot be judged and raises `NumericError` (neither arms
nor disarms).

`unavailable:` (OrbitEOS only) says what `unavailable`, `unknown`, none or a missing attribute mean:
`ignore` (Home Assistant's rule above, the default), `{treat_as: N}` (judge N instead) or `fail`
(raise `NumericUnavailable`, so a safety automation cannot skip silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Hub, State
from orbiteos.errors import TemplateError
from orbiteos.template import Template

_NEVER = (None, STATE_UNAVAILABLE, STATE_UNKNOWN)
_NEVER_STR = frozenset({STATE_UNAVAILABLE, STATE_UNKNOWN})


class NumericError(Exception):
    """The state (or a threshold entity) cannot be processed as a number."""


class NumericUnavailable(NumericError):
    """The value is unavailable/unknown and the test's policy is `fail`."""


UnavailablePolicy = str | float  # "ignore", "fail", or the number to judge instead


class NumericTest:
    """`above`/`below` (numbers or entity ids), `attribute`, `value_template`, compiled once."""

    __slots__ = ("hub", "above", "below", "attribute", "value_template", "unavailable", "_above_num", "_below_num",
                 "_simple")

    def __init__(
        self,
        hub: Hub,
        above: float | str | None,
        below: float | str | None,
        attribute: str | None = None,
        value_template: str | None = None,
        unavailable: UnavailablePolicy = "ignore",
    ) -> None:
        self.hub = hub
        self.above = above
        self.below = below
        self.attribute = attribute
        self.unavailable = unavailable
        self.value_template = Template(value_template, hub) if value_template else None
        if self.value_template is not None:
            self.value_template.ensure_valid()
        self._above_num = above if isinstance(above, float) else None
        self._below_num = below if isinstance(below, float) else None
        self._simple = (
            unavailable == "ignore"
            and attribute is None
            and self.value_template is None
            and not isinstance(above, str)
            and not isinstance(below, str)
        )

    def value(self, state: State, variables: Mapping[str, Any] | None = None, own_scope: bool = False) -> Any:
        """The value under test: the state, the attribute, or the rendered value_template.

        `own_scope`: `variables` is a dict of the caller's own, which the template's `state` may be
        written into (a trigger judging every change of an entity keeps one for it).
        """
        if self.attribute is not None and self.attribute not in state.attributes:
            return None  # Home Assistant: no match, checked before any value_template
        if self.value_template is not None:
            scope = variables if own_scope and type(variables) is dict else dict(variables or {})
            scope["state"] = state
            try:
                return self.value_template.render(scope)
            except TemplateError as err:
                raise NumericError(f"template error: {err}") from None
        if self.attribute is not None:
            return state.attributes[self.attribute]
        return state.state

    def matches(self, state: State | None, variables: Mapping[str, Any] | None = None,
                own_scope: bool = False) -> bool:
        """True when the value is inside the range; raises NumericError when it cannot be judged."""
        if state is None:
            raise NumericError("entity does not exist")
        if self._simple:
            raw: Any = state.state
            if raw in _NEVER_STR:
                return False
            try:
                number = float(raw)
            except ValueError:
                raise NumericError(f"{state.entity_id} state {raw!r} cannot be processed as a number") from None
            below, above = self._below_num, self._above_num
            return (below is None or number < below) and (above is None or number > above)
        value = self.number(state, variables, own_scope)
        return value is not None and self.in_range(value)

    def number(self, state: State, variables: Mapping[str, Any] | None = None,
               own_scope: bool = False) -> float | None:
        """The value as a number, the policy applied; None for a value that never matches."""
        raw = state.state if self._simple else self.value(state, variables, own_scope)
        if raw in _NEVER:
            policy = self.unavailable
            if isinstance(policy, float):
                return policy
            if policy == "fail":
                raise NumericUnavailable(f"{state.entity_id} value is {raw!r} (unavailable: fail)")
            return None
        try:
            return float(raw)
        except (ValueError, TypeError):
            raise NumericError(f"{state.entity_id} value {raw!r} cannot be processed as a number") from None

    def in_range(self, number: float) -> bool:
        """Above `above` and below `below` (False while a threshold entity is unavailable)."""
        if self._simple:
            below, above = self._below_num, self._above_num
            return (below is None or number < below) and (above is None or number > above)
        below_value = self._threshold(self.below, "below")
        if below_value is False:
            return False
        if below_value is not None and number >= below_value:
            return False
        above_value = self._threshold(self.above, "above")
        if above_value is False:
            return False
        return not (above_value is not None and number <= above_value)

    def beyond(self, number: float, margin: float) -> bool:
        """More than `margin` outside the range (hysteresis); True while a threshold is unavailable."""
        above_value = self._threshold(self.above, "above")
        below_value = self._threshold(self.below, "below")
        if above_value is False or below_value is False:
            return True
        return (above_value is not None and number < above_value - margin) or (
            below_value is not None and number > below_value + margin
        )

    def _threshold(self, limit: float | str | None, name: str) -> float | None | bool:
        if limit is None or isinstance(limit, float):
            return limit
        entity = self.hub.states.get(limit)
        if entity is None:
            raise NumericError(f"unknown {name!r} entity {limit}")
        if entity.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return False
        try:
            return float(entity.state)
        except ValueError:
            raise NumericError(f"the {name!r} entity {limit} state {entity.state!r} is not a number") from None

"""The fail-safe: when an input that control depends on (the grid meter) is unavailable or stale
for `after` seconds, every device goes to its safe state and takes no other setpoint until the
inputs have been fresh again for as long. Entering and leaving are `failsafe` events (recorded in
`grid_events`), service calls by the `failsafe` user (the audit log), and an alert."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orbiteos.core import STATE_UNAVAILABLE, STATE_UNKNOWN, Context, Event, State
from orbiteos.natures.source import CURRENT_SOURCE, FAILSAFE, SetpointSource

if TYPE_CHECKING:
    from orbiteos.natures.layer import NatureLayer

_LOGGER = logging.getLogger(__name__)
EVENT_FAILSAFE = "failsafe"
FAILSAFE_USER = "failsafe"
ENDED = SetpointSource("failsafe (ended)", 0.0)


def _is_bad(state: State | None) -> bool:
    return state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN)


class Failsafe:
    def __init__(self, layer: NatureLayer) -> None:
        self.layer = layer
        self.hub = layer.hub
        self.active = False
        self.reason: str | None = None
        self._bad_since: float | None = None
        self._good_since: float | None = None
        self._last_report: dict[str, float] = {}
        self._retry: set[str] = set()
        self._next_retry = 0.0
        self.history: list[dict[str, Any]] = []  # every announcement, for `orbiteos simulate`
        self.periods: list[list[datetime | None]] = []  # [entered, left or None]

    # --- inputs ------------------------------------------------------------------------------
    def inputs(self) -> list[str]:
        configured = self.layer.settings.inputs
        return list(configured) if configured is not None else sorted(self.hub.states.entity_ids("meter"))

    def _watch(self, entity_ids: list[str]) -> None:
        for entity_id in entity_ids:
            if entity_id in self._last_report:  # watched already: it has a last report
                continue
            state = self.hub.states.get(entity_id)
            now = self.hub.clock.monotonic()
            self._last_report[entity_id] = self._monotonic_of(state.last_updated) if state else now

            def reported(entity_id: str = entity_id) -> None:
                self._last_report[entity_id] = self.hub.clock.monotonic()

            def changed(event: Event, entity_id: str = entity_id) -> None:
                now = self.hub.clock.monotonic()
                self._last_report[entity_id] = now
                new, old = event.data.get("new_state"), event.data.get("old_state")
                if _is_bad(new) != _is_bad(old):  # unavailable, or fresh again: judge now
                    self.layer.wake_at(now)

            # For the hub's life, as the fail-safe's.
            self.hub.states.listen(entity_id, changed)
            self.hub.states.listen_reported(entity_id, reported)

    def problem(self) -> tuple[str, float] | None:
        """Why control is unsafe now, and since when (monotonic); None when it is safe."""
        inputs = self.inputs()
        self._watch(inputs)
        now = self.hub.clock.monotonic()
        stale_after = self.layer.settings.stale_after_s
        for entity_id in inputs:
            state = self.hub.states.get(entity_id)
            if _is_bad(state):
                if state is None:
                    return f"{entity_id} has no state", now
                return f"{entity_id} is {state.state}", self._monotonic_of(state.last_changed)
            last = self._last_report.get(entity_id, now)
            if now - last > stale_after:
                return f"{entity_id} is stale (no update for {now - last:.0f} s)", last + stale_after
        return None

    def _monotonic_of(self, moment: datetime) -> float:
        """A state's timestamp on the monotonic clock the fail-safe counts with."""
        return self.hub.clock.monotonic() - max(0.0, (self.hub.clock.now() - moment).total_seconds())

    # --- the state machine of the fail-safe ---------------------------------------------------
    def poll(self) -> Callable[[], Awaitable[None]] | None:
        """Judge the inputs now; what to do about it (enter, retry, leave), or None."""
        settings = self.layer.settings
        found = self.problem()
        now = self.hub.clock.monotonic()
        if found is not None:
            problem, since = found
            self._good_since = None
            if self._bad_since is None:
                self._bad_since = min(since, now)
            if not self.active:
                if now - self._bad_since >= settings.after_s:
                    return lambda: self.enter(problem)
                self.layer.wake_at(self._bad_since + settings.after_s)
            elif self._retry and now >= self._next_retry:
                return self._retry_safe_states
            return None
        self._bad_since = None
        if self.active:
            if self._good_since is None:
                self._good_since = now
            if now - self._good_since >= settings.after_s:
                return self.leave
            self.layer.wake_at(self._good_since + settings.after_s)
        return None

    async def _retry_safe_states(self) -> None:
        await self._apply_safe_states(sorted(self._retry))

    async def enter(self, problem: str) -> None:
        self.active = True
        self.reason = problem
        self.periods.append([self.hub.clock.now(), None])
        _LOGGER.warning("fail-safe: %s; devices go to their safe states", problem)
        devices = self.layer.served()
        for entity_id in devices:
            if self.layer.settings.safe_state(entity_id).service is not None:
                self.layer.book.locked[entity_id] = problem
        actions = await self._apply_safe_states(devices)
        summary = "; ".join(f"{e} {a}" for e, a in actions.items()) or "no devices"
        self.layer.alerts.raise_alert(
            "failsafe", "failsafe", None,
            f"Fail-safe since {self.hub.now_local().strftime('%H:%M:%S')}: {problem}. {summary}",
        )

    async def _apply_safe_states(self, devices: list[str]) -> dict[str, str]:
        actions: dict[str, str] = {}
        settings = self.layer.settings
        context = Context(user_id=FAILSAFE_USER)
        self._next_retry = self.hub.clock.monotonic() + settings.keepalive_s
        for entity_id in devices:
            safe = settings.safe_state(entity_id)
            domain = entity_id.partition(".")[0]
            retrying = entity_id in self._retry
            if safe.service is None:
                action = "unchanged (no safe state configured)"
            else:
                token = CURRENT_SOURCE.set(FAILSAFE)
                try:
                    await self.hub.services.call(domain, safe.service, {**safe.data, "entity_id": entity_id},
                                                 context=context)
                except Exception as err:  # the device may be the very thing that is lost: try again later
                    self._retry.add(entity_id)
                    action = f"{safe.describe()} failed: {err}"
                    _LOGGER.warning("fail-safe: %s: %s", entity_id, action)
                else:
                    self._retry.discard(entity_id)
                    action = safe.describe()
                finally:
                    CURRENT_SOURCE.reset(token)
            actions[entity_id] = action
            if not retrying or entity_id not in self._retry:
                self._announce(entity_id, self.reason or "", action, True, context)
        return actions

    async def leave(self) -> None:
        reason = f"inputs fresh again for {self.layer.settings.after_s:g} s (after: {self.reason})"
        _LOGGER.warning("fail-safe ends: %s", reason)
        context = Context(user_id=FAILSAFE_USER)
        book = self.layer.book
        for entity_id in self.layer.served():
            held = entity_id in book.locked
            book.locked.pop(entity_id, None)
            setpoint = book.live.get(entity_id)
            if setpoint is not None and setpoint.source is FAILSAFE:
                # Kept alive until an automation writes the device again, at no priority.
                setpoint.source = ENDED
            self._announce(entity_id, reason, "control handed back" if held else "unchanged", False, context)
        self._retry.clear()
        if self.periods:
            self.periods[-1][1] = self.hub.clock.now()
        self.active = False
        self.reason = None
        self._good_since = None
        self.layer.alerts.clear("failsafe")

    def seconds_active(self, until: datetime) -> float:
        return sum(((left or until) - entered).total_seconds() for entered, left in self.periods
                   if entered is not None)

    def _announce(self, entity_id: str, reason: str, action: str, active: bool, context: Context) -> None:
        data = {"kind": EVENT_FAILSAFE, "entity_id": entity_id, "active": active, "reason": reason,
                "action": action, "inputs": self.inputs()}
        self.history.append({**data, "time": self.hub.clock.now()})
        _LOGGER.info("fail-safe %s: %s: %s", "on" if active else "off", entity_id, action)
        self.hub.bus.fire(EVENT_FAILSAFE, data, context=context)

"""The nature layer of one hub: the devices each provider serves, their setpoints kept alive, the
fail-safe that watches the inputs, and the alerts. `nature_layer(hub)` finds or makes it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from orbiteos.core import EVENT_STARTED, Context, Event, Hub
from orbiteos.natures.alerts import Alerts
from orbiteos.natures.contract import RELEASES, Command, dispatch
from orbiteos.natures.setpoints import Setpoint, SetpointBook
from orbiteos.natures.settings import FailsafeSettings
from orbiteos.natures.source import SetpointSource

_LOGGER = logging.getLogger(__name__)
DATA_NATURES = "natures"


class NatureLayer:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.settings = FailsafeSettings()
        self.alerts = Alerts(hub)
        self.book = SetpointBook(hub, lambda: self.settings, self.alerts)
        # (domain, provider) -> that provider's devices (entity id -> device).
        self.providers: dict[tuple[str, str], Mapping[str, Any]] = {}
        # Off in `sim-devices`: there the hub *is* the devices, whose own timers do the reverting.
        self.controller = True
        # `orbiteos simulate --fault engine:down`: nothing reaches the devices, nothing is renewed.
        self.engine_down = False
        self._keepalive_failed: set[str] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._next_keepalive = 0.0
        self._busy = False
        self._stopped = False
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at = 0.0
        from orbiteos.natures.failsafe import Failsafe

        self.failsafe = Failsafe(self)
        if hub.running:
            self.hub.clock.call_later(0, self.start)
        else:
            hub.bus.listen_once(EVENT_STARTED, self._on_started)

    def configure(self, settings: FailsafeSettings) -> None:
        self.settings = settings

    def _on_started(self, _event: Event) -> None:
        self.start()

    def start(self) -> None:
        if self._handle is not None or self._stopped or not self.controller:
            return
        self._next_keepalive = self.hub.clock.monotonic() + self.settings.keepalive_s
        self._schedule()
        self.hub.on_stop(self._stop)
        self._check()  # watch the inputs from the start

    async def _stop(self) -> None:
        self._stopped = True
        for handle in (self._handle, self._wake):
            if handle is not None:
                handle.cancel()
        self._handle = self._wake = None

    def _schedule(self) -> None:
        # A timer, not a sleeping task: one pass of the event loop a tick instead of two. The tick
        # finds stale inputs and renews setpoints; an input turning unavailable or fresh wakes the
        # fail-safe at once (`wake_at`), so its `after` is kept to the tick's precision, not this period.
        settings = self.settings
        period = min(max(settings.stale_after_s / 10.0, 0.5), settings.keepalive_s / 3.0, 5.0)
        self._handle = self.hub.clock.call_later(period, self._tick)

    def _tick(self) -> None:
        self._schedule()
        self._check()

    def wake_at(self, deadline: float) -> None:
        """Judge the fail-safe again at this monotonic moment (earliest wins)."""
        if self._handle is None or self._stopped:
            return  # not started: the first tick judges
        if self._wake is not None and self._wake_at <= deadline:
            return
        if self._wake is not None:
            self._wake.cancel()
        self._wake_at = deadline
        self._wake = self.hub.clock.call_later(max(0.0, deadline - self.hub.clock.monotonic()), self._woken)

    def _woken(self) -> None:
        self._wake = None
        self._check()

    def _check(self) -> None:
        if self.engine_down or self._busy:
            return
        work: list[Callable[[], Awaitable[None]]] = []
        if self.settings.enabled:
            transition = self.failsafe.poll()
            if transition is not None:
                work.append(transition)
        if self.hub.clock.monotonic() >= self._next_keepalive:
            self._next_keepalive = self.hub.clock.monotonic() + self.settings.keepalive_s
            work.append(self.keep_alive)
            self.book.clear_old_conflicts()
        if work:
            self._busy = True
            self.hub.create_task(self._do(work), name="natures: fail-safe and keep-alive")

    async def _do(self, work: list[Callable[[], Awaitable[None]]]) -> None:
        try:
            for job in work:
                await job()
        finally:
            self._busy = False
        self._check()  # what changed meanwhile (an input back while the safe states went out)

    # --- setpoints --------------------------------------------------------------------------
    def command(self, entity_id: str, source: SetpointSource, context: Context) -> Command:
        revert = self.settings.revert_after_s if self.controller else None
        until = None if revert is None else (self.hub.clock.now() + timedelta(seconds=revert)).isoformat()
        safe = self.settings.safe_state(entity_id)
        fallback = safe.data if safe.service == "set_limit" and entity_id.startswith("ev_charger.") else None
        return Command(context, revert, {"setpoint_source": source.name, "setpoint_until": until}, fallback)

    def device(self, entity_id: str) -> Any | None:
        domain = entity_id.partition(".")[0]
        for (served, _), devices in self.providers.items():
            if served == domain and entity_id in devices:
                return devices[entity_id]
        return None

    def served(self) -> list[str]:
        """Every device some provider serves, in a stable order."""
        return sorted({e for devices in self.providers.values() for e in devices})

    async def send(self, entity_id: str, domain: str, service: str, data: Mapping[str, Any],
                   source: SetpointSource, context: Context, device: Any) -> Setpoint | None:
        """Hand one validated, admitted setpoint to its device and book it."""
        if self.engine_down:
            _LOGGER.debug("%s.%s for %s dropped: the engine is down", domain, service, entity_id)
            return None
        await dispatch(device, domain, service, data, self.command(entity_id, source, context))
        return self.book.record(entity_id, domain, service, data, source, context, (domain, service) in RELEASES)

    async def keep_alive(self) -> None:
        """Send every live setpoint to its device again, so the device's revert timer never runs out."""
        jobs = []
        for entity_id, setpoint in list(self.book.live.items()):
            device = self.device(entity_id)
            if setpoint.released or device is None:
                continue
            command = self.command(entity_id, setpoint.source, setpoint.context)
            jobs.append((entity_id, dispatch(device, setpoint.domain, setpoint.service, setpoint.data, command)))
        if not jobs:
            return
        outcomes = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
        for (entity_id, _), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
            if isinstance(outcome, Exception):
                if entity_id not in self._keepalive_failed:
                    self._keepalive_failed.add(entity_id)
                    _LOGGER.warning("%s: keep-alive failed: %s", entity_id, outcome)
            elif entity_id in self._keepalive_failed:
                self._keepalive_failed.discard(entity_id)
                _LOGGER.info("%s: keep-alive works again", entity_id)


def nature_layer(hub: Hub) -> NatureLayer:
    layer = hub.data.get(DATA_NATURES)
    if layer is None:
        layer = hub.data[DATA_NATURES] = NatureLayer(hub)
    return layer  # type: ignore[no-any-return]

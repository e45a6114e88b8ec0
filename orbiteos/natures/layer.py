"""The nature layer of one hub: the devices each provider serves, their setpoints kept alive, the
fail-safe that watches the inputs, and the alerts. `nature_layer(hub)` finds or makes it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
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
        self._ticker: asyncio.Task[None] | None = None
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
        if self._ticker is not None or not self.controller:
            return
        self._ticker = self.hub.create_task(self._tick_forever(), name="natures: keep-alive and fail-safe")
        self.hub.on_stop(self._stop)

    async def _stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def _tick_forever(self) -> None:
        clock = self.hub.clock
        next_keepalive = clock.monotonic() + self.settings.keepalive_s
        while True:
            period = min(1.0, max(self.settings.after_s / 5.0, 0.1))
            await clock.sleep(period)
            if self.engine_down:
                continue
            if self.settings.enabled:
                await self.failsafe.check()
            if clock.monotonic() >= next_keepalive:
                next_keepalive = clock.monotonic() + self.settings.keepalive_s
                await self.keep_alive()
                self.book.clear_old_conflicts()

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

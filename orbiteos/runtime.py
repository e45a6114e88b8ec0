"""Bringing a loaded configuration to life: build the hub, set up integrations, run, stop.

Shared by `orbiteos run` (real clock, until a signal) and the simulator (virtual clock).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from orbiteos.clock import Clock, RealClock
from orbiteos.config import LoadedConfig
from orbiteos.core import Hub
from orbiteos.loader import SetupResult, setup_integrations

_LOGGER = logging.getLogger(__name__)

# hub.data key under which the LoadedConfig is kept, for integrations that want the whole picture.
DATA_CONFIG = "config"
# A stop that takes longer than this (a stuck stop callback) is abandoned so the process can exit.
STOP_TIMEOUT = 30.0
# While a hub runs, the objects frozen out of the garbage collector are renewed this often (seconds).
REFREEZE_INTERVAL = 3600.0


def freeze_startup_objects() -> int:
    """Collect once, then move every surviving object out of the cyclic collector's reach.

    What exists after start-up (modules, compiled templates, automations, schemas, connections)
    lives as long as the process. Left in the oldest generation, every full collection walks all
    of it: with about 115,000 tracked objects (1,000 OCPP charge points) a full collection paused
    the event loop for 100-240 ms. Frozen, a full collection walks only what was made since.
    Undone by `thaw_startup_objects` when the hub stops. Returns the number of objects frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw_startup_objects() -> None:
    """Give the frozen objects back to the collector (after a stop, so a stopped hub can be freed)."""
    gc.unfreeze()


def refreeze() -> int:
    """Thaw, collect, freeze again: frozen garbage is freed, objects made since are frozen too."""
    thaw_startup_objects()
    return freeze_startup_objects()


async def _keep_frozen(hub: Hub, interval: float) -> None:
    """Devices that connect after start-up (1,000 OCPP charge points) and reloaded automations make
    long-lived objects the start-up freeze did not see, and what was frozen and later dropped is
    never freed while frozen. One full collection an interval settles both."""
    while True:
        await hub.clock.sleep(interval)
        _LOGGER.debug("%d objects frozen out of the garbage collector", refreeze())


def skipped_blocks(loaded: LoadedConfig) -> list[str]:
    """Integrations configured but not set up because their block did not validate (a partial start)."""
    from orbiteos.config import CORE_DOMAINS, merge_split_keys
    from orbiteos.loader import CORE_KEYS

    ignored = {*CORE_DOMAINS, *CORE_KEYS, "default_config", "logger"}
    return [str(d) for d in merge_split_keys(loaded.raw) if d not in loaded.blocks and d not in ignored]


async def start_hub(loaded: LoadedConfig, clock: Clock | None = None, freeze: bool = True) -> Hub:
    """A started hub with every configured integration set up (failures are logged, not raised).

    With `freeze`, the objects alive after start-up are frozen (see `freeze_startup_objects`).
    """
    hub = Hub(clock or RealClock(), loaded.site)
    hub.data[DATA_CONFIG] = loaded
    skipped = skipped_blocks(loaded)
    for domain in skipped:
        _LOGGER.error("%s: configuration invalid, the integration is skipped (see the errors above)", domain)
    result: SetupResult = await setup_integrations(hub, loaded.blocks)
    await hub.start()
    if freeze:
        _LOGGER.debug("%d objects alive after start-up frozen out of the garbage collector", freeze_startup_objects())
    failed = ", ".join(f"{domain} ({reason})" for domain, reason in result.failed.items())
    _LOGGER.info(
        "site %r started: %d integration(s) set up%s",
        loaded.site.name,
        len(result.loaded),
        f"; failed: {failed}" if failed else "",
    )
    if skipped:
        _LOGGER.warning("site %r started without: %s", loaded.site.name, ", ".join(skipped))
    return hub


async def run_hub(
    loaded: LoadedConfig,
    clock: Clock | None = None,
    stop_event: asyncio.Event | None = None,
    on_started: Callable[[Hub], Awaitable[Any] | Any] | None = None,
    stop_timeout: float = STOP_TIMEOUT,
    refreeze_interval: float | None = REFREEZE_INTERVAL,
) -> Hub:
    """Start a hub, call `on_started(hub)`, wait for `stop_event` (or cancellation), then stop it cleanly.

    The stop is bounded by `stop_timeout` seconds on the loop's clock; past that it is abandoned and logged.
    Objects alive after start-up are frozen out of the garbage collector while the hub runs, renewed every
    `refreeze_interval` seconds (None: never), and thawed when it has stopped.
    """
    hub = await start_hub(loaded, clock)
    if refreeze_interval:
        hub.create_task(_keep_frozen(hub, refreeze_interval), name="gc refreeze")
    try:
        if on_started is not None:
            result = on_started(hub)
            if inspect.isawaitable(result):
                await result
        await (stop_event or asyncio.Event()).wait()
    finally:
        try:
            async with asyncio.timeout(stop_timeout):
                await hub.stop()
        except TimeoutError:
            _LOGGER.error("site %r did not stop within %.0f s; giving up on the rest", loaded.site.name, stop_timeout)
        else:
            _LOGGER.info("site %r stopped", loaded.site.name)
        finally:
            thaw_startup_objects()
    return hub

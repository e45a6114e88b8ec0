"""`forecast:` price, PV and load forecasts over a rolling horizon, as sensors with a `forecast`
attribute (`[{start, end, value}, ...]`) and `forecast_updated` events the recorder writes to the
`forecasts` table. See docs/optimiser.md."""

from __future__ import annotations

import logging
from typing import Any

from orbiteos.core import Hub
from orbiteos.forecast.config import CONFIG_SCHEMA, sensor_ids
from orbiteos.forecast.source import ForecastSources

DOMAIN = "forecast"
DEPENDENCIES = ("sim", "modbus", "mqtt", "ocpp", "recorder")
_LOGGER = logging.getLogger(__name__)

__all__ = ["CONFIG_SCHEMA", "DOMAIN", "async_setup", "entity_ids"]


def entity_ids(config: dict[str, Any]) -> list[str]:
    """What this block provides, for `orbiteos check`'s reference warnings."""
    return sensor_ids(CONFIG_SCHEMA(config))


async def async_setup(hub: Hub, config: dict[str, Any] | None) -> None:
    config = CONFIG_SCHEMA(config or {})
    sources = ForecastSources(hub, config)
    hub.data[DOMAIN] = sources
    await sources.learn_history()
    sources.start()
    hub.on_stop(sources.stop)
    _LOGGER.info("forecast: %s over %s in %s slots", ", ".join(sources.sensor_ids), config["horizon"], config["slot"])

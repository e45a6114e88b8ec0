"""`failsafe:` the site's fail-safe settings (docs/failsafe.md). Without the block the defaults
apply: every `meter.*` entity is an input, 10 s before acting, batteries to auto, chargers to 6 A."""

from __future__ import annotations

from typing import Any

from orbiteos.core import Hub
from orbiteos.natures import nature_layer
from orbiteos.natures.settings import SCHEMA, FailsafeSettings

DOMAIN = "failsafe"
CONFIG_SCHEMA = SCHEMA



def entity_ids(config: Any) -> list[str]:
    """No entities of its own (for `orbiteos check`)."""
    return []

async def async_setup(hub: Hub, config: dict[str, Any] | None) -> None:
    nature_layer(hub).configure(FailsafeSettings.from_config(config))

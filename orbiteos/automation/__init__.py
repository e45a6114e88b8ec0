"""Automations in the Home Assistant dialect (the integration itself lands next).

Public so far: `orbiteos.automation.trigger.async_attach_triggers` and the trigger platform contract.
"""

from __future__ import annotations

DOMAIN = "automation"

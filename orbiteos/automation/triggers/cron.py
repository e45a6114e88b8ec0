"""`cron` trigger (not in Home Assistant): a croniter expression evaluated in the site's time zone.

    - trigger: cron
      expression: "*/15 6-22 * * 1-5"   # every quarter hour, 06:00-22:45, Monday to Friday
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import voluptuous as vol
from croniter import croniter

from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.automation.triggers.schedule import track_moments
from orbiteos.core import Context, Hub, Unsubscribe


def _expression(value: Any) -> str:
    text = str(value).strip()
    if not croniter.is_valid(text):
        raise vol.Invalid(f"expected a cron expression like '*/15 * * * *', found {value!r}")
    return text


TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["cron"]),
        vol.Required("expression"): _expression,
    }
)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    expression = config["expression"]
    trigger_data = trigger_info["trigger_data"]

    def next_after(after: datetime) -> datetime:
        local = after.astimezone(hub.config.tzinfo)
        moment: datetime = croniter(expression, local).get_next(datetime)
        return moment

    def on_moment(moment: datetime) -> None:
        action(
            {"trigger": {**trigger_data, "platform": "cron", "now": moment, "expression": expression,
                         "description": f"cron {expression}"}},
            Context(),
        )

    status = trigger_info.get("status")
    if status is None:
        return track_moments(hub, next_after, on_moment)
    status.watching = f"cron {expression}"
    return track_moments(hub, next_after, on_moment, status.scheduled("cron"))

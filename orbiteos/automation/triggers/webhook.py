"""`webhook` trigger: a request to `/api/webhook/<webhook_id>` (delivered by the HTTP integration)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos import validation as cv
from orbiteos import webhook
from orbiteos.automation.trigger import TRIGGER_BASE, TriggerAction, TriggerInfo
from orbiteos.core import Context, Hub, Unsubscribe


def _methods(value: Any) -> list[str]:
    methods = [str(m).upper() for m in cv.ensure_list(value)]
    unsupported = sorted(set(methods) - webhook.SUPPORTED_METHODS)
    if unsupported:
        raise vol.Invalid(
            f"expected methods among {', '.join(sorted(webhook.SUPPORTED_METHODS))}, found {', '.join(unsupported)}"
        )
    return methods


TRIGGER_SCHEMA = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("platform"): vol.In(["webhook"]),
        vol.Required("webhook_id"): cv.string,
        vol.Optional("allowed_methods"): _methods,
        vol.Optional("local_only", default=True): cv.boolean,
        # OrbitEOS: deliveries must be signed with this secret (HMAC-SHA256 of the body, see webhook.py).
        vol.Optional("secret"): vol.All(cv.string, vol.Length(min=16)),
        # OrbitEOS: deliveries a minute this webhook takes (more are answered 429).
        vol.Optional("rate_limit", default=webhook.DEFAULT_RATE_LIMIT): vol.All(vol.Coerce(int), vol.Range(min=1)),
    }
)


async def async_attach(
    hub: Hub, config: dict[str, Any], action: TriggerAction, trigger_info: TriggerInfo
) -> Unsubscribe:
    webhook_id = config["webhook_id"]
    trigger_data = trigger_info["trigger_data"]

    def handle(hub: Hub, webhook_id: str, request: webhook.WebhookRequest) -> None:
        action(
            {
                "trigger": {
                    **trigger_data,
                    "platform": "webhook",
                    "webhook_id": webhook_id,
                    "json": request.json,
                    "data": dict(request.data),
                    "query": dict(request.query),
                    "method": request.method,
                    "description": "webhook",
                }
            },
            Context(user_id=request.user_id),
        )

    methods = config.get("allowed_methods")
    return webhook.register(
        hub,
        webhook_id,
        handle,
        allowed_methods=set(methods) if methods else None,
        local_only=config["local_only"],
        name=trigger_info["name"],
        secret=config.get("secret"),
        rate_limit=config.get("rate_limit", webhook.DEFAULT_RATE_LIMIT),
    )

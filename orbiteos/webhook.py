"""Webhook registry: the automation `webhook` trigger registers here, the HTTP API delivers here.

The registry lives in the hub, so a webhook trigger can be set up whether or not the `http`
integration is configured; without it nothing ever arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orbiteos.core import Hub, Unsubscribe

_LOGGER = logging.getLogger(__name__)
DATA_KEY = "webhook"
DEFAULT_METHODS = frozenset({"POST", "PUT"})
SUPPORTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT"})


@dataclass(frozen=True)
class WebhookRequest:
    """What arrived: the body parsed as JSON and/or form data, the query string, and who sent it."""

    method: str
    json: Any = None
    data: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    remote: str | None = None
    user_id: str | None = None


WebhookHandler = Callable[[Hub, str, WebhookRequest], Awaitable[Any] | Any]


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    handler: WebhookHandler
    allowed_methods: frozenset[str]
    local_only: bool
    name: str


def _registry(hub: Hub) -> dict[str, Webhook]:
    return hub.data.setdefault(DATA_KEY, {})


def register(
    hub: Hub,
    webhook_id: str,
    handler: WebhookHandler,
    *,
    allowed_methods: frozenset[str] | set[str] | None = None,
    local_only: bool = True,
    name: str = "",
) -> Unsubscribe:
    """Register a webhook id; a second registration of the same id is an error."""
    registry = _registry(hub)
    if webhook_id in registry:
        raise ValueError(f"webhook id {webhook_id!r} is already registered by {registry[webhook_id].name}")
    methods = frozenset(m.upper() for m in (allowed_methods or DEFAULT_METHODS))
    unsupported = methods - SUPPORTED_METHODS
    if unsupported:
        raise ValueError(f"webhook {webhook_id}: unsupported methods {sorted(unsupported)}")
    registry[webhook_id] = Webhook(webhook_id, handler, methods, local_only, name)

    def unregister() -> None:
        if registry.get(webhook_id) is not None and registry[webhook_id].handler is handler:
            del registry[webhook_id]

    return unregister


def get(hub: Hub, webhook_id: str) -> Webhook | None:
    return _registry(hub).get(webhook_id)

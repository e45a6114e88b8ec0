"""Webhook registry: the automation `webhook` trigger registers here, the HTTP API delivers here.

The registry lives in the hub, so a webhook trigger can be set up whether or not the `http`
integration is configured; without it nothing ever arrives.

A webhook may carry a `secret`: a delivery must then sign its body, HMAC-SHA256 with the secret as
the key, hex, in `X-Webhook-Signature-256: sha256=<hex>` (GitHub's `X-Hub-Signature-256` is read too),
compared in constant time. Each webhook takes at most `rate_limit` deliveries a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orbiteos.core import Hub, Unsubscribe
from orbiteos.limits import FixedWindow

_LOGGER = logging.getLogger(__name__)
DATA_KEY = "webhook"
DEFAULT_METHODS = frozenset({"POST", "PUT"})
DEFAULT_RATE_LIMIT = 120  # deliveries a minute
SIGNATURE_HEADERS = ("X-Webhook-Signature-256", "X-Hub-Signature-256")
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
    secret: str | None = None
    rate_limit: int = DEFAULT_RATE_LIMIT
    window: FixedWindow = field(default_factory=FixedWindow, compare=False)

    def admit(self, now: float) -> bool:
        """Count a delivery at `now` (seconds, monotonic); False past the minute's `rate_limit`."""
        return self.window.add(now, 60.0) <= self.rate_limit

    def signed(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether `body` carries this webhook's signature (always, when it has no secret)."""
        if self.secret is None:
            return True
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        for name in SIGNATURE_HEADERS:
            given = headers.get(name)
            if given is not None and hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
                return True
        return False


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
    secret: str | None = None,
    rate_limit: int = DEFAULT_RATE_LIMIT,
) -> Unsubscribe:
    """Register a webhook id; a second registration of the same id is an error."""
    registry = _registry(hub)
    if webhook_id in registry:
        raise ValueError(f"webhook id {webhook_id!r} is already registered by {registry[webhook_id].name}")
    methods = frozenset(m.upper() for m in (allowed_methods or DEFAULT_METHODS))
    unsupported = methods - SUPPORTED_METHODS
    if unsupported:
        raise ValueError(f"webhook {webhook_id}: unsupported methods {sorted(unsupported)}")
    registry[webhook_id] = Webhook(webhook_id, handler, methods, local_only, name, secret, rate_limit)

    def unregister() -> None:
        if registry.get(webhook_id) is not None and registry[webhook_id].handler is handler:
            del registry[webhook_id]

    return unregister


def get(hub: Hub, webhook_id: str) -> Webhook | None:
    return _registry(hub).get(webhook_id)

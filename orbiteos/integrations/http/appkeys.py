"""Typed keys for what the web application holds (aiohttp `AppKey`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from orbiteos.core import Hub
from orbiteos.integrations.http.audit import AuditLog
from orbiteos.integrations.http.auth import TokenStore
from orbiteos.integrations.http.state_json import StateJsonCache


@dataclass(frozen=True)
class HttpSettings:
    """The validated `http:` block."""

    server_host: str | list[str] = "0.0.0.0"
    server_port: int = 8123
    ssl_certificate: Path | None = None
    ssl_key: Path | None = None
    cors_allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    websocket_queue: int = 2048
    # A connection with no request in progress for this long is closed (idle, or slow headers).
    idle_timeout: float = 15.0
    # Connections on which no request has shown a valid token, at most; the oldest idle go first.
    max_unauthenticated: int = 100


HUB = web.AppKey("orbiteos_hub", Hub)
TOKENS = web.AppKey("orbiteos_tokens", TokenStore)
AUDIT = web.AppKey("orbiteos_audit", AuditLog)
SETTINGS = web.AppKey("orbiteos_http_settings", HttpSettings)
JSON_CACHE = web.AppKey("orbiteos_json_cache", StateJsonCache)

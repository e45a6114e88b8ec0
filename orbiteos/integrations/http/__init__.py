"""The `http` integration: REST API, websocket, webhooks, tokens with roles, and the web UI.

    http:
      server_port: 8123
      ssl_certificate: /etc/orbiteos/cert.pem   # optional: both for TLS
      ssl_key: /etc/orbiteos/key.pem
      cors_allowed_origins: [https://dashboard.example]
      max_body_size: 1MB
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import voluptuous as vol

from orbiteos.core import Hub
from orbiteos.integrations.http.appkeys import HttpSettings
from orbiteos.integrations.http.auth import TokenStore

_LOGGER = logging.getLogger(__name__)

DOMAIN = "http"
# A live server makes no sense in `orbiteos simulate`, which runs a day in seconds.
LIVE_ONLY = True
DATA_SERVER = "http"

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kKmM]i?[bB]?|[bB])?\s*$")


def byte_size(value: Any) -> int:
    """`1048576`, `512KB`, `1MB` (powers of 1024) -> bytes."""
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a size in bytes like 1048576 or 1MB, found {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE_RE.match(str(value))
        if not match:
            raise vol.Invalid(f"expected a size in bytes like 1048576 or 1MB, found {value!r}")
        unit = (match.group(2) or "b")[0].lower()
        size = int(match.group(1)) * {"b": 1, "k": 1024, "m": 1024 * 1024}[unit]
    if size < 1024:
        raise vol.Invalid(f"expected a size of at least 1KB, found {value!r}")
    return size


def _tcp_port(value: Any) -> int:
    number = vol.Coerce(int)(value)
    if not 0 <= number <= 65535:  # 0: let the system pick (tests)
        raise vol.Invalid(f"expected a TCP port 0-65535, found {value!r}")
    return number


def _tls_pair(config: dict[str, Any]) -> dict[str, Any]:
    if config.get("ssl_key") and not config.get("ssl_certificate"):
        raise vol.Invalid("ssl_key needs ssl_certificate as well", path=["ssl_key"])
    return config


CONFIG_SCHEMA = vol.Schema(
    vol.All(
        lambda value: {} if value is None else value,
        {
            vol.Optional("server_host", default="0.0.0.0"): vol.Any(str, [str]),
            vol.Optional("server_port", default=8123): _tcp_port,
            vol.Optional("ssl_certificate"): str,
            vol.Optional("ssl_key"): str,
            vol.Optional("cors_allowed_origins", default=list): vol.All(
                lambda v: [v] if isinstance(v, str) else v, [str]
            ),
            vol.Optional("max_body_size", default=1024 * 1024): byte_size,
            vol.Optional("websocket_queue", default=2048): vol.All(vol.Coerce(int), vol.Range(min=16)),
            vol.Optional("idle_timeout", default=15.0): vol.All(vol.Coerce(float), vol.Range(min=0.1)),
            vol.Optional("max_unauthenticated", default=100): vol.All(vol.Coerce(int), vol.Range(min=1)),
        },
        _tls_pair,
    )
)


def settings_from_config(config: dict[str, Any], config_dir: Path | None) -> HttpSettings:
    """Resolve relative certificate paths against the configuration directory and check they exist."""

    def path(key: str) -> Path | None:
        if not config.get(key):
            return None
        found = Path(config[key])
        if not found.is_absolute() and config_dir is not None:
            found = config_dir / found
        if not found.is_file():
            raise ValueError(f"http: {key}: no such file {found}")
        return found

    return HttpSettings(
        server_host=config["server_host"],
        server_port=config["server_port"],
        ssl_certificate=path("ssl_certificate"),
        ssl_key=path("ssl_key"),
        cors_allowed_origins=tuple(config["cors_allowed_origins"]),
        max_body_bytes=config["max_body_size"],
        websocket_queue=config["websocket_queue"],
        idle_timeout=config["idle_timeout"],
        max_unauthenticated=config["max_unauthenticated"],
    )



def entity_ids(config: Any) -> list[str]:
    """No entities of its own (for `orbiteos check`)."""
    return []

async def async_setup(hub: Hub, config: dict[str, Any] | None) -> None:
    """Start the web server; the hub stops it."""
    from orbiteos.integrations.http.app import HttpServer

    validated = CONFIG_SCHEMA(config)
    settings = settings_from_config(validated, hub.config.config_dir)
    tokens = TokenStore.for_config_dir(hub.config.config_dir, hub.config.storage_override)
    if tokens.path is None:
        _LOGGER.warning("http: no configuration directory, so tokens are kept in memory only")
    elif not tokens.records():
        storage = f" --storage {hub.config.storage_override}" if hub.config.storage_override else ""
        _LOGGER.warning("http: no tokens yet; make one with `orbiteos token create --name NAME --role admin -c %s%s`",
                        hub.config.config_dir, storage)
    server = HttpServer(hub, settings, tokens)
    await server.start()
    hub.data[DATA_SERVER] = server
    hub.on_stop(server.stop)

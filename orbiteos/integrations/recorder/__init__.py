"""The `recorder:` integration: every state change, event, service call and automation run into
PostgreSQL/TimescaleDB, batched with COPY, off the automation path, and never a row lost.

    recorder:
      db_url: postgresql://orbiteos@db.example/orbiteos   # optional: without it, an embedded server
      commit_interval: 1          # seconds between writes when the queue is short
      purge_keep_days: 90
      timescaledb: auto           # auto | on | off: TimescaleDB where installed (see docs/recorder.md)
      include: {domains: [...], entities: [...], entity_globs: [...]}
      exclude: {domains: [...], entities: [...], entity_globs: [...], event_types: [...]}

See docs/recorder.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import voluptuous as vol

from orbiteos import validation as v
from orbiteos.core import Hub
from orbiteos.integrations.recorder.embedded import EmbeddedServer
from orbiteos.integrations.recorder.filters import EntityFilter
from orbiteos.integrations.recorder.history import DATA_KEY, get_recorder, states_between
from orbiteos.integrations.recorder.recorder import Recorder, RecorderSettings

__all__ = ["DOMAIN", "CONFIG_SCHEMA", "LIVE_ONLY", "async_setup", "get_recorder", "states_between"]

_LOGGER = logging.getLogger(__name__)

DOMAIN = "recorder"
# Not set up by `orbiteos simulate`: a simulated day must not land in the site's history.
LIVE_ONLY = True


def _db_url(value: Any) -> str:
    url = v.string(value).strip()
    if not url.startswith(("postgresql://", "postgres://")):
        raise vol.Invalid(f"expected a PostgreSQL URL like 'postgresql://user@host:5432/db', found {v.found(value)}")
    return url


def _seconds(value: Any) -> float:
    seconds = v.positive_time_period(value).total_seconds()
    if seconds <= 0:
        raise vol.Invalid(f"expected a duration > 0, found {v.found(value)}")
    return seconds


def _timescaledb(value: Any) -> str:
    # YAML 1.1 reads a bare on/off as a boolean.
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(v.one_of("auto", "on", "off")(value))


def _names(value: Any) -> list[str]:
    return [v.string(item).strip().lower() for item in v.ensure_list(value)]


def _entity_ids(value: Any) -> list[str]:
    return v.entity_ids(value) if value else []


_FILTER = {
    vol.Optional("domains", default=[]): _names,
    vol.Optional("entities", default=[]): _entity_ids,
    vol.Optional("entity_globs", default=[]): _names,
}

CONFIG_SCHEMA = vol.All(
    lambda value: {} if value is None else value,
    vol.Schema({
        vol.Optional("db_url"): _db_url,
        vol.Optional("commit_interval", default=1.0): _seconds,
        vol.Optional("purge_keep_days", default=90): v.positive_int,
        vol.Optional("timescaledb", default="auto"): _timescaledb,
        vol.Optional("max_queue", default=50_000): vol.All(v.positive_int, vol.Range(min=100)),
        vol.Optional("journal_dir"): v.string,
        vol.Optional("journal_max_mb", default=1024): vol.All(v.positive_int, vol.Range(min=1)),
        vol.Optional("include", default={}): vol.Schema(_FILTER),
        vol.Optional("exclude", default={}): vol.Schema({
            **_FILTER, vol.Optional("event_types", default=[]): _names,
        }),
        vol.Optional("price_entities", default=[]): _entity_ids,
    }),
)



def entity_ids(config: Any) -> list[str]:
    """No entities of its own (for `orbiteos check`)."""
    return []

async def async_setup(hub: Hub, config: dict[str, Any]) -> None:
    config = CONFIG_SCHEMA(config)
    config_dir = hub.config.config_dir
    storage = hub.config.storage_dir
    if "journal_dir" in config:
        journal_dir = Path(config["journal_dir"])
        if not journal_dir.is_absolute() and config_dir is not None:
            journal_dir = Path(config_dir) / journal_dir
    elif storage is not None:
        journal_dir = storage / "recorder-journal"
    else:
        raise ValueError("recorder: no configuration directory to keep the journal in; set recorder.journal_dir")

    on_close = None
    if "db_url" in config:
        url = config["db_url"]

        async def dsn() -> str:
            return str(url)
    else:
        if storage is None:
            raise ValueError("recorder: no db_url and no configuration directory for the embedded PostgreSQL")
        embedded = EmbeddedServer(storage, timescaledb=config["timescaledb"])
        dsn = embedded.async_ensure_running
        on_close = embedded.async_stop

    settings = RecorderSettings(
        journal_dir=journal_dir,
        commit_interval=config["commit_interval"],
        purge_keep_days=config["purge_keep_days"],
        max_queue=config["max_queue"],
        entity_filter=EntityFilter.from_config(config["include"], config["exclude"]),
        price_entities=tuple(config["price_entities"]),
        journal_max_bytes=config["journal_max_mb"] << 20,
        timescaledb=config["timescaledb"],
    )
    recorder = Recorder(hub, settings, dsn, on_close=on_close)
    hub.data[DATA_KEY] = recorder
    recorder.start()
    hub.on_stop(recorder.stop)
    where = _without_password(config["db_url"]) if "db_url" in config else f"the embedded PostgreSQL in {storage}"
    _LOGGER.info("recorder: writing to %s", where)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))

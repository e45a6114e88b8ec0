"""The HTTP audit trail: who did what through the API, and every refused token, in the log.

Service calls (and so automation toggles, runs and reloads, which are services) carry
`Context(user_id=<token name>)`; the recorder's audit_log stores them from the `call_service`
events. This module adds the log lines, including the auth failures the recorder never sees,
and keeps the most recent entries for `GET /api/audit`.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from orbiteos.core import Hub
from orbiteos.log_guard import printable

_LOGGER = logging.getLogger(__name__)
RECENT_ENTRIES = 500


@dataclass(frozen=True)
class AuditEntry:
    time: str
    kind: str  # "auth_failed", "forbidden", "service", "state", "event", "token", "webhook"
    user: str | None
    remote: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditLog:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.recent: deque[AuditEntry] = deque(maxlen=RECENT_ENTRIES)

    def _add(self, kind: str, user: str | None, remote: str | None, detail: str, level: int) -> None:
        now: datetime = self._hub.clock.now()
        # Paths, ids and names come from outside: a newline in one must not forge an entry or a line.
        entry = AuditEntry(now.isoformat(), kind, _printable(user), _printable(remote), printable(detail))
        self.recent.append(entry)
        _LOGGER.log(level, "audit %s user=%s remote=%s %s", kind, entry.user or "-", entry.remote or "-", entry.detail)

    def auth_failed(self, remote: str | None, detail: str) -> None:
        self._add("auth_failed", None, remote, detail, logging.WARNING)

    def forbidden(self, user: str, remote: str | None, detail: str) -> None:
        self._add("forbidden", user, remote, detail, logging.WARNING)

    def action(self, kind: str, user: str | None, remote: str | None, detail: str) -> None:
        self._add(kind, user, remote, detail, logging.INFO)

    def request_action(self, request: web.Request, kind: str, user: str | None, detail: str) -> None:
        self.action(kind, user, request.remote, detail)


def _printable(value: str | None) -> str | None:
    return None if value is None else printable(value)

"""Long-lived access tokens with roles, stored hashed, and the middleware that checks them.

Tokens live in `auth_tokens.json` in the site's storage (`<config_dir>/.storage` or `--storage`);
only a SHA-256 hash of each token is kept (tokens are 256 random bits, so a fast hash is enough).
The file is re-read when it changes, so `orbiteos token revoke` takes effect on a running server
at the next request.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from orbiteos.integrations.http.audit import AuditLog
from orbiteos.integrations.http.errors import Handler, error_response
from orbiteos.storage import storage_dir

_LOGGER = logging.getLogger(__name__)

TOKEN_PREFIX = "oeos_"
STORAGE_FILE = "auth_tokens.json"  # in the site's storage (orbiteos/storage.py)


class Role(enum.IntEnum):
    """Each role may do everything the roles below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}: expected viewer, operator or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class TokenRecord:
    name: str
    role: str
    token_hash: str
    created: str

    @property
    def role_level(self) -> Role:
        return Role.parse(self.role)

    def public(self) -> dict[str, str]:
        """What may be shown: everything but the hash."""
        return {"name": self.name, "role": self.role, "created": self.created}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file. With `path=None` tokens live in memory only (tests, embedded use)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._by_hash: dict[str, TokenRecord] = {}
        self._stamp: tuple[int, int] | None = None
        self._load()

    @classmethod
    def for_config_dir(cls, config_dir: Path | str | None, storage: Path | None = None) -> TokenStore:
        """The tokens in `storage` (`--storage`), else in `<config_dir>/.storage`."""
        where = storage_dir(Path(config_dir) if config_dir is not None else None, storage)
        return cls(where / STORAGE_FILE if where is not None else None)

    # --- reading ---------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        stamp = self._file_stamp()
        if self.path is None or stamp is None:
            self._by_hash = {} if self.path is not None else self._by_hash
            self._stamp = None
            return
        try:
            raw = json.loads(self.path.read_text())
            records = [TokenRecord(**item) for item in raw.get("tokens", [])]
        except (OSError, ValueError, TypeError) as err:
            # A damaged file must not lock everyone out silently: say where and keep what we had.
            _LOGGER.error("token file %s unreadable, keeping the previous tokens: %s", self.path, err)
            self._stamp = stamp
            return
        self._by_hash = {r.token_hash: r for r in records}
        self._stamp = stamp

    def _refresh(self) -> None:
        if self.path is not None and self._file_stamp() != self._stamp:
            self._load()

    def records(self) -> list[TokenRecord]:
        self._refresh()
        return sorted(self._by_hash.values(), key=lambda r: r.name)

    def lookup(self, token: str) -> TokenRecord | None:
        """The record for a presented token, or None."""
        self._refresh()
        return self._by_hash.get(hash_token(token))

    def is_active(self, record: TokenRecord) -> bool:
        """Whether a token that was accepted earlier is still there (not revoked since)."""
        self._refresh()
        return record.token_hash in self._by_hash

    # --- writing ---------------------------------------------------------
    def create(self, name: str, role: str | Role) -> str:
        """Make a token; returns it in clear text (the only time it is ever shown)."""
        self._refresh()
        name = name.strip()
        if not name:
            raise ValueError("a token needs a name")
        level = role if isinstance(role, Role) else Role.parse(role)
        if any(r.name == name for r in self._by_hash.values()):
            raise ValueError(f"a token named {name!r} already exists; revoke it first or pick another name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).replace(microsecond=0).isoformat()  # wall time of an admin action
        record = TokenRecord(name=name, role=level.label, token_hash=hash_token(token), created=created)
        self._by_hash[record.token_hash] = record
        self._save()
        return token

    def revoke(self, name: str) -> bool:
        self._refresh()
        found = [h for h, r in self._by_hash.items() if r.name == name]
        for token_hash in found:
            del self._by_hash[token_hash]
        if found:
            self._save()
        return bool(found)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": 1, "tokens": [asdict(r) for r in sorted(self._by_hash.values(), key=lambda r: r.name)]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".auth_tokens.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = self._file_stamp()


# --- request side ----------------------------------------------------------

REQUIRED_ROLE = "orbiteos_required_role"
TOKEN_KEY = web.RequestKey("orbiteos_token", TokenRecord)


def requires(role: Role) -> Callable[[Handler], Handler]:
    """Mark a view with the least role that may use it (the middleware enforces it)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, REQUIRED_ROLE, role)
        return handler

    return mark


def public(handler: Handler) -> Handler:
    """Mark a view that needs no token (webhooks, the websocket which authenticates in-band)."""
    setattr(handler, REQUIRED_ROLE, None)
    return handler


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def token_of(request: web.Request) -> TokenRecord:
    """The token record of an authenticated request."""
    return request[TOKEN_KEY]


def context_user(request: web.Request) -> str | None:
    record = request.get(TOKEN_KEY)
    return record.name if record is not None else None


def required_role_of(request: web.Request) -> tuple[bool, Role | None]:
    """(marked, role): whether the matched view carries a mark, and the role it needs (None: public)."""
    handler = getattr(request.match_info.route, "handler", None)
    if handler is None or not hasattr(handler, REQUIRED_ROLE):
        return False, None
    return True, getattr(handler, REQUIRED_ROLE)


def has_role(record: TokenRecord, role: Role) -> bool:
    try:
        return record.role_level >= role
    except ValueError:
        return False


def auth_middleware(store: TokenStore, audit: AuditLog) -> Callable[[web.Request, Handler], Any]:
    """401 without a valid Bearer token, 403 when its role is below the view's.

    A view under /api/ that carries no mark needs an admin token: forgetting a mark fails closed.
    A path under /api/ that matches no view is a 401 without a valid token, so paths cannot be probed.
    """

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return await handler(request)
        if request.match_info.http_exception is not None:
            # No route (404) or no such method (405): under /api/ only a valid token learns which.
            if request.path.startswith("/api/") and store.lookup(bearer_token(request) or "") is None:
                audit.auth_failed(request.remote, f"{request.method} {request.path}: no valid token")
                return _unauthorized("missing or invalid token: send 'Authorization: Bearer <token>'")
            return await handler(request)
        marked, required = required_role_of(request)
        if (marked and required is None) or (not marked and not request.path.startswith("/api/")):
            return await handler(request)
        role = required if required is not None else Role.ADMIN
        token = bearer_token(request)
        if token is None:
            audit.auth_failed(request.remote, f"{request.method} {request.path}: no bearer token")
            return _unauthorized("missing token: send 'Authorization: Bearer <token>'")
        record = store.lookup(token)
        if record is None:
            audit.auth_failed(request.remote, f"{request.method} {request.path}: unknown or revoked token")
            return _unauthorized("invalid or revoked token")
        request[TOKEN_KEY] = record
        if not has_role(record, role):
            audit.forbidden(record.name, request.remote, f"{request.method} {request.path} needs {role.label}")
            return error_response(403, f"forbidden: this needs the {role.label} role, token '{record.name}' "
                                       f"has {record.role}")
        return await handler(request)

    return check_token


def _unauthorized(message: str) -> web.Response:
    response = error_response(401, message)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response

"""API errors as JSON: `{"message": ...}` with the right status, and never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, time
from typing import Any

import voluptuous as vol
from aiohttp import web

from orbiteos.errors import (
    DeviceUnavailable,
    InvalidStateError,
    ServiceNotFound,
    ServiceValidationError,
    TemplateError,
)

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An answer other than success, with a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=dumps(payload), status=status, content_type="application/json", headers=headers
    )


def _json_default(value: Any) -> Any:
    """States, datetimes, mappings and sets as JSON; anything else as its text."""
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(payload: Any) -> str:
    # Attributes and trigger variables may hold datetimes, States or other objects; never fail on them.
    return json.dumps(payload, default=_json_default, separators=(",", ":"))


def error_response(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status=status)


def describe_invalid(err: vol.Invalid, prefix: str = "") -> str:
    """`vol.Invalid` -> `field 'power_kw': expected float` (each error, with its path)."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    parts = []
    for error in errors:
        path = ".".join(str(p) for p in [*([prefix] if prefix else []), *error.path])
        parts.append(f"field '{path}': {error.msg}" if path else error.msg)
    return "; ".join(parts)


def domain_error(err: Exception) -> ApiError | None:
    """Map the engine's exceptions onto API answers."""
    if isinstance(err, ServiceNotFound):
        return ApiError(404, f"service {err.domain}.{err.service} not found")
    if isinstance(err, ServiceValidationError | TemplateError | InvalidStateError):
        return ApiError(400, str(err))
    if isinstance(err, vol.Invalid):
        return ApiError(400, describe_invalid(err))
    if isinstance(err, DeviceUnavailable):
        return ApiError(503, f"device unavailable: {err}")
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as JSON; unexpected ones are logged with their traceback, never sent."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.status, err.message)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        if err.status == 413:
            return error_response(413, f"request body too large: {err.text or ''}".strip())
        return error_response(err.status, err.reason)
    except Exception as err:
        mapped = domain_error(err)
        if mapped is not None:
            return error_response(mapped.status, mapped.message)
        _LOGGER.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal error; the details are in the server log")

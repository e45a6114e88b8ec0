"""Reading a JSON request body: malformed JSON and schema errors become 400s that say where."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import voluptuous as vol
from aiohttp import web

from orbiteos.integrations.http.errors import ApiError, describe_invalid

BODY_TIMEOUT = 30.0  # seconds a client may take to send a request body


async def read_json(request: web.Request, schema: vol.Schema | None = None, *, allow_empty: bool = True) -> Any:
    """The body as JSON (an empty body is `{}` when allowed), validated by `schema` if given."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            text = await request.text()
    except TimeoutError:
        raise ApiError(408, f"body: not received within {BODY_TIMEOUT:g} s") from None
    except UnicodeDecodeError as err:
        raise ApiError(400, f"body: expected UTF-8 JSON, got bytes that are not UTF-8 ({err.reason} at "
                            f"byte {err.start})") from None
    if not text.strip():
        if not allow_empty:
            raise ApiError(400, "expected a JSON body, got an empty one")
        value: Any = {}
    else:
        try:
            value = json.loads(text)
        except ValueError as err:
            raise ApiError(400, f"malformed JSON: {err}") from None
        except RecursionError:
            raise ApiError(400, "malformed JSON: nested too deeply") from None
    if schema is None:
        return value
    try:
        return schema(value)
    except vol.Invalid as err:
        raise ApiError(400, describe_invalid(err)) from None


def json_object(value: Any) -> dict[str, Any]:
    """A validator: the body must be a JSON object."""
    if not isinstance(value, dict):
        raise vol.Invalid(f"expected a JSON object, got {type(value).__name__}")
    return value

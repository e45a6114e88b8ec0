"""Answering a write only once the recorder holds it durably (committed, or fsync'd in its journal).

A 2xx to `POST /api/states/...`, `POST /api/events/...`, a service call or a webhook delivery means
what the request changed is recorded: a kill -9 right after the answer loses none of it. When the
recorder can keep it neither in its database nor in its journal within `DURABLE_TIMEOUT`, the
answer is a 503 saying so (the change itself is made). Without a recorder there is nothing to wait for.
"""

from __future__ import annotations

import asyncio

from orbiteos.core import Hub
from orbiteos.integrations.http.errors import ApiError
from orbiteos.integrations.recorder.history import get_recorder

DURABLE_TIMEOUT = 10.0


async def recorded(hub: Hub) -> None:
    """Return once everything changed so far is recorded durably; ApiError 503 when it cannot be."""
    recorder = get_recorder(hub)
    if recorder is None:
        return
    try:
        async with asyncio.timeout(DURABLE_TIMEOUT):
            durable = await recorder.durable()
    except TimeoutError:
        durable = False
    if not durable:
        raise ApiError(
            503,
            f"the change was made but is not recorded durably: the recorder could write it neither to its "
            f"database nor to its journal within {DURABLE_TIMEOUT:g} s (see the log and sensor.recorder_rows_dropped)",
        )

"""An error that retrying soon will not mend (here: TimescaleDB required where it cannot be used)
is logged once, retried rarely, shown by the history API, and no row is lost meanwhile."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from orbiteos.integrations.recorder.history import RecorderUnavailable, states_between
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder
from tests.servers.postgres import TestPostgres


@pytest.fixture
def postgres_kind() -> str:
    return "plain"  # TimescaleDB absent or not preloaded: `timescaledb: on` cannot be satisfied


async def test_a_schema_error_is_reported_once_shown_in_history_and_nothing_is_lost(
    recorder_hub: RecorderHub, postgres_url: str, postgres: TestPostgres, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="orbiteos.integrations.recorder")
    async with asyncio.timeout(60):
        async with recorder_hub(connected=False, timescaledb="on") as hub:
            recorder = running_recorder(hub)
            recorder.settings.problem_retry = 0.3
            recorder.settings.problem_retry_max = 0.3
            hub.states.set("sensor.kept", "1")
            for _ in range(30):  # a few attempts 0.3 s apart: each fails the same way
                await asyncio.sleep(0.05)
            assert recorder.problem.message is not None
            start = hub.clock.now() - timedelta(minutes=1)
            with pytest.raises(RecorderUnavailable, match="timescaledb is (required|installed but not preloaded)"):
                await states_between(hub, ["sensor.kept"], start, hub.clock.now())
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        outages = [r for r in caplog.records if "database unavailable" in r.getMessage()]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert "timescaledb" in errors[0].getMessage()
        assert outages == []  # not mistaken for a lost connection
        # Fixed (TimescaleDB no longer required): the journaled row is written.
        async with recorder_hub(timescaledb="auto") as hub:
            await running_recorder(hub).flush()
            rows = await fetch(postgres_url, "SELECT state FROM states WHERE entity_id = 'sensor.kept'")
    assert [r["state"] for r in rows] == ["1"]

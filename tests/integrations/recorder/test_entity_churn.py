"""Entities created and removed leave nothing behind in the recorder's per-entity caches."""

from __future__ import annotations

import asyncio

from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder

ENTITIES = 5_000


async def test_removed_entities_leave_no_per_entity_state(recorder_hub: RecorderHub, postgres_url: str) -> None:
    async with asyncio.timeout(60), recorder_hub() as hub:
        recorder = running_recorder(hub)
        hub.states.set("sensor.stays", 1)
        for round_ in range(3):
            for n in range(ENTITIES):
                hub.states.set(f"sensor.churn_{round_}_{n}", n, {"unit_of_measurement": "kW"})
            await recorder.flush()
            for n in range(ENTITIES):
                hub.states.remove(f"sensor.churn_{round_}_{n}")
            await recorder.flush()
        decisions = dict(recorder._filter.decisions)
        built = dict(recorder.backlog.builder._entities)
        rows = await fetch(postgres_url, "SELECT count(*) AS n FROM states WHERE entity_id LIKE 'sensor.churn_%'")
    assert rows[0]["n"] == 3 * ENTITIES * 2  # every state and every removal recorded
    assert set(decisions) <= {"sensor.stays"}
    assert set(built) <= {"sensor.stays"}

"""`forecast_updated` and `optimization_result` events fill the `forecasts` and `optimization_results` tables."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder


async def test_forecast_and_plan_events_become_rows_one_per_slot(recorder_hub: RecorderHub, postgres_url: str):
    now = datetime.now(UTC).replace(microsecond=0)
    slots = [now + timedelta(minutes=15 * i) for i in range(3)]
    async with asyncio.timeout(30), recorder_hub() as hub:
        hub.bus.fire("forecast_updated", {
            "entity_id": "sensor.pv_forecast", "source": "pv", "unit": "kW", "created": now.isoformat(),
            "forecast": [{"start": t.isoformat(), "end": (t + timedelta(minutes=15)).isoformat(), "value": v}
                         for t, v in zip(slots, (0.0, 12.5, 30.25), strict=True)],
        })
        hub.bus.fire("optimization_result", {
            "run_id": "run-1", "created": now.isoformat(), "objective": "cost", "cost": 42.5,
            "rows": [{"time": t.isoformat(), "entity_id": "battery.main", "setpoint_kw": v}
                     for t, v in zip(slots, (-20.0, 0.0, 15.0), strict=True)],
        })
        await running_recorder(hub).flush()
        forecasts = await fetch(postgres_url, "SELECT * FROM forecasts ORDER BY time")
        plans = await fetch(postgres_url, "SELECT * FROM optimization_results ORDER BY time")
        events = await fetch(postgres_url, "SELECT event_type, data FROM events WHERE event_type IN "
                                           "('forecast_updated', 'optimization_result') ORDER BY event_type")
    assert [(r["time"], r["created"], r["source"], r["entity_id"], r["value"], r["unit"]) for r in forecasts] == [
        (t, now, "pv", "sensor.pv_forecast", v, "kW") for t, v in zip(slots, (0.0, 12.5, 30.25), strict=True)
    ]
    assert [(r["time"], r["run_id"], r["entity_id"], r["setpoint_kw"], r["objective"], r["cost"]) for r in plans] == [
        (t, "run-1", "battery.main", v, "cost", 42.5) for t, v in zip(slots, (-20.0, 0.0, 15.0), strict=True)
    ]
    # The slots are in their tables; the events keep the rest.
    data = {r["event_type"]: json.loads(r["data"]) for r in events}
    assert "forecast" not in data["forecast_updated"] and data["forecast_updated"]["entity_id"] == "sensor.pv_forecast"
    assert "rows" not in data["optimization_result"] and data["optimization_result"]["run_id"] == "run-1"

"""The rollups tell the truth: energy is the time-weighted integral of the recorded power (each
value holds until the next sample), right for partial buckets and irregular samples, the same on
plain PostgreSQL and on TimescaleDB (before and after the continuous aggregates are refreshed)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from orbiteos.integrations.recorder.writer import apply_schema

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WIDTHS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
Samples = Sequence[tuple[datetime, float | None]]


def locf_kwh(samples: Samples, start: datetime, end: datetime) -> tuple[float, float]:
    """The exact integral (kWh) and the seconds with a value over [start, end): each sample holds until
    the next one (the last until `end`); None holds nothing."""
    kwh = seconds = 0.0
    for i, (time, power) in enumerate(samples):
        until = samples[i + 1][0] if i + 1 < len(samples) else end
        lo, hi = max(time, start), min(until, end)
        if power is None or hi <= lo:
            continue
        span = (hi - lo).total_seconds()
        kwh += power * span / 3600
        seconds += span
    return kwh, seconds


def expected_buckets(samples: Samples, width: timedelta, now: datetime) -> dict[datetime, tuple[float, float]]:
    """Per bucket that holds a sample: (energy kWh, time-weighted average kW) up to `now`."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    result = {}
    for bucket in sorted({epoch + (t - epoch) // width * width for t, _ in samples}):
        kwh, seconds = locf_kwh(samples, bucket, min(bucket + width, now))
        result[bucket] = (kwh, kwh * 3600 / seconds if seconds else None)
    return result


async def _insert_flows(conn: asyncpg.Connection, samples: Samples) -> None:
    await conn.executemany("INSERT INTO energy_flows VALUES ($1, 'pv.roof', 'pv', $2)", samples)


async def _refresh(conn: asyncpg.Connection) -> None:
    """On TimescaleDB, materialise every rollup (as the refresh policies do); nothing on plain PostgreSQL."""
    if not await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"):
        return
    for (name,) in await conn.fetch("SELECT view_name FROM timescaledb_information.continuous_aggregates"):
        await conn.execute(f"CALL refresh_continuous_aggregate('{name}', NULL, NULL)")


async def _flows(conn: asyncpg.Connection, width: str) -> dict[datetime, tuple[float, float]]:
    rows = await conn.fetch(
        f"SELECT bucket, energy_kwh, power_kw_avg FROM energy_flows_{width} WHERE entity_id = 'pv.roof' ORDER BY bucket"
    )
    return {r["bucket"]: (r["energy_kwh"], r["power_kw_avg"]) for r in rows}


def _assert_close(
    found: dict[datetime, tuple[float, float]], expected: dict[datetime, tuple[float, float]], rel: float = 1e-7
) -> None:
    assert found.keys() == expected.keys()
    for bucket, (kwh, avg) in expected.items():
        assert found[bucket][0] == pytest.approx(kwh, rel=rel, abs=1e-9), bucket
        assert found[bucket][1] == pytest.approx(avg, rel=rel, abs=1e-9), bucket


async def test_thirty_eight_seconds_at_fifty_kw_are_half_a_kwh_not_a_full_bucket(postgres_url: str, postgres_kind: str):
    samples: list[tuple[datetime, float | None]] = [(T0 + timedelta(seconds=s), 50.0) for s in range(38)]
    samples.append((T0 + timedelta(seconds=38), 0.0))  # the device stops
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(postgres_url)
        try:
            assert await apply_schema(conn) is (postgres_kind == "timescaledb")
            await _insert_flows(conn, samples)
            live = await _flows(conn, "5m")
            await _refresh(conn)
            refreshed = await _flows(conn, "5m")
        finally:
            await conn.close()
    for found in (live, refreshed):
        kwh, avg = found[T0]
        assert kwh == pytest.approx(50 * 38 / 3600)  # 0.528 kWh; the per-sample estimate said 4.17
        assert avg == pytest.approx(50 * 38 / 300)  # the stop's 0 kW holds for the rest of the bucket


async def test_irregular_samples_integrate_exactly_in_every_rollup_before_and_after_refresh(postgres_url: str):
    rng = random.Random(18)
    samples: list[tuple[datetime, float | None]] = []
    time = T0 - timedelta(hours=3)
    while time < T0 + timedelta(days=1, hours=2):
        # Mostly seconds apart, sometimes minutes or an hour: buckets with one sample, or none.
        time += timedelta(seconds=rng.choice([1, 3, 17, 95, 430, 3700]) + rng.random())
        samples.append((time, None if rng.random() < 0.03 else round(rng.uniform(0, 60), 3)))
    now = datetime.now(UTC)
    async with asyncio.timeout(120):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            await _insert_flows(conn, samples)
            live = {width: await _flows(conn, width) for width in WIDTHS}
            await _refresh(conn)
            refreshed = {width: await _flows(conn, width) for width in WIDTHS}
        finally:
            await conn.close()
    for width, step in WIDTHS.items():
        expected = expected_buckets(samples, step, now)
        _assert_close(live[width], expected)
        _assert_close(refreshed[width], expected)
    total = locf_kwh(samples, samples[0][0], samples[-1][0])[0]
    # The last sample holds until its day ends, so the daily sum is the total plus that tail.
    last_time, last_power = samples[-1]
    tail = (last_power or 0) * ((T0 + timedelta(days=1, hours=12) - last_time).total_seconds()) / 3600
    assert sum(kwh for kwh, _ in live["1d"].values()) == pytest.approx(total + tail, rel=1e-7)


async def test_the_bucket_in_progress_counts_up_to_now(postgres_url: str):
    now = datetime.now(UTC)
    into_bucket = now.timestamp() % WIDTHS["5m"].total_seconds()
    if into_bucket < 25:  # both samples must fall in the bucket in progress, not the one before
        await asyncio.sleep(25 - into_bucket)
        now = datetime.now(UTC)
    samples = [(now - timedelta(seconds=20), 10.0), (now - timedelta(seconds=10), 20.0)]
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            await conn.executemany(
                "INSERT INTO device_telemetry (time, device_id, nature, available, power_kw, soc) "
                "VALUES ($1, 'battery.main', 'battery', true, $2, 50)",
                samples,
            )
            row = await conn.fetchrow(
                "SELECT energy_kwh, power_kw_avg, soc_avg, samples, "
                "extract(epoch FROM now())::float8 AS now FROM device_telemetry_5m"
            )
        finally:
            await conn.close()
    queried = datetime.fromtimestamp(row["now"], UTC)
    expected = expected_buckets(samples, WIDTHS["5m"], queried)
    ((kwh, avg),) = expected.values()
    if (queried - now) < timedelta(seconds=10):  # not across a bucket boundary
        assert row["energy_kwh"] == pytest.approx(kwh, rel=1e-6)
        assert row["power_kw_avg"] == pytest.approx(avg, rel=1e-6)
    assert row["soc_avg"] == pytest.approx(50.0)
    assert row["samples"] == 2


async def test_an_unavailable_device_holds_no_energy_until_it_is_back(postgres_url: str):
    samples: list[tuple[datetime, float | None]] = [
        (T0, 10.0),
        (T0 + timedelta(seconds=60), None),
        (T0 + timedelta(seconds=180), 10.0),
    ]
    async with asyncio.timeout(60):
        conn = await asyncpg.connect(postgres_url)
        try:
            await apply_schema(conn)
            await _insert_flows(conn, samples)
            found = await _flows(conn, "5m")
        finally:
            await conn.close()
    assert found[T0][0] == pytest.approx(10 * (60 + 120) / 3600)
    assert found[T0][1] == pytest.approx(10.0)  # averaged over the time with a value only

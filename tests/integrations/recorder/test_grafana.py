"""docs/grafana/: every panel's SQL (and the annotation and variable queries) returns rows for a
recorded simulated day of the demo, on plain PostgreSQL and on TimescaleDB, with the same answers."""

from __future__ import annotations

import asyncio
import json
import math
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from orbiteos.core import Event
from tests.integrations.recorder.demo_day import DAY, demo_events, record
from tests.servers.postgres import TestPostgres

GRAFANA = Path(__file__).parents[3] / "docs" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "orbiteos-site.json").read_text(encoding="utf-8"))
START = DAY.astimezone(UTC)
END = START.replace(day=START.day + 1)


def _queries() -> dict[str, str]:
    """Every SQL text in the dashboard, by where it is."""
    found = {f"panel {p['title']}": t["rawSql"] for p in DASHBOARD["panels"] for t in p["targets"]}
    for annotation in DASHBOARD["annotations"]["list"]:
        found[f"annotation {annotation['name']}"] = annotation["target"]["rawSql"]
    for variable in DASHBOARD["templating"]["list"]:
        if variable["type"] == "query":
            found[f"variable {variable['name']}"] = variable["query"]
    return found


def expand(sql: str, start: datetime = START, end: datetime = END) -> str:
    """What Grafana sends: its time macros and the dashboard's variables (their default values) filled in."""
    frm, to = f"'{start.isoformat()}'", f"'{end.isoformat()}'"
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN {frm} AND {to}", sql)
    sql = sql.replace("$__timeFrom()", frm).replace("$__timeTo()", to)
    for variable in DASHBOARD["templating"]["list"]:
        sql = sql.replace(f"${variable['name']}", variable["current"]["value"])
    assert "$" not in sql.replace("$$", ""), f"a macro or variable the test does not expand: {sql}"
    return sql


def test_the_provisioning_files_point_the_dashboard_at_its_data_source():
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "orbiteos.yaml").read_text())
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "orbiteos.yaml").read_text())
    (source,) = datasources["datasources"]
    uids = {p["datasource"]["uid"] for p in DASHBOARD["panels"]}
    assert uids == {source["uid"]}
    assert source["type"] == "grafana-postgresql-datasource"
    assert providers["providers"][0]["type"] == "file"
    titles = {p["title"] for p in DASHBOARD["panels"]}
    for wanted in (
        "Power flows",
        "Energy per day",
        "Cost per day",
        "15-minute peak",
        "Battery state of charge",
        "EV sessions",
        "Grid events",
    ):
        assert any(title.startswith(wanted) for title in titles), wanted


@pytest.fixture(scope="module")
def simulated_day() -> list[list[Event]]:
    """The demo's events for one day at 10 s steps (the 20 s frequency dip needs them), simulated once."""
    return list(demo_events(step=10.0))


@pytest.fixture(scope="module")
def answers(simulated_day: list[list[Event]], request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Every query's rows per kind of server; the TimescaleDB entry is the skip reason where it is absent."""
    result: dict[str, Any] = {}
    for kind, fixture in (("plain", "postgres_server"), ("timescaledb", "timescale_server")):
        try:
            server: TestPostgres = request.getfixturevalue(fixture)
        except pytest.skip.Exception as skipped:
            result[kind] = str(skipped)
            continue
        url = server.create_database()
        result[kind] = asyncio.run(_record_and_query(url, simulated_day))
    yield result


async def _record_and_query(url: str, day: list[list[Event]]) -> dict[str, list[tuple[Any, ...]]]:
    with tempfile.TemporaryDirectory() as journal:
        await record(url, Path(journal), day)
    conn = await asyncpg.connect(url)
    try:
        return {name: [tuple(r) for r in await conn.fetch(expand(sql))] for name, sql in _queries().items()}
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["plain", "timescaledb"])
def test_every_query_returns_rows_for_a_recorded_day(answers: dict[str, Any], kind: str):
    if isinstance(answers[kind], str):
        pytest.skip(answers[kind])
    empty = [name for name, rows in answers[kind].items() if not rows]
    assert empty == []
    # A few figures the demo day is known for: two EV sessions, the 14:00 frequency dip, a peak under the limit.
    sessions = answers[kind]["panel EV sessions"]
    assert len(sessions) == 2
    assert sum(row[4] for row in sessions) == pytest.approx(86.43, abs=0.5)  # the charger's energy counter
    assert [row[1] for row in answers[kind]["panel Grid events"]] == ["under_frequency", "under_frequency"]
    peak = answers[kind]["panel 15-minute peak per day against the import limit"][0]
    assert 0 < peak[1] <= peak[2] == 80


def test_both_servers_give_the_same_answers_within_a_thousandth(answers: dict[str, Any]):
    if isinstance(answers["timescaledb"], str):
        pytest.skip(answers["timescaledb"])
    for name, plain_rows in answers["plain"].items():
        timescale_rows = answers["timescaledb"][name]
        assert len(timescale_rows) == len(plain_rows), name
        for plain, timescale in zip(sorted(plain_rows, key=repr), sorted(timescale_rows, key=repr), strict=True):
            for a, b in zip(plain, timescale, strict=True):
                if isinstance(a, float) and isinstance(b, float):
                    assert math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-9), (name, plain, timescale)
                else:
                    assert a == b, (name, plain, timescale)

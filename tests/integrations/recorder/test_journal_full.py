"""A journal that cannot take rows (its size bound, or a full disk: a 512 kB tmpfs) while the database is
away: the recorder stays alive, keeps the newest rows in memory, counts and reports what it drops
(a grid_events row, sensor.recorder_rows_dropped), leaves no temporary file, and writes everything it
kept once the database is back."""

from __future__ import annotations

import asyncio
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orbiteos.core import Hub
from orbiteos.integrations.recorder.queue.journal import JournalFull
from orbiteos.integrations.recorder.queue.trouble import DROPPED_ENTITY
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder
from tests.servers.postgres import TestPostgres

MAX_QUEUE = 1000
PADDING = "x" * 200  # an attribute that makes each row take room in the journal


@pytest.fixture(params=["size bound", "full disk"])
def journal_setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, dict[str, int]]]:
    journal = tmp_path / "journal"
    journal.mkdir()
    if request.param == "size bound":
        yield journal, {"journal_max_mb": 1}
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(journal)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs needs root here: {mounted.stderr.strip()}")
    try:
        yield journal, {}
    finally:
        subprocess.run(["umount", "-l", str(journal)], check=False)


async def _fill(hub: Hub, start: int, count: int) -> int:
    for n in range(start, start + count):
        hub.states.set(f"sensor.fill_{n % 20}", n, {"padding": PADDING})
    await asyncio.sleep(0.05)
    return start + count


async def test_a_journal_that_cannot_take_rows_keeps_the_recorder_alive(
    recorder_hub: RecorderHub,
    postgres_url: str,
    postgres: TestPostgres,
    journal_setup: tuple[Path, dict[str, int]],
) -> None:
    journal, extra = journal_setup
    async with asyncio.timeout(90), recorder_hub(journal_dir=str(journal), max_queue=MAX_QUEUE, **extra) as hub:
        recorder = running_recorder(hub)
        recorder.settings.retry_max = 0.5
        produced = await _fill(hub, 0, 100)
        await recorder.flush()
        await asyncio.to_thread(postgres.stop, "fast")
        try:
            while recorder.backlog.dropped == 0:
                produced = await _fill(hub, produced, 500)
            for _ in range(5):  # the journal stays full: drops go on, the task lives
                produced = await _fill(hub, produced, 500)
            await asyncio.sleep(1.0)
            error = recorder.backlog.journal_error
            assert isinstance(error, JournalFull) if extra else error is not None and error.errno == errno.ENOSPC
            assert recorder._task is not None and not recorder._task.done()
            assert recorder.backlog.memory_items <= 2 * MAX_QUEUE
            assert not list(journal.glob("*.tmp"))
            dropped = recorder.backlog.dropped
            state = hub.states.get(DROPPED_ENTITY)
            assert state is not None and int(state.state) >= dropped - 2 * MAX_QUEUE
        finally:
            await asyncio.to_thread(postgres.start)
        produced = await _fill(hub, produced, 100)  # after the database's return
        await recorder.flush()
        rows = await fetch(
            postgres_url,
            "SELECT count(*) AS n, max(state::int) AS last FROM states WHERE entity_id LIKE 'sensor.fill_%'",
        )
        drops = await fetch(postgres_url, "SELECT value FROM grid_events WHERE kind = 'recorder_rows_dropped'")
    assert rows[0]["last"] == produced - 1  # written after the database came back
    # Everything not dropped is there (the dropped items include the drop reports themselves).
    assert produced - recorder.backlog.dropped <= rows[0]["n"] < produced
    assert drops and sum(r["value"] for r in drops) <= recorder.backlog.dropped
    assert not list(journal.glob("*.batch"))  # replayed and removed

"""kill -9 loses nothing acknowledged: a state write the API answered 2xx is in the database or in the
journal, whether the database is there or not. 20 kills (4 sites at a time, each with its own
journal), then one start that replays every journal the killed sites left."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path

import aiohttp

from orbiteos.integrations.http.auth import TokenStore
from orbiteos.integrations.recorder.embedded import free_port
from tests.integrations.recorder.conftest import RecorderHub, fetch, running_recorder

REPO = Path(__file__).resolve().parents[3]
RUNS = 20
AT_ONCE = 4
WRITERS = 8


async def _post_until_killed(url: str, token: str, run: int, acknowledged: set[tuple[str, str]]) -> None:
    """WRITERS clients posting states one after another; every 2xx answer is remembered."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=url, headers=headers) as session:

        async def writer(number: int) -> None:
            for value in range(1_000_000):
                entity_id = f"sensor.ack_{run}_{number}"
                try:
                    async with session.post(f"/api/states/{entity_id}", json={"state": str(value)}) as answer:
                        if answer.status < 300:
                            acknowledged.add((entity_id, str(value)))
                except aiohttp.ClientError:
                    return  # killed

        await asyncio.gather(*(writer(n) for n in range(WRITERS)))


async def _one_run(
    run: int, config_dir: Path, db_url: str, journal: Path, token: str, acknowledged: set[tuple[str, str]]
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integrations.recorder.crash_site",
        str(config_dir),
        db_url,
        str(journal),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert url.startswith("http://"), url
        posting = asyncio.create_task(_post_until_killed(url, token, run, acknowledged))
        await asyncio.sleep(random.uniform(0.2, 0.8))
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await asyncio.wait_for(posting, 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _gather_journals(directory: Path) -> Path:
    """One journal with the segments every killed site left on disk."""
    journal = directory / "journal"
    journal.mkdir()
    for left in directory.glob("journal-*/*.batch"):
        left.rename(journal / left.name)
    return journal


async def test_kill_9_loses_no_acknowledged_row_in_20_runs(
    recorder_hub: RecorderHub, postgres_url: str, tmp_path: Path
) -> None:
    token = TokenStore.for_config_dir(tmp_path).create("writer", "admin")
    away = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"  # nothing listens: an outage
    acknowledged: set[tuple[str, str]] = set()
    async with asyncio.timeout(240):
        for first in range(0, RUNS, AT_ONCE):
            await asyncio.gather(
                *(
                    _one_run(
                        run,
                        tmp_path,
                        away if run % 2 else postgres_url,
                        tmp_path / f"journal-{run}",
                        token,
                        acknowledged,
                    )
                    for run in range(first, first + AT_ONCE)
                )
            )
        assert len(acknowledged) > 20 * RUNS  # the runs did write
        journal = await asyncio.to_thread(_gather_journals, tmp_path)
        async with recorder_hub(journal_dir=str(journal)) as hub:  # replays what the outages journaled
            await running_recorder(hub).flush()
            rows = await fetch(postgres_url, "SELECT entity_id, state FROM states WHERE entity_id LIKE 'sensor.ack_%'")
    recorded = {(row["entity_id"], row["state"]) for row in rows}
    lost = acknowledged - recorded
    print(f"{RUNS} kill -9 runs: {len(acknowledged)} rows acknowledged, {len(lost)} of them lost")
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged rows lost, e.g. {sorted(lost)[:5]}"

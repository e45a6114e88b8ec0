from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from orbiteos.clock import VirtualClock, run_virtual

START = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)


def _day_of_timers() -> list[tuple[str, str]]:
    async def main(clock: VirtualClock) -> list[tuple[str, str]]:
        log: list[tuple[str, str]] = []

        async def ticker() -> None:
            for _ in range(86_400):
                await clock.sleep(1)
            log.append(("ticker done", clock.now().isoformat()))

        async def delayed(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            log.append((name, clock.now().isoformat()))

        async def timed_out() -> None:
            try:
                async with asyncio.timeout(90):
                    await asyncio.Event().wait()
            except TimeoutError:
                log.append(("timeout", clock.now().isoformat()))

        clock.call_later(3600.5, lambda: log.append(("call_later", clock.now().isoformat())))
        await asyncio.gather(ticker(), delayed("a", 10), delayed("b", 43_200), timed_out())
        return log

    return run_virtual(main, START)


def test_virtual_day_lands_on_exact_times() -> None:
    log = _day_of_timers()
    assert dict(log) == {
        "a": (START + timedelta(seconds=10)).isoformat(),
        "timeout": (START + timedelta(seconds=90)).isoformat(),
        "call_later": (START + timedelta(seconds=3600.5)).isoformat(),
        "b": (START + timedelta(hours=12)).isoformat(),
        "ticker done": (START + timedelta(days=1)).isoformat(),
    }


def test_virtual_runs_are_identical() -> None:
    assert _day_of_timers() == _day_of_timers()

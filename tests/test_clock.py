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


def test_real_io_still_works_under_virtual_time() -> None:
    """A socket registered with the virtual loop is polled (the loop skips the poll only while
    nothing but its own wake-up pipe is registered), and another thread's result wakes it."""

    async def main(clock: VirtualClock) -> tuple[bytes, int, float]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        async def ticker() -> None:  # a timer always pending, as the simulated site's step
            while True:
                await clock.sleep(1)

        background = asyncio.create_task(ticker())
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with asyncio.timeout(60):  # virtual seconds: a loop that never polled would time out here
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping\n")
            answer = await reader.readline()
        answered_after = clock.monotonic()  # virtual seconds: the loop polled the socket between its jumps
        background.cancel()
        writer.close()
        server.close()
        await server.wait_closed()
        from_thread = await asyncio.to_thread(lambda: 41 + 1)
        return answer, from_thread, answered_after

    answer, from_thread, answered_after = run_virtual(main, START)
    assert (answer, from_thread) == (b"ping\n", 42)
    assert answered_after < 30


def test_the_clock_of_a_virtual_run_is_refused_on_another_thread() -> None:
    """Bound to its loop for speed, the clock still refuses another thread (the loop is not
    thread-safe), as it did when it asked asyncio each time."""

    async def main(clock: VirtualClock) -> tuple[str, str, float]:
        def elsewhere() -> str:
            try:
                clock.now()
            except RuntimeError as err:
                return str(err)
            return "answered"

        refused = await asyncio.to_thread(elsewhere)
        await clock.sleep(2)
        return refused, clock.now().isoformat(), clock.monotonic()

    refused, now, elapsed = run_virtual(main, START)
    assert "no running event loop" in refused
    assert (now, elapsed) == ((START + timedelta(seconds=2)).isoformat(), 2.0)


def test_a_signal_handler_runs_under_virtual_time() -> None:
    """A signal reaches its handler through the loop's wake-up pipe, which the loop then polls
    even with no socket registered."""
    import os
    import signal

    async def main(clock: VirtualClock) -> float:
        loop = asyncio.get_running_loop()
        handled = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, lambda: handled.done() or handled.set_result(clock.monotonic()))

        async def ticker() -> None:  # a timer always pending
            while True:
                await clock.sleep(1)

        background = asyncio.create_task(ticker())
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            async with asyncio.timeout(3600):
                return await handled
        finally:
            background.cancel()
            loop.remove_signal_handler(signal.SIGUSR1)

    assert run_virtual(main, START) < 30

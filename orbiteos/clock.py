"""Time for the engine: a real clock for live sites and a virtual one for simulations.

Every timer in OrbitEOS goes through the running event loop, so under a
`VirtualEventLoop` the loop's own time is virtual: when nothing is runnable the
loop jumps straight to the next due timer instead of waiting. `asyncio.sleep`,
`asyncio.timeout` and `loop.call_later` all follow that time, so a simulated
day of 1 s ticks runs in seconds and gives the same result on every run.
"""

from __future__ import annotations

import asyncio
import selectors
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class Clock(ABC):
    """Where domain time comes from."""

    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on the event loop's clock (virtual under a virtual loop)."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any
    ) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback, *args)

    def call_at(
        self, when: datetime, callback: Callable[..., object], *args: Any
    ) -> asyncio.TimerHandle:
        """Run `callback` at the wall-clock moment `when`."""
        delay = (when - self.now()).total_seconds()
        return self.call_later(delay, callback, *args)


class RealClock(Clock):
    """Wall-clock time for a live site."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock(Clock):
    """Simulated time: `start` plus the virtual loop's elapsed seconds."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"VirtualClock start must be timezone-aware, got {start!r}")
        self.start = start.astimezone(UTC)
        # Virtual time stands still between timers, and a tick asks for it many times (every
        # state written, every trace step): the last answer is kept for its loop time.
        self._last_loop_time = -1.0
        self._last_now = self.start
        # The loop `run_virtual` made for this clock, and its thread. Asking asyncio for the
        # running loop costs a getpid() system call each time (CPython 3.11 checks for a fork),
        # and the clock is asked for the time about ten times per simulated second.
        self._loop: VirtualEventLoop | None = None
        self._loop_thread = 0

    def _bind(self, loop: VirtualEventLoop | None) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident() if loop is not None else 0

    def _own_loop(self) -> VirtualEventLoop | None:
        """The bound loop when called on its thread; None elsewhere (another thread asks asyncio,
        and is refused as before: the loop is not thread-safe)."""
        if self._loop is not None and threading.get_ident() == self._loop_thread:
            return self._loop
        return None

    def now(self) -> datetime:
        loop = self._own_loop()
        if loop is None:
            running = asyncio.get_running_loop()
            if not isinstance(running, VirtualEventLoop):
                raise RuntimeError("VirtualClock needs a VirtualEventLoop (use run_virtual)")
            loop = running
        loop_time = loop._virtual_time
        if loop_time != self._last_loop_time:
            self._last_now = self.start + timedelta(seconds=loop_time)
            self._last_loop_time = loop_time
        return self._last_now

    def monotonic(self) -> float:
        loop = self._own_loop()
        return loop._virtual_time if loop is not None else super().monotonic()

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any
    ) -> asyncio.TimerHandle:
        loop = self._own_loop()
        if loop is None:
            return super().call_later(delay, callback, *args)
        return loop.call_later(max(0.0, delay), callback, *args)


class _JumpingSelector:
    """Wraps a selector: polls I/O without blocking and lets the loop jump in time."""

    def __init__(self, loop: VirtualEventLoop, inner: selectors.BaseSelector) -> None:
        self._loop = loop
        self._inner = inner
        # Sockets and pipes registered since the loop made its own wake-up pipe. While there are
        # none and no signal handler is set (a signal reaches its handler through that pipe), a
        # poll could only find the pipe, whose callbacks are already queued: the loop then steps
        # without a system call per pass. (Closing the loop unregisters the pipe: -1, no poll.)
        self._watched = 0
        handlers = getattr(loop, "_signal_handlers", None)  # the Unix loop's own dict, kept up to date
        self._signal_handlers: dict[Any, Any] = handlers if handlers is not None else {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._inner.register(fileobj, events, data)
        self._watched += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._inner.unregister(fileobj)
        self._watched -= 1
        return key

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            # Nothing scheduled at all: only real I/O (or another thread) can wake us.
            return self._inner.select(None)
        events = self._inner.select(0) if self._watched > 0 or self._signal_handlers else []
        if not events and timeout > 0:
            self._loop._jump_to_next_timer()
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is virtual and jumps to the next timer when idle."""

    def __init__(self) -> None:
        self._virtual_time = 0.0
        self._jumping_selector: _JumpingSelector | None = None
        inner = selectors.DefaultSelector()
        super().__init__(selector=inner)
        self._jumping_selector = _JumpingSelector(self, inner)
        self._selector = self._jumping_selector  # type: ignore[assignment]

    def time(self) -> float:
        return self._virtual_time

    def _jump_to_next_timer(self) -> None:
        # The base loop has already dropped cancelled handles from the heap's head.
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if scheduled:
            when = scheduled[0]._when
            if when > self._virtual_time:
                self._virtual_time = when


def run_virtual(
    main: Callable[[VirtualClock], Coroutine[Any, Any, T]], start: datetime
) -> T:
    """Run `main(clock)` on a fresh virtual-time loop starting at `start`."""
    clock = VirtualClock(start)
    with asyncio.Runner(loop_factory=VirtualEventLoop) as runner:
        clock._bind(runner.get_loop())  # type: ignore[arg-type]  # this clock belongs to this loop
        try:
            return runner.run(main(clock))
        finally:
            clock._bind(None)

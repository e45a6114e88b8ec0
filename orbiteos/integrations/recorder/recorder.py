"""The recorder: listens, queues, and drains the queue into PostgreSQL from one hub-owned task.

The listeners only append to an in-memory deque; everything else (rows, COPY, journal, retries)
happens in the drain task, so the automation path never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from orbiteos.core import EVENT_STATE_CHANGED, MATCH_ALL, Event, Hub, Unsubscribe
from orbiteos.integrations.recorder import purge
from orbiteos.integrations.recorder.filters import EntityFilter
from orbiteos.integrations.recorder.queue.backlog import Backlog
from orbiteos.integrations.recorder.queue.journal import MAX_BYTES, Journal
from orbiteos.integrations.recorder.queue.trouble import JournalTrouble
from orbiteos.integrations.recorder.rows import Batch, RowBuilder
from orbiteos.integrations.recorder.slicing import pause
from orbiteos.integrations.recorder.writer import Writer, is_data_error, is_transient

_LOGGER = logging.getLogger(__name__)

# Queued state changes are turned into rows every ABSORB_INTERVAL, or sooner once ABSORB_ITEMS
# wait: State objects that stay queued across garbage collections are promoted to the oldest
# generation and make its full collections come often (tens of ms each on a large heap).
ABSORB_INTERVAL = 0.05
ABSORB_ITEMS = 256


@dataclass
class RecorderSettings:
    journal_dir: Path
    commit_interval: float = 1.0
    purge_keep_days: int = 90
    purge_interval: float = 3600.0
    max_queue: int = 50_000
    batch_items: int = 10_000
    retry_max: float = 5.0
    stop_timeout: float = 20.0  # under the runtime's 30 s stop limit, so the journal fallback gets its turn
    write_timeout: float = 60.0
    entity_filter: EntityFilter = field(default_factory=EntityFilter)
    price_entities: tuple[str, ...] = ()
    journal_max_bytes: int = MAX_BYTES
    timescaledb: str = "auto"  # auto | on | off, passed to schema.sql
    problem_retry: float = 60.0  # first wait after an error that retrying soon will not mend
    problem_retry_max: float = 600.0


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event`, `seconds` at most."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass


class _Outage:
    """Logs a lost database once, and its return once, with what was kept meanwhile."""

    def __init__(self, journal_dir: Path, max_queue: int) -> None:
        self._journal_dir = journal_dir
        self._max_queue = max_queue
        self.since: float | None = None
        self.count = 0

    def lost(self, err: BaseException) -> None:
        if self.since is not None:
            return
        self.since = time.monotonic()
        self.count += 1
        _LOGGER.warning(
            "recorder: database unavailable (%s: %s); keeping rows, up to %d in memory, then in the journal %s",
            type(err).__name__, err, self._max_queue, self._journal_dir,
        )

    def back(self, backlog: Backlog) -> None:
        if self.since is None:
            return
        _LOGGER.warning(
            "recorder: database back after %.1f s; writing %d rows from memory and %d journal batches",
            time.monotonic() - self.since, backlog.memory_items, len(backlog.journal),
        )
        self.since = None


class _Problem:
    """An error that retrying soon will not mend (the schema refused, a wrong password...).

    Logged once as an error and kept for the UI; retried rarely, so the server's log is not
    flooded with the failing statement.
    """

    def __init__(self) -> None:
        self.message: str | None = None

    def report(self, err: BaseException) -> None:
        message = f"{type(err).__name__}: {err}"
        if message != self.message:
            _LOGGER.error("recorder: the database refused to set up (%s); rows are kept in memory and the journal, "
                          "and the recorder tries again every few minutes", message)
        self.message = message

    def solved(self) -> None:
        if self.message is not None:
            _LOGGER.warning("recorder: the database is usable again after: %s", self.message)
        self.message = None


class Recorder:
    def __init__(
        self,
        hub: Hub,
        settings: RecorderSettings,
        dsn: Callable[[], Awaitable[str]],
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.hub = hub
        self.settings = settings
        journal = Journal(settings.journal_dir, settings.journal_max_bytes)
        first_seq = max((journal.last_seq() or 0) + 1, time.time_ns() // 1000)  # an id, not domain time
        self.backlog = Backlog(RowBuilder(first_seq, settings.price_entities), journal,
                               settings.max_queue, settings.batch_items)
        self.writer = Writer(dsn, settings={"orbiteos.raw_retention": f"{settings.purge_keep_days} days",
                                            "orbiteos.timescaledb": settings.timescaledb},
                             timeout=settings.write_timeout)
        self.outage = _Outage(settings.journal_dir, settings.max_queue)
        self.problem = _Problem()
        self.rows_written = 0
        self.batches_written = 0
        self.batches_skipped = 0  # replays recognised as already written
        self._on_close = on_close
        self._filter = settings.entity_filter
        self._keeps = self._filter.decisions
        self._memory = self.backlog.memory
        self._unsubscribe: list[Unsubscribe] = []
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._flush_requested = False
        self._connected = asyncio.Event()  # set at the first successful connection
        self._task: asyncio.Task[None] | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self._pool: asyncpg.Pool | None = None
        self._waiting = 0  # callers of durable() waiting
        self.trouble = JournalTrouble(hub, settings.journal_dir, settings.max_queue)

    # --- listening: the hot path ------------------------------------------
    def start(self) -> None:
        bus = self.hub.bus
        self._unsubscribe = [
            bus.listen(EVENT_STATE_CHANGED, self._on_state_changed),
            bus.listen(MATCH_ALL, self._on_event),  # every event type but state_changed
        ]
        self._task = self.hub.create_task(self._run(), name="recorder")
        self._purge_task = self.hub.create_task(self._purge_loop(), name="recorder-purge")

    def _on_state_changed(self, event: Event) -> None:
        new_state = event.data["new_state"]
        if new_state is None:  # removed: recorded as a row without a state
            entity_id = event.data["entity_id"]
            if self._filter(entity_id):
                self.backlog.append(event)
            self._keeps.pop(entity_id, None)  # entities come and go: the decision is not kept for a gone one
        elif self._keeps[new_state.entity_id]:
            memory = self._memory
            memory.append(new_state)
            if len(memory) >= ABSORB_ITEMS:
                self._wake.set()

    def _on_event(self, event: Event) -> None:
        if self._filter.keeps_event(event.event_type):
            self.backlog.append(event)

    # --- the drain task ----------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                try:
                    await self._drain()
                    return
                except Exception:  # a bug or an error nobody foresaw: the rows stay queued, the drain goes on
                    _LOGGER.exception("recorder: the drain failed; starting it again in 1 s")
                    self.writer.drop()
                    await asyncio.sleep(1.0)
        finally:
            self._progress.set()  # nobody waits on a drain that has ended

    async def _drain(self) -> None:
        delay = 0.0
        while True:
            if self._stopping and self.backlog.empty:
                return
            if not self.writer.connected:
                try:
                    await self.writer.connect()
                except Exception as err:
                    self.writer.drop()
                    transient = is_transient(err)
                    if transient:
                        self.outage.lost(err)
                    else:
                        self.problem.report(err)
                    if self._stopping:
                        await self._spill(everything=True)
                        return
                    await self._spill(everything=self._waiting > 0)
                    if transient:
                        delay = min(self.settings.retry_max, max(0.2, delay * 2))
                    else:
                        delay = min(self.settings.problem_retry_max, max(self.settings.problem_retry, delay * 2))
                    await self._back_off(delay * random.uniform(0.8, 1.2))
                    continue
                self.problem.solved()
                self.outage.back(self.backlog)
                self._connected.set()
                delay = 0.0
            await self._spill()
            if not self._stopping and not self.backlog.ready:
                await self._gather(self.settings.commit_interval)
            batch = await self.backlog.next_batch()
            if batch is None:
                continue
            await self._write(batch)

    async def _write(self, batch: Batch) -> None:
        # While the server works through this batch, keep building the next one from what arrives.
        finished = asyncio.Event()

        async def write() -> bool:
            try:
                return await self.writer.write(batch)
            finally:
                finished.set()
                self._wake.set()

        written, built = await asyncio.gather(write(), self._absorb_until(finished), return_exceptions=True)
        for outcome in (written, built):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancelled: the stop's fallback journals what is left
        if isinstance(built, Exception):
            _LOGGER.error("recorder: building rows failed: %r", built, exc_info=built)
        if isinstance(written, Exception):
            await self._write_failed(batch, written)
            return
        self.backlog.done(batch)
        if written:
            self.batches_written += 1
            self.rows_written += batch.rows
        else:
            self.batches_skipped += 1
            _LOGGER.info("recorder: batch %s (seq %d-%d) was already written; skipped",
                         batch.batch_id, batch.first_seq, batch.last_seq)
        self._progress.set()

    async def _write_failed(self, batch: Batch, err: Exception) -> None:
        if not is_data_error(err):
            self.writer.drop()
            self.outage.lost(err)  # the batch stays first in line
            return
        try:
            path = await self.backlog.journal.set_aside(batch, str(err))
        except OSError as disk_err:
            self.backlog.done(batch)
            self.backlog.dropped += batch.items
            self.trouble.dropped(batch.items, self.backlog.dropped, disk_err)
            _LOGGER.error("recorder: the database refused a batch of %d rows (%s) and it could not be kept (%s)",
                          batch.rows, err, disk_err)
        else:
            _LOGGER.error("recorder: the database refused a batch of %d rows (%s); kept in %s", batch.rows, err, path)
            self.backlog.done(batch)
        self._progress.set()

    async def _absorb_until(self, finished: asyncio.Event) -> None:
        """Turn arrivals into rows of the next batch until `finished` is set."""
        while True:
            more = await self.backlog.prebuild()
            if finished.is_set():
                return
            if more:
                await pause()  # the step's last slice ran on to its end unchecked
            else:
                self._wake.clear()
                await _wait(self._wake, ABSORB_INTERVAL)

    async def _gather(self, seconds: float) -> None:
        """Wait up to a commit interval for rows, turning them into rows as they come.

        Ends early for a full batch or a stop.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self._stopping and not self.backlog.ready and (remaining := end - loop.time()) > 0:
            if self._flush_requested:
                self._flush_requested = False
                return
            self._wake.clear()
            await _wait(self._wake, min(ABSORB_INTERVAL, remaining))
            if not self.backlog.ready:  # when it is, the write starts with a short batch (Backlog.next_batch)
                await self.backlog.absorb()

    async def _back_off(self, seconds: float) -> None:
        """Wait before the next connection attempt (only a stop cuts it short), keeping memory bounded."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self._stopping and (remaining := end - loop.time()) > 0:
            self._wake.clear()
            await _wait(self._wake, min(0.5, remaining))  # a stop or a durable() waiter sets it
            await self.backlog.absorb()
            await self._spill(everything=self._waiting > 0)

    async def _spill(self, everything: bool = False) -> None:
        """The backlog's spill, with journal trouble and dropped rows reported; waiters told."""
        backlog = self.backlog
        before = backlog.dropped
        moved = await backlog.spill(everything)
        self.trouble.journal(backlog.journal_error, len(backlog.journal))
        if backlog.dropped > before:
            self.trouble.dropped(backlog.dropped - before, backlog.dropped, backlog.journal_error)
        if moved or backlog.dropped > before:
            self._progress.set()

    async def _purge_loop(self) -> None:
        """Retention on plain PostgreSQL: after the first connection, then every purge_interval."""
        await self._connected.wait()
        while True:
            url = self.writer.url
            if self.writer.timescale:
                return  # TimescaleDB's retention policies do it (schema.sql)
            if url is not None:
                try:
                    await purge.purge_url(url, self.settings.purge_keep_days, self.hub.clock.now())
                except Exception as err:
                    _LOGGER.warning("recorder: purge failed (%s: %s); will retry", type(err).__name__, err)
            await asyncio.sleep(self.settings.purge_interval)

    # --- for others ----------------------------------------------------------
    @property
    def url(self) -> str | None:
        """The database URL, once connected."""
        return self.writer.url

    async def read_pool(self) -> asyncpg.Pool:
        """A small pool of reading connections (the writer's connection is for writing only)."""
        if self._pool is None:
            if self.writer.url is None:
                problem = self.problem.message
                raise ConnectionError(f"the database refused to set up: {problem}" if problem
                                      else "the recorder has not reached its database yet")
            self._pool = await asyncpg.create_pool(self.writer.url, min_size=0, max_size=2, timeout=10)
        return self._pool

    async def wait_connected(self) -> None:
        """Return once the recorder has reached its database and applied the schema (wrap in asyncio.timeout)."""
        await self._connected.wait()

    async def durable(self) -> bool:
        """Return once everything recorded before this call is committed or fsync'd in the journal.

        True when all of it is; False when some of it was dropped (the journal could not take it and
        memory was over its bound) or the recorder stopped. Writes as soon as it is called (a group
        commit: callers that arrive during a write share the next one). Wrap in asyncio.timeout.
        """
        backlog = self.backlog
        target = backlog.taken + len(backlog.memory)
        dropped = backlog.dropped
        self._waiting += 1
        try:
            while backlog.resolved < target:
                if self._task is None or self._task.done():
                    return False
                self._progress.clear()
                self._flush_requested = True
                self._wake.set()
                await self._progress.wait()
        finally:
            self._waiting -= 1
        return backlog.dropped == dropped

    async def flush(self) -> None:
        """Return once everything recorded before this call is committed (wrap in asyncio.timeout)."""
        backlog = self.backlog
        target = backlog.taken + len(backlog.memory)
        while self._task is not None and not self._task.done() and (
            backlog.taken < target or backlog.memory_items > len(backlog.memory) or len(backlog.journal)
        ):
            self._progress.clear()
            self._flush_requested = True
            self._wake.set()
            await self._progress.wait()

    async def stop(self) -> None:
        """Stop listening and write everything queued (or journal it when the database is away)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._stopping = True
        self._stop_requested.set()
        self._wake.set()
        if self._purge_task is not None:
            self._purge_task.cancel()
        task = self._task
        if task is not None and not task.done():
            try:
                async with asyncio.timeout(self.settings.stop_timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                _LOGGER.warning("recorder: writing the queue took over %.0f s at stop; journaling the rest",
                                self.settings.stop_timeout)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            except Exception:
                _LOGGER.exception("recorder: the drain task failed; journaling the queue")
        if self.backlog.memory_items:
            await self._spill(everything=True)
        await self.writer.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        _LOGGER.info("recorder stopped: %d rows in %d batches written", self.rows_written, self.batches_written)
        if self._on_close is not None:
            await self._on_close()
        if self.hub.data.get("recorder") is self:
            del self.hub.data["recorder"]

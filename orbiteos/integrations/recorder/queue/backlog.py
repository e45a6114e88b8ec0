"""Everything recorded but not yet committed, in order: journal on disk, then the batch in flight,
then the in-memory queue the listeners append to.

Order is kept by one rule: rows move only from the head of memory to the tail of the journal, and
a batch is built from memory only while the journal is empty.

Every item has a position in arrival order. An item is *resolved* once it is committed, fsync'd in
the journal, or dropped; `resolved` is how many are, counted from the start (they resolve in
order). When the journal cannot take rows (its size bound, a full disk, any write error) they stay
in memory, and past `max_memory` the oldest of them are dropped: memory keeps the newest
`max_memory` items, the journal keeps everything it already holds, and `dropped` counts the rest.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from orbiteos.integrations.recorder.queue.journal import Journal
from orbiteos.integrations.recorder.rows import Batch, QueueItem, RowBuilder
from orbiteos.integrations.recorder.slicing import SLICE, pause

_LOGGER = logging.getLogger(__name__)

# Conversion runs in slices (slicing.py); the clock is read every CHUNK items (about 50 µs of
# work: with 8 the per-call set-up of RowBuilder.build cost 20 % more per row).
CHUNK = 32
# What is built while nothing is being written keeps the server waiting, so a batch built then
# gets FIRST_ITEMS at most; the ones after it grow while the one before them is written.
FIRST_ITEMS = 1_000
# While a batch is written the next one is built in steps of STEP_ITEMS (under 1 ms), so the
# end of the write is seen soon and the next write starts with what is built by then.
STEP_ITEMS = 256


class Backlog:
    def __init__(self, builder: RowBuilder, journal: Journal, max_memory: int, batch_items: int) -> None:
        self.builder = builder
        self.journal = journal
        self.max_memory = max_memory
        self.batch_items = batch_items
        self.memory: deque[QueueItem] = deque()
        # The listeners' whole job: one deque append (thread-unsafe by design: one event loop).
        self.append = self.memory.append
        self.taken = 0  # items taken out of memory so far (into a batch or the journal)
        # Rows built from memory and not in the journal, oldest first: sealed batches (the head is
        # being written, the next may be built meanwhile), then the open batch that still takes rows.
        # Items are turned into rows soon after they arrive rather than at write time: State objects
        # kept for a whole commit interval reach the garbage collector's oldest generation and make
        # its full collections long; row tuples of plain values are not tracked by it at all.
        self._built: deque[Batch] = deque()
        self._open: Batch | None = None
        self.dropped = 0  # items dropped because neither memory nor the journal could keep them
        self.journal_error: OSError | None = None  # why the last journal write failed (None: it worked)

    @property
    def resolved(self) -> int:
        """Items committed, journaled or dropped, counted in arrival order from the start."""
        pending = sum(b.items for b in self._built) + (self._open.items if self._open is not None else 0)
        return self.taken - pending

    @property
    def empty(self) -> bool:
        return not self.memory and not self._built and self._open is None and not len(self.journal)

    @property
    def memory_items(self) -> int:
        """Items held in this process's memory, as state changes or as rows."""
        open_items = self._open.items if self._open is not None else 0
        return len(self.memory) + sum(b.items for b in self._built) + open_items

    @property
    def ready(self) -> bool:
        """A full batch (or the journal) is waiting: write now rather than wait for the interval."""
        return bool(len(self.journal) or self._built or self.memory_items >= self.batch_items)

    async def next_batch(self) -> Batch | None:
        """The oldest rows not yet committed: the journal's head, a sealed batch, or the rows built so far."""
        if len(self.journal):
            return await self.journal.read_head()
        if not self._built:
            open_items = self._open.items if self._open is not None else 0
            await self._fill(max(0, min(FIRST_ITEMS, self.batch_items) - open_items))
            if self._open is not None:
                self._built.append(self._open)
                self._open = None
        return self._built[0] if self._built else None

    async def absorb(self) -> None:
        """Turn what waits in memory into rows now (a full batch at most, sealed when full)."""
        await self._fill()

    async def prebuild(self) -> bool:
        """While the head batch is being written, build a step of the next one; whether more waits."""
        if len(self._built) != 1 or len(self.journal):
            return False
        await self._fill(STEP_ITEMS)
        return bool(self.memory) and len(self._built) == 1

    async def _fill(self, most: int | None = None) -> None:
        open_items = self._open.items if self._open is not None else 0
        count = min(len(self.memory), self.batch_items - open_items, self.batch_items if most is None else most)
        if count <= 0:
            return
        if self._open is None:
            self._open = self.builder.new_batch()
        await self._build(count, self._open)  # into the open batch: merging batches cost about 1 µs a row
        if self._open.items >= self.batch_items:
            self._built.append(self._open)
            self._open = None

    def done(self, batch: Batch) -> None:
        """The batch is committed (or set aside): forget it."""
        if self._built and batch is self._built[0]:
            self._built.popleft()
        else:
            self.journal.remove_head()

    async def spill(self, everything: bool = False) -> int:
        """Move rows from memory to the journal when memory is over its bound (or all of them).

        A journal write that fails leaves the rows in memory (`journal_error` says why); past the
        memory bound the oldest are then dropped. Never raises an OSError.
        """
        if not everything and self.memory_items <= self.max_memory:
            return 0
        moved = 0
        try:
            moved = await self._spill()
        except OSError as err:
            self.journal_error = err
            self._drop_oldest()
        else:
            self.journal_error = None
        return moved

    async def _spill(self) -> int:
        moved = 0
        if self._open is not None:
            self._built.append(self._open)
            self._open = None
        while self._built:
            batch = self._built[0]
            await self.journal.append(batch)  # keeps its batch id: a replay is recognised
            self._built.popleft()
            moved += batch.items
        remaining = len(self.memory)  # what is there now; later rows wait for the next spill
        while remaining > 0:
            count = min(remaining, self.batch_items)
            # As the open batch while it is built and written: a stop that cancels this finds it there.
            self._open = self.builder.new_batch()
            await self._build(count, self._open)
            await self.journal.append(self._open)
            self._open = None
            remaining -= count
            moved += count
        return moved

    def _drop_oldest(self) -> None:
        """Keep the newest `max_memory` items: drop whole built batches from the head, then items."""
        if self._open is not None:  # built but not journaled: kept, sealed, in order
            self._built.append(self._open)
            self._open = None
        while self._built and self.memory_items > self.max_memory:
            self.dropped += self._built.popleft().items
        excess = self.memory_items - self.max_memory
        if excess > 0:  # no built batch is left
            count = min(excess, len(self.memory))
            for _ in range(count):
                self.memory.popleft()
            self.taken += count
            self.dropped += count

    async def _build(self, count: int, batch: Batch) -> None:
        """Take `count` items from the head of memory and build them into `batch`, yielding as it goes.

        A stop can cancel this only at a pause, between two chunks, when every item taken so far
        is built into `batch`: the caller keeps `batch` as `_open`, where the stop's fallback
        journals it.
        """
        pop = self.memory.popleft
        build = self.builder.build
        clock = time.perf_counter  # CPU budgeting, not domain time
        began = clock()
        slice_end = began + SLICE
        while count > 0:
            chunk = min(count, CHUNK)
            build([pop() for _ in range(chunk)], into=batch)
            self.taken += chunk
            count -= chunk
            now = clock()
            # Pause when the next chunk, as long as this one, would end past the slice: a
            # chunk takes 50-130 µs (more when the loop's other work has left the caches cold).
            if count and 2 * now - began > slice_end:
                await pause()
                now = clock()
                slice_end = now + SLICE
            began = now

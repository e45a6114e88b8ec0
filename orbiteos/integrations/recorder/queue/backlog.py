"""Everything recorded but not yet committed, in order: journal on disk, then the batch in flight,
then the in-memory queue the listeners append to.

Order is kept by one rule: rows move only from the head of memory to the tail of the journal, and
a batch is built from memory only while the journal is empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable

from orbiteos.integrations.recorder.queue.journal import Journal
from orbiteos.integrations.recorder.rows import Batch, QueueItem, RowBuilder

_LOGGER = logging.getLogger(__name__)

# Items converted between two yields to the event loop, so that the automation path is not held up.
CHUNK = 200


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
        # Batches built from memory and not in the journal, oldest first; the head is being written
        # and the next one may be built meanwhile (while the server works on the head).
        self._built: deque[Batch] = deque()

    @property
    def empty(self) -> bool:
        return not self.memory and not self._built and not len(self.journal)

    @property
    def memory_items(self) -> int:
        return len(self.memory) + sum(b.items for b in self._built)

    async def next_batch(self) -> Batch | None:
        """The oldest rows not yet committed: a built batch, the journal's head, or new rows."""
        if self._built:
            return self._built[0]
        if len(self.journal):
            return await self.journal.read_head()
        if not self.memory:
            return None
        self._built.append(await self._build(min(len(self.memory), self.batch_items)))
        return self._built[0]

    async def prebuild(self) -> None:
        """Build the batch after the one being written, when a full one is waiting in memory."""
        if len(self._built) == 1 and not len(self.journal) and len(self.memory) >= self.batch_items:
            self._built.append(await self._build(self.batch_items))

    def done(self, batch: Batch) -> None:
        """The batch is committed (or set aside): forget it."""
        if self._built and batch is self._built[0]:
            self._built.popleft()
        else:
            self.journal.remove_head()

    async def spill(self, everything: bool = False) -> int:
        """Move rows from memory to the journal when memory is over its bound (or all of them)."""
        if not everything and self.memory_items <= self.max_memory:
            return 0
        moved = 0
        while self._built:
            batch = self._built[0]
            await self.journal.append(batch)  # keeps its batch id: a replay is recognised
            self._built.popleft()
            moved += batch.items
        remaining = len(self.memory)  # what is there now; later rows wait for the next spill
        while remaining > 0:
            count = min(remaining, self.batch_items)
            await self.journal.append(await self._build(count))
            remaining -= count
            moved += count
        return moved

    async def _build(self, count: int) -> Batch:
        """Take `count` items from the head of memory and build one batch from them, yielding as it goes."""
        batch: Batch | None = None
        pop = self.memory.popleft
        popped: list[QueueItem] = []
        first_seq = self.builder.next_seq
        try:
            while count > 0:
                chunk = min(count, CHUNK)
                items: Iterable[QueueItem] = [pop() for _ in range(chunk)]
                popped.extend(items)
                count -= chunk
                batch = self.builder.build(items, into=batch)
                if count:
                    await asyncio.sleep(0)
        except BaseException:
            # Cancelled half-way (a stop that timed out): put the items back, in order.
            self.memory.extendleft(reversed(popped))
            self.builder.next_seq = first_seq
            raise
        self.taken += len(popped)
        assert batch is not None  # count > 0 on entry
        return batch

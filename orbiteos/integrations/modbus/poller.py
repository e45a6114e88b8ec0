"""One task per device: connect, read the planned blocks at each scan interval, update entities.

Each device has its own connection and task, so a slow or dead device never delays another.
Lost connections come back with capped exponential backoff and jitter; while a device cannot be
read its entities are `unavailable`. Exception responses and bad replies are logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orbiteos.core import Hub
from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from orbiteos.integrations.modbus.client import (
    ModbusClient,
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionResponse,
    ModbusReplyError,
)
from orbiteos.integrations.modbus.entities import PolledEntity
from orbiteos.integrations.modbus.planner import BIT_TABLES, DEFAULT_MAX_GAP, Block, Span, plan_blocks

_LOGGER = logging.getLogger(__name__)
ILLEGAL_DATA_ADDRESS = 2


class Backoff:
    """Capped exponential backoff with jitter: base, 2*base, 4*base ... cap, each times 0.5-1.0."""

    def __init__(self, base: float = 0.5, cap: float = 60.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        delay = min(self.cap, self.base * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 32)
        return delay * (0.5 + self._rng.random() / 2)

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class PollGroup:
    """The entities of one device that share a scan interval, and the blocks that cover them."""

    interval: float
    entities: list[PolledEntity]
    blocks: list[Block] = field(default_factory=list)
    next_due: float = 0.0
    # Each entity with the blocks its registers are in; the registers each block read last time.
    members: list[tuple[PolledEntity, frozenset[int]]] = field(default_factory=list)
    last: dict[Block, list[Any]] = field(default_factory=dict)

    def bind(self) -> None:
        """Work out which blocks each entity reads (after planning or re-planning)."""
        self.members = [
            (entity, frozenset(i for i, b in enumerate(self.blocks) if any(_overlaps(s, b) for s in entity.spans())))
            for entity in self.entities
        ]
        self.last = {b: v for b, v in self.last.items() if b in self.blocks}


@dataclass
class PollStats:
    blocks_read: int = 0
    polls: int = 0
    exception_responses: int = 0
    bad_replies: int = 0
    connects: int = 0
    connection_failures: int = 0


@dataclass(frozen=True)
class Endpoint:
    name: str  # the hub's name in the YAML
    host: str
    port: int
    timeout: float = 3.0
    delay: float = 0.0
    message_wait: float = 0.0
    retry_max: float = 60.0
    max_gap: int = DEFAULT_MAX_GAP


class DevicePoller:
    """Polls one device (endpoint + device id) for as long as its task runs."""

    def __init__(self, hub: Hub, endpoint: Endpoint, device_id: int, entities: Iterable[PolledEntity]) -> None:
        self.hub = hub
        self.endpoint = endpoint
        self.device_id = device_id
        self.label = f"{endpoint.name} ({endpoint.host}:{endpoint.port} device {device_id})"
        self.client = ModbusClient(
            endpoint.host, endpoint.port, timeout=endpoint.timeout, message_wait=endpoint.message_wait
        )
        self.entities = list(entities)
        for entity in self.entities:
            entity.poller = self
        self.groups = self._plan(self.entities, endpoint.max_gap)
        self.stats = PollStats()
        self.backoff = Backoff(cap=endpoint.retry_max)
        self._wake = asyncio.Event()
        self._down_reason: str | None = None
        self._stopping = False

    @staticmethod
    def _plan(entities: Sequence[PolledEntity], max_gap: int) -> list[PollGroup]:
        by_interval: dict[float, list[PolledEntity]] = {}
        for entity in entities:
            by_interval.setdefault(entity.scan_interval, []).append(entity)
        groups = []
        for interval, members in sorted(by_interval.items()):
            spans = [span for entity in members for span in entity.spans()]
            group = PollGroup(interval, members, plan_blocks(spans, max_gap=max_gap))
            group.bind()
            groups.append(group)
        return groups

    # --- the task --------------------------------------------------------
    async def run(self) -> None:
        for entity in self.entities:
            entity.mark_unavailable("not read yet", quiet=True)
        try:
            while not self._stopping:
                try:
                    await self._connect()
                    await self._poll_forever()
                except ModbusError as err:
                    if self._stopping:
                        return
                    if isinstance(err, ModbusReplyError):
                        self.stats.bad_replies += 1
                    self._went_down(str(err))
                    self.client.close()
                    delay = self.backoff.next()
                    _LOGGER.debug("%s: retrying in %.1f s", self.label, delay)
                    await self.hub.clock.sleep(delay)
        finally:
            self.client.close()

    async def _connect(self) -> None:
        try:
            await self.client.connect()
        except ModbusError:
            self.stats.connection_failures += 1
            raise
        self.stats.connects += 1
        if self.endpoint.delay > 0:
            await self.hub.clock.sleep(self.endpoint.delay)
        now = self.hub.clock.monotonic()
        for group in self.groups:
            group.next_due = now

    def _went_down(self, reason: str) -> None:
        if self._down_reason is None:
            _LOGGER.warning("%s: unavailable: %s", self.label, reason)
        self._down_reason = reason
        for entity in self.entities:
            entity.mark_unavailable(reason, quiet=True)

    def stop(self) -> None:
        """Ask the task to end (the hub cancels it too); closing the connection ends a pending read."""
        self._stopping = True
        self.client.close()
        self._wake.set()

    async def _poll_forever(self) -> None:
        while not self._stopping:
            if not self.client.connected:
                # The device closed the connection (seen even by a device whose entities read nothing).
                raise ModbusConnectionError(f"{self.endpoint.host}:{self.endpoint.port}: connection closed")
            now = self.hub.clock.monotonic()
            due = min(self.groups, key=lambda g: g.next_due) if self.groups else None
            if due is None:
                await self._idle(None)
                continue
            if due.next_due > now:
                await self._idle(due.next_due - now)
                continue
            await self._poll(due)
            due.next_due += due.interval
            if due.next_due <= now:  # fell behind: skip the missed polls rather than burst
                due.next_due = now + due.interval

    async def _idle(self, seconds: float | None) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _poll(self, group: PollGroup) -> None:
        changed: set[int] = set()
        failed: set[int] = set()
        blocks = list(group.blocks)
        for index, block in enumerate(blocks):
            try:
                values = await self._read(block)
            except ModbusExceptionResponse as err:
                self.stats.exception_responses += 1
                if err.code == ILLEGAL_DATA_ADDRESS and self._split_gaps(group, block):
                    return  # re-planned: read again at once
                failed.add(index)
                group.last.pop(block, None)
                self._block_failed(group, block, str(err))
                continue
            if group.last.get(block) != values:
                group.last[block] = values
                changed.add(index)
        self.stats.polls += 1
        if self._down_reason is not None:
            _LOGGER.info("%s: reading again", self.label)
            self._down_reason = None
            self.backoff.reset()
        # Only entities whose registers changed, or that are not available yet, need decoding.
        if not changed and not failed:
            due = [entity for entity in group.entities if not entity.available]
        else:
            due = [
                entity for entity, indexes in group.members
                if failed.isdisjoint(indexes) and (not entity.available or not changed.isdisjoint(indexes))
            ]
        if not due:
            return
        images: dict[str, dict[int, Any]] = {}
        for block, values in group.last.items():
            image = images.setdefault(block.table, {})
            for offset, value in enumerate(values):
                image[block.address + offset] = value
        for entity in due:
            entity.update(images)

    async def _read(self, block: Block) -> list[Any]:
        if block.table in BIT_TABLES:
            values: list[Any] = await self.client.read_bits(block.table, block.address, block.count, self.device_id)
        else:
            values = await self.client.read_registers(block.table, block.address, block.count, self.device_id)
        self.stats.blocks_read += 1
        return values

    def _split_gaps(self, group: PollGroup, block: Block) -> bool:
        """A device refused a coalesced block that spans unmapped registers: read its parts exactly."""
        spans = [s for e in group.entities for s in e.spans() if s.table == block.table
                 and block.address <= s.address < block.end]
        exact = plan_blocks(spans, max_gap=0)
        if len(exact) <= 1:
            return False
        _LOGGER.info("%s: %s %d..%d refused, reading it as %d blocks without gaps", self.label, block.table,
                     block.address, block.end - 1, len(exact))
        index = group.blocks.index(block)
        group.blocks[index : index + 1] = exact
        group.last.clear()  # every block counts as changed at the next poll
        group.bind()
        group.next_due = self.hub.clock.monotonic()
        return True

    def _block_failed(self, group: PollGroup, block: Block, reason: str) -> None:
        index = group.blocks.index(block)
        for entity, indexes in group.members:
            if index in indexes:
                entity.mark_unavailable(reason)

    # --- writes (services) -------------------------------------------------
    def request_refresh(self) -> None:
        """Poll every group now (after a write), instead of at its next interval."""
        now = self.hub.clock.monotonic()
        for group in self.groups:
            group.next_due = min(group.next_due, now)
        self._wake.set()

    async def write_registers(self, address: int, values: Sequence[int]) -> None:
        await self._write("registers", address, values)

    async def write_coils(self, address: int, values: Sequence[bool]) -> None:
        await self._write("coils", address, values)

    async def _write(self, kind: str, address: int, values: Sequence[Any]) -> None:
        if not self.client.connected:
            raise DeviceUnavailable(f"{self.label}: not connected ({self._down_reason or 'connecting'})")
        try:
            if kind == "coils":
                await self.client.write_coils(address, values, self.device_id)
            else:
                await self.client.write_registers(address, values, self.device_id)
        except ModbusExceptionResponse as err:
            raise ServiceValidationError(f"{self.label}: device refused the write: {err}") from None
        except ModbusError as err:
            self._wake.set()
            raise DeviceUnavailable(f"{self.label}: write {kind} at {address} failed: {err}") from None
        _LOGGER.debug("%s: wrote %s at %d: %s", self.label, kind, address, list(values))


def _overlaps(span: Span, block: Block) -> bool:
    return span.table == block.table and span.address < block.end and block.address < span.end

"""Coalesce the registers one device needs into as few contiguous block reads as the map allows.

Each read request costs a network round trip; a few extra registers in a block cost two bytes
each. So spans of the same table are merged while the merged block stays within the protocol's
limit (125 registers, 2000 bits) and the hole between two spans is at most `max_gap`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Modbus application protocol limits for one read request.
MAX_REGISTERS = 125
MAX_BITS = 2000
BIT_TABLES = ("coil", "discrete_input")
DEFAULT_MAX_GAP = 32


@dataclass(frozen=True, slots=True)
class Span:
    """A run of addresses one entity needs: [address, end) in `table`."""

    table: str  # holding / input / coil / discrete_input
    address: int
    end: int


@dataclass(frozen=True, slots=True)
class Block:
    """One read request."""

    table: str
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count


def limit_for(table: str, max_registers: int = MAX_REGISTERS) -> int:
    return MAX_BITS if table in BIT_TABLES else max_registers


def plan_blocks(
    spans: Iterable[Span], *, max_registers: int = MAX_REGISTERS, max_gap: int = DEFAULT_MAX_GAP
) -> list[Block]:
    """The fewest blocks covering every span, in table then address order."""
    by_table: dict[str, list[Span]] = {}
    for span in spans:
        if span.end <= span.address:
            raise ValueError(f"empty span at {span.table} {span.address}")
        by_table.setdefault(span.table, []).append(span)
    blocks: list[Block] = []
    for table in sorted(by_table):
        limit = limit_for(table, max_registers)
        start = end = None
        for span in sorted(by_table[table], key=lambda s: (s.address, s.end)):
            if span.end - span.address > limit:
                raise ValueError(
                    f"{table} {span.address}: {span.end - span.address} in one value exceeds the {limit} per request"
                )
            if start is None or end is None:
                start, end = span.address, span.end
                continue
            merged_end = max(end, span.end)
            if span.address - end <= max_gap and merged_end - start <= limit:
                end = merged_end
            else:
                blocks.append(Block(table, start, end - start))
                start, end = span.address, span.end
        if start is not None and end is not None:
            blocks.append(Block(table, start, end - start))
    return blocks

"""Block planning: as few contiguous reads as the map allows, within 125 registers and max_gap."""

from __future__ import annotations

import pytest

from orbiteos.integrations.modbus.planner import Block, Span, plan_blocks


def test_adjacent_and_overlapping_spans_merge() -> None:
    spans = [Span("holding", 0, 2), Span("holding", 2, 3), Span("holding", 1, 2)]
    assert plan_blocks(spans) == [Block("holding", 0, 3)]


def test_gaps_up_to_max_gap_are_read_through() -> None:
    spans = [Span("holding", 0, 1), Span("holding", 11, 12), Span("holding", 40, 41)]
    assert plan_blocks(spans, max_gap=10) == [Block("holding", 0, 12), Block("holding", 40, 1)]
    assert plan_blocks(spans, max_gap=0) == [Block("holding", 0, 1), Block("holding", 11, 1), Block("holding", 40, 1)]


def test_blocks_never_exceed_125_registers() -> None:
    spans = [Span("input", a, a + 2) for a in range(0, 300, 2)]
    blocks = plan_blocks(spans)
    assert [b.count for b in blocks] == [124, 124, 52]
    assert all(b.count <= 125 for b in blocks)


def test_tables_are_planned_separately_and_bits_allow_2000() -> None:
    spans = [Span("coil", 0, 1), Span("coil", 1999, 2000), Span("holding", 0, 1)]
    assert plan_blocks(spans, max_gap=2000) == [Block("coil", 0, 2000), Block("holding", 0, 1)]


def test_a_single_value_larger_than_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds the 125"):
        plan_blocks([Span("holding", 0, 130)])


def test_reconnect_backoff_doubles_to_its_cap_with_jitter() -> None:
    import random

    from orbiteos.integrations.modbus.poller import Backoff

    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lock-step
    backoff.reset()
    assert backoff.next() <= 0.5

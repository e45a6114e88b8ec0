"""Log lines cannot be forged with control characters, and a flood of one kind is folded into a count."""

from __future__ import annotations

import io
import logging
import time

import pytest

from orbiteos.log_guard import FloodFilter, SafeFormatter, printable


def _logger(stream: io.StringIO, flood: FloodFilter | None = None) -> logging.Logger:
    logger = logging.getLogger(f"test.log_guard.{id(stream)}")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    if flood is not None:
        handler.addFilter(flood)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def test_control_characters_are_escaped() -> None:
    assert printable("a\nb\r\x1b[31mc\u2028d\x7f") == "a\\x0ab\\x0d\\x1b[31mc\\u2028d\\x7f"
    assert printable("plain text, ünïcode") == "plain text, ünïcode"


def test_a_message_cannot_span_lines_but_a_traceback_still_does() -> None:
    stream = io.StringIO()
    logger = _logger(stream)
    logger.warning("webhook %s: unknown id", "x\nWARNING forged line")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed with %s", "y\nz")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "WARNING webhook x\\x0aWARNING forged line: unknown id"
    assert lines[1] == "ERROR failed with y\\x0az"
    assert lines[2] == "Traceback (most recent call last):"


def test_a_flood_of_one_kind_is_folded_into_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    logger = _logger(stream, FloodFilter(burst=10, window=10.0))
    for n in range(15_000):
        logger.warning("webhook %s: unknown id, nothing done", n)
    logger.warning("another kind of line")
    now[0] += 10.0
    logger.warning("webhook %s: unknown id, nothing done", "last")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 12
    assert lines[10] == "WARNING another kind of line"
    assert lines[11] == "WARNING webhook last: unknown id, nothing done (14,990 more like this in the last 10 s)"

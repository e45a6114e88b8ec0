"""Shared test set-up. Server fixtures (PostgreSQL, mosquitto, ...) live one per module in
tests/servers/ and are loaded here, so that any test directory can use them."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pkgutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from orbiteos.core import cancel_and_wait

pytest_plugins = [
    f"tests.servers.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "servers")])
    if not m.name.startswith("_")
]

_LOGGER = logging.getLogger(__name__)


@pytest_asyncio.fixture
async def _cancel_leftover_tasks() -> AsyncIterator[None]:
    """After an async test, cancel what it left running, again if a cancellation was lost.

    pytest-asyncio's own clean-up cancels leftovers once and then waits for ever; a task whose
    cancellation a library swallowed (Python 3.11's wait_for) would hang the whole run there.
    """
    yield
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    stuck = await cancel_and_wait(leftovers, rounds=20, interval=0.25)
    if stuck:
        _LOGGER.error("tasks that ignore cancellation were left running: %s", [t.get_name() for t in stuck])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.add_marker(pytest.mark.usefixtures("_cancel_leftover_tasks"))


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process (`cli_main([...])`) configures logging for a process; the next test
    must not inherit its levels, filters and handlers (a root at ERROR hides what caplog expects)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    named = {name: (lg.level, list(lg.filters)) for name, lg in logging.Logger.manager.loggerDict.items()
             if isinstance(lg, logging.Logger)}
    yield
    root.setLevel(level)
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            old_level, old_filters = named.get(name, (logging.NOTSET, []))
            logger.setLevel(old_level)
            logger.filters[:] = old_filters

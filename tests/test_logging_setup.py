"""The `logger:` block sets the default level and per-logger levels; `--log-level` wins over `default`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import voluptuous as vol

from orbiteos.logging_setup import LOGGER_SCHEMA, apply_logger_config


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("orbiteos.test_a").level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    logging.getLogger("orbiteos.test_a").setLevel(saved[2])


def test_default_and_per_logger_levels_are_applied() -> None:
    apply_logger_config({"default": "warning", "logs": {"orbiteos.test_a": "DEBUG"}})
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("orbiteos.test_a").level == logging.DEBUG


def test_command_line_level_overrides_the_default() -> None:
    apply_logger_config({"default": "info"}, override="error")
    assert logging.getLogger().level == logging.ERROR


def test_handler_is_added_once() -> None:
    apply_logger_config(None)
    apply_logger_config(None)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_orbiteos", False)]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.INFO


def test_unknown_level_is_refused_with_the_choices() -> None:
    with pytest.raises(vol.Invalid) as info:
        LOGGER_SCHEMA({"logs": {"orbiteos": "verbose"}})
    assert "expected a log level (critical, fatal, error, warning, warn, info, debug, notset), found 'verbose'" in str(
        info.value
    )


def test_filters_drop_matching_messages_of_that_logger(caplog: pytest.LogCaptureFixture) -> None:
    target = logging.getLogger("orbiteos.test_a")
    try:
        apply_logger_config({"filters": {"orbiteos.test_a": ["^polling", "timeout on unit \\d+"]}})
        with caplog.at_level(logging.INFO):
            target.info("polling battery.main")
            target.warning("timeout on unit 3")
            target.warning("battery.main unreachable")
        assert [r.getMessage() for r in caplog.records if r.name == "orbiteos.test_a"] == ["battery.main unreachable"]
    finally:
        for f in list(target.filters):
            target.removeFilter(f)


def test_bad_filter_pattern_is_refused() -> None:
    with pytest.raises(vol.Invalid) as info:
        LOGGER_SCHEMA({"filters": {"orbiteos": "([unclosed"}})
    assert "expected a regular expression, found '([unclosed'" in str(info.value)

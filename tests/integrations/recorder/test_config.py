"""The recorder: block: defaults, filters, and errors that say what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import voluptuous as vol
import yaml

from orbiteos.integrations.recorder import CONFIG_SCHEMA, _without_password
from orbiteos.integrations.recorder.filters import EntityFilter

REPO = Path(__file__).parents[3]


def test_an_empty_block_gives_the_defaults():
    assert CONFIG_SCHEMA(None) == {
        "commit_interval": 1.0, "purge_keep_days": 90, "max_queue": 50_000, "journal_max_mb": 1024,
        "timescaledb": "auto",
        "include": {"domains": [], "entities": [], "entity_globs": []},
        "exclude": {"domains": [], "entities": [], "entity_globs": [], "event_types": []},
        "price_entities": [],
    }


@pytest.mark.parametrize(("written", "meant"), [("auto", "auto"), ("on", "on"), ("off", "off")])
def test_timescaledb_on_and_off_read_as_yaml_booleans_still_mean_on_and_off(written: str, meant: str):
    block = yaml.safe_load(f"timescaledb: {written}")
    assert CONFIG_SCHEMA(block)["timescaledb"] == meant


def test_durations_and_lists_are_accepted_in_the_usual_forms():
    config = CONFIG_SCHEMA({"commit_interval": "00:00:05", "include": {"domains": "sensor", "entities": "meter.grid"}})
    assert config["commit_interval"] == 5.0
    assert config["include"]["domains"] == ["sensor"]
    assert config["include"]["entities"] == ["meter.grid"]


@pytest.mark.parametrize(("block", "message"), [
    ({"db_url": "mysql://x"}, "expected a PostgreSQL URL"),
    ({"commit_interval": 0}, "expected a duration > 0"),
    ({"purge_keep_days": "soon"}, "purge_keep_days"),
    ({"exclude": {"entities": ["Not An Id"]}}, "expected an entity id"),
    ({"include": {"colours": ["red"]}}, "extra keys not allowed"),
    ({"max_queue": 5}, "max_queue"),
    ({"timescaledb": "maybe"}, "expected one of auto, on, off"),
])
def test_bad_values_are_refused_naming_the_field(block: dict, message: str):
    with pytest.raises(vol.Invalid) as caught:
        CONFIG_SCHEMA(block)
    assert message in str(caught.value) or message in ".".join(map(str, caught.value.path))


def test_the_demo_package_is_a_valid_recorder_block():
    block = yaml.safe_load((REPO / "config.example" / "packages" / "recorder.yaml").read_text())
    config = CONFIG_SCHEMA(block["recorder"])
    assert "db_url" not in config  # the demo uses the embedded server


def test_a_password_in_the_url_is_not_logged():
    assert _without_password("postgresql://me:secret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert _without_password("postgresql://me@db/x") == "postgresql://me@db/x"


def test_filters_follow_the_documented_order():
    keep = EntityFilter.from_config(
        {"domains": ["sensor"], "entities": ["switch.pump"], "entity_globs": ["binary_sensor.door_*"]},
        {"entities": ["sensor.noisy"], "entity_globs": ["sensor.*_debug"], "domains": ["switch"]},
    )
    assert keep("sensor.load")
    assert not keep("sensor.noisy")  # excluded entity beats the included domain
    assert keep("switch.pump")  # included entity beats the excluded domain
    assert not keep("switch.fan")
    assert not keep("sensor.grid_debug")
    assert keep("binary_sensor.door_front")
    assert not keep("light.kitchen")  # with includes, anything else is left out
    everything_but = EntityFilter.from_config({}, {"domains": ["light"]})
    assert everything_but("light.x") is False and everything_but("sensor.y") is True

"""MQTT topic names and filters: validation and wildcard matching (MQTT 3.1.1 section 4.7)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

_MAX_TOPIC_BYTES = 65535


def _check_common(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid(f"expected an MQTT topic (a string), found {value!r}")
    if not value:
        raise vol.Invalid("expected an MQTT topic, found an empty string")
    if "\0" in value:
        raise vol.Invalid(f"an MQTT topic may not contain a NUL character, found {value!r}")
    if len(value.encode()) > _MAX_TOPIC_BYTES:
        raise vol.Invalid(f"an MQTT topic is at most {_MAX_TOPIC_BYTES} bytes long")
    return value


def valid_publish_topic(value: Any) -> str:
    """A topic name to publish to: no wildcards."""
    topic = _check_common(value)
    if "+" in topic or "#" in topic:
        raise vol.Invalid(f"a topic to publish to may not contain the wildcards + or #, found {topic!r}")
    return topic


def valid_subscribe_topic(value: Any) -> str:
    """A topic filter: `+` fills one whole level, `#` only as the whole last level."""
    topic = _check_common(value)
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise vol.Invalid(f"'#' must be the whole last level of a topic filter, found {topic!r}")
        if "+" in level and level != "+":
            raise vol.Invalid(f"'+' must fill a whole level of a topic filter, found {topic!r}")
    return topic


def has_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def matches(topic_filter: str | list[str], topic: str) -> bool:
    """Does `topic` match `topic_filter` (given as text or as its levels)?"""
    filter_levels = topic_filter.split("/") if isinstance(topic_filter, str) else topic_filter
    topic_levels = topic.split("/")
    # Topics starting with '$' (e.g. $SYS) are not matched by a leading wildcard.
    if topic.startswith("$") and filter_levels and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)

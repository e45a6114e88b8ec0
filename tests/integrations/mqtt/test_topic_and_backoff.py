"""Topic filter matching and the reconnect backoff, without a broker."""

from __future__ import annotations

import pytest

from orbiteos.integrations.mqtt.client import backoff_delay
from orbiteos.integrations.mqtt.topic import matches


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/x/c", True),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "anything/at/all", True),
        ("+/status", "/status", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker/uptime", True),
    ],
)
def test_topic_filters_match_as_mqtt_defines(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    for attempt, step in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 32.0), (6, 60.0), (40, 60.0)]:
        delays = [backoff_delay(attempt, 1.0, 60.0) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays), (attempt, min(delays), max(delays))
        assert len(set(delays)) > 1  # jittered, not lock-step

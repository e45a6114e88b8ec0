"""An automation's on/off and last_triggered survive reload and restart, as Home Assistant's do."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

from orbiteos.automation import async_setup, get_manager
from orbiteos.clock import VirtualClock, run_virtual
from orbiteos.config import load_config
from orbiteos.core import Hub, SiteConfig
from tests.automation.scenario import START

AUTOMATIONS = """
- id: switched
  alias: switched
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {n: switched}}
- id: forced_on
  alias: forced_on
  initial_state: true
  trigger: {platform: event, event_type: go}
  action: {service: test.call, data: {n: forced_on}}
"""


def write_config(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text("orbiteos:\n  name: Test\nautomation: !include automations.yaml\n")
    (config_dir / "automations.yaml").write_text(textwrap.dedent(AUTOMATIONS))


async def start(config_dir: Path, clock: VirtualClock, calls: list[str]) -> Hub:
    loaded = load_config(config_dir)
    assert loaded.ok, [str(e) for e in loaded.errors]
    hub = Hub(clock, SiteConfig(config_dir=config_dir))
    hub.services.register("test", "call", lambda call: calls.append(str(call.data["n"])))
    await async_setup(hub, loaded.blocks["automation"])
    await hub.start()
    return hub


def test_switched_off_stays_off_across_reload_and_restart_unless_initial_state(tmp_path: Path) -> None:
    write_config(tmp_path)
    calls: list[str] = []

    async def first(clock: VirtualClock) -> None:
        hub = await start(tmp_path, clock, calls)
        hub.bus.fire("go")
        await hub.wait_idle()
        for entity_id in ("automation.switched", "automation.forced_on"):
            await hub.services.call("automation", "turn_off", {"entity_id": entity_id})
        await hub.services.call("automation", "reload")
        assert get_manager(hub).get("switched").enabled is False  # type: ignore[union-attr]
        assert get_manager(hub).get("forced_on").enabled is True  # type: ignore[union-attr]  # initial_state
        hub.bus.fire("go")
        await hub.wait_idle()
        await hub.stop()

    async def second(clock: VirtualClock) -> tuple[str, object]:
        hub = await start(tmp_path, clock, calls)
        hub.bus.fire("go")
        await hub.wait_idle()
        state = hub.states.get("automation.switched")
        assert state is not None
        await hub.stop()
        return state.state, state.attributes["last_triggered"]

    run_virtual(first, START)
    assert calls == ["switched", "forced_on", "forced_on"]
    assert (tmp_path / ".storage" / "automation_states.json").exists()
    on_off, last_triggered = run_virtual(second, START + timedelta(hours=1))
    assert on_off == "off"
    assert last_triggered == START  # carried over from the first run
    assert calls[3:] == ["forced_on"]

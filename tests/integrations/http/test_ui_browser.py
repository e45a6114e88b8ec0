"""The web UI in a real headless Chromium: sign in, live states, automations and traces.

Screenshots go to a temporary directory; with ORBITEOS_UPDATE_SCREENSHOTS=1 they replace the
ones in docs/img/ that docs/ui.md shows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orbiteos.automation import EVENT_AUTOMATION_RUN_FINISHED, get_manager
from orbiteos.core import Hub
from tests.integrations.http.conftest import PEAK_SHAVING, Site, start_site
from tests.servers.chromium import Chromium, Page

DOCS_IMG = Path(__file__).resolve().parents[3] / "docs" / "img"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return DOCS_IMG if os.environ.get("ORBITEOS_UPDATE_SCREENSHOTS") == "1" else tmp_path / "shots"


def add_site_devices(hub: Hub) -> None:
    hub.states.set("pv.roof", "8.2", {"friendly_name": "Roof PV", "limit_kw": 10.0, "energy_kwh": 31.4})
    hub.states.set("battery.main", "-3.0", {"friendly_name": "Main battery", "soc": 64.0, "capacity_kwh": 100.0,
                                            "setpoint_kw": -3.0})
    hub.states.set("meter.grid", "-1.5", {"friendly_name": "Grid meter", "frequency_hz": 50.01})
    hub.states.set("ev_charger.bay_1", "3.7", {"friendly_name": "Bay 1", "status": "Charging", "limit_kw": 11.0})
    hub.states.set("sensor.price", "0.21", {"friendly_name": "Day-ahead price", "unit_of_measurement": "EUR/kWh"})


@pytest.fixture
async def ui_site(tmp_path: Path) -> AsyncIterator[Site]:
    site = await start_site(tmp_path)
    add_site_devices(site.hub)
    try:
        yield site
    finally:
        await site.session.close()
        await site.hub.stop()


async def sign_in(page: Page, site: Site, role: str) -> None:
    await page.goto(site.server.url + "/")
    await page.wait_for("!document.getElementById('signin').hidden")
    await page.type("#token-input", site.tokens[role])
    await page.click("#signin-button")
    await page.wait_for("document.getElementById('connection').textContent === 'live'")
    await page.wait_for("document.querySelectorAll('#entities tr[data-entity-id]').length >= 5")


def state_cell(entity_id: str) -> str:
    return f"document.querySelector('#entities tr[data-entity-id=\"{entity_id}\"] td.state')?.dataset.state"


async def test_wrong_token_is_refused_then_sign_in_works(chromium: Chromium, ui_site: Site, shots: Path) -> None:
    async with chromium.page() as page:
        await page.goto(ui_site.server.url + "/")
        await page.wait_for("!document.getElementById('signin').hidden")
        await page.screenshot(shots / "ui-signin.png", full_page=False)
        await page.type("#token-input", "oeos_not_a_token")
        await page.click("#signin-button")
        message = await page.wait_for("document.getElementById('signin-error').textContent")
        assert "not accepted" in message
        await page.evaluate("document.getElementById('token-input').value = ''")
        await sign_in(page, ui_site, "viewer")
        assert await page.evaluate("document.getElementById('whoami').textContent") == "viewer · viewer"
        assert [e for e in page.errors if "401" not in e] == []


async def test_state_change_arrives_live(chromium: Chromium, ui_site: Site, shots: Path) -> None:
    async with chromium.page() as page:
        await sign_in(page, ui_site, "operator")
        assert await page.evaluate(state_cell("meter.grid")) == "-1.5"
        assert await page.evaluate("document.querySelector('[data-flow=grid]').dataset.direction") == "from-site"
        ui_site.hub.states.set("meter.grid", "4.2", {"friendly_name": "Grid meter", "frequency_hz": 49.97})
        await page.wait_for(f"{state_cell('meter.grid')} === '4.2'")
        await page.wait_for("document.querySelector('[data-flow=grid]').dataset.direction === 'to-site'")
        assert await page.evaluate("document.querySelector('[data-value=grid]').textContent") == "4.2 kW"
        assert await page.evaluate("document.querySelector('[data-soc=battery]').textContent") == "SoC 64 %"
        await page.screenshot(shots / "ui-dashboard.png")
        assert page.errors == []


async def test_signing_out_forgets_the_token(chromium: Chromium, ui_site: Site) -> None:
    async with chromium.page() as page:
        await sign_in(page, ui_site, "viewer")
        await page.click("#signout")
        await page.wait_for("!document.getElementById('signin').hidden")
        assert await page.evaluate("localStorage.getItem('orbiteos.token')") is None
        assert page.errors == []


@pytest.fixture
async def automated_ui_site(tmp_path: Path) -> AsyncIterator[Site]:
    site = await start_site(tmp_path, automations=PEAK_SHAVING)
    add_site_devices(site.hub)
    try:
        yield site
    finally:
        await site.session.close()
        await site.hub.stop()


ROW = "#automations tr[data-automation-id=peak_shaving]"


async def test_toggle_run_and_trace_an_automation(chromium: Chromium, automated_ui_site: Site, shots: Path) -> None:
    site = automated_ui_site
    automation = get_manager(site.hub).get("peak_shaving")
    async with chromium.page(height=1000) as page:
        await sign_in(page, site, "operator")
        await page.wait_for(f"!!document.querySelector('{ROW}')")
        assert await page.evaluate(f"document.querySelector('{ROW} [data-action=toggle]').ariaPressed") == "true"

        await page.click(f"{ROW} [data-action=toggle]")
        await page.wait_for(f"document.querySelector('{ROW} [data-action=toggle]').ariaPressed === 'false'")
        assert automation.enabled is False
        await page.click(f"{ROW} [data-action=toggle]")
        await page.wait_for(f"document.querySelector('{ROW} [data-action=toggle]').ariaPressed === 'true'")
        assert automation.enabled is True

        # A real trigger: grid import over 20 kW; the row's "last triggered" follows live.
        site.hub.states.set("meter.grid", "26.0", {"friendly_name": "Grid meter", "frequency_hz": 50.0})
        await page.wait_for(f"document.querySelector('{ROW} [data-last-triggered]').dataset.lastTriggered !== ''")
        await page.wait_for(f"{state_cell('battery.main')} === '6.0'")

        finished = asyncio.Event()
        site.hub.bus.listen(EVENT_AUTOMATION_RUN_FINISHED, lambda event: finished.set())
        await page.click(f"{ROW} [data-action=run]")
        async with asyncio.timeout(10):
            await finished.wait()
        assert len(automation.traces()) == 2

        await page.click(f"{ROW} [data-action=trace]")
        await page.wait_for("!document.getElementById('trace-panel').hidden")
        await page.wait_for("document.querySelectorAll('#trace-runs li').length === 2")
        # The newest run (the Run button) is shown first; open the older, triggered one.
        await page.click("#trace-runs li:nth-child(2) button")
        await page.wait_for(
            "!!document.querySelector('#trace-detail .step[data-path=\"condition/0\"]')?.classList.contains('pass')"
        )
        detail = await page.evaluate("document.getElementById('trace-detail').innerText")
        assert "battery.set_power" in detail
        assert "numeric state of meter.grid" in detail or "meter.grid" in detail
        # Next to the traces, what the trigger last saw (orbiteos.automation.explain).
        await page.wait_for("document.querySelectorAll('#trace-explain-lines li').length >= 2")
        explained = await page.evaluate("document.getElementById('trace-explain-lines').innerText")
        assert "watches meter.grid above 20" in explained
        assert "meter.grid: last value 26.0" in explained and "not armed" in explained
        await page.screenshot(shots / "ui-trace.png")
        assert page.errors == []
    assert [c.context.user_id for c in site.calls] == [None, None]  # the automation's own calls


async def test_viewer_sees_automations_but_cannot_change_them(
    chromium: Chromium, automated_ui_site: Site
) -> None:
    async with chromium.page() as page:
        await sign_in(page, automated_ui_site, "viewer")
        await page.wait_for(f"!!document.querySelector('{ROW}')")
        assert await page.evaluate(f"document.querySelector('{ROW} [data-action=toggle]').disabled") is True
        assert await page.evaluate(f"document.querySelector('{ROW} [data-action=run]').disabled") is True
        assert await page.evaluate(f"document.querySelector('{ROW} [data-action=trace]').disabled") is False
        assert await page.evaluate("document.getElementById('reload-automations').hidden") is True
        assert page.errors == []


async def test_device_sparklines_with_the_recorder(chromium: Chromium, tmp_path: Path, postgres_url: str) -> None:
    site = await start_site(tmp_path, recorder_url=postgres_url)
    add_site_devices(site.hub)
    try:
        async with chromium.page() as page:
            await sign_in(page, site, "viewer")
            await page.wait_for("document.getElementById('history-note').textContent.startsWith('Sparklines')")
            site.hub.states.set("meter.grid", "30.0", {"friendly_name": "Grid meter"})
            await page.wait_for(
                "!!document.querySelector('.device[data-entity-id=\"meter.grid\"] .spark polyline')"
            )
            assert page.errors == []
    finally:
        await site.session.close()
        await site.hub.stop()


async def test_admin_reload_shows_why_it_was_refused(chromium: Chromium, automated_ui_site: Site) -> None:
    # The test site has no configuration.yaml, so the reload is refused with the file named.
    async with chromium.page() as page:
        await sign_in(page, automated_ui_site, "admin")
        await page.wait_for("!document.getElementById('reload-automations').hidden")
        await page.click("#reload-automations")
        note = await page.wait_for(
            "document.getElementById('automations-note').textContent.startsWith('Reload refused') &&"
            " document.getElementById('automations-note').textContent"
        )
        assert "configuration.yaml" in note
        assert await page.evaluate(f"!!document.querySelector('{ROW}')")  # the automations stay
        assert [e for e in page.errors if "400" not in e] == []


async def test_an_invalid_automation_is_shown_unavailable_with_its_errors(
    chromium: Chromium, automated_ui_site: Site
) -> None:
    from orbiteos.automation.manager import validate_each
    from orbiteos.config import parse_yaml

    broken_yaml = PEAK_SHAVING + "- id: typo\n  alias: Typo\n  trigger: {platform: stat}\n  action: []\n"
    valid, broken = validate_each(parse_yaml(broken_yaml, "automations.yaml"))
    manager = get_manager(automated_ui_site.hub)
    await manager.unload()
    await manager.load(valid, broken)
    row = "#automations tr[data-automation-id=typo]"
    async with chromium.page() as page:
        await sign_in(page, automated_ui_site, "operator")
        await page.wait_for(f"!!document.querySelector('{row}')")
        assert await page.evaluate(f"document.querySelector('{row}').dataset.state") == "unavailable"
        errors = await page.evaluate(f"document.querySelector('{row} ul.errors').innerText")
        assert "automations.yaml:22:" in errors and "unknown trigger platform 'stat'" in errors
        assert await page.evaluate(f"document.querySelector('{row} [data-action=toggle]')") is None
        assert await page.evaluate(f"!!document.querySelector('{ROW} [data-action=toggle]')") is True
        assert page.errors == []

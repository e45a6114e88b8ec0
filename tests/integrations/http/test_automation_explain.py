"""`GET /api/automations/<id>/explain`: why an automation did or did not fire, over HTTP."""

from __future__ import annotations

from pathlib import Path

from tests.integrations.http.conftest import PEAK_SHAVING, start_site


async def test_explain_reports_the_trigger_and_the_refusing_condition(tmp_path: Path) -> None:
    site = await start_site(tmp_path, automations=PEAK_SHAVING)
    try:
        hub = site.hub
        soc = hub.states.get("battery.main")
        assert soc is not None
        hub.states.set("battery.main", soc.state, {**soc.attributes, "soc": 12})
        hub.states.set("meter.grid", "26.0")
        await hub.wait_idle()
        status, report = await site.request("GET", "/api/automations/peak_shaving/explain", role="viewer")
        assert status == 200
        (trigger,) = report["triggers"]
        assert trigger["watching"] == "meter.grid above 20"
        assert trigger["entities"]["meter.grid"]["value"] == 26.0
        assert trigger["entities"]["meter.grid"]["armed"] is False
        (condition,) = report["last_refused"]["false_conditions"]
        assert condition["path"] == "condition/0" and condition["value"] == {"battery.main": 12}
        assert any("condition/0 (numeric_state) was false" in line for line in report["summary"])
        assert (await site.request("GET", "/api/automations/nope/explain", role="viewer"))[0] == 404
        bad = await site.request("GET", "/api/automations/peak_shaving/explain?at=yesterday", role="viewer")
        assert bad[0] == 400 and "at:" in bad[1]["message"]
        assert (await site.request("GET", "/api/automations/peak_shaving/explain", role=None))[0] == 401
    finally:
        await site.session.close()
        await site.hub.stop()

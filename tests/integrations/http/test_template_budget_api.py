"""`POST /api/template` under the render budget: a viewer's runaway template is a 400, the API keeps answering."""

from __future__ import annotations

import asyncio

from tests.integrations.http.conftest import Site

NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


async def test_a_runaway_template_is_a_400_and_the_api_keeps_answering(site: Site) -> None:
    runaway = asyncio.create_task(site.request("POST", "/api/template", role="viewer", json={"template": NESTED_LOOPS}))
    padded = await site.request(
        "POST", "/api/template", role="viewer", json={"template": "{{ '{:>1000000000}'.format('x') }}"}
    )
    status, body = await runaway
    assert status == 400
    assert "exceeded its render time budget" in body["message"]
    assert NESTED_LOOPS in body["message"]
    assert padded[0] == 400
    assert "output size budget" in padded[1]["message"]
    assert await site.request("GET", "/api/", role="viewer") == (200, {"message": "API running."})

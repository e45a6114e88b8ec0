"""`scripts/demo`: the README's first command, with its arguments passed through to `orbiteos run`."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from orbiteos.integrations.recorder.embedded import free_port
from tests.servers.embedded_dir import embedded_root

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def test_the_readme_starts_with_its_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert commands == ["scripts/demo", "scripts/test"]


@pytest.fixture
def workdir() -> Iterator[Path]:
    with embedded_root("orbiteos-demo-", storage="demo-state") as root:
        yield root


async def test_demo_passes_port_host_and_a_relative_storage_to_orbiteos_run(workdir: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(REPO / "scripts" / "demo"), "--port", str(port), "--host", "127.0.0.1", "--storage", "demo-state",
        cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    output = ""
    try:
        async with asyncio.timeout(120):
            while "site 'Demo depot' started" not in (line := (await process.stdout.readline()).decode()):
                assert line, f"scripts/demo exited before the site started:\n{output}"
                output += line
            token = next(line for line in output.splitlines() if line.startswith("oeos_"))
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bearer {token}"}
                async with session.get(f"http://127.0.0.1:{port}/api/", headers=headers) as response:
                    assert response.status == 200, await response.text()
            process.send_signal(signal.SIGINT)
            output += (await process.stdout.read()).decode()
            assert await process.wait() == 0, output
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    assert f"web UI at http://localhost:{port}/" in output
    assert f"http: listening on http://127.0.0.1:{port}" in output
    assert (workdir / "demo-state" / "auth_tokens.json").is_file()
    assert "site 'Demo depot' stopped" in output

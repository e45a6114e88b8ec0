"""`orbiteos run --host/--port/--storage`: the command line wins over the YAML, run as a user would."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from orbiteos.cli import build_parser
from orbiteos.cli import main as cli_main
from orbiteos.cli.run import apply_overrides
from orbiteos.config import load_config
from orbiteos.integrations.recorder.embedded import free_port

ORBITEOS = [sys.executable, "-m", "orbiteos.cli"]


def _run_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def test_port_and_host_override_the_http_block(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("http:\n  server_port: 8123\n  max_body_size: 2MB\n")
    loaded = load_config(tmp_path)
    apply_overrides(loaded, _run_args("-c", str(tmp_path), "--port", "8124", "--host", "127.0.0.1"))
    http = loaded.blocks["http"]
    assert (http["server_port"], http["server_host"], http["max_body_size"]) == (8124, "127.0.0.1", 2 * 1024 * 1024)


def test_host_repeated_listens_on_each_address(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("http:\n")
    loaded = load_config(tmp_path)
    apply_overrides(loaded, _run_args("--host", "127.0.0.1", "--host", "::1"))
    assert loaded.blocks["http"]["server_host"] == ["127.0.0.1", "::1"]


def test_without_options_the_configuration_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("logger:\n  default: info\n")
    loaded = load_config(tmp_path)
    apply_overrides(loaded, _run_args())
    assert "http" not in loaded.blocks
    assert loaded.site.storage_dir == tmp_path / ".storage"


def test_storage_moves_the_site_storage(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("logger:\n  default: info\n")
    loaded = load_config(tmp_path)
    apply_overrides(loaded, _run_args("--storage", str(tmp_path / "state")))
    assert loaded.site.storage_dir == tmp_path / "state"


@pytest.mark.parametrize("port", ["http", "-1", "65536"])
def test_a_bad_port_is_refused_with_what_was_expected(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["run", "--port", port])
    assert exit_info.value.code == 2
    assert f"argument --port: expected a TCP port 0-65535, found '{port}'" in capsys.readouterr().err


async def test_run_serves_on_the_port_given_with_tokens_from_the_storage_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, storage = tmp_path / "config", tmp_path / "state"
    config.mkdir()
    # The YAML's port is taken by a listener of ours: only the command line's port can work.
    busy = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yaml_port = busy.sockets[0].getsockname()[1]
    (config / "configuration.yaml").write_text(
        f"orbiteos:\n  name: Ported\nlogger:\n  default: info\nhttp:\n  server_port: {yaml_port}\n"
    )
    assert (
        cli_main(["token", "create", "--name", "ops", "--role", "viewer", "-c", str(config), "--storage", str(storage)])
        == 0
    )
    token = capsys.readouterr().out.strip()
    assert (storage / "auth_tokens.json").is_file()
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *ORBITEOS, "run", "-c", str(config), "--host", "127.0.0.1", "--port", str(port), "--storage", str(storage),
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stderr is not None
    started = ""
    try:
        async with asyncio.timeout(60):
            while "site 'Ported' started" not in (line := (await process.stderr.readline()).decode()):
                assert line, f"orbiteos run exited before it started: {started}"
                started += line
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/api/", headers={"Authorization": "Bearer x"}) as bad:
                    assert bad.status == 401
                async with session.get(
                    f"http://127.0.0.1:{port}/api/", headers={"Authorization": f"Bearer {token}"}
                ) as good:
                    assert good.status == 200, await good.text()
            process.send_signal(signal.SIGTERM)
            rest = (await process.stderr.read()).decode()
            assert await process.wait() == 0, rest
    finally:
        busy.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert f"http: listening on http://127.0.0.1:{port}" in started
    assert not (config / ".storage").exists()


def test_port_without_an_http_block_turns_the_web_server_on(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("logger:\n  default: info\n")
    loaded = load_config(tmp_path)
    apply_overrides(loaded, _run_args("--port", "8124"))
    assert loaded.blocks["http"] == {"server_port": 8124}

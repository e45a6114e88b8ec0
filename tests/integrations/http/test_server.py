"""The server's configuration: TLS, CORS, body size limit, config schema, start and stop."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
import voluptuous as vol

from orbiteos import webhook
from orbiteos.integrations.http import CONFIG_SCHEMA, settings_from_config
from tests.integrations.http.conftest import start_site


def test_config_defaults_match_home_assistant() -> None:
    config = CONFIG_SCHEMA(None)
    assert config["server_port"] == 8123
    assert config["max_body_size"] == 1024 * 1024
    assert CONFIG_SCHEMA({"max_body_size": "64KB"})["max_body_size"] == 64 * 1024


def test_config_errors_name_the_field() -> None:
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA({"server_port": 70000})
    assert "server_port" in str(err.value)
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA({"ssl_key": "key.pem"})
    assert "ssl_certificate" in str(err.value)
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA({"max_body_size": "lots"})
    assert "max_body_size" in str(err.value)


def test_missing_certificate_file_is_reported(tmp_path: Path) -> None:
    config = CONFIG_SCHEMA({"ssl_certificate": "cert.pem"})
    with pytest.raises(ValueError, match="cert.pem"):
        settings_from_config(config, tmp_path)


async def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    site = await start_site(tmp_path, max_body_size="2KB")
    try:
        status, body = await site.request("POST", "/api/events/big", data='{"x": "' + "a" * 4096 + '"}')
        assert status == 413
        assert "too large" in body["message"]
        assert (await site.request("POST", "/api/events/small", json={"x": 1}))[0] == 200
        webhook.register(site.hub, "big-hook", lambda hub, wid, request: None)
        status, body = await site.request("POST", "/api/webhook/big-hook", role=None, json={"x": "a" * 4096})
        assert status == 413
    finally:
        await site.session.close()
        await site.hub.stop()


async def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    site = await start_site(tmp_path, cors_allowed_origins=["https://dash.example"])
    try:
        preflight = {"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"}
        async with site.session.options("/api/states", headers=preflight) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == "https://dash.example"
        async with site.session.get("/api/states", headers={"Origin": "https://evil.example",
                                                            **site.headers("viewer")}) as response:
            assert response.status == 200
            assert "Access-Control-Allow-Origin" not in response.headers
        # Error answers carry the headers too, so a dashboard can read the message.
        async with site.session.get("/api/states/meter.none", headers={"Origin": "https://dash.example",
                                                                       **site.headers("viewer")}) as response:
            assert response.status == 404
            assert response.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    finally:
        await site.session.close()
        await site.hub.stop()


@pytest.fixture
def self_signed(tmp_path: Path) -> Path:
    """cert.pem and key.pem for 127.0.0.1 in tmp_path."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )
    return tmp_path


async def test_tls_serves_https_with_the_configured_certificate(self_signed: Path) -> None:
    tmp_path = self_signed
    site = await start_site(tmp_path, ssl_certificate="cert.pem", ssl_key="key.pem")
    try:
        assert site.server.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(site.server.url + "/api/", headers=site.headers("viewer"), ssl=context) as resp:
                assert resp.status == 200
            with pytest.raises(aiohttp.ClientError):
                async with session.get(site.server.url.replace("https", "http") + "/api/"):
                    pass
    finally:
        await site.session.close()
        await site.hub.stop()


async def test_stopping_the_hub_stops_the_server(tmp_path: Path) -> None:
    site = await start_site(tmp_path)
    url = site.server.url
    await site.session.close()
    await site.hub.stop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(url + "/api/"):
                pass


async def test_listens_on_every_configured_address(tmp_path: Path) -> None:
    site = await start_site(tmp_path, server_host=["127.0.0.1", "127.0.0.2"])
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for host in ("127.0.0.1", "127.0.0.2"):
                url = f"http://{host}:{site.server.port}/api/"
                async with session.get(url, headers=site.headers("viewer")) as response:
                    assert response.status == 200, host
    finally:
        await site.session.close()
        await site.hub.stop()

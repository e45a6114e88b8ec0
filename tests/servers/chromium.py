"""Headless Debian Chromium for browser tests, driven over the Chrome DevTools Protocol with aiohttp.

The `chromium` fixture starts one browser per test session on a free port (`--remote-debugging-port=0`,
read back from DevToolsActivePort) with a fresh profile; `async with chromium.page() as page:` opens
a tab. No browser is downloaded: the Debian `chromium` package is used (scripts/setup installs it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
)


class BrowserError(AssertionError):
    """The page did something a test did not expect (a JS error, a timeout)."""


class Page:
    """One tab, attached with a flat CDP session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str, calls: itertools.count[int]) -> None:
        self._ws = ws
        self._session_id = session_id
        self._ids = calls
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[str] = []
        self.console: list[str] = []

    async def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        call_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session_id
        await self._ws.send_str(json.dumps(message))
        async with asyncio.timeout(30):
            reply = await future
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)
            return
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "?"))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
            if params.get("type") == "error":
                self.errors.append(text)
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.errors.append(f"{entry.get('source')}: {entry.get('text')}")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, within_s: float = 15.0) -> Any:
        """Poll until `expression` is truthy; fail with the page's errors if it never is."""
        try:
            async with asyncio.timeout(within_s):
                while True:
                    value = await self.evaluate(expression)
                    if value:
                        return value
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise BrowserError(f"timed out waiting for {expression!r}; page errors: {self.errors}") from None

    async def click(self, selector: str) -> None:
        found = await self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)}); if (!el) return false;"
            f" el.scrollIntoView({{block: 'center'}}); el.click(); return true; }})()"
        )
        if not found:
            raise BrowserError(f"no element matches {selector!r}")

    async def type(self, selector: str, text: str) -> None:
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.send("Input.insertText", {"text": text})

    async def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            await self.evaluate("window.scrollTo(0, 0)")  # sticky headers belong at the top of the picture
            metrics = await self.send("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        shot = await self.send("Page.captureScreenshot", params)
        _write(path, base64.b64decode(shot["data"]))
        return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Chromium:
    def __init__(self, browser_ws_url: str) -> None:
        self.browser_ws_url = browser_ws_url

    @asynccontextmanager
    async def page(self, width: int = 1360, height: int = 900) -> AsyncIterator[Page]:
        """A fresh tab (own browser context: no shared storage between tests)."""
        ids = itertools.count(1)
        async with aiohttp.ClientSession() as http, http.ws_connect(self.browser_ws_url, max_msg_size=0) as ws:
            page = Page(ws, "", ids)
            reader = asyncio.create_task(_read(ws, page))
            try:
                context = await page.send("Target.createBrowserContext", session=False)
                target = await page.send(
                    "Target.createTarget",
                    {"url": "about:blank", "browserContextId": context["browserContextId"]},
                    session=False,
                )
                attached = await page.send(
                    "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False
                )
                page._session_id = attached["sessionId"]
                for domain in ("Page", "Runtime", "Log"):
                    await page.send(f"{domain}.enable")
                await page.send("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
                yield page
            finally:
                try:
                    await page.send("Target.disposeBrowserContext",
                                    {"browserContextId": context["browserContextId"]}, session=False)
                except Exception:  # the browser may already be gone; the session fixture cleans up
                    pass
                reader.cancel()
                try:
                    await reader
                except asyncio.CancelledError:
                    pass


async def _read(ws: aiohttp.ClientWebSocketResponse, page: Page) -> None:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            page.dispatch(json.loads(message.data))


def _wait_for_devtools(profile: Path, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = log.read_text(errors="replace")
            raise RuntimeError(f"chromium exited with {process.returncode}: {stderr[-2000:]}")
        if port_file.exists():
            lines = port_file.read_text().splitlines()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise RuntimeError(f"chromium did not open its DevTools port within {timeout:.0f} s")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Debian chromium is not installed (scripts/setup installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="orbiteos-chromium-"))
    profile, log = workdir / "profile", workdir / "chromium.log"
    with log.open("wb") as log_file:  # a file, not a pipe: chromium's chatter must never block it
        process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=log_file,
        )
    try:
        yield Chromium(_wait_for_devtools(profile, process, log))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

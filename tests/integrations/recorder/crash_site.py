"""A site to kill -9: a hub with the recorder and the HTTP API, its port printed on stdout.

`python -m tests.integrations.recorder.crash_site CONFIG_DIR DB_URL JOURNAL_DIR` (run by
test_acknowledged.py); it runs until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import http, recorder


async def main(config_dir: Path, db_url: str, journal_dir: str) -> None:
    hub = Hub(config=SiteConfig(name="Crash", config_dir=config_dir))
    # A commit interval far longer than the test: only the acknowledgement's group commit writes.
    await recorder.async_setup(hub, {"db_url": db_url, "journal_dir": journal_dir, "commit_interval": 60})
    await http.async_setup(hub, {"server_host": "127.0.0.1", "server_port": 0})
    await hub.start()
    print(hub.data["http"].url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))

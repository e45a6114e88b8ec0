"""A temporary directory for an embedded PostgreSQL (a site's storage), removed with its server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orbiteos.integrations.recorder.embedded import EmbeddedServer


@contextmanager
def embedded_root(prefix: str, storage: str = ".storage") -> Iterator[Path]:
    """A fresh directory the `postgres` user can enter; the server of `<it>/<storage>` is stopped at the end.

    Not pytest's tmp_path: its parent is mode 0700, and as root the embedded server runs as `postgres`.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root
    finally:
        server = EmbeddedServer(root / storage)
        if server.cluster.initialised:
            server.cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

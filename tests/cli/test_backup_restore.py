"""`orbiteos backup` and `orbiteos restore`: a site, its storage and its embedded database, there and back."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from orbiteos.backup import DUMP, MANIFEST
from orbiteos.cli import main as cli_main
from orbiteos.integrations.http.auth import TokenStore
from orbiteos.integrations.recorder.embedded import EmbeddedServer
from tests.servers.embedded_dir import embedded_root

CONFIGURATION = "orbiteos:\n  name: Backed up\n  packages: !include_dir_named packages\nrecorder:\n"


@pytest.fixture
def root() -> Iterator[Path]:
    with embedded_root("orbiteos-backup-") as path:
        try:
            yield path
        finally:
            for storage in (path / "restored" / ".storage", path / "elsewhere"):
                server = EmbeddedServer(storage)
                if server.cluster.initialised:
                    server.cluster.stop("immediate")


def _site(root: Path) -> tuple[Path, str]:
    """A configuration with a package, a secret, a token, a trace file and a journal batch."""
    config = root / "site"
    (config / "packages").mkdir(parents=True)
    (config / "configuration.yaml").write_text(CONFIGURATION)
    (config / "packages" / "site.yaml").write_text("logger:\n  default: info\n")
    (config / "secrets.yaml").write_text("price_api: s3cret\n")
    storage = config / ".storage"
    token = TokenStore.for_config_dir(config).create("ops", "admin")
    (storage / "traces.json").write_text(json.dumps({"automation.a": [{"run_id": "1"}]}))
    (storage / "recorder-journal").mkdir()
    (storage / "recorder-journal" / "batch-000001.bin").write_bytes(bytes(range(256)) * 4)
    return config, token


async def _database_rows(storage: Path, rows: int | None = None) -> list[tuple[int, str, float]]:
    """Start (or find) the embedded server in `storage`; with `rows`, write that many rows first."""
    server = EmbeddedServer(storage)
    dsn = await server.async_ensure_running()
    conn = await asyncpg.connect(dsn)
    try:
        if rows is not None:
            await conn.execute("CREATE TABLE readings (id int PRIMARY KEY, entity_id text, value double precision)")
            await conn.executemany("INSERT INTO readings VALUES ($1, $2, $3)",
                                   [(n, f"sensor.s{n % 7}", n / 4) for n in range(rows)])  # fmt: skip
        return [tuple(r) for r in await conn.fetch("SELECT id, entity_id, value FROM readings ORDER BY id")]
    finally:
        await conn.close()


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not {"postgres", "postgres-socket"} & set(p.relative_to(directory).parts)
    }


async def test_round_trip_brings_back_config_storage_and_database_taken_while_running(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, token = _site(root)
    written = await _database_rows(config / ".storage", rows=5000)
    archive = config / ".storage" / "backups" / "site.tar.gz"  # in the site: it must not hold itself
    # The database is running (as under a live engine): pg_dump takes it from its snapshot.
    assert await asyncio.to_thread(cli_main, ["backup", "-c", str(config), str(archive)]) == 0
    assert "with the embedded database" in capsys.readouterr().err
    assert EmbeddedServer(config / ".storage").cluster.is_running()  # left as it was found
    EmbeddedServer(config / ".storage").cluster.stop()

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile(MANIFEST))  # type: ignore[arg-type]
    assert {MANIFEST, DUMP, "config/configuration.yaml", "config/secrets.yaml", "storage/auth_tokens.json"} <= names
    assert not [n for n in names if n.startswith(("config/.storage", "storage/postgres", "storage/backups/"))]
    assert manifest["database"] == DUMP and archive.stat().st_mode & 0o077 == 0

    restored = root / "restored"
    assert await asyncio.to_thread(cli_main, ["restore", "-c", str(restored), str(archive)]) == 0
    archive.rename(root / "site.tar.gz")
    assert _files(restored) == _files(config)
    assert TokenStore.for_config_dir(restored).lookup(token) is not None
    assert await _database_rows(restored / ".storage") == written
    EmbeddedServer(restored / ".storage").cluster.stop()


async def test_restore_into_a_chosen_storage_and_refusals(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = _site(root)
    archive = root / "site.tar.gz"
    assert cli_main(["backup", "-c", str(config), str(archive)]) == 0
    assert "no embedded database" in capsys.readouterr().err  # nothing recorded yet: no dump, no error

    elsewhere = root / "elsewhere"
    assert cli_main(["restore", "-c", str(root / "restored"), "--storage", str(elsewhere), str(archive)]) == 0
    assert (elsewhere / "auth_tokens.json").is_file() and not (root / "restored" / ".storage").exists()

    assert cli_main(["restore", "-c", str(root / "restored"), "--storage", str(elsewhere), str(archive)]) == 1
    assert "is not empty; restore into an empty directory, or give --force" in capsys.readouterr().err
    assert cli_main(["restore", "-c", str(root / "restored"), "--storage", str(elsewhere), "--force",
                     str(archive)]) == 0  # fmt: skip

    await EmbeddedServer(elsewhere).async_ensure_running()  # as if OrbitEOS were running on it
    assert cli_main(["restore", "-c", str(root / "restored"), "--storage", str(elsewhere), "--force",
                     str(archive)]) == 1  # fmt: skip
    assert "is running; stop OrbitEOS before restoring" in capsys.readouterr().err


def test_an_archive_reaching_outside_its_directories_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = root / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in ((MANIFEST, json.dumps({"format": 1}).encode()), ("config/../../escaped", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert cli_main(["restore", "-c", str(root / "target"), str(archive)]) == 1
    assert "expected a plain file or directory inside the archive" in capsys.readouterr().err
    assert not (root / "escaped").exists()


def test_backup_of_something_that_is_no_configuration_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["backup", "-c", str(tmp_path), str(tmp_path / "out.tar.gz")]) == 1
    assert "no configuration.yaml; expected a configuration directory" in capsys.readouterr().err
    assert not (tmp_path / "out.tar.gz").exists()

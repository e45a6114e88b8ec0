"""A site in one file and back: the configuration, the storage and a dump of the embedded database.

The archive is a gzipped tar:

    manifest.json        what is inside, made by which version, when
    config/...           the configuration directory (without the storage inside it)
    storage/...          tokens, traces, the recorder's journal, ... (without the database files)
    database.dump        `pg_dump --format=custom` of the embedded database, when there is one

`pg_dump` reads one snapshot, so the dump is consistent while the engine writes. With a `db_url`
the database is the operator's to back up (docs/deploy.md); the archive says so in its manifest.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from orbiteos import __version__
from orbiteos.integrations.recorder.embedded import DATABASE, SERVER_USER, EmbeddedServer, PostgresCluster

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
CONFIG_PREFIX = "config"
STORAGE_PREFIX = "storage"
# The embedded server's own files: a copy of them while it runs would not be consistent.
_DATABASE_DIRS = ("postgres", "postgres-socket")
_DUMP_TIMEOUT = 3600.0


class BackupError(Exception):
    """A backup or restore could not be made; the message says what to do."""


@dataclass(frozen=True)
class BackupSummary:
    archive: Path
    files: int
    database: bool
    notes: tuple[str, ...] = ()


# --- the embedded database -----------------------------------------------------------------------


def _tool(cluster: PostgresCluster, name: str, *args: str) -> list[str]:
    argv = [str(cluster.bindir / name), *args]
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


def _connection(cluster: PostgresCluster) -> list[str]:
    return ["-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", SERVER_USER]


@contextmanager
def running(cluster: PostgresCluster) -> Iterator[None]:
    """The cluster running for the block: as found if it runs (the engine's), else started and stopped."""
    if cluster.is_running():
        yield
        return
    cluster.start()
    try:
        yield
    finally:
        cluster.stop()


def _check(result: subprocess.CompletedProcess[bytes], what: str) -> None:
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-800:]
        raise BackupError(f"{what} failed ({result.returncode}): {message}")


def dump_database(cluster: PostgresCluster, out: io.BufferedWriter) -> None:
    """`pg_dump --format=custom` of the orbiteos database into `out` (one snapshot)."""
    with running(cluster):
        argv = _tool(cluster, "pg_dump", "--format=custom", *_connection(cluster), "-d", DATABASE)
        result = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=_DUMP_TIMEOUT, check=False)
    _check(result, "pg_dump")


def restore_database(cluster: PostgresCluster, dump: Path) -> None:
    """A new cluster holding the dumped database (the caller made sure there is none)."""
    cluster.init()
    with running(cluster):
        cluster.create_database(DATABASE)
        argv = _tool(cluster, "pg_restore", "--exit-on-error", "--no-owner", *_connection(cluster), "-d", DATABASE)
        with dump.open("rb") as source:
            result = subprocess.run(argv, stdin=source, capture_output=True, timeout=_DUMP_TIMEOUT, check=False)
    _check(result, "pg_restore")


# --- backup ----------------------------------------------------------------------------------------


def _add_tree(archive: tarfile.TarFile, root: Path, prefix: str, skip: set[Path]) -> int:
    """Every regular file and directory under `root` as `prefix/...`, but those in `skip`; returns the
    number of files."""
    files = 0
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        dirnames[:] = sorted(d for d in dirnames if (here / d).absolute() not in skip)
        relative = here.relative_to(root)
        archive.add(here, arcname=str(PurePosixPath(prefix, *relative.parts)), recursive=False)
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink() or not path.is_file() or path.absolute() in skip:
                continue  # sockets, fifos and links are not part of a site
            archive.add(path, arcname=str(PurePosixPath(prefix, *relative.parts, name)), recursive=False)
            files += 1
    return files


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def create_backup(config_dir: Path, storage_dir: Path, out: Path, external_database: bool = False) -> BackupSummary:
    """Write the archive to `out` (through a temporary file, so a failed backup leaves nothing half-made).

    The embedded database is dumped whenever `storage_dir` has one; `external_database` (the
    recorder has a `db_url`) only adds a note that that database is not in the archive.
    """
    config_dir, storage_dir = config_dir.absolute(), storage_dir.absolute()
    if not (config_dir / "configuration.yaml").is_file():
        raise BackupError(f"{config_dir}: no configuration.yaml; expected a configuration directory")
    notes: list[str] = []
    has_database = (storage_dir / "postgres" / "PG_VERSION").is_file()
    cluster = EmbeddedServer(storage_dir).cluster if has_database else None
    if external_database:
        notes.append("the recorder writes to its db_url: back that database up with pg_dump (docs/deploy.md)")
    skip = {storage_dir, *(storage_dir / d for d in _DATABASE_DIRS)}
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    skip |= {out, Path(temporary)}  # an archive written into the site must not hold itself
    try:
        with tarfile.open(temporary, "w:gz") as archive:
            files = _add_tree(archive, config_dir, CONFIG_PREFIX, skip)
            if storage_dir.is_dir():
                files += _add_tree(archive, storage_dir, STORAGE_PREFIX, skip - {storage_dir})
            if cluster is not None:
                with tempfile.TemporaryDirectory(prefix="orbiteos-backup-") as work:
                    dump = Path(work) / DUMP
                    with dump.open("wb") as handle:
                        dump_database(cluster, handle)
                    archive.add(dump, arcname=DUMP, recursive=False)
            manifest = {
                "format": FORMAT,
                "orbiteos": __version__,
                "created": datetime.now(UTC).isoformat(),
                "config_dir": str(config_dir),
                "storage_dir": str(storage_dir),
                "database": DUMP if has_database else None,
                "notes": notes,
            }
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
        os.chmod(temporary, 0o600)  # tokens' hashes and the site's data
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return BackupSummary(out, files, has_database, tuple(notes))


# --- restore ---------------------------------------------------------------------------------------


def read_manifest(archive: tarfile.TarFile, name: Path) -> dict[str, Any]:
    try:
        member = archive.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"{name}: no {MANIFEST}; expected an archive made by `orbiteos backup`")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{name}: archive format {manifest.get('format')!r}; this OrbitEOS reads format {FORMAT}")
    return manifest


def _target(member: tarfile.TarInfo, config_dir: Path, storage_dir: Path) -> Path | None:
    """Where a member goes, or None for the manifest and the dump; refuses anything unsafe."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise BackupError(f"archive member {member.name!r}: expected a plain file or directory inside the archive")
    if member.name in (MANIFEST, DUMP):
        return None
    top, *rest = path.parts
    base = {CONFIG_PREFIX: config_dir, STORAGE_PREFIX: storage_dir}.get(top)
    if base is None:
        raise BackupError(f"archive member {member.name!r}: expected it under config/ or storage/")
    return base.joinpath(*rest)


def _is_empty(directory: Path) -> bool:
    return not directory.exists() or not any(directory.iterdir())


def restore_backup(archive_path: Path, config_dir: Path, storage_dir: Path, force: bool = False) -> dict[str, Any]:
    """Unpack an archive into `config_dir` and `storage_dir` and load its database dump; returns the manifest.

    Refuses a non-empty configuration or storage directory unless `force`, and always refuses while
    the embedded database in `storage_dir` is running (stop OrbitEOS first).
    """
    config_dir, storage_dir = config_dir.absolute(), storage_dir.absolute()
    cluster = EmbeddedServer(storage_dir).cluster
    if cluster.initialised and cluster.is_running():
        raise BackupError(f"the embedded database in {storage_dir} is running; stop OrbitEOS before restoring")
    for directory in (config_dir, storage_dir):
        if not force and not _is_empty(directory):
            raise BackupError(f"{directory} is not empty; restore into an empty directory, or give --force")
    with tarfile.open(archive_path, "r:*") as archive:
        manifest = read_manifest(archive, archive_path)
        members = [(member, _target(member, config_dir, storage_dir)) for member in archive.getmembers()]
        for member, target in members:
            if target is None:
                continue
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            if source is None:
                raise BackupError(f"archive member {member.name!r} cannot be read")
            with source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            os.chmod(target, member.mode & 0o777)
        if manifest.get("database"):
            _replace_database(archive, cluster)
    return manifest


def _replace_database(archive: tarfile.TarFile, cluster: PostgresCluster) -> None:
    source = archive.extractfile(DUMP)
    if source is None:
        raise BackupError(f"the archive's manifest names {DUMP}, but it is not in the archive")
    if cluster.initialised:
        shutil.rmtree(cluster.data_dir)  # --force: the archive's database replaces this one
    with tempfile.TemporaryDirectory(prefix="orbiteos-restore-") as work:
        os.chmod(work, 0o755)  # pg_restore reads it from stdin, but as root it runs as postgres
        dump = Path(work) / DUMP
        with source, dump.open("wb") as sink:
            shutil.copyfileobj(source, sink)
        restore_database(cluster, dump)

"""The on-disk journal: batches the database could not take yet, one file per batch, in order.

A segment file is named after the batch's first sequence number, so a directory listing is the
replay order. A file is written under a temporary name, fsync'd, renamed, and the directory fsync'd,
so a crash (or a kill -9, or a power cut) leaves either the whole batch or nothing; a temporary file
a failed write left (a full disk) is removed. The journal holds at most `max_bytes`: an append past
it raises `JournalFull` (an OSError, like the full disk it stands for) and writes nothing. A
segment is deleted only after its batch was committed; the batch keeps its id, so replaying a
batch that was in fact committed is recognised (see writer.py).

The files are pickles of plain values (the states rows as binary COPY data grouped by entity,
the other tables column by column) written and read only by this process's own recorder. Files
of the two formats before are read too: format 1 has the states rows as columns (they are
encoded on reading), format 2 has them encoded in arrival order.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import pickle
import uuid
from pathlib import Path

from orbiteos.integrations.recorder.copy_binary import STATES_TYPES, EncodedRows
from orbiteos.integrations.recorder.rows import COLUMNS, STATES_ENTITY_ID, Batch, Columns

_LOGGER = logging.getLogger(__name__)

_SUFFIX = ".batch"
_FORMAT = 3
_FORMAT_1_STATES_COLUMNS = ("time", "seq", "entity_id", "state", "value", "attributes", "last_changed",
                            "context_id", "context_user_id", "context_parent_id")


_TEMPORARY = ".tmp"
# The journal's default size bound (bytes on disk); `recorder.journal_max_mb` sets it.
MAX_BYTES = 1 << 30


class JournalFull(OSError):
    """An append would take the journal past its size bound."""


class Journal:
    def __init__(self, directory: Path, max_bytes: int = MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(f"*{_TEMPORARY}"):  # a write a crash or a full disk cut short
            stale.unlink(missing_ok=True)
        self._segments: list[Path] = sorted(self.directory.glob(f"*{_SUFFIX}"))
        self._sizes: dict[Path, int] = {path: path.stat().st_size for path in self._segments}
        self.max_bytes = max_bytes
        self.rows = 0  # rows written into the journal by this process, for the logs

    @property
    def bytes(self) -> int:
        """The size of the segments on disk."""
        return sum(self._sizes.values())

    def __len__(self) -> int:
        return len(self._segments)

    @property
    def head(self) -> Path | None:
        return self._segments[0] if self._segments else None

    def last_seq(self) -> int | None:
        """The highest sequence number on disk (from the file names), to number new rows after it."""
        if not self._segments:
            return None
        return int(self._segments[-1].stem.split("-")[1])

    async def append(self, batch: Batch) -> Path:
        """Write a batch after every batch already in the journal."""
        name = f"{batch.first_seq:020d}-{batch.last_seq:020d}{_SUFFIX}"
        path = self.directory / name
        if self._segments and path <= self._segments[-1]:
            raise ValueError(f"journal order broken: {name} after {self._segments[-1].name}")
        data = await asyncio.to_thread(pickle.dumps, _payload(batch), pickle.HIGHEST_PROTOCOL)
        if self.bytes + len(data) > self.max_bytes:
            raise JournalFull(
                errno.EFBIG, f"journal at its size bound ({self.bytes:,} of {self.max_bytes:,} bytes)", str(path)
            )
        await asyncio.to_thread(_write_atomically, path, data)
        self._segments.append(path)
        self._sizes[path] = len(data)
        self.rows += batch.rows
        return path

    async def read_head(self) -> Batch | None:
        path = self.head
        if path is None:
            return None
        try:
            batch = await asyncio.to_thread(_read_batch, path)  # a format 1 file is encoded there too
        except (OSError, ValueError, pickle.UnpicklingError, EOFError, TypeError) as err:
            # Keep the file for a person to look at; move it aside so the journal can go on.
            aside = path.with_suffix(".unreadable")
            _LOGGER.error("recorder journal segment %s is unreadable (%s); moved to %s", path, err, aside)
            path.rename(aside)
            self._segments.pop(0)
            self._sizes.pop(path, None)
            return await self.read_head()
        return batch

    def remove_head(self) -> None:
        path = self._segments.pop(0)
        self._sizes.pop(path, None)
        path.unlink(missing_ok=True)

    async def set_aside(self, batch: Batch, reason: str) -> Path:
        """Keep a batch the database refused (a data error) next to the journal, out of the replay."""
        path = self.directory / f"rejected-{batch.first_seq:020d}-{batch.batch_id.hex}.pickle"
        data = pickle.dumps((*_payload(batch), reason), pickle.HIGHEST_PROTOCOL)
        await asyncio.to_thread(_write_atomically, path, data)
        return path


def _payload(batch: Batch) -> tuple:  # type: ignore[type-arg]
    return (_FORMAT, batch.batch_id.bytes, batch.first_seq, batch.last_seq, batch.tables,
            batch.states.groups, batch.states.count)


def _batch(payload: tuple) -> Batch:  # type: ignore[type-arg]
    version = payload[0]
    if version == _FORMAT:
        _, batch_id, first_seq, last_seq, tables, groups, count = payload
        states = EncodedRows(STATES_TYPES, STATES_ENTITY_ID, groups, count)
    elif version == 2:  # encoded rows in arrival order: one group
        _, batch_id, first_seq, last_seq, tables, chunks, count = payload
        states = EncodedRows(STATES_TYPES, STATES_ENTITY_ID, {"": bytearray(b"".join(chunks))} if chunks else {},
                             count)
    elif version == 1:
        _, batch_id, first_seq, last_seq, tables = payload
        states = EncodedRows(STATES_TYPES, STATES_ENTITY_ID)
        columns: Columns | None = tables.pop("states", None)
        if columns:
            by_name = dict(zip(_FORMAT_1_STATES_COLUMNS, columns, strict=True))
            for row in zip(*(by_name[name] for name in COLUMNS["states"]), strict=True):
                states.add(row)
    else:
        raise ValueError(f"unknown journal format {version}")
    return Batch(uuid.UUID(bytes=batch_id), first_seq, last_seq, tables, states)


def _write_atomically(path: Path, data: bytes) -> None:
    """`data` in `path`, durably, or nothing (and no temporary file) when any step fails."""
    temporary = path.with_suffix(_TEMPORARY)
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def _read_batch(path: Path) -> Batch:
    with open(path, "rb") as file:
        return _batch(pickle.load(file))  # noqa: S301 - our own journal files

"""The default store: one SQLite file in WAL mode, driven off the Trio thread.

Writes go through one connection, reads through another (WAL lets them run side by side).
Concurrent appends are *group-committed*: the first appender to find the writer idle becomes
the leader, takes every append queued so far and commits them in one transaction, in one
worker thread; appends that arrive meanwhile queue for the next leader. Each append of a
batch is checked before anything of it is written, so a conflict fails that append only.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, final

import outcome
import trio

from ._errors import ConcurrencyConflict, StoreCorrupted, StoreError, StoreFull
from ._store import EventData, SnapshotData, StoredEvent

__all__ = ["SqliteStore"]

T = TypeVar("T")

FORMAT = "otp.persist/1"
"""The layout of the tables; a file with another one is refused."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS otp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS otp_events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (stream, sequence)
);
CREATE TABLE IF NOT EXISTS otp_compacted (
    stream TEXT PRIMARY KEY, up_to INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otp_snapshots (
    stream TEXT NOT NULL, sequence INTEGER NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (stream, sequence)
);
CREATE TABLE IF NOT EXISTS otp_offsets (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
"""

_CORRUPT = ("not a database", "malformed", "corrupt")
_FULL = ("database or disk is full", "disk i/o error")


def _translate(exc: sqlite3.Error, path: str) -> StoreError:
    text = str(exc)
    lowered = text.lower()
    if any(sign in lowered for sign in _CORRUPT):
        return StoreCorrupted(f"{path} is not a valid store: {text} (sqlite3.{type(exc).__name__})")
    if any(sign in lowered for sign in _FULL):
        return StoreFull(f"{path}: could not write: {text} (sqlite3.{type(exc).__name__})")
    return StoreError(f"{path}: {text} (sqlite3.{type(exc).__name__})")


class _Append:
    """One queued append and the task waiting for it."""

    __slots__ = ("events", "expected", "result", "stream", "taken", "task")

    def __init__(self, stream: str, events: Sequence[EventData], expected: int | None) -> None:
        self.stream = stream
        self.events = events
        self.expected = expected
        self.taken = False
        self.result: outcome.Outcome[int] | None = None
        self.task: trio.lowlevel.Task | None = None


_LEAD = object()


@final
class SqliteStore:
    """An :class:`otp.persist.EventStore` in one SQLite file (WAL mode, ``synchronous=NORMAL``).

    Open it with :meth:`open`, which creates the file and its tables if needed, checks that an
    existing file is a store, and closes both connections at the end of the block. SQLite
    runs in worker threads (``trio.to_thread.run_sync``); the Trio thread never blocks on it.

    ``synchronous=NORMAL`` in WAL mode keeps the database consistent after a crash of the
    process or of the machine; a power loss may lose the last transactions committed before
    it, never part of one. Pass ``pragmas={"synchronous": "FULL"}`` to sync every commit.

    Example::

        async with otp.persist.SqliteStore.open("events.db") as store:
            children = [Account.child_spec(store, "account-1", name="account-1")]
            async with otp.open_supervisor(children):
                ...
    """

    _path: str
    _writer: sqlite3.Connection | None
    _reader: sqlite3.Connection | None
    _write_limiter: trio.CapacityLimiter
    _read_limiter: trio.CapacityLimiter
    _queue: list[_Append]
    _leading: bool
    _appended: trio.Event
    _position: int

    def __init__(self) -> None:
        msg = "otp.persist.SqliteStore has no public constructor; use SqliteStore.open(path)"
        raise TypeError(msg)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        path: str | Path,
        *,
        pragmas: Mapping[str, str | int] | None = None,
        integrity_check: bool = False,
    ) -> AsyncIterator[SqliteStore]:
        """Open (or create) the store at ``path`` for the ``async with`` block.

        Args:
            path: The database file (``":memory:"`` is refused: two connections share it).
            pragmas: Extra ``PRAGMA name = value`` settings for both connections, applied
                after the defaults (``journal_mode=WAL``, ``synchronous=NORMAL``).
            integrity_check: Run SQLite's ``quick_check`` on open (reads the whole file).

        Raises:
            StoreCorrupted: The file is not a store (corrupt, truncated, another format).
            StoreError: SQLite failed otherwise.

        Example::

            async with otp.persist.SqliteStore.open("events.db", integrity_check=True) as s:
                print(await s.last_position())
        """
        name = str(path)
        if name == ":memory:" or name.startswith("file::memory:"):
            msg = "SqliteStore needs a file: use otp.persist.MemoryStore for a store in memory"
            raise ValueError(msg)
        self = object.__new__(cls)
        self._path = name
        self._writer = None
        self._reader = None
        self._write_limiter = trio.CapacityLimiter(1)
        self._read_limiter = trio.CapacityLimiter(1)
        self._queue = []
        self._leading = False
        self._appended = trio.Event()
        self._position = 0
        extra = dict(pragmas or {})
        try:
            with trio.CancelScope(shield=True):
                self._writer = await self._run_thread(self._connect, extra, integrity_check)
                self._reader = await self._run_thread(self._connect, extra, False)  # noqa: FBT003
                self._position = await self._read(self._last_position_sync)
            yield self
        finally:
            with trio.CancelScope(shield=True):
                await self._close()

    # --- threads ---------------------------------------------------------------------------

    async def _run_thread(self, fn: Callable[..., T], *args: Any) -> T:  # noqa: ANN401
        try:
            return await trio.to_thread.run_sync(fn, *args)
        except sqlite3.Error as exc:
            raise _translate(exc, self._path) from exc

    def _connect(self, extra: dict[str, str | int], check: bool) -> sqlite3.Connection:  # noqa: FBT001
        connection = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            for key, value in extra.items():
                if not key.replace("_", "").isalnum():
                    msg = f"pragma names are words (got {key!r})"
                    raise ValueError(msg)
                connection.execute(f"PRAGMA {key}={value}")
            if check:
                rows = connection.execute("PRAGMA quick_check").fetchall()
                if rows != [("ok",)]:
                    problems = "; ".join(str(row[0]) for row in rows[:5])
                    raise sqlite3.DatabaseError(f"database disk image is malformed: {problems}")
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO otp_meta (key, value) VALUES ('format', ?)", (FORMAT,)
            )
            (found,) = connection.execute(
                "SELECT value FROM otp_meta WHERE key = 'format'"
            ).fetchone()
            if found != FORMAT:
                raise StoreCorrupted(f"{self._path} has the format {found!r}, not {FORMAT!r}")
        except BaseException:
            connection.close()
            raise
        return connection

    async def _close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                with contextlib.suppress(sqlite3.Error):
                    await trio.to_thread.run_sync(connection.close)
        self._reader = self._writer = None

    def _conn(self, connection: sqlite3.Connection | None) -> sqlite3.Connection:
        if connection is None:
            msg = f"the store {self._path} is closed"
            raise trio.ClosedResourceError(msg)
        return connection

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        reader = self._conn(self._reader)
        try:
            return await trio.to_thread.run_sync(fn, reader, limiter=self._read_limiter)
        except sqlite3.Error as exc:
            raise _translate(exc, self._path) from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        writer = self._conn(self._writer)

        def in_transaction(connection: sqlite3.Connection) -> T:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = fn(connection)
                connection.execute("COMMIT")
            except BaseException:
                # After some errors (a full disk) SQLite has rolled back already; a second
                # rollback would hide the real error.
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            return result

        try:
            return await trio.to_thread.run_sync(
                in_transaction, writer, limiter=self._write_limiter
            )
        except sqlite3.Error as exc:
            raise _translate(exc, self._path) from exc

    def __repr__(self) -> str:
        state = "open" if self._writer is not None else "closed"
        return f"<otp.persist.SqliteStore {self._path!r} ({state})>"

    # --- appends (group commit) ------------------------------------------------------------

    async def append(
        self, stream: str, events: Sequence[EventData], *, expected: int | None
    ) -> int:
        """Append atomically; see :meth:`otp.persist.EventStore.append`.

        Once its batch has been taken for a commit, an append is not cancellable (like a
        worker thread): it returns the committed sequence, and a cancellation takes effect
        at the caller's next checkpoint. Before that, it is withdrawn.
        """
        self._conn(self._writer)
        await trio.lowlevel.checkpoint_if_cancelled()
        request = _Append(stream, list(events), expected)
        self._queue.append(request)
        # No await between queueing and waiting: every queued append has a task to wake.
        if not self._leading or await self._wait_turn(request) is _LEAD:
            await self._lead()
        assert request.result is not None
        return request.result.unwrap()

    async def _wait_turn(self, request: _Append) -> object:
        request.task = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            if request.taken:
                return trio.lowlevel.Abort.FAILED  # in a commit now: wait for its result
            self._queue.remove(request)
            request.task = None
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)

    async def _lead(self) -> None:
        self._leading = True
        batch, self._queue = self._queue, []
        for request in batch:
            request.taken = True
        try:
            with trio.CancelScope(shield=True):
                results, position = await self._write(
                    lambda connection: _append_batch(connection, batch)
                )
        except Exception as exc:  # noqa: BLE001  (every waiter of the batch gets it)
            error = exc
            if not isinstance(exc, StoreError):
                error = StoreError(f"{self._path}: the commit failed: {exc!r}")
                error.__cause__ = exc
            failure: outcome.Outcome[int] = outcome.Error(error)
            results, position = [failure] * len(batch), self._position
        finally:
            # Hand over to the first queued append (still leading, so that no newcomer leads
            # meanwhile): no leader commits for ever, and every queued append gets its turn.
            if self._queue:
                follower = self._queue[0]
                task, follower.task = follower.task, None
                assert task is not None
                trio.lowlevel.reschedule(task, outcome.Value(_LEAD))
            else:
                self._leading = False
        wrote = False
        for request, result in zip(batch, results, strict=True):
            request.result = result
            if isinstance(result, outcome.Value) and request.events:
                wrote = True
            task, request.task = request.task, None
            if task is not None:
                trio.lowlevel.reschedule(task, outcome.Value(None))
        if wrote:
            self._position = max(self._position, position)
            self._appended.set()
            self._appended = trio.Event()

    # --- reads and the rest ----------------------------------------------------------------

    async def read(
        self, stream: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """See :meth:`otp.persist.EventStore.read`."""
        query = (
            "SELECT stream, sequence, position, type, version, data FROM otp_events "
            "WHERE stream = ? AND sequence > ? ORDER BY sequence LIMIT ?"
        )
        arguments = (stream, after, -1 if limit is None else limit)
        rows = await self._read(lambda c: c.execute(query, arguments).fetchall())
        return [StoredEvent(*row) for row in rows]

    async def last_sequence(self, stream: str) -> int:
        """See :meth:`otp.persist.EventStore.last_sequence`."""
        return await self._read(lambda c: _last_sequence(c, stream))

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """See :meth:`otp.persist.EventStore.read_all`."""
        query = (
            "SELECT stream, sequence, position, type, version, data FROM otp_events "
            "WHERE position > ? ORDER BY position LIMIT ?"
        )
        rows = await self._read(lambda c: c.execute(query, (after, limit)).fetchall())
        return [StoredEvent(*row) for row in rows]

    @staticmethod
    def _last_position_sync(connection: sqlite3.Connection) -> int:
        row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'otp_events'")
        found = row.fetchone()
        return 0 if found is None else int(found[0])

    async def last_position(self) -> int:
        """See :meth:`otp.persist.EventStore.last_position`."""
        return await self._read(self._last_position_sync)

    async def wait_for_append(self, after: int) -> None:
        """Wait for an append through this store; see :meth:`EventStore.wait_for_append`.

        Appends by other processes are not seen here: readers poll for those.
        """
        if self._position > after:
            await trio.lowlevel.checkpoint()
            return
        await self._appended.wait()

    async def save_snapshot(self, snapshot: SnapshotData) -> None:
        """See :meth:`otp.persist.EventStore.save_snapshot`."""
        query = "INSERT OR REPLACE INTO otp_snapshots VALUES (?, ?, ?, ?)"
        row = (snapshot.stream, snapshot.sequence, snapshot.version, snapshot.data)
        await self._write(lambda c: c.execute(query, row))

    async def load_snapshot(self, stream: str) -> SnapshotData | None:
        """See :meth:`otp.persist.EventStore.load_snapshot`."""
        query = (
            "SELECT stream, sequence, version, data FROM otp_snapshots WHERE stream = ? "
            "ORDER BY sequence DESC LIMIT 1"
        )
        row = await self._read(lambda c: c.execute(query, (stream,)).fetchone())
        return None if row is None else SnapshotData(*row)

    async def delete_snapshots(self, stream: str, *, keep: int) -> list[int]:
        """See :meth:`otp.persist.EventStore.delete_snapshots`."""

        def delete(connection: sqlite3.Connection) -> list[int]:
            kept = [
                int(row[0])
                for row in connection.execute(
                    "SELECT sequence FROM otp_snapshots WHERE stream = ? "
                    "ORDER BY sequence DESC LIMIT ?",
                    (stream, keep),
                )
            ]
            oldest = min(kept) if kept else None
            if oldest is None:
                connection.execute("DELETE FROM otp_snapshots WHERE stream = ?", (stream,))
            else:
                connection.execute(
                    "DELETE FROM otp_snapshots WHERE stream = ? AND sequence < ?",
                    (stream, oldest),
                )
            return sorted(kept)

        return await self._write(delete)

    async def delete_events(self, stream: str, *, up_to: int) -> None:
        """See :meth:`otp.persist.EventStore.delete_events`."""

        def delete(connection: sqlite3.Connection) -> None:
            mark = min(up_to, _last_sequence(connection, stream))
            connection.execute(
                "INSERT INTO otp_compacted (stream, up_to) VALUES (?, ?) ON CONFLICT (stream) "
                "DO UPDATE SET up_to = max(up_to, excluded.up_to)",
                (stream, mark),
            )
            connection.execute(
                "DELETE FROM otp_events WHERE stream = ? AND sequence <= ?", (stream, up_to)
            )

        await self._write(delete)

    async def load_offset(self, name: str) -> int:
        """See :meth:`otp.persist.EventStore.load_offset`."""
        query = "SELECT position FROM otp_offsets WHERE name = ?"
        row = await self._read(lambda c: c.execute(query, (name,)).fetchone())
        return 0 if row is None else int(row[0])

    async def save_offset(self, name: str, position: int) -> None:
        """See :meth:`otp.persist.EventStore.save_offset`."""
        query = "INSERT OR REPLACE INTO otp_offsets VALUES (?, ?)"
        await self._write(lambda c: c.execute(query, (name, position)))


_LAST = (
    "SELECT max(coalesce((SELECT max(sequence) FROM otp_events WHERE stream = ?1), 0), "
    "coalesce((SELECT up_to FROM otp_compacted WHERE stream = ?1), 0))"
)
"""A stream's last sequence: its last event's, or the compaction mark if it deleted them."""


def _last_sequence(connection: sqlite3.Connection, stream: str) -> int:
    return int(connection.execute(_LAST, (stream,)).fetchone()[0])


def _append_batch(
    connection: sqlite3.Connection, batch: list[_Append]
) -> tuple[list[outcome.Outcome[int]], int]:
    """Write each append of ``batch`` that passes its check; give the outcomes and position.

    The check reads the stream's last sequence from the ``(stream, sequence)`` index, so an
    append writes no page but its events' (the uniqueness of that index backs the check).
    """
    results: list[outcome.Outcome[int]] = []
    insert = "INSERT INTO otp_events (stream, sequence, type, version, data) VALUES (?, ?, ?, ?, ?)"
    position = None
    for request in batch:
        stream, events, expected = request.stream, request.events, request.expected
        actual = _last_sequence(connection, stream)
        if expected is not None and expected != actual:
            results.append(outcome.Error(ConcurrencyConflict(stream, expected, actual)))
            continue
        if len(events) == 1:
            event = events[0]
            cursor = connection.execute(
                insert, (stream, actual + 1, event.type, event.version, event.data)
            )
            position = cursor.lastrowid
        elif events:
            connection.executemany(
                insert,
                [
                    (stream, actual + 1 + index, event.type, event.version, event.data)
                    for index, event in enumerate(events)
                ],
            )
            position = None
        results.append(outcome.Value(actual + len(events)))
    if position is None:
        position = SqliteStore._last_position_sync(connection)
    return results, int(position)

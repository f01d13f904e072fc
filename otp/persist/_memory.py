"""An in-memory store: for tests, examples and programs that need no durability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import trio

from ._errors import ConcurrencyConflict
from ._store import EventData, SnapshotData, StoredEvent

__all__ = ["MemoryStore"]


@final
class MemoryStore:
    """An :class:`otp.persist.EventStore` in a dict: nothing survives the process.

    It keeps every guarantee of the interface (atomic appends, optimistic concurrency,
    positions never reused) and never waits for a thread, so it also suits tests on Trio's
    virtual clock, where an autojumping ``MockClock`` would jump past timeouts while a
    thread of :class:`otp.persist.SqliteStore` works.

    Example::

        store = otp.persist.MemoryStore()
        children = [Account.child_spec(store, "account-1", name="account-1")]
    """

    def __init__(self) -> None:
        self._streams: dict[str, list[StoredEvent]] = {}
        self._last: dict[str, int] = {}
        self._log: list[StoredEvent] = []
        self._position = 0
        self._snapshots: dict[str, dict[int, SnapshotData]] = {}
        self._offsets: dict[str, int] = {}
        self._appended = trio.Event()

    def __repr__(self) -> str:
        return f"<otp.persist.MemoryStore {len(self._last)} streams, {len(self._log)} events>"

    async def append(
        self, stream: str, events: Sequence[EventData], *, expected: int | None
    ) -> int:
        """Append atomically; see :meth:`otp.persist.EventStore.append`."""
        await trio.lowlevel.checkpoint()
        # From here on nothing awaits: the append happens whole, or (cancelled above) not.
        last = self._last.get(stream, 0)
        if expected is not None and expected != last:
            raise ConcurrencyConflict(stream, expected, last)
        records = self._streams.setdefault(stream, [])
        for event in events:
            last += 1
            self._position += 1
            record = StoredEvent(
                stream, last, self._position, event.type, event.version, event.data
            )
            records.append(record)
            self._log.append(record)
        self._last[stream] = last
        if events:
            self._appended.set()
            self._appended = trio.Event()
        return last

    async def read(
        self, stream: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """See :meth:`otp.persist.EventStore.read`."""
        await trio.lowlevel.checkpoint()
        found = [record for record in self._streams.get(stream, ()) if record.sequence > after]
        return found if limit is None else found[:limit]

    async def last_sequence(self, stream: str) -> int:
        """See :meth:`otp.persist.EventStore.last_sequence`."""
        await trio.lowlevel.checkpoint()
        return self._last.get(stream, 0)

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """See :meth:`otp.persist.EventStore.read_all`."""
        await trio.lowlevel.checkpoint()
        found: list[StoredEvent] = []
        for record in self._log:
            if record.position > after:
                found.append(record)
                if len(found) >= limit:
                    break
        return found

    async def last_position(self) -> int:
        """See :meth:`otp.persist.EventStore.last_position`."""
        await trio.lowlevel.checkpoint()
        return self._position

    async def wait_for_append(self, after: int) -> None:
        """See :meth:`otp.persist.EventStore.wait_for_append`."""
        if self._position > after:
            await trio.lowlevel.checkpoint()
            return
        await self._appended.wait()

    async def save_snapshot(self, snapshot: SnapshotData) -> None:
        """See :meth:`otp.persist.EventStore.save_snapshot`."""
        await trio.lowlevel.checkpoint()
        self._snapshots.setdefault(snapshot.stream, {})[snapshot.sequence] = snapshot

    async def load_snapshot(self, stream: str) -> SnapshotData | None:
        """See :meth:`otp.persist.EventStore.load_snapshot`."""
        await trio.lowlevel.checkpoint()
        snapshots = self._snapshots.get(stream)
        return snapshots[max(snapshots)] if snapshots else None

    async def delete_snapshots(self, stream: str, *, keep: int) -> list[int]:
        """See :meth:`otp.persist.EventStore.delete_snapshots`."""
        await trio.lowlevel.checkpoint()
        snapshots = self._snapshots.get(stream, {})
        kept = sorted(snapshots, reverse=True)[:keep]
        for sequence in list(snapshots):
            if sequence not in kept:
                del snapshots[sequence]
        return sorted(kept)

    async def delete_events(self, stream: str, *, up_to: int) -> None:
        """See :meth:`otp.persist.EventStore.delete_events`."""
        await trio.lowlevel.checkpoint()
        records = self._streams.get(stream, [])
        self._streams[stream] = [record for record in records if record.sequence > up_to]
        self._log = [
            record for record in self._log if record.stream != stream or record.sequence > up_to
        ]

    async def load_offset(self, name: str) -> int:
        """See :meth:`otp.persist.EventStore.load_offset`."""
        await trio.lowlevel.checkpoint()
        return self._offsets.get(name, 0)

    async def save_offset(self, name: str, position: int) -> None:
        """See :meth:`otp.persist.EventStore.save_offset`."""
        await trio.lowlevel.checkpoint()
        self._offsets[name] = position

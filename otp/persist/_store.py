"""The store interface: what an event-sourced server, a projection and a saga need.

A store keeps *streams* of events, one per persistence id, each numbered 1, 2, 3, ... (the
*sequence*), and gives every event a *position* in one global log, increasing across all
streams (projections read that log from a stored offset). It also keeps the latest
snapshots of each stream and the offsets of projections.

Everything is ``async``: :class:`otp.persist.SqliteStore` runs SQLite off the Trio thread,
and a store for a database server would use its driver's async API. Records are plain data
(``str`` payloads), so a store never needs to know the application's types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, final, runtime_checkable

import attrs

__all__ = ["EventData", "EventStore", "SnapshotData", "StoredEvent"]


def _check_type(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        msg = f"event {attribute.name} must be a non-empty str (got {value!r})"
        raise ValueError(msg)


def _check_version(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{attribute.name} must be an int >= 1 (got {value!r})"
        raise ValueError(msg)


@final
@attrs.frozen
class EventData:
    """An event to append: its type name, schema version and encoded payload.

    Example::

        data = otp.persist.EventData("Deposited", 1, '{"amount": 10}')
        await store.append("account-1", [data], expected=0)
    """

    type: str = attrs.field(validator=_check_type)
    version: int = attrs.field(validator=_check_version)
    data: str = attrs.field(validator=attrs.validators.instance_of(str))


@final
@attrs.frozen
class StoredEvent:
    """An event as the store keeps it.

    Attributes:
        stream: The persistence id.
        sequence: Its number in the stream: 1, 2, 3, ...
        position: Its place in the global log (increasing, never reused; gaps allowed).
        type: The event type's name.
        version: The schema version it was written with.
        data: The encoded payload.

    Example::

        for record in await store.read("account-1"):
            print(record.sequence, record.type, record.data)
    """

    stream: str
    sequence: int
    position: int
    type: str
    version: int
    data: str


@final
@attrs.frozen
class SnapshotData:
    """A stream's state as of one sequence number, encoded.

    Example::

        snapshot = await store.load_snapshot("account-1")
        if snapshot is not None:
            print("state as of event", snapshot.sequence)
    """

    stream: str
    sequence: int
    version: int
    data: str


@runtime_checkable
class EventStore(Protocol):
    """What ``otp.persist`` needs from a store: implement it to plug in another database.

    Guarantees a store must give:

    * :meth:`append` is atomic (all of its events or none) and durable once it returns; with
      ``expected``, it fails with :class:`otp.persist.ConcurrencyConflict` unless the stream's
      last sequence equals ``expected``, checked in the same transaction as the write.
    * Sequences of a stream are contiguous from 1; positions increase in commit order and are
      never reused, even after :meth:`delete_events`.
    * :meth:`last_sequence` survives :meth:`delete_events` (compaction keeps the count).

    :class:`otp.persist.SqliteStore` and :class:`otp.persist.MemoryStore` implement it.

    Example::

        async def total(store: otp.persist.EventStore, stream: str) -> int:
            return len(await store.read(stream))
    """

    async def append(
        self, stream: str, events: Sequence[EventData], *, expected: int | None
    ) -> int:
        """Append ``events`` to ``stream``; return the stream's new last sequence.

        ``expected`` is the last sequence the writer has seen (0 for a new stream), or
        ``None`` to append wherever the stream ends (an event log without a single writer).
        """
        ...

    async def read(
        self, stream: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """The events of ``stream`` with a sequence above ``after``, in order."""
        ...

    async def last_sequence(self, stream: str) -> int:
        """The stream's last sequence (0 if it has none)."""
        ...

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events of every stream with a position above ``after``, in order."""
        ...

    async def last_position(self) -> int:
        """The position of the last event appended (0 if none)."""
        ...

    async def wait_for_append(self, after: int) -> None:
        """Return once the global log may hold an event with a position above ``after``.

        A store may only see appends made through itself; readers poll as well.
        """
        ...

    async def save_snapshot(self, snapshot: SnapshotData) -> None:
        """Store a snapshot (replacing one of the same stream and sequence)."""
        ...

    async def load_snapshot(self, stream: str) -> SnapshotData | None:
        """The stream's latest snapshot, if any."""
        ...

    async def delete_snapshots(self, stream: str, *, keep: int) -> list[int]:
        """Keep the ``keep`` latest snapshots of ``stream``; return the kept sequences."""
        ...

    async def delete_events(self, stream: str, *, up_to: int) -> None:
        """Delete the events of ``stream`` with a sequence up to ``up_to`` (compaction)."""
        ...

    async def load_offset(self, name: str) -> int:
        """The stored offset (a position) of the projection ``name``; 0 if none."""
        ...

    async def save_offset(self, name: str, position: int) -> None:
        """Store the offset of the projection ``name``."""
        ...

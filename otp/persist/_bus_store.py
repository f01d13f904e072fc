"""The event bus's store kept in a persistence store, so that its log outlives the run.

A bus appends synchronously and never waits. :class:`BusStore` encodes each event at once and
holds it in memory until its writer task has committed it, in batches, to one stream of an
:class:`otp.persist.EventStore` (SQLite by default). A read joins what is committed with what
still waits, so a replay misses nothing published, and a new bus on the same stream numbers
its events after those of earlier runs.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import islice
from typing import Any, final

import attrs
import trio

from otp import Backoff
from otp.events import Event

from ._errors import ConcurrencyConflict, EventDecodeError, SchemaVersionError, StoreError
from ._store import EventData, EventStore, StoredEvent

__all__ = ["BusStore", "BusStoreStatistics", "UnencodedPayload"]

logger = logging.getLogger("otp.persist")

_VERSION = 1
"""The layout of a stored bus event's data; a row with another version is refused."""

_SCALARS = (str, int, float, bool)
_DEFAULT_RETRY = Backoff(min=0.1, max=5.0)


@final
@attrs.frozen
class UnencodedPayload:
    """A payload (or correlation id) that JSON could not hold, as read back: type and repr.

    The bus's own report events carry report records, which are kept this way unless
    :meth:`BusStore.open` is given a ``default`` that turns them into JSON values.

    Example::

        >>> otp.persist.UnencodedPayload("Order", "Order(id=7)").type
        'Order'
    """

    type: str
    text: str


@final
@attrs.frozen
class BusStoreStatistics:
    """A snapshot of a :class:`BusStore`'s counters.

    Attributes:
        stored: Events committed to the store by this object.
        pending: Events waiting for the writer (in memory only).
        dropped: Events not kept because the writer was ``max_pending`` events behind.
        unencoded: Events whose payload or correlation id was kept as
            :class:`UnencodedPayload`.
        write_failures: Commits that failed and were tried again.

    Example::

        assert log.statistics().dropped == 0
    """

    stored: int
    pending: int
    dropped: int
    unencoded: int
    write_failures: int


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"BusStore.open: {name} must be an int >= 1 (got {value!r})"
        raise ValueError(msg)
    return value


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001  (a broken __repr__ must not lose the event)
        return f"<{type(value).__qualname__} object (repr raised)>"


def _unencoded(value: object) -> dict[str, str]:
    return {"$unencoded": type(value).__qualname__, "repr": _safe_repr(value)}


def _revive(value: object) -> object:
    if isinstance(value, dict) and "$unencoded" in value and len(value) == 2:
        return UnencodedPayload(str(value["$unencoded"]), str(value.get("repr", "")))
    return value


@final
class BusStore:
    """An :class:`otp.events.AsyncEventStore` that keeps a bus's events in a persistence store.

    Open it with :meth:`open` around the bus. Each event goes to one stream of the store
    (``"otp.events"`` unless told otherwise), one row per event, written by a task of its own
    in batches; the bus never waits for the database. At the end of the block the events still
    in memory are written (a failing store is retried for ``flush_timeout`` seconds); call
    :meth:`flush` to wait for the
    ones published so far at any other time.

    Payloads are kept as JSON: dicts, lists, strings, numbers, booleans and ``None`` come
    back as JSON gives them (tuples as lists, dict keys as strings). Anything else comes back
    as an :class:`UnencodedPayload` with its type and ``repr``, unless ``default`` turns it
    into a JSON value (as ``json.dumps(default=...)`` does). Event times are Trio's clock of
    the run that published them: replay from an *id* across runs, from a *time* within one.

    Example::

        async with otp.persist.SqliteStore.open("app.db") as store:
            async with otp.persist.BusStore.open(store) as log:
                bus = otp.events.EventBus(store=log)   # ids go on from the last run's
                async with otp.open_supervisor(children, hooks=[otp.events.report_to(bus)]):
                    ...
                print(await bus.replay(after_id=0))
    """

    __slots__ = (
        "_closing",
        "_committed",
        "_default",
        "_dropped",
        "_flushed",
        "_give_up_at",
        "_last_id",
        "_max_pending",
        "_offset",
        "_pending",
        "_retry",
        "_retrying",
        "_sequence",
        "_store",
        "_stored",
        "_unencoded",
        "_wakeup",
        "_write_failures",
        "batch_size",
        "flush_timeout",
        "stream",
    )

    _store: EventStore
    stream: str
    batch_size: int
    flush_timeout: float
    _max_pending: int
    _default: Callable[[Any], Any] | None
    _retry: Backoff
    _pending: deque[tuple[Event, EventData]]
    _last_id: int
    _sequence: int
    _offset: int
    _committed: int
    _closing: bool
    _wakeup: trio.Event
    _flushed: trio.Event
    _give_up_at: float
    _retrying: trio.CancelScope | None
    _stored: int
    _dropped: int
    _unencoded: int
    _write_failures: int

    def __init__(self) -> None:
        msg = "otp.persist.BusStore has no public constructor; use BusStore.open(store)"
        raise TypeError(msg)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        store: EventStore,
        *,
        stream: str = "otp.events",
        max_pending: int = 100_000,
        batch_size: int = 1_000,
        flush_timeout: float = 10.0,
        retry: Backoff = _DEFAULT_RETRY,
        default: Callable[[Any], Any] | None = None,
    ) -> AsyncIterator[BusStore]:
        """Load the stream's last id, write events for the ``async with`` block, then flush.

        Args:
            store: The persistence store (:class:`SqliteStore`, or any :class:`EventStore`).
            stream: The stream that holds the bus's events; give each bus its own.
            max_pending: How many events may wait for the writer; past that (the store is
                failing or far too slow) new events are not kept, counted as ``dropped`` and
                logged. Publishing never fails or waits because of the store.
            batch_size: The most events written in one transaction.
            flush_timeout: How long the end of the block goes on retrying writes that fail
                before it gives up on the events left (which it logs). A write in progress is
                waited for, as SQLite's own commits in their worker threads are.
            retry: The delays between attempts after a failed write (the events stay in
                memory and are written once the store recovers).
            default: Turns a payload JSON cannot hold into one it can (``json.dumps``'s
                ``default``).

        Raises:
            ConcurrencyConflict: Another writer appended to the stream (a second bus or
                process on it): the log would no longer be one sequence of ids.
            StoreError: The store failed while loading.

        Example::

            async with otp.persist.BusStore.open(store, stream="shop.events") as log:
                bus = otp.events.EventBus(store=log)
        """
        given: object = store
        if not isinstance(given, EventStore):
            msg = f"BusStore.open: store must be an otp.persist.EventStore (got {store!r})"
            raise TypeError(msg)
        given_stream: object = stream
        if not isinstance(given_stream, str) or not given_stream:
            msg = f"BusStore.open: stream must be a non-empty str (got {stream!r})"
            raise ValueError(msg)
        timeout: object = flush_timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or math.isnan(timeout)
            or timeout < 0
        ):
            msg = f"BusStore.open: flush_timeout must be a number >= 0 (got {flush_timeout!r})"
            raise ValueError(msg)
        given_retry: object = retry
        if not isinstance(given_retry, Backoff):
            msg = f"BusStore.open: retry must be an otp.Backoff (got {retry!r})"
            raise TypeError(msg)
        given_default: object = default
        if given_default is not None and not callable(given_default):
            msg = f"BusStore.open: default must be callable or None (got {default!r})"
            raise TypeError(msg)
        self = object.__new__(cls)
        self._store = store
        self.stream = stream
        self._max_pending = _positive_int("max_pending", max_pending)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.flush_timeout = float(flush_timeout)
        self._retry = retry
        self._default = default
        self._pending = deque()
        self._last_id = self._sequence = self._offset = self._committed = 0
        self._closing = False
        self._wakeup = trio.Event()
        self._flushed = trio.Event()
        self._give_up_at = math.inf
        self._retrying = None
        self._stored = self._dropped = self._unencoded = self._write_failures = 0
        await self._load()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write_until_closed)
            try:
                yield self
            finally:
                self._closing = True
                self._give_up_at = trio.current_time() + self.flush_timeout
                self._wakeup.set()
                self._retry_now()
        if self._pending:
            logger.error(
                "otp.persist.BusStore: %d events of stream %r were not stored "
                "(the store kept failing for flush_timeout=%s s)",
                len(self._pending),
                self.stream,
                self.flush_timeout,
            )

    def __repr__(self) -> str:
        return (
            f"<otp.persist.BusStore stream={self.stream!r} last_id={self._last_id} "
            f"pending={len(self._pending)}>"
        )

    # --- what the bus calls -----------------------------------------------------------------

    def last_id(self) -> int:
        """The id of the last event kept, stored or waiting (0 if none)."""
        return self._last_id

    def append(self, event: Event) -> None:
        """Keep ``event``: encode it now, write it soon; never waits.

        Raises:
            ValueError: Its id is not above the last one kept (two buses on one store?).
        """
        if event.id <= self._last_id:
            msg = (
                f"BusStore: event id {event.id} is not above the last kept, {self._last_id} "
                f"(stream {self.stream!r}); create the bus after opening its store"
            )
            raise ValueError(msg)
        self._last_id = event.id
        if len(self._pending) >= self._max_pending:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % self._max_pending == 0:
                logger.error(
                    "otp.persist.BusStore: the writer of stream %r is %d events behind; "
                    "new events are not kept (%d so far)",
                    self.stream,
                    len(self._pending),
                    self._dropped,
                )
            return
        self._pending.append((event, self._encode(event)))
        if len(self._pending) == 1:
            self._wakeup.set()

    async def read(self, *, after_id: int = 0, since: float = -math.inf) -> list[Event]:
        """The kept events with an id above ``after_id`` and a time at or after ``since``.

        Reads the store in pages of ``batch_size`` rows, then adds the events still waiting.

        Raises:
            EventDecodeError: A row is not a bus event of this layout.
            StoreError: The store failed.
        """
        waiting = list(self._pending)
        # An event's id minus its sequence is the number of events dropped before it, which
        # only grows: so no wanted row has a sequence below after_id minus today's offset.
        cursor = max(0, after_id - self._offset)
        found: list[Event] = []
        last_seen = after_id
        while True:
            rows = await self._store.read(self.stream, after=cursor, limit=self.batch_size)
            for row in rows:
                event = _decode(row)
                if event.id > after_id and event.time >= since:
                    found.append(event)
                last_seen = max(last_seen, event.id)
            if len(rows) < self.batch_size:
                break
            cursor = rows[-1].sequence
        # Committed while we read: then both have it, and the stored copy is taken. What
        # waits is read back from its encoding, so that a payload looks the same either way.
        found.extend(
            _decode_data(self.stream, 0, data)
            for event, data in waiting
            if event.id > last_seen and event.time >= since
        )
        return found

    # --- the writer -------------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every event kept so far is in the store.

        Raises:
            trio.ClosedResourceError: The block of :meth:`open` has ended.

        Example::

            bus.publish_nowait("order.placed", order)
            await log.flush()   # now a crash cannot lose it
        """
        target = self._last_id
        while self._committed < target and self._pending:
            if self._closing:
                msg = f"BusStore of stream {self.stream!r} is closed"
                raise trio.ClosedResourceError(msg)
            await self._flushed.wait()
        await trio.lowlevel.checkpoint()

    def statistics(self) -> BusStoreStatistics:
        """A snapshot of its counters."""
        return BusStoreStatistics(
            self._stored, len(self._pending), self._dropped, self._unencoded, self._write_failures
        )

    def _encode(self, event: Event) -> EventData:
        correlation: object = event.correlation_id
        unencoded = False
        if correlation is not None and not isinstance(correlation, _SCALARS):
            correlation, unencoded = _unencoded(correlation), True
        record = {
            "id": event.id,
            "time": event.time,
            "source": event.source,
            "payload": event.payload,
            "correlation_id": correlation,
            "causation_id": event.causation_id,
        }
        try:
            data = json.dumps(record, default=self._default, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            record["payload"], unencoded = _unencoded(event.payload), True
            data = json.dumps(record, separators=(",", ":"))
        self._unencoded += unencoded
        return EventData(event.type, _VERSION, data)

    async def _load(self) -> None:
        last = await self._store.last_sequence(self.stream)
        self._sequence = last
        if last == 0:
            return
        rows = await self._store.read(self.stream, after=last - 1, limit=1)
        if rows:
            self._last_id = _decode(rows[0]).id
            self._offset = self._last_id - last
        else:  # compacted away: the count of events is all that is left
            self._last_id = self._offset = last
        self._committed = self._last_id

    async def _write_until_closed(self) -> None:
        # Shielded, so that the last events are written when the block is cancelled too.
        # No deadline: on Trio's autojumping MockClock one would expire while SQLite works
        # in its thread; only the retries of failed writes are bounded on the way out.
        with trio.CancelScope(shield=True):
            attempt = 0
            while self._pending or not self._closing:
                if not self._pending:
                    self._wakeup = trio.Event()
                    await self._wakeup.wait()
                    continue
                try:
                    await self._commit_batch()
                except ConcurrencyConflict:
                    if not await self._caught_up_with_own_commit():
                        raise
                except StoreError as exc:
                    self._write_failures += 1
                    delay = self._retry.delay(attempt, random.random)
                    attempt += 1
                    if self._closing and trio.current_time() + delay > self._give_up_at:
                        return
                    logger.warning(
                        "otp.persist.BusStore: writing %d events of stream %r failed (%s); "
                        "trying again in %.2f s",
                        min(len(self._pending), self.batch_size),
                        self.stream,
                        exc,
                        delay,
                    )
                    with trio.CancelScope() as self._retrying:
                        await trio.sleep(delay)
                    self._retrying = None
                else:
                    attempt = 0

    def _retry_now(self) -> None:
        """Cut short the wait before a retry (on the way out: try once more at once)."""
        if self._retrying is not None:
            self._retrying.cancel()

    async def _commit_batch(self) -> None:
        batch = list(islice(self._pending, self.batch_size))
        sequence = await self._store.append(
            self.stream, [data for _, data in batch], expected=self._sequence
        )
        self._advance(len(batch), sequence)

    def _advance(self, count: int, sequence: int) -> None:
        for _ in range(count):
            event, _ = self._pending.popleft()
            self._committed = event.id
        self._offset = self._committed - sequence
        self._sequence = sequence
        self._stored += count
        self._flushed.set()
        self._flushed = trio.Event()

    async def _caught_up_with_own_commit(self) -> bool:
        """Whether the rows past our sequence, after a conflict, are our own.

        They are when an append committed and then failed late; then they count as written.
        """
        rows = await self._store.read(
            self.stream, after=self._sequence, limit=min(len(self._pending), self.batch_size)
        )
        if not rows or await self._store.last_sequence(self.stream) != rows[-1].sequence:
            return False
        for row, (_, data) in zip(rows, self._pending, strict=False):
            if (row.type, row.version, row.data) != (data.type, data.version, data.data):
                return False
        self._advance(len(rows), rows[-1].sequence)
        return True


def _decode(row: StoredEvent) -> Event:
    return _decode_data(row.stream, row.sequence, EventData(row.type, row.version, row.data))


def _decode_data(stream: str, sequence: int, data: EventData) -> Event:
    where = f"stream {stream!r}, sequence {sequence}" if sequence else f"stream {stream!r}"
    if data.version != _VERSION:
        msg = (
            f"{where}: a bus event of layout version {data.version}; "
            f"this otp reads version {_VERSION}"
        )
        raise SchemaVersionError(msg)
    try:
        record = json.loads(data.data)
        return Event(
            int(record["id"]),
            float(record["time"]),
            data.type,
            str(record["source"]),
            _revive(record["payload"]),
            _revive(record["correlation_id"]),
            record["causation_id"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        msg = (
            f"{where}: not a bus event ({type(exc).__name__}: {exc}); "
            "is another program writing this stream?"
        )
        raise EventDecodeError(msg) from exc

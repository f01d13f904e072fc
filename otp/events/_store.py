"""Where a bus keeps its events for replay: the interfaces, and the in-memory store.

A store that reads synchronously (:class:`EventStore`, like :class:`MemoryEventStore`)
serves both :meth:`EventBus.replay` and :meth:`EventBus.replay_nowait`; one whose ``read``
is a coroutine (:class:`AsyncEventStore`, like ``otp.persist.BusStore`` on SQLite) serves
:meth:`EventBus.replay` only, since the Trio thread must not wait on a database.
"""

from __future__ import annotations

import inspect
import math
from collections import deque
from collections.abc import Iterable
from typing import Protocol, final, runtime_checkable

from ._errors import EventsError
from ._record import Event


@runtime_checkable
class EventStore(Protocol):
    """What an :class:`EventBus` needs of a store: append, and read back in order.

    Example::

        class ListStore:
            def __init__(self):
                self.events = []

            def append(self, event):
                self.events.append(event)

            def read(self, *, after_id=0, since=-math.inf):
                return [e for e in self.events if e.id > after_id and e.time >= since]
    """

    def append(self, event: Event) -> None:
        """Keep ``event`` (called once per published event, in id order)."""

    def read(self, *, after_id: int = 0, since: float = -math.inf) -> Iterable[Event]:
        """The kept events with an id above ``after_id`` and a time at or after ``since``."""


@runtime_checkable
class AsyncEventStore(Protocol):
    """A store that reads back asynchronously and keeps events across runs (a database).

    ``append`` is still synchronous and must not block: buffer the event and write it from a
    task of the store's own. ``last_id`` gives the id of the last event kept, so that a new
    :class:`EventBus` on the store numbers its events after those of earlier runs.

    Example::

        class DatabaseStore:
            def append(self, event): self.pending.append(event)   # a writer task drains it
            async def read(self, *, after_id=0, since=-math.inf): ...
            def last_id(self): return self.stored_up_to
    """

    def append(self, event: Event) -> None:
        """Keep ``event`` (called once per published event, in id order); never blocks."""

    async def read(self, *, after_id: int = 0, since: float = -math.inf) -> list[Event]:
        """The kept events with an id above ``after_id`` and a time at or after ``since``."""
        ...

    def last_id(self) -> int:
        """The id of the last event kept (0 if none); a new bus continues after it."""
        ...


def reads_async(store: EventStore | AsyncEventStore) -> bool:
    """Whether ``store.read`` is a coroutine function (an :class:`AsyncEventStore`)."""
    return inspect.iscoroutinefunction(store.read)


@final
class MemoryEventStore:
    """The last ``max_events`` events, in memory (``None``: all of them).

    Example::

        bus = otp.events.EventBus(store=otp.events.MemoryEventStore(max_events=10_000))
        ...
        for event in await bus.replay(after_id=42):
            print(event)
    """

    __slots__ = ("_events", "max_events")

    def __init__(self, max_events: int | None = 10_000) -> None:
        given: object = max_events
        if given is not None and (
            isinstance(given, bool) or not isinstance(given, int) or given < 1
        ):
            msg = f"MemoryEventStore: max_events must be an int >= 1 or None (got {max_events!r})"
            raise EventsError(msg)
        self.max_events = max_events
        self._events: deque[Event] = deque(maxlen=max_events)

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: Event) -> None:
        """Keep ``event``, forgetting the oldest if full."""
        self._events.append(event)

    def read(self, *, after_id: int = 0, since: float = -math.inf) -> list[Event]:
        """The kept events with an id above ``after_id`` and a time at or after ``since``."""
        events = self._events
        if not events:
            return []
        # Ids are consecutive, so the first wanted one is found by arithmetic, not a scan.
        start = max(0, after_id - events[0].id + 1)
        return [event for event in list(events)[start:] if event.time >= since]

"""The event bus: publish to every matching subscription, each with a buffer of its own."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Hashable, Iterable
from contextlib import asynccontextmanager
from typing import Any, final

import attrs
import trio

from ._errors import EventsError
from ._filters import EventFilter, Predicate
from ._record import Event
from ._store import AsyncEventStore, EventStore, reads_async
from ._subscription import Overflow, Subscription, check_buffer, check_overflow

logger = logging.getLogger("otp.events")


@final
@attrs.frozen
class BusStatistics:
    """A snapshot of a bus's counters.

    Attributes:
        published: The last event's id: the events published so far, and those of earlier
            runs on a store that keeps them (``otp.persist.BusStore``).
        subscriptions: Subscriptions open now.
        dropped: Events dropped by subscriptions open now, in all.

    Example::

        assert bus.statistics().dropped == 0
    """

    published: int
    subscriptions: int
    dropped: int


@final
class EventBus:
    """Publish events to subscribers; a slow subscriber never holds up the others.

    Each subscription has its own bounded buffer and overflow policy. Publishing is
    synchronous and never waits (:meth:`publish_nowait`), except, through :meth:`publish`,
    for the subscriptions that asked for ``overflow="block"``. Ids and times come from the
    bus (Trio's clock, so virtual time works in tests). With a ``store``, every event is kept
    for :meth:`replay` and for subscriptions that start from the past. A store that keeps
    events across runs (an :class:`AsyncEventStore` such as ``otp.persist.BusStore``) gives
    the id of its last event, and the bus numbers its own events after it.

    Args:
        store: Where to keep events for replay (:class:`MemoryEventStore`, any
            :class:`EventStore` or :class:`AsyncEventStore`); ``None`` keeps none.

    Example::

        bus = otp.events.EventBus()
        async with bus.subscribe(types="order.*") as orders:
            bus.publish_nowait("order.placed", {"total": 12}, source="shop/orders")
            event = await orders.receive()
            assert event.id == 1
    """

    __slots__ = ("_last_id", "_reads_async", "_subscriptions", "store")

    def __init__(self, *, store: EventStore | AsyncEventStore | None = None) -> None:
        given: object = store
        if given is not None and not isinstance(given, EventStore):
            msg = (
                "EventBus: store must have append(event) and read(after_id=, since=) "
                f"(got {store!r})"
            )
            raise EventsError(msg)
        self.store = store
        self._reads_async = store is not None and reads_async(store)
        self._last_id = 0
        last_id = getattr(store, "last_id", None)
        if callable(last_id):
            found = last_id()
            if isinstance(found, bool) or not isinstance(found, int) or found < 0:
                msg = f"EventBus: store.last_id() must give an int >= 0 (got {found!r})"
                raise EventsError(msg)
            self._last_id = found
        self._subscriptions: tuple[Subscription, ...] = ()

    # --- publishing -----------------------------------------------------------------------

    def publish_nowait(
        self,
        type: str,  # noqa: A002
        payload: Any = None,  # noqa: ANN401
        *,
        source: str = "",
        correlation_id: Hashable | None = None,
        causation_id: int | None = None,
    ) -> Event:
        """Publish one event; never waits (a full ``block`` subscription drops it).

        Example::

            bus.publish_nowait("cache.cleared", source="root/cache")
        """
        event = self._make(type, payload, source, correlation_id, causation_id)
        for subscription in self._subscriptions:
            if self._wants(subscription, event) and not subscription._offer(event):
                subscription._drop()
        return event

    async def publish(
        self,
        type: str,  # noqa: A002
        payload: Any = None,  # noqa: ANN401
        *,
        source: str = "",
        correlation_id: Hashable | None = None,
        causation_id: int | None = None,
    ) -> Event:
        """Publish one event, waiting for room in full ``block`` subscriptions only.

        Example::

            await bus.publish("order.placed", order, source="shop/orders")
        """
        event = self._make(type, payload, source, correlation_id, causation_id)
        waited = False
        for subscription in self._subscriptions:
            if not self._wants(subscription, event):
                continue
            while not subscription._offer(event):
                waited = True
                await subscription._wait_for_space()
                if subscription.closed:
                    break
        if not waited:
            await trio.lowlevel.checkpoint()
        return event

    def _make(
        self,
        type_: str,
        payload: object,
        source: str,
        correlation_id: Hashable | None,
        causation_id: int | None,
    ) -> Event:
        given_type: object = type_
        given_source: object = source
        if not isinstance(given_type, str) or not given_type:
            msg = f"publish: type must be a non-empty string (got {type_!r})"
            raise EventsError(msg)
        if not isinstance(given_source, str):
            msg = f"publish: source must be a string, a tree path (got {source!r})"
            raise EventsError(msg)
        self._last_id += 1
        event = Event(
            self._last_id,
            trio.current_time(),
            type_,
            source,
            payload,
            correlation_id,
            causation_id,
        )
        if self.store is not None:
            self.store.append(event)
        return event

    @staticmethod
    def _wants(subscription: Subscription, event: Event) -> bool:
        event_filter = subscription.filter
        if event_filter is None:
            return True
        try:
            return event_filter.matches(event)
        except Exception:
            subscription.filter_errors += 1
            logger.exception("event filter %r raised on %s; skipped", event_filter.where, event)
            return False

    # --- subscribing ----------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(
        self,
        types: Iterable[str] | str | None = None,
        *,
        source: str | None = None,
        where: Predicate | None = None,
        buffer: float = 1000,
        overflow: Overflow | str = Overflow.DROP_OLDEST,
        replay_after: int | None = None,
        replay_since: float | None = None,
    ) -> AsyncIterator[Subscription]:
        """Receive the events that match, for the duration of an ``async with`` block.

        Args:
            types: Event types to take (``"child.*"`` takes every type under ``child``).
            source: A source path glob (``*`` one segment, ``**`` any number).
            where: A predicate on each event.
            buffer: How many events may wait for the reader (an int >= 1, or ``math.inf``).
            overflow: What a full buffer does: ``"drop_oldest"`` (default),
                ``"drop_newest"`` or ``"block"`` (see :class:`Overflow`).
            replay_after: Start with the stored events after this id (needs a store).
            replay_since: Start with the stored events from this time on (needs a store).

        Raises:
            EventsError: A wrong argument, or a replay from a bus with no store.

        Example::

            async with bus.subscribe(source="root/workers/*", buffer=100) as events:
                async for event in events:
                    ...
        """
        maxsize = check_buffer(buffer)
        policy = check_overflow(overflow)
        event_filter = (
            None
            if types is None and source is None and where is None
            else EventFilter(types, source, where)
        )
        subscription = Subscription(self, event_filter, maxsize, policy)
        replaying = replay_after is not None or replay_since is not None
        if replaying:
            self._store_for("subscribe(replay_after=, replay_since=)")
        if replaying and not self._reads_async:
            # No checkpoint between reading the past and joining: no event missed or doubled.
            self._add_history(
                subscription,
                self.replay_nowait(
                    after_id=0 if replay_after is None else replay_after,
                    since=-math.inf if replay_since is None else replay_since,
                ),
                self._last_id,
            )
        self._subscriptions = (*self._subscriptions, subscription)
        try:
            if replaying and self._reads_async:
                # Join first, then read: what is published while the store reads arrives
                # live, so the past is cut at the last id published before joining.
                joined_at = self._last_id
                past = await self.replay(
                    after_id=0 if replay_after is None else replay_after,
                    since=-math.inf if replay_since is None else replay_since,
                )
                self._add_history(subscription, past, joined_at)
            yield subscription
        finally:
            subscription.close()

    def _add_history(
        self, subscription: Subscription, events: Iterable[Event], up_to_id: int
    ) -> None:
        history = subscription._history
        for event in events:
            if event.id <= up_to_id and self._wants(subscription, event):
                history.append(event)

    def _remove(self, subscription: Subscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    # --- the past -------------------------------------------------------------------------

    async def replay(self, *, after_id: int = 0, since: float = -math.inf) -> list[Event]:
        """The stored events after ``after_id`` and from ``since`` on, oldest first.

        Works with any store; with an :class:`AsyncEventStore` it reads in the store's way
        (``otp.persist.BusStore`` reads SQLite in a worker thread).

        Raises:
            EventsError: The bus has no store.

        Example::

            missed = await bus.replay(after_id=last_seen)
        """
        store = self._store_for("replay")
        if self._reads_async:
            return list(await store.read(after_id=after_id, since=since))  # type: ignore[misc]
        await trio.lowlevel.checkpoint()
        return list(store.read(after_id=after_id, since=since))  # type: ignore[arg-type]

    def replay_nowait(self, *, after_id: int = 0, since: float = -math.inf) -> list[Event]:
        """Like :meth:`replay`, without waiting: for a store that reads synchronously.

        Raises:
            EventsError: The bus has no store, or its store reads asynchronously.

        Example::

            missed = bus.replay_nowait(after_id=last_seen)
        """
        store = self._store_for("replay_nowait")
        if self._reads_async:
            msg = (
                f"replay_nowait: {type(store).__name__} reads asynchronously; "
                "use await bus.replay(...)"
            )
            raise EventsError(msg)
        return list(store.read(after_id=after_id, since=since))  # type: ignore[arg-type]

    def _store_for(self, what: str) -> EventStore | AsyncEventStore:
        if self.store is None:
            msg = f"{what} needs a bus with a store: EventBus(store=otp.events.MemoryEventStore())"
            raise EventsError(msg)
        return self.store

    def statistics(self) -> BusStatistics:
        """A snapshot of its counters."""
        subscriptions = self._subscriptions
        return BusStatistics(
            self._last_id, len(subscriptions), sum(s.dropped for s in subscriptions)
        )

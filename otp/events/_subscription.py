"""One subscriber's bounded buffer, its overflow policy and its counters."""

from __future__ import annotations

import math
from collections import deque
from enum import StrEnum
from typing import TYPE_CHECKING, final

import attrs
import trio

from ._errors import EventsError
from ._filters import EventFilter
from ._record import Event

if TYPE_CHECKING:
    from ._bus import EventBus


class Overflow(StrEnum):
    """What a subscription whose buffer is full does with one event more.

    Example::

        async with bus.subscribe(buffer=1000, overflow="drop_oldest") as events:
            ...
    """

    DROP_OLDEST = "drop_oldest"
    """Make room by dropping the oldest buffered event (keep the latest)."""
    DROP_NEWEST = "drop_newest"
    """Drop the new event (keep what is buffered)."""
    BLOCK = "block"
    """Make :meth:`EventBus.publish` wait for room. :meth:`EventBus.publish_nowait` never
    waits: to it, a full blocking subscription drops the new event (and counts it)."""


@final
@attrs.frozen
class SubscriptionStatistics:
    """A snapshot of one subscription's counters.

    Attributes:
        received: Events that matched its filter and were offered to it.
        delivered: Events its reader has taken.
        dropped: Events lost to its overflow policy.
        filter_errors: Events its ``where`` predicate raised on (counted as not matching).
        buffered: Events waiting in its buffer now.
        peak: The most events its buffer ever held.
        buffer: Its bound (``inf``: none).

    Example::

        stats = events.statistics()
        assert stats.dropped == 0
    """

    received: int
    delivered: int
    dropped: int
    filter_errors: int
    buffered: int
    peak: int
    buffer: float


@final
class Subscription:
    """A subscriber's view of a bus: an async iterator of the events that match its filter.

    Made by :meth:`EventBus.subscribe`; it stops receiving when its ``async with`` block
    ends (or :meth:`close` is called), and iterating it then ends.

    Example::

        async with bus.subscribe(types=["child.exited"]) as exits:
            async for event in exits:
                print(event.source, event.payload.reason)
    """

    __slots__ = (
        "_bus",
        "_history",
        "_items",
        "_reader",
        "_space",
        "closed",
        "delivered",
        "dropped",
        "filter",
        "filter_errors",
        "maxsize",
        "overflow",
        "peak",
        "received",
    )

    def __init__(
        self, bus: EventBus, event_filter: EventFilter | None, maxsize: float, overflow: Overflow
    ) -> None:
        self._bus = bus
        self.filter = event_filter
        self.maxsize = maxsize
        self.overflow = overflow
        self._items: deque[Event] = deque()
        self._history: deque[Event] = deque()
        self._reader: trio.lowlevel.Task | None = None
        self._space: trio.Event | None = None
        self.closed = False
        self.received = 0
        self.delivered = 0
        self.dropped = 0
        self.filter_errors = 0
        self.peak = 0

    # --- the bus's side -------------------------------------------------------------------

    def _offer(self, event: Event) -> bool:
        """Buffer ``event`` by the policy; ``False``: blocking and full (nothing was done)."""
        items = self._items
        self.received += 1
        if len(items) >= self.maxsize:
            overflow = self.overflow
            if overflow is Overflow.BLOCK:
                self.received -= 1
                return False
            self.dropped += 1
            if overflow is Overflow.DROP_NEWEST:
                return True
            items.popleft()
        items.append(event)
        self.peak = max(self.peak, len(items))
        reader = self._reader
        if reader is not None:
            self._reader = None
            trio.lowlevel.reschedule(reader)
        return True

    def _drop(self) -> None:
        """A full blocking subscription, seen by a publisher that does not wait."""
        self.received += 1
        self.dropped += 1

    async def _wait_for_space(self) -> None:
        while len(self._items) >= self.maxsize and not self.closed:
            if self._space is None:
                self._space = trio.Event()
            await self._space.wait()

    # --- the reader's side ----------------------------------------------------------------

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def receive(self) -> Event:
        """The next event, waiting for one if needed.

        Raises:
            trio.EndOfChannel: The subscription is closed and its buffer empty.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._history:
                self.delivered += 1
                event = self._history.popleft()
                await trio.lowlevel.cancel_shielded_checkpoint()
                return event
            if self._items:
                self.delivered += 1
                event = self._items.popleft()
                space = self._space
                if space is not None:
                    self._space = None
                    space.set()
                await trio.lowlevel.cancel_shielded_checkpoint()
                return event
            if self.closed:
                raise trio.EndOfChannel
            self._reader = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._reader = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)

    def receive_nowait(self) -> Event:
        """The next buffered event.

        Raises:
            trio.WouldBlock: None is buffered.
            trio.EndOfChannel: The subscription is closed and its buffer empty.
        """
        if self._history:
            self.delivered += 1
            return self._history.popleft()
        if self._items:
            self.delivered += 1
            event = self._items.popleft()
            if self._space is not None:
                self._space.set()
                self._space = None
            return event
        if self.closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    def close(self) -> None:
        """Stop receiving; what is buffered can still be read, then iteration ends."""
        if self.closed:
            return
        self.closed = True
        self._bus._remove(self)
        reader = self._reader
        if reader is not None:
            self._reader = None
            trio.lowlevel.reschedule(reader)
        if self._space is not None:
            self._space.set()
            self._space = None

    def statistics(self) -> SubscriptionStatistics:
        """A snapshot of its counters."""
        return SubscriptionStatistics(
            self.received,
            self.delivered,
            self.dropped,
            self.filter_errors,
            len(self._items) + len(self._history),
            self.peak,
            self.maxsize,
        )


def check_buffer(buffer: object) -> float:
    """A subscription's bound: an int >= 1, or ``math.inf``."""
    if buffer == math.inf:
        return math.inf
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        msg = f"subscribe: buffer must be an int >= 1 or math.inf (got {buffer!r})"
        raise EventsError(msg)
    return buffer


def check_overflow(overflow: object) -> Overflow:
    """A subscription's overflow policy, from the enum or its value."""
    if isinstance(overflow, Overflow):
        return overflow
    if isinstance(overflow, str) and overflow in {member.value for member in Overflow}:
        return Overflow(overflow)
    choices = ", ".join(repr(member.value) for member in Overflow)
    msg = f"subscribe: overflow must be one of {choices} (got {overflow!r})"
    raise EventsError(msg)

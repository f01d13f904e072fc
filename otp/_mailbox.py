"""A server's mailbox: a FIFO that never blocks a sender, with an optional bound.

Erlang's mailboxes are unbounded and ``cast`` never blocks; a mailbox here is unbounded by
default too. With ``maxsize`` set, a full mailbox applies its :class:`Overflow` policy to the
next message instead of blocking the sender: ``drop_newest`` refuses it, ``drop_oldest``
evicts the message at the head of the queue. A dropped call fails its caller at once with
:class:`otp.MailboxFull`; a dropped cast or info is only counted.

It is a deque and one parked reader (the server's loop): cheaper than a memory channel, and
a sender never waits.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Any, final

import attrs
import trio

__all__ = ["MailboxStatistics", "Overflow"]


class Overflow(StrEnum):
    """What a full (bounded) mailbox does with one message more.

    Example::

        class Sink(otp.GenServer):
            mailbox_size = 1000
            mailbox_overflow = otp.Overflow.DROP_OLDEST
    """

    DROP_NEWEST = "drop_newest"
    """Refuse the incoming message (a call fails at once with :class:`otp.MailboxFull`)."""
    DROP_OLDEST = "drop_oldest"
    """Evict the message at the head of the queue to make room."""


@final
@attrs.frozen
class MailboxStatistics:
    """A snapshot of a server's mailbox (see :meth:`ServerRef.mailbox_statistics`).

    Attributes:
        queued: Messages waiting now.
        peak: The most messages that ever waited at once.
        received: Messages accepted so far (calls, casts and infos).
        dropped: Messages dropped because the mailbox was full.
        maxsize: The bound, or ``None`` when unbounded.

    Example::

        stats = ref.mailbox_statistics()
        assert stats.dropped == 0
    """

    queued: int
    peak: int
    received: int
    dropped: int
    maxsize: int | None


class Mailbox:
    """The queue of one server. Only the server's loop reads it."""

    __slots__ = ("_reader", "dropped", "items", "maxsize", "overflow", "peak", "received")

    def __init__(
        self, maxsize: int | None = None, overflow: Overflow = Overflow.DROP_NEWEST
    ) -> None:
        self.items: deque[Any] = deque()
        self._reader: trio.lowlevel.Task | None = None
        self.maxsize = maxsize
        self.overflow = overflow
        self.peak = 0
        self.received = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: object, *, bounded: bool = True) -> object | None:
        """Queue ``item`` without blocking; return whatever was dropped to make room, if any.

        With ``drop_newest`` the dropped message is ``item`` itself. ``bounded=False`` (a
        stop request) is never refused and drops nothing.
        """
        items = self.items
        dropped = None
        if bounded and self.maxsize is not None and len(items) >= self.maxsize:
            self.dropped += 1
            if self.overflow is Overflow.DROP_NEWEST:
                return item
            dropped = items.popleft()
        items.append(item)
        self.received += 1
        self.peak = max(self.peak, len(items))
        reader = self._reader
        if reader is not None:
            self._reader = None
            trio.lowlevel.reschedule(reader)
        return dropped

    async def wait(self) -> None:
        """Park the reader until a message arrives (return at once if one is queued)."""
        if self.items:
            await trio.lowlevel.checkpoint()
            return
        self._reader = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self._reader = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def drain(self) -> list[Any]:
        """Take every queued message (when the server ends)."""
        items = list(self.items)
        self.items.clear()
        return items

    def statistics(self) -> MailboxStatistics:
        """A snapshot of the counters."""
        return MailboxStatistics(
            len(self.items), self.peak, self.received, self.dropped, self.maxsize
        )

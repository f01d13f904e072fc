"""Bounded buffers between stages: what they hold, and what they do when full."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Final, final

import attrs
import trio

from ._errors import BufferFull, BufferOverflow, StreamClosed, StreamsDeclarationError


class Overflow(StrEnum):
    """What a full buffer does with one more item.

    Example::

        otp.streams.Buffer(1000, otp.streams.Overflow.DROP_OLDEST)
    """

    WAIT = "wait"
    """The sender waits for room (backpressure). Nothing is dropped."""
    DROP_NEWEST = "drop_newest"
    """The incoming item is dropped and counted; ``send`` returns ``False``."""
    DROP_OLDEST = "drop_oldest"
    """The oldest buffered item is dropped and counted to make room for the new one."""
    FAIL = "fail"
    """The item is refused with :class:`BufferOverflow` and the whole pipeline fails."""
    FAIL_FAST = "fail_fast"
    """The item is refused at once with :class:`BufferFull`; the sender decides."""


def _check_size(instance: Buffer, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"Buffer: size must be an int >= 1 (got {value!r})"
        raise StreamsDeclarationError(msg)


def _to_overflow(value: object) -> Overflow:
    if isinstance(value, str):
        try:
            return Overflow(value)
        except ValueError:
            pass
    choices = ", ".join(repr(o.value) for o in Overflow)
    msg = f"Buffer: overflow must be one of {choices} (got {value!r})"
    raise StreamsDeclarationError(msg)


@final
@attrs.frozen
class Buffer:
    """A stage's input buffer: how many items it holds and what it does when full.

    Args:
        size: Items it holds (``>= 1``). Defaults to 100.
        overflow: An :class:`Overflow` or its value. Defaults to ``"wait"``.

    Example::

        otp.streams.Map(parse, buffer=otp.streams.Buffer(500, "drop_newest"))
    """

    size: int = attrs.field(default=100, validator=_check_size)
    overflow: Overflow = attrs.field(default=Overflow.WAIT, converter=_to_overflow)


@final
@attrs.frozen
class BufferStatistics:
    """What one buffer holds and has done (see :meth:`Pipeline.statistics`).

    ``accepted`` counts items taken in; ``dropped_newest`` and ``dropped_oldest`` those a drop
    policy discarded; ``refused`` those a fail policy sent back; ``high_water`` the most it
    held at once.

    Example::

        stats = pipeline.statistics().stages[0].buffer
        print(stats.depth, stats.dropped_oldest)
    """

    size: int
    overflow: Overflow
    depth: int
    accepted: int
    dropped_newest: int
    dropped_oldest: int
    refused: int
    high_water: int


@final
class _End:
    """Returned by :meth:`Pipe.get` once the pipe is closed and empty."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END: Final = _End()


class Pipe:
    """The runtime buffer: a deque, the tasks waiting on it, and its counters.

    It belongs to the pipeline, not to a stage, so a stage that crashes loses none of it.
    ``get`` and ``put`` are cancel-safe: an item is either taken whole or left where it was.
    """

    __slots__ = (
        "_getters",
        "_items",
        "_putters",
        "accepted",
        "closed",
        "dropped_newest",
        "dropped_oldest",
        "high_water",
        "name",
        "on_overflow",
        "overflow",
        "refused",
        "size",
    )

    def __init__(self, name: str, buffer: Buffer) -> None:
        self.name = name
        self.size = buffer.size
        self.overflow = buffer.overflow
        self._items: collections.deque[object] = collections.deque()
        self._getters = trio.lowlevel.ParkingLot()
        self._putters = trio.lowlevel.ParkingLot()
        self.closed = False
        self.on_overflow: Callable[[BufferOverflow], None] | None = None
        self.accepted = 0
        self.dropped_newest = 0
        self.dropped_oldest = 0
        self.refused = 0
        self.high_water = 0

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: object) -> bool:
        """Take ``item`` by the overflow policy; ``False`` if it was dropped.

        Raises :class:`trio.WouldBlock` when a ``wait`` buffer is full.
        """
        if self.closed:
            msg = f"stage {self.name!r} is closed; no more items can be sent"
            raise StreamClosed(msg)
        items = self._items
        if len(items) >= self.size:
            overflow = self.overflow
            if overflow is Overflow.WAIT:
                raise trio.WouldBlock
            if overflow is Overflow.DROP_NEWEST:
                self.dropped_newest += 1
                return False
            if overflow is Overflow.DROP_OLDEST:
                items.popleft()
                self.dropped_oldest += 1
            else:
                self._refuse(overflow)
        items.append(item)
        self.accepted += 1
        self.high_water = max(self.high_water, len(items))
        if self._getters:
            self._getters.unpark()
        return True

    def _refuse(self, overflow: Overflow) -> None:
        self.refused += 1
        if overflow is Overflow.FAIL_FAST:
            msg = (
                f"the buffer of stage {self.name!r} is full ({self.size} items, "
                "overflow='fail_fast'); the item was not taken"
            )
            raise BufferFull(msg)
        msg = (
            f"the buffer of stage {self.name!r} overflowed ({self.size} items, overflow='fail'); "
            "the item was not taken and the pipeline fails"
        )
        error = BufferOverflow(msg)
        if self.on_overflow is not None:
            self.on_overflow(error)
        raise error

    async def put(self, item: object) -> bool:
        """Take ``item``, waiting for room if the policy says so; ``False`` if dropped."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            taken = self.put_nowait(item)
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return taken
        while True:
            await self._putters.park()
            try:
                return self.put_nowait(item)
            except trio.WouldBlock:
                continue

    def get_nowait(self) -> object:
        """The oldest item, or :data:`END` once closed and empty; ``WouldBlock`` if empty."""
        items = self._items
        if items:
            item = items.popleft()
            if self._putters:
                self._putters.unpark()
            return item
        if self.closed:
            return END
        raise trio.WouldBlock

    async def get(self) -> object:
        """The oldest item, waiting for one; :data:`END` once closed and empty."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            item = self.get_nowait()
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while True:
            await self._getters.park()
            try:
                return self.get_nowait()
            except trio.WouldBlock:
                continue

    def put_back(self, items: Iterable[object]) -> None:
        """Return items a stage had taken to the front, in their order, past the size limit.

        They had room when they were taken; a restarted stage takes them first.
        """
        self._items.extendleft(reversed(list(items)))
        if self._getters:
            self._getters.unpark_all()

    def close(self) -> None:
        """Take no more items; getters get :data:`END` once the buffered ones are taken."""
        self.closed = True
        self._getters.unpark_all()
        self._putters.unpark_all()

    def clear(self) -> list[object]:
        """Empty the buffer and return what it held."""
        left = list(self._items)
        self._items.clear()
        self._putters.unpark_all()
        return left

    def statistics(self) -> BufferStatistics:
        return BufferStatistics(
            size=self.size,
            overflow=self.overflow,
            depth=len(self._items),
            accepted=self.accepted,
            dropped_newest=self.dropped_newest,
            dropped_oldest=self.dropped_oldest,
            refused=self.refused,
            high_water=self.high_water,
        )

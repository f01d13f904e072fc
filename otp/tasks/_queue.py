"""Pure: the executor's job queue, one FIFO per priority, highest priority first."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, final

__all__ = ["JobQueue"]

T = TypeVar("T")


@final
class JobQueue(Generic[T]):
    """Items by priority level (``0`` to ``levels - 1``), highest level first, FIFO within one.

    Taking an item out of the middle (a cancelled job) is lazy: :meth:`discard` only counts it
    gone, and :meth:`pop` skips items that ``alive`` says are dead, so each stays O(1).

    Example::

        >>> queue = JobQueue(levels=4, alive=lambda item: item != "gone")
        >>> for item, level in [("a", 1), ("b", 3), ("gone", 3), ("c", 1)]:
        ...     queue.push(item, level)
        >>> queue.discard()  # "gone" was cancelled
        >>> len(queue), [queue.pop(), queue.pop(), queue.pop(), queue.pop()]
        (3, ['b', 'a', 'c', None])
    """

    __slots__ = ("_alive", "_count", "_levels", "_top")

    def __init__(self, levels: int, alive: Callable[[T], bool]) -> None:
        self._levels: list[deque[T]] = [deque() for _ in range(levels)]
        self._alive = alive
        self._count = 0
        self._top = -1  # no level above this one holds anything

    def __len__(self) -> int:
        return self._count

    def push(self, item: T, level: int) -> None:
        """Queue ``item`` at the back of its level."""
        self._levels[level].append(item)
        self._count += 1
        self._top = max(self._top, level)

    def pop(self) -> T | None:
        """The first live item of the highest level, or ``None`` if none is left."""
        alive = self._alive
        levels = self._levels
        top = self._top
        while top >= 0:
            level = levels[top]
            while level:
                item = level.popleft()
                if alive(item):
                    self._top = top
                    self._count -= 1
                    return item
            top -= 1
        self._top = -1
        return None

    def discard(self) -> None:
        """Count one queued item as gone (it is dead now; :meth:`pop` will skip it)."""
        self._count -= 1

    def drain(self) -> Iterator[T]:
        """Take every live item out, highest level first."""
        while (item := self.pop()) is not None:
            yield item

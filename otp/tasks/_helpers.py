"""Many jobs at once: ``as_completed`` over handles, and the ordered ``map`` of an executor."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, final

import trio

from ._errors import TasksDeclarationError
from ._job import JobHandle
from ._policy import Priority, Retry

if TYPE_CHECKING:
    from ._executor import Executor

__all__ = ["as_completed", "map_jobs"]

T = TypeVar("T")
R = TypeVar("R")


@final
class _Completions(AsyncIterator[JobHandle[T]]):
    __slots__ = ("_left", "_ready", "_wakeup")

    def __init__(self, handles: Iterable[JobHandle[T]]) -> None:
        unique = list(dict.fromkeys(handles))
        self._ready: deque[JobHandle[T]] = deque()
        self._wakeup: trio.Event | None = None
        self._left = len(unique)
        for handle in unique:
            handle._listen(self._arrived)

    def _arrived(self, handle: JobHandle[Any]) -> None:
        self._ready.append(handle)
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def __anext__(self) -> JobHandle[T]:
        if not self._left:
            raise StopAsyncIteration
        if self._ready:
            await trio.lowlevel.checkpoint()
        while not self._ready:
            self._wakeup = trio.Event()
            await self._wakeup.wait()
        self._left -= 1
        return self._ready.popleft()


def as_completed(handles: Iterable[JobHandle[T]]) -> AsyncIterator[JobHandle[T]]:
    """Iterate over ``handles`` in the order their jobs end (each job once).

    Each handle yielded is done: ``await handle`` returns or raises at once. The iteration
    runs no task of its own and needs no closing.

    Example::

        handles = [await executor.submit(fetch, url) for url in urls]
        async for handle in otp.tasks.as_completed(handles):
            try:
                print(await handle)
            except otp.tasks.JobError as exc:
                print("failed:", exc)
    """
    return _Completions(handles)


async def map_jobs(
    executor: Executor,
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int | None,
    priority: Priority,
    timeout: float | object | None,  # noqa: ASYNC109  (each job's, not this call's)
    retry: Retry | None,
) -> list[R]:
    """:meth:`Executor.map`."""
    limit: object = executor.concurrency if concurrency is None else concurrency
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        msg = f"Executor.map: concurrency must be an int >= 1 or None (got {concurrency!r})"
        raise TasksDeclarationError(msg)
    size = limit
    pending = list(items)
    results: list[Any] = [None] * len(pending)
    handles: dict[JobHandle[R], int] = {}
    done: deque[JobHandle[R]] = deque()
    wakeup: list[trio.Event] = []

    def arrived(handle: JobHandle[Any]) -> None:
        done.append(handle)
        if wakeup:
            wakeup.pop().set()

    submitted = finished = 0
    try:
        while finished < len(pending):
            while submitted < len(pending) and submitted - finished < size:
                item = pending[submitted]
                handle = executor._submit_if_room(fn, item, priority, timeout, retry)
                if handle is None:  # the queue is full: wait for room like submit
                    handle = await executor.submit(
                        fn, item, priority=priority, timeout=timeout, retry=retry
                    )
                handles[handle] = submitted
                handle._listen(arrived)
                submitted += 1
            while not done:
                event = trio.Event()
                wakeup.append(event)
                await event.wait()
            handle = done.popleft()
            finished += 1
            results[handles[handle]] = handle._unwrap()  # the first failure ends it
    finally:
        for handle in handles:
            handle.cancel()  # those still queued or running, after a failure or cancellation
    return results

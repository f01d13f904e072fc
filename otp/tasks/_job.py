"""A job's handle: its status, its result to await, and cancellation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import outcome
import trio

from ._policy import Priority, Retry

if TYPE_CHECKING:
    from ._executor import Executor

__all__ = ["JobHandle", "JobStatus"]

T = TypeVar("T")


class JobStatus(StrEnum):
    """Where a job is. The last five are final.

    Example::

        if handle.status is otp.tasks.JobStatus.QUEUED:
            handle.cancel()
    """

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    """Waiting out the backoff before its next attempt (it holds no concurrency slot)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    DROPPED = "dropped"


FINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT}
    | {JobStatus.CANCELLED, JobStatus.DROPPED}
)


@final
class JobHandle(Generic[T]):
    """One submitted job: await it for its result, cancel it, read its status.

    ``await handle`` (or ``await handle.result()``) gives the job's return value, or raises
    :class:`JobFailed` (with the last error as its cause), :class:`JobTimedOut`,
    :class:`JobCancelled` or :class:`JobDropped`. Awaiting a finished job returns at once;
    several tasks may await one job.

    Example::

        handle = await executor.submit(fetch, url, priority=otp.tasks.Priority.HIGH)
        print(handle.status)        # queued, running, ...
        body = await handle
    """

    __slots__ = (
        "_cancel_requested",
        "_done",
        "_executor",
        "_listeners",
        "_outcome",
        "_scope",
        "args",
        "attempts",
        "finished_at",
        "fire_and_forget",
        "fn",
        "id",
        "name",
        "priority",
        "retry",
        "status",
        "submitted_at",
        "timeout",
    )

    def __init__(
        self,
        executor: Executor,
        job_id: int,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        *,
        name: str,
        priority: Priority,
        timeout: float,
        retry: Retry,
        fire_and_forget: bool,
    ) -> None:
        self._executor = executor
        self.id = job_id
        self.fn = fn
        self.args = args
        self.name = name
        self.priority = priority
        self.timeout = timeout
        self.retry = retry
        self.fire_and_forget = fire_and_forget
        self.status = JobStatus.QUEUED
        self.attempts = 0
        self.submitted_at = trio.current_time()
        self.finished_at: float | None = None
        self._outcome: outcome.Outcome[T] | None = None
        self._done: trio.Event | None = None
        self._scope: trio.CancelScope | None = None
        self._listeners: list[Callable[[JobHandle[Any]], None]] | None = None
        self._cancel_requested = False

    @property
    def done(self) -> bool:
        """Whether the job has reached a final status."""
        return self._outcome is not None

    async def result(self) -> T:
        """Wait for the job to end; its return value, or the :class:`JobError` that ended it.

        Cancelling the waiter does not cancel the job (use :meth:`cancel`).
        """
        if self._outcome is None:
            if self._done is None:
                self._done = trio.Event()
            await self._done.wait()
        else:
            await trio.lowlevel.checkpoint()
        return self._unwrap()

    def _unwrap(self) -> T:
        # Not Outcome.unwrap(): that works once, and a handle may be awaited many times.
        result = self._outcome
        assert result is not None
        if isinstance(result, outcome.Error):
            raise result.error
        assert isinstance(result, outcome.Value)
        value: T = result.value
        return value

    def __await__(self) -> Generator[Any, None, T]:
        return self.result().__await__()

    def cancel(self) -> None:
        """Cancel the job: taken off the queue if it waits there, cancelled if it runs.

        Its awaiters get :class:`JobCancelled`. Cancelling a finished job does nothing.
        """
        if self._outcome is None and not self._cancel_requested:
            self._cancel_requested = True
            self._executor._cancel(self)

    def __repr__(self) -> str:
        attempt = f", attempt {self.attempts}" if self.attempts else ""
        return f"<otp.tasks.JobHandle #{self.id} {self.name!r} ({self.status.value}{attempt})>"

    # --- for the executor ------------------------------------------------------------------

    def _settle(self, status: JobStatus, result: outcome.Outcome[T]) -> None:
        self.status = status
        self._outcome = result
        self.finished_at = trio.current_time()
        self._scope = None
        if self._done is not None:
            self._done.set()
        if self._listeners is not None:
            listeners, self._listeners = self._listeners, None
            for listener in listeners:
                listener(self)

    def _listen(self, listener: Callable[[JobHandle[Any]], None]) -> None:
        """Call ``listener(self)`` when the job ends (now, if it has)."""
        if self._outcome is not None:
            listener(self)
        elif self._listeners is None:
            self._listeners = [listener]
        else:
            self._listeners.append(listener)

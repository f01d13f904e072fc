"""The executor: a supervised child that runs submitted jobs by priority, with retries.

A job goes: ``submit`` → the queue (bounded) → a worker (at most ``concurrency`` of them) →
its attempt, under its timeout → done, or back to the queue after a backoff if the error is
retried → its handle is settled and its awaiters woken. Workers are tasks of the executor's
own nursery, so no job outlives the executor: when it stops, it drops what is queued, lets
what runs finish within its shutdown time, then cancels the rest; every handle is settled.
"""

from __future__ import annotations

import logging
import math
import random as _random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar, final

import attrs
import outcome
import trio

import otp
import otp.metrics

from ._errors import (
    ExecutorClosed,
    JobCancelled,
    JobDropped,
    JobFailed,
    JobTimedOut,
    QueueFull,
    TasksDeclarationError,
)
from ._helpers import map_jobs
from ._job import JobHandle, JobStatus
from ._policy import Priority, Retry
from ._queue import JobQueue

__all__ = ["Executor", "ExecutorStatistics", "JobReport", "StopReport"]

T = TypeVar("T")
R = TypeVar("R")
logger = logging.getLogger("otp.tasks")

_IDLE, _RUNNING, _CLOSING = "idle", "running", "closing"


@final
@attrs.frozen
class ExecutorStatistics:
    """Counts of an executor's jobs, since it was made.

    ``queued``, ``running`` and ``retrying`` are now; the rest are totals. ``latency`` is a
    histogram of the time from submit to the end (``(upper bound in s, count)`` per bucket,
    not cumulative, the last bound ``inf``), of every job that ended.

    Example::

        stats = executor.statistics()
        print(f"{stats.succeeded} done, {stats.failed} failed, {stats.queued} waiting")
    """

    queued: int
    running: int
    retrying: int
    submitted: int
    succeeded: int
    failed: int
    timed_out: int
    cancelled: int
    dropped: int
    retried: int
    rejected: int
    latency: tuple[tuple[float, int], ...]


@final
@attrs.frozen
class JobReport:
    """A job's end, as hooks see it: which job, how it ended, after how many attempts.

    Example::

        def on_job(report: otp.tasks.JobReport) -> None:
            if report.status is not otp.tasks.JobStatus.SUCCEEDED:
                alerts.append(report)

        executor = otp.tasks.Executor(hooks=[on_job])
    """

    executor: str
    job_id: int
    name: str
    status: JobStatus
    attempts: int
    latency: float
    error: BaseException | None


@final
@attrs.frozen
class StopReport:
    """What an executor's stop left undone.

    The jobs dropped from the queue (or from their retry wait), and the running jobs cut
    short at the end of the shutdown time.

    Example::

        report = await executor.stop()
        assert not report.dropped and not report.cut_short
    """

    dropped: tuple[JobHandle[Any], ...]
    cut_short: tuple[JobHandle[Any], ...]


def _positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{owner}: {name} must be an int >= 1 (got {value!r})"
        raise TasksDeclarationError(msg)
    return value


def _seconds(owner: str, name: str, value: object, *, none_ok: bool) -> float:
    if value is None and none_ok:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        also = " or None" if none_ok else ""
        msg = f"{owner}: {name} must be a number of seconds > 0{also} (got {value!r})"
        raise TasksDeclarationError(msg)
    return float(value)


def _alive(job: JobHandle[Any]) -> bool:
    return job.status is JobStatus.QUEUED


@final
class Executor:
    """A supervised job executor, like Elixir's ``Task.Supervisor`` with a job queue.

    Jobs are async functions; each is queued by priority (bounded), run by at most
    ``concurrency`` workers under a timeout, and tried again on a retried error after a
    backoff (a job waiting to retry holds no worker). Run the executor as a child
    (:meth:`child_spec`) or with :func:`open_executor`.

    Args:
        name: Its name in logs, reports and metrics labels.
        concurrency: Jobs running at once (``>= 1``). Defaults to 100.
        queue_size: Jobs waiting at most (``>= 1``); past it :meth:`submit` waits and
            :meth:`submit_nowait` raises :class:`QueueFull`. Defaults to 1000.
        timeout: Default seconds per attempt (``None``: no limit). Defaults to 30.
        retry: Default :class:`Retry` policy. Defaults to ``Retry()`` (3 attempts).
        shutdown: Seconds that running jobs get to finish when the executor stops (also
            the default ``shutdown`` of its child spec). Defaults to 5.
        hooks: Callables given a :class:`JobReport` as each job ends.
        metrics: An :class:`otp.metrics.Metrics` registry to keep the executor's metrics
            in (``otp_tasks_*``, labelled by executor), for export.
        random: A ``[0, 1)`` source for the backoff's jitter (for tests).

    Example::

        executor = otp.tasks.Executor("jobs", concurrency=10)
        async with otp.open_supervisor([executor.child_spec()]):
            handle = await executor.submit(fetch, "https://example.com")
            page = await handle
    """

    def __init__(
        self,
        name: str = "tasks",
        *,
        concurrency: int = 100,
        queue_size: int = 1000,
        timeout: float | None = 30.0,
        retry: Retry | None = None,
        shutdown: float = 5.0,
        hooks: Sequence[Callable[[JobReport], object]] = (),
        metrics: otp.metrics.Metrics | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        given: object = name
        if not isinstance(given, str) or not given:
            msg = f"Executor: name must be a non-empty str (got {name!r})"
            raise TasksDeclarationError(msg)
        self.name = name
        self.concurrency = _positive_int("Executor", "concurrency", concurrency)
        self.queue_size = _positive_int("Executor", "queue_size", queue_size)
        self.timeout = _seconds("Executor", "timeout", timeout, none_ok=True)
        policy: object = retry
        if policy is not None and not isinstance(policy, Retry):
            msg = f"Executor: retry must be an otp.tasks.Retry (got {retry!r})"
            raise TasksDeclarationError(msg)
        self.retry = retry if retry is not None else Retry()
        self.shutdown = _seconds("Executor", "shutdown", shutdown, none_ok=False)
        self._hooks = tuple(hooks)
        given_hooks: tuple[object, ...] = self._hooks
        for hook in given_hooks:
            if not callable(hook):
                msg = f"Executor: hooks must be callables (got {hook!r})"
                raise TasksDeclarationError(msg)
        self._random = random
        self._metrics = metrics if metrics is not None else otp.metrics.Metrics()
        self._latency = self._metrics.histogram(
            "otp_tasks_job_seconds", "Jobs' time from submit to end.", ["executor"]
        )
        self._labels = (name,)
        if metrics is not None:
            self._export(metrics)
        self._state = _IDLE
        self._queue: JobQueue[JobHandle[Any]] = JobQueue(len(Priority), _alive)
        self._room = trio.lowlevel.ParkingLot()  # submitters waiting for queue room
        self._work = trio.lowlevel.ParkingLot()  # idle workers
        self._workers = 0
        self._idle_workers = 0
        self._running: set[JobHandle[Any]] = set()
        self._retrying: set[JobHandle[Any]] = set()
        self._next_id = 0
        self._settled: trio.Event | None = None  # set when a job ends, if anyone waits
        self._jobs: trio.Nursery | None = None
        self._jobs_scope: trio.CancelScope | None = None
        self._stop_requested = trio.Event()
        self._stopped = trio.Event()
        self._last_stop: StopReport | None = None
        self._counts = dict.fromkeys(
            [
                *("submitted", "succeeded", "failed", "timed_out", "cancelled", "dropped"),
                *("retried", "rejected"),
            ],
            0,
        )

    def __repr__(self) -> str:
        return (
            f"<otp.tasks.Executor {self.name!r} ({self._state}, {len(self._queue)} queued, "
            f"{len(self._running)} running)>"
        )

    # --- running it --------------------------------------------------------------------------

    def child_spec(self, id: str | None = None, **options: Any) -> otp.ChildSpec:  # noqa: A002, ANN401
        """A child spec running this executor (``options`` go to :class:`otp.ChildSpec`).

        Its restart type defaults to ``transient`` (a :meth:`stop` is not undone) and its
        ``shutdown`` to the executor's.

        Example::

            async with otp.open_supervisor([executor.child_spec()]):
                ...
        """
        options.setdefault("restart", "transient")
        options.setdefault("shutdown", self.shutdown)
        return otp.ChildSpec(self.name if id is None else id, self.run, **options)

    async def run(
        self, *, task_status: trio.TaskStatus[Executor] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the executor until :meth:`stop` or cancellation; ``started(self)`` once ready.

        Either way it stops taking jobs, drops those queued or waiting to retry, gives the
        running ones ``shutdown`` seconds (within the child's cleanup time when supervised),
        then cancels the rest. Every handle is settled; a stop that left work undone logs a
        warning and its report is :attr:`last_stop`.

        Example::

            executor = await nursery.start(otp.tasks.Executor("jobs").run)
        """
        if self._state is not _IDLE:
            msg = f"executor {self.name!r} is already running; run it once at a time"
            raise RuntimeError(msg)
        self._stop_requested = trio.Event()
        self._stopped = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                self._jobs = await nursery.start(self._host_jobs)
                self._state = _RUNNING
                task_status.started(self)
                try:
                    await self._stop_requested.wait()
                finally:
                    self._state = _CLOSING
                    dropped = self._drop_waiting()
                    with otp.cleanup_scope(), trio.move_on_after(self.shutdown):
                        while self._running:
                            await self._wait_settled()
                    self._last_stop = self._report(dropped)
                    assert self._jobs_scope is not None
                    self._jobs_scope.cancel()
        finally:
            self._state = _IDLE
            self._jobs = self._jobs_scope = None
            self._workers = self._idle_workers = 0
            self._stopped.set()

    async def _host_jobs(self, *, task_status: trio.TaskStatus[trio.Nursery]) -> None:
        # Shielded so that the executor's own cancellation reaches its jobs only when the
        # wind-down decides (after the shutdown time), through this scope.
        with trio.CancelScope(shield=True) as scope:
            self._jobs_scope = scope
            async with trio.open_nursery() as jobs:
                task_status.started(jobs)
                await trio.sleep_forever()

    def _drop_waiting(self) -> tuple[JobHandle[Any], ...]:
        dropped = (*self._queue.drain(), *self._retrying)
        self._retrying.clear()
        for job in dropped:
            self._count("dropped")
            self._end(job, JobStatus.DROPPED, self._dropped(job))
        self._room.unpark_all()  # waiting submitters learn that it is closed
        return dropped

    def _report(self, dropped: tuple[JobHandle[Any], ...]) -> StopReport:
        report = StopReport(dropped, tuple(self._running))
        if report.dropped or report.cut_short:
            logger.warning(
                "executor %r stopped: %d queued or retrying job(s) dropped, %d running job(s) "
                "cut short after %gs",
                self.name,
                len(report.dropped),
                len(report.cut_short),
                self.shutdown,
            )
        return report

    async def stop(self, *, drain: bool = False) -> StopReport:
        """Stop taking jobs, then stop as :meth:`run` describes; what was left undone.

        With ``drain=True`` it first waits for every accepted job (queued ones included)
        to end. Stopping an executor that is not running returns an empty report.

        Example::

            report = await executor.stop(drain=True)
            assert report == otp.tasks.StopReport((), ())
        """
        if self._state is _IDLE:
            await trio.lowlevel.checkpoint()
            return StopReport((), ())
        if drain:
            await self.join()
        self._state = _CLOSING
        self._stop_requested.set()
        await self._stopped.wait()
        assert self._last_stop is not None
        return self._last_stop

    @property
    def last_stop(self) -> StopReport | None:
        """The report of the last time the executor stopped, if it has."""
        return self._last_stop

    async def join(self) -> None:
        """Wait until no job is queued, running or waiting to retry.

        Example::

            for url in urls:
                executor.start_soon(fetch, url)
            await executor.join()
        """
        while self._queue or self._running or self._retrying:
            await self._wait_settled()
        await trio.lowlevel.checkpoint()

    async def _wait_settled(self) -> None:
        if self._settled is None:
            self._settled = trio.Event()
        await self._settled.wait()

    # --- submitting --------------------------------------------------------------------------

    async def submit(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: Any,  # noqa: ANN401
        name: str | None = None,
        priority: Priority = Priority.NORMAL,
        timeout: float | object | None = ...,  # noqa: ASYNC109  (the job's, per attempt)
        retry: Retry | None = None,
    ) -> JobHandle[T]:
        """Queue ``fn(*args)`` as a job, waiting for room if the queue is full; its handle.

        Args:
            fn: An async function; ``functools.partial`` passes keyword arguments.
            *args: Its positional arguments.
            name: Its name in reports (defaults to the function's).
            priority: A :class:`Priority`. Defaults to ``NORMAL``.
            timeout: Seconds per attempt (``None``: no limit); defaults to the executor's.
            retry: A :class:`Retry`; defaults to the executor's.

        Raises:
            ExecutorClosed: The executor is not running (or stops while this waits).

        Example::

            handle = await executor.submit(resize, image, priority=otp.tasks.Priority.HIGH)
        """
        job = self._make(fn, args, name=name, priority=priority, timeout=timeout, retry=retry)
        await trio.lowlevel.checkpoint()
        while True:
            self._check_open()
            if len(self._queue) < self.queue_size:
                break
            await self._room.park()
        self._accept(job)  # no await from here: a cancelled submit has taken nothing
        return job

    def submit_nowait(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: Any,  # noqa: ANN401
        name: str | None = None,
        priority: Priority = Priority.NORMAL,
        timeout: float | object | None = ...,
        retry: Retry | None = None,
    ) -> JobHandle[T]:
        """Queue ``fn(*args)`` now, as :meth:`submit` does, or raise :class:`QueueFull`.

        Example::

            try:
                handle = executor.submit_nowait(resize, image)
            except otp.tasks.QueueFull:
                return "busy, try later"
        """
        job = self._make(fn, args, name=name, priority=priority, timeout=timeout, retry=retry)
        self._check_open()
        if len(self._queue) >= self.queue_size:
            self._count("rejected")
            msg = (
                f"executor {self.name!r}: the queue is full ({self.queue_size} jobs waiting); "
                "await executor.submit(...) to wait for room, or raise queue_size"
            )
            raise QueueFull(msg)
        self._accept(job)
        return job

    def _submit_if_room(
        self,
        fn: Callable[..., Awaitable[T]],
        item: object,
        priority: Priority,
        timeout: object,
        retry: Retry | None,
    ) -> JobHandle[T] | None:
        """``submit_nowait(fn, item)``, or ``None`` (counting no rejection) if it is full."""
        if len(self._queue) >= self.queue_size:
            return None
        job = self._make(fn, (item,), name=None, priority=priority, timeout=timeout, retry=retry)
        self._check_open()
        self._accept(job)
        return job

    async def start_soon(
        self,
        fn: Callable[..., Awaitable[object]],
        *args: Any,  # noqa: ANN401
        name: str | None = None,
        priority: Priority = Priority.NORMAL,
        timeout: float | object | None = ...,  # noqa: ASYNC109  (the job's, per attempt)
        retry: Retry | None = None,
    ) -> JobHandle[object]:
        """Queue a fire-and-forget job (waiting for room): its failure is logged.

        Nobody needs to await it: if it fails, times out or is dropped, the ``otp.tasks``
        logger reports it at ``ERROR`` (with the traceback), besides the statistics and hooks.

        Example::

            await executor.start_soon(send_welcome_mail, user)
        """
        job = await self.submit(
            fn, *args, name=name, priority=priority, timeout=timeout, retry=retry
        )
        job.fire_and_forget = True
        return job

    async def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T],
        *,
        concurrency: int | None = None,
        priority: Priority = Priority.NORMAL,
        timeout: float | object | None = ...,  # noqa: ASYNC109  (the job's, per attempt)
        retry: Retry | None = None,
    ) -> list[R]:
        """``[await fn(item) for item in items]`` as jobs, at most ``concurrency`` at a time.

        Results come in the order of ``items``. The first job that fails ends the map: the
        others still queued or running are cancelled and its :class:`JobError` is raised.
        ``concurrency`` defaults to the executor's; the options are :meth:`submit`'s.

        Example::

            sizes = await executor.map(file_size, paths, concurrency=8)
        """
        return await map_jobs(
            self,
            fn,
            items,
            concurrency=concurrency,
            priority=priority,
            timeout=timeout,
            retry=retry,
        )

    def _make(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        *,
        name: str | None,
        priority: object,
        timeout: object,
        retry: Retry | None,
    ) -> JobHandle[T]:
        function: object = fn
        if not callable(function):
            msg = f"executor {self.name!r}: a job must be an async function (got {fn!r})"
            raise TasksDeclarationError(msg)
        level = priority
        if type(level) is not Priority:
            try:
                level = Priority(level)  # type: ignore[arg-type]
            except (ValueError, TypeError):
                msg = (
                    f"executor {self.name!r}: priority must be an otp.tasks.Priority "
                    f"(LOW, NORMAL, HIGH, CRITICAL; got {priority!r})"
                )
                raise TasksDeclarationError(msg) from None
        seconds = (
            self.timeout if timeout is ... else _seconds("submit", "timeout", timeout, none_ok=True)
        )
        policy: object = retry
        if policy is not None and not isinstance(policy, Retry):
            msg = f"submit: retry must be an otp.tasks.Retry (got {retry!r})"
            raise TasksDeclarationError(msg)
        self._next_id += 1
        label = name if name is not None else getattr(fn, "__qualname__", None) or repr(fn)
        return JobHandle(
            self,
            self._next_id,
            fn,
            args,
            name=label,
            priority=level,
            timeout=seconds,
            retry=retry if retry is not None else self.retry,
            fire_and_forget=False,
        )

    def _check_open(self) -> None:
        if self._state is not _RUNNING:
            how = (
                "it is stopping"
                if self._state is _CLOSING
                else "start it first: run executor.child_spec() under a supervisor, or use "
                "otp.tasks.open_executor()"
            )
            msg = f"executor {self.name!r} takes no jobs: {how}"
            raise ExecutorClosed(msg)

    def _accept(self, job: JobHandle[Any]) -> None:
        self._count("submitted")
        self._enqueue(job)

    def _enqueue(self, job: JobHandle[Any]) -> None:
        job.status = JobStatus.QUEUED
        self._queue.push(job, job.priority)
        if self._idle_workers:
            self._idle_workers -= 1
            self._work.unpark()
        elif self._workers < self.concurrency:
            assert self._jobs is not None
            self._workers += 1
            self._jobs.start_soon(self._worker)

    # --- running jobs ------------------------------------------------------------------------

    async def _worker(self) -> None:
        queue = self._queue
        while True:
            # One cancel scope serves the worker's jobs one after the other (its deadline is
            # the running job's), until a timeout or a cancel spends it: entering a scope per
            # job would cost more than a no-op job itself.
            with trio.CancelScope() as scope:
                while True:
                    job = queue.pop()
                    if job is None:
                        # The last job's deadline stays: if it passes while the worker is
                        # idle, the worker takes a fresh scope, which is cheaper per job than
                        # clearing it each time.
                        self._idle_workers += 1
                        try:
                            await self._work.park()
                        except BaseException:
                            self._idle_workers -= 1  # cancelled, so not unparked
                            raise
                        continue
                    if self._room:
                        self._room.unpark()
                    await self._attempt(job, scope)
                    if scope.cancel_called:
                        break

    async def _attempt(self, job: JobHandle[Any], scope: trio.CancelScope) -> None:
        job.status = JobStatus.RUNNING
        job.attempts += 1
        self._running.add(job)
        error: BaseException | None = None
        value: object = None
        stopped = False  # by its timeout or its handle, through the worker's scope
        scope.deadline = trio.current_time() + job.timeout
        job._scope = scope
        try:
            value = await job.fn(*job.args)
        except Exception as exc:  # noqa: BLE001  (a job's error is its outcome)
            error = exc
        except BaseException as exc:
            ours, left = self._own_cancellation(exc, scope)
            if not ours:
                # The executor is past its shutdown time (or KeyboardInterrupt or the like
                # ends it): not this job's doing. The handle still gets an answer.
                self._running.discard(job)
                self._count("cancelled")
                message = (
                    f"job {job.name!r} (#{job.id}) was cut short: executor {self.name!r} stopped"
                )
                self._end(job, JobStatus.CANCELLED, outcome.Error(JobCancelled(message, job)))
                raise
            # The worker's own scope was cancelled for this job alone: what a scope around
            # the job would have caught, caught here; the worker takes a fresh scope next.
            stopped = True
            error = left
        job._scope = None  # the worker's scope is the next job's now
        self._running.discard(job)
        if stopped and error is None:
            if job._cancel_requested:
                self._cancelled(job)
                return
            error = TimeoutError(f"attempt {job.attempts} ran past its timeout of {job.timeout:g}s")
        if error is None:
            self._counts["succeeded"] += 1
            self._end(job, JobStatus.SUCCEEDED, outcome.Value(value))
            return
        if job._cancel_requested:
            self._cancelled(job)
            return
        delay = job.retry.delay(job.attempts, error, self._random)
        if delay is not None and self._state is _RUNNING:
            self._count("retried")
            job.status = JobStatus.RETRYING
            self._retrying.add(job)
            assert self._jobs is not None
            self._jobs.start_soon(self._retry_after, job, delay)
            return
        timed_out = stopped and isinstance(error, TimeoutError)
        kind = JobTimedOut if timed_out else JobFailed
        self._count("timed_out" if timed_out else "failed")
        tries = "attempt" if job.attempts == 1 else "attempts"
        message = (
            f"job {job.name!r} (#{job.id}) of executor {self.name!r} failed after "
            f"{job.attempts} {tries}: {type(error).__name__}: {error}"
        )
        failure = kind(message, job, error)
        failure.__cause__ = error
        status = JobStatus.TIMED_OUT if timed_out else JobStatus.FAILED
        self._end(job, status, outcome.Error(failure))

    def _own_cancellation(
        self, exc: BaseException, scope: trio.CancelScope
    ) -> tuple[bool, Exception | None]:
        """Whether a job's ``BaseException`` is its worker scope's cancellation.

        With it, what is left once that is taken out (the job's own errors beside it).
        """
        jobs = self._jobs_scope
        if not scope.cancel_called or (jobs is not None and jobs.cancel_called):
            return False, None
        if isinstance(exc, trio.Cancelled):
            return True, None
        if isinstance(exc, BaseExceptionGroup):
            _, rest = exc.split(trio.Cancelled)
            if rest is None:
                return True, None
            if isinstance(rest, Exception):
                return True, rest
        return False, None

    async def _retry_after(self, job: JobHandle[Any], delay: float) -> None:
        with trio.CancelScope() as scope:
            job._scope = scope
            if job._cancel_requested:  # cancelled before this task began
                scope.cancel()
            await trio.sleep(delay)
        if job.status is not JobStatus.RETRYING:
            return  # dropped by a stop meanwhile
        self._retrying.discard(job)
        if job._cancel_requested:
            self._cancelled(job)
        else:
            self._enqueue(job)  # accepted already: past the queue's bound if need be

    def _cancel(self, job: JobHandle[Any]) -> None:
        if job.status is JobStatus.QUEUED:
            self._queue.discard()
            self._cancelled(job)
            if self._room:
                self._room.unpark()
        elif job._scope is not None:
            job._scope.cancel()

    def _cancelled(self, job: JobHandle[Any]) -> None:
        self._count("cancelled")
        message = f"job {job.name!r} (#{job.id}) of executor {self.name!r} was cancelled"
        self._end(job, JobStatus.CANCELLED, outcome.Error(JobCancelled(message, job)))

    def _dropped(self, job: JobHandle[Any]) -> outcome.Error:
        message = (
            f"job {job.name!r} (#{job.id}) was dropped: executor {self.name!r} stopped "
            f"before it ran{' again' if job.attempts else ''}"
        )
        return outcome.Error(JobDropped(message, job))

    def _end(self, job: JobHandle[Any], status: JobStatus, result: outcome.Outcome[Any]) -> None:
        job._settle(status, result)
        latency = (job.finished_at or 0.0) - job.submitted_at
        self._latency.observe(latency, self._labels)
        if self._settled is not None:
            self._settled.set()
            self._settled = None
        error = result.error if isinstance(result, outcome.Error) else None
        if error is not None and job.fire_and_forget:
            logger.error("%s", error, exc_info=(type(error), error, error.__traceback__))
        if self._hooks:
            report = JobReport(self.name, job.id, job.name, status, job.attempts, latency, error)
            for hook in self._hooks:
                try:
                    hook(report)
                except Exception:
                    logger.exception(
                        "executor %r: a job hook raised; the job is unaffected", self.name
                    )

    def _count(self, key: str) -> None:
        self._counts[key] += 1

    # --- statistics --------------------------------------------------------------------------

    def statistics(self) -> ExecutorStatistics:
        """Counts of jobs now and since the executor was made.

        Example::

            print(executor.statistics().running)
        """
        counts = self._latency.counts.get(self._labels, [0] * (len(self._latency.buckets) + 1))
        bounds = (*self._latency.buckets, math.inf)
        return ExecutorStatistics(
            queued=len(self._queue),
            running=len(self._running),
            retrying=len(self._retrying),
            latency=tuple(zip(bounds, counts, strict=True)),
            **self._counts,
        )

    def _export(self, metrics: otp.metrics.Metrics) -> None:
        jobs = metrics.counter("otp_tasks_jobs_total", "Jobs by outcome.", ["executor", "outcome"])
        events = metrics.counter(
            "otp_tasks_events_total", "Submits, retries and rejections.", ["executor", "kind"]
        )
        now = metrics.gauge(
            "otp_tasks_jobs", "Jobs queued, running, retrying.", ["executor", "state"]
        )
        outcomes = ("succeeded", "failed", "timed_out", "cancelled", "dropped")

        def refresh() -> None:
            stats = self.statistics()
            for key in outcomes:
                jobs.values[self.name, key] = float(getattr(stats, key))
            for key in ("submitted", "retried", "rejected"):
                events.values[self.name, key] = float(getattr(stats, key))
            for key in ("queued", "running", "retrying"):
                now.set(getattr(stats, key), (self.name, key))

        metrics.on_collect(refresh)

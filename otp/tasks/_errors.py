"""The errors of ``otp.tasks``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otp import OtpError
from otp._taxonomy import BASE, DECLARATION, JOB, MISUSE, OVERLOAD, classify

if TYPE_CHECKING:
    from ._job import JobHandle


@classify(BASE)
class TasksError(OtpError):
    """The base class of every ``otp.tasks`` error.

    Example::

        try:
            await executor.submit(fetch, url)
        except otp.tasks.TasksError as exc:
            log.warning("not done: %s", exc)
    """


@classify(DECLARATION)
class TasksDeclarationError(TasksError, ValueError):
    """An executor, a retry policy or a job was declared with a wrong value.

    Example::

        with pytest.raises(otp.tasks.TasksDeclarationError, match="concurrency"):
            otp.tasks.Executor(concurrency=0)
    """


@classify(OVERLOAD)
class QueueFull(TasksError):
    """``submit_nowait`` found the executor's queue full; the job was not taken.

    Example::

        try:
            executor.submit_nowait(fetch, url)
        except otp.tasks.QueueFull:
            await executor.submit(fetch, url)  # wait for room instead
    """


@classify(MISUSE)
class ExecutorClosed(TasksError):
    """A job was submitted to an executor that is not running (not started, or stopping).

    Example::

        await executor.stop()
        with pytest.raises(otp.tasks.ExecutorClosed):
            executor.submit_nowait(fetch, url)
    """


@classify(JOB)
class JobError(TasksError):
    """A job did not succeed; ``job`` is its handle.

    Example::

        try:
            await handle
        except otp.tasks.JobError as exc:
            print(exc.job.status)
    """

    def __init__(self, message: str, job: JobHandle[object]) -> None:
        super().__init__(message)
        self.job = job


@classify(JOB)
class JobFailed(JobError):
    """A job raised on its last attempt; ``error`` is that exception (also the cause).

    Example::

        try:
            await handle
        except otp.tasks.JobFailed as exc:
            print(exc.job.attempts, repr(exc.error))
    """

    def __init__(self, message: str, job: JobHandle[object], error: BaseException) -> None:
        super().__init__(message, job)
        self.error = error


@classify(JOB)
class JobTimedOut(JobFailed):
    """A job's last attempt ran past its timeout and was cancelled.

    Its ``error`` is a :class:`TimeoutError`. Example::

        with pytest.raises(otp.tasks.JobTimedOut):
            await executor.submit(trio.sleep_forever, timeout=1.0)
    """


@classify(JOB)
class JobCancelled(JobError):
    """A job was cancelled through its handle, or cut short when its executor stopped.

    Example::

        handle.cancel()
        with pytest.raises(otp.tasks.JobCancelled):
            await handle
    """


@classify(JOB)
class JobDropped(JobError):
    """A job was still queued (or waiting to retry) when its executor stopped.

    It never ran (again); the stop's :class:`StopReport` lists it.

    Example::

        report = await executor.stop()
        for handle in report.dropped:
            log.warning("dropped %s", handle)
    """

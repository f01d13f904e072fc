"""Supervised jobs: an executor with priorities, timeouts, retries and bounded queues.

Like Elixir's ``Task.Supervisor`` with a job queue in front. An :class:`Executor` is a child
like any other (:meth:`Executor.child_spec`) or runs for a block (:func:`open_executor`).
Jobs are async functions: :meth:`Executor.submit` queues one and gives a
:class:`JobHandle` to await or cancel; :meth:`Executor.start_soon` queues one whose failure
is logged; :meth:`Executor.map` and :func:`as_completed` handle many.

The path of a job, by module: ``_executor`` takes it into the queue (``_queue``, one FIFO per
:class:`Priority`), a worker runs each attempt under its timeout, and the retry policy
(``_policy``, pure) says whether and when to try again; the handle (``_job``) is settled and
its awaiters woken. It uses only the public ``otp`` API.

Example::

    executor = otp.tasks.Executor("jobs", concurrency=10)
    async with otp.open_supervisor([executor.child_spec()]):
        handle = await executor.submit(fetch, url, priority=otp.tasks.Priority.HIGH)
        page = await handle
"""

from ._errors import ExecutorClosed as ExecutorClosed
from ._errors import JobCancelled as JobCancelled
from ._errors import JobDropped as JobDropped
from ._errors import JobError as JobError
from ._errors import JobFailed as JobFailed
from ._errors import JobTimedOut as JobTimedOut
from ._errors import QueueFull as QueueFull
from ._errors import TasksDeclarationError as TasksDeclarationError
from ._errors import TasksError as TasksError
from ._executor import Executor as Executor
from ._executor import ExecutorStatistics as ExecutorStatistics
from ._executor import JobReport as JobReport
from ._executor import StopReport as StopReport
from ._helpers import as_completed as as_completed
from ._job import JobHandle as JobHandle
from ._job import JobStatus as JobStatus
from ._open import open_executor as open_executor
from ._policy import DEFAULT_BACKOFF as DEFAULT_BACKOFF
from ._policy import NO_RETRY as NO_RETRY
from ._policy import Priority as Priority
from ._policy import Retry as Retry

__all__ = [
    "DEFAULT_BACKOFF",
    "NO_RETRY",
    "Executor",
    "ExecutorClosed",
    "ExecutorStatistics",
    "JobCancelled",
    "JobDropped",
    "JobError",
    "JobFailed",
    "JobHandle",
    "JobReport",
    "JobStatus",
    "JobTimedOut",
    "Priority",
    "QueueFull",
    "Retry",
    "StopReport",
    "TasksDeclarationError",
    "TasksError",
    "as_completed",
    "open_executor",
]

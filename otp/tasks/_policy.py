"""Pure: job priorities and the retry policy (which errors, how many attempts, what delay)."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TypeAlias, final

import attrs

import otp

from ._errors import TasksDeclarationError

__all__ = ["DEFAULT_BACKOFF", "NO_RETRY", "Priority", "Retry", "RetryOn"]


class Priority(IntEnum):
    """How soon a queued job runs: higher first, first in first out within one priority.

    Example::

        await executor.submit(page_oncall, alert, priority=otp.tasks.Priority.CRITICAL)
    """

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


DEFAULT_BACKOFF = otp.Backoff(min=0.1, max=30.0, multiplier=2.0, jitter=0.2)
"""100 ms, doubling, capped at 30 s, each delay stretched by up to 20 % at random."""

RetryOn: TypeAlias = tuple[type[BaseException], ...] | Callable[[BaseException], bool]
"""Which errors are retried: exception classes, or a predicate on the error."""


def _retry_on(value: object) -> RetryOn:
    if callable(value) and not isinstance(value, type):
        return value
    classes = (value,) if isinstance(value, type) else value
    if not isinstance(classes, tuple) or not all(
        isinstance(cls, type) and issubclass(cls, BaseException) for cls in classes
    ):
        msg = (
            "Retry: retry_on must be exception classes (a class or a tuple of them) or a "
            f"predicate taking the error (got {value!r})"
        )
        raise TasksDeclarationError(msg)
    return classes


@final
@attrs.frozen(init=False)
class Retry:
    """How a failing job is tried again.

    Args:
        attempts: Attempts in all, the first included (``>= 1``; 1 means no retry).
            Defaults to 3.
        backoff: The delay before each retry: ``backoff.delay(n)`` before retry ``n``
            (0-based). Defaults to :data:`DEFAULT_BACKOFF` (100 ms, doubling, capped at 30 s,
            20 % jitter).
        retry_on: The errors worth another attempt: exception classes or a predicate.
            Defaults to ``(Exception,)``; a timed-out attempt counts as a
            :class:`TimeoutError`. Anything else fails the job at once.

    Example::

        >>> policy = otp.tasks.Retry(attempts=4, retry_on=(ConnectionError, TimeoutError))
        >>> policy.delay(1, ConnectionError(), random=lambda: 0.0)
        0.1
        >>> policy.delay(1, KeyError("bug"), random=lambda: 0.0) is None
        True
    """

    attempts: int
    backoff: otp.Backoff
    retry_on: RetryOn

    def __init__(
        self,
        attempts: int = 3,
        backoff: otp.Backoff = DEFAULT_BACKOFF,
        retry_on: RetryOn = (Exception,),
    ) -> None:
        count: object = attempts
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            msg = f"Retry: attempts must be an int >= 1 (got {attempts!r})"
            raise TasksDeclarationError(msg)
        given: object = backoff
        if not isinstance(given, otp.Backoff):
            msg = f"Retry: backoff must be an otp.Backoff (got {backoff!r})"
            raise TasksDeclarationError(msg)
        self.__attrs_init__(attempts, backoff, _retry_on(retry_on))

    def retries(self, error: BaseException) -> bool:
        """Whether ``error`` is worth another attempt (whatever the count)."""
        rule = self.retry_on
        if isinstance(rule, tuple):
            return isinstance(error, rule)
        return bool(rule(error))

    def delay(
        self, attempts_made: int, error: BaseException, random: Callable[[], float]
    ) -> float | None:
        """The delay before the next attempt after ``attempts_made`` failed, or ``None``.

        ``None`` means give up: the attempts are spent or ``error`` is not retried.
        """
        if attempts_made >= self.attempts or not self.retries(error):
            return None
        return self.backoff.delay(attempts_made - 1, random)


NO_RETRY = Retry(attempts=1)
"""One attempt: a failure fails the job."""

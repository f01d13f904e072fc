"""Declared health checks: an async callable run under a timeout, turned into a result."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import final

import attrs
import trio

from otp._callables import is_async_callable

from ._errors import HealthDeclarationError
from ._status import Finding, HealthStatus

__all__ = ["Check", "CheckFunction", "CheckResult", "Failing", "run_check"]


@final
@attrs.frozen
class Failing:
    """What a check returns to say it fails, and why (returning ``False`` gives no reason).

    Example::

        async def replication():
            lag = await replica.lag()
            return otp.health.Failing(f"replica {lag:.0f} s behind") if lag > 10 else True
    """

    reason: str


CheckFunction = Callable[[], Awaitable["bool | Failing | None"]]
"""A check: an async function of no arguments returning ``True``/``None``, ``False`` or
:class:`Failing`."""


def _number(check: str, option: str, value: object, *, infinite: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        number = math.nan
    else:
        number = float(value)
    if not number > 0 or (not infinite and math.isinf(number)):
        bound = "a number > 0" if infinite else "a finite number > 0"
        msg = f"check {check!r}: {option} must be {bound} (got {value!r})"
        raise HealthDeclarationError(msg)
    return number


def _check_function(name: str, func: object) -> None:
    if not callable(func):
        msg = f"check {name!r}: func must be an async function (got {func!r})"
        raise HealthDeclarationError(msg)
    if not is_async_callable(func):
        what = getattr(func, "__qualname__", type(func).__qualname__)
        kind = "async generator" if inspect.isasyncgenfunction(func) else "sync callable"
        msg = (
            f"check {name!r}: func must be an async function of no arguments "
            f"(got {kind} {what!r}); define it with 'async def'"
        )
        raise HealthDeclarationError(msg)


@final
@attrs.frozen(init=False)
class Check:
    """A health check: an async function run every ``interval`` seconds under ``timeout``.

    The check passes when the function returns ``True`` or ``None``. It fails when it returns
    ``False`` or a :class:`Failing`, raises an exception (the reason is the exception's
    text), or runs longer than ``timeout`` (it is cancelled; the reason is "timed out after
    1 s"). A failing critical check makes its subtree Unhealthy; a failing non-critical one
    makes it Degraded.

    Args:
        name: The check's name, in reasons and reports.
        func: An async function of no arguments (``functools.partial`` is fine).
        timeout: Seconds one run may take (``> 0``). Defaults to 1.
        interval: Seconds between the start of two runs (``> 0``, finite). Defaults to 5.
        critical: Whether failing makes the subtree Unhealthy (else Degraded). Defaults to
            ``True``.

    Raises:
        HealthDeclarationError: A bad name, function, timeout or interval.

    Example::

        async def ping_db():
            await db.execute("select 1")

        checks = {"root/db": [otp.health.Check("ping", ping_db, timeout=0.5, interval=2)]}
    """

    name: str
    func: CheckFunction
    timeout: float
    interval: float
    critical: bool

    def __init__(
        self,
        name: str,
        func: CheckFunction,
        *,
        timeout: float = 1.0,
        interval: float = 5.0,
        critical: bool = True,
    ) -> None:
        given: object = name
        if not isinstance(given, str) or not given:
            msg = f"check name must be a non-empty string (got {given!r})"
            raise HealthDeclarationError(msg)
        _check_function(name, func)
        flag: object = critical
        if not isinstance(flag, bool):
            msg = f"check {name!r}: critical must be True or False (got {flag!r})"
            raise HealthDeclarationError(msg)
        self.__attrs_init__(
            name,
            func,
            _number(name, "timeout", timeout, infinite=True),
            _number(name, "interval", interval, infinite=False),
            critical,
        )


@final
@attrs.frozen
class CheckResult:
    """The outcome of one run of a check.

    Attributes:
        path: The path the check was declared for.
        check: The check's name.
        passed: Whether it passed.
        reason: Why it failed (empty when it passed).
        critical: Whether the check is critical.
        time: ``trio.current_time()`` when the run ended.
        duration: How long the run took, in seconds.

    Example::

        failing = [r for r in monitor.report.checks if not r.passed]
    """

    path: str
    check: str
    passed: bool
    reason: str
    critical: bool
    time: float
    duration: float

    @property
    def finding(self) -> Finding:
        """This result as a finding (Healthy, or Unhealthy/Degraded by ``critical``)."""
        if self.passed:
            status = HealthStatus.HEALTHY
        else:
            status = HealthStatus.UNHEALTHY if self.critical else HealthStatus.DEGRADED
        return Finding(self.path, f"check {self.check!r}", status, self.reason)


def _describe(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _judge(outcome: object) -> str | None:
    """The failure reason for what a check returned, or ``None`` if it passed."""
    if outcome is None or outcome is True:
        return None
    if outcome is False:
        return "returned False"
    if isinstance(outcome, Failing):
        return outcome.reason or "failing"
    return f"returned {outcome!r}; a check returns True, None, False or otp.health.Failing(reason)"


async def run_check(check: Check, path: str) -> CheckResult:
    """Run ``check`` once under its timeout and say how it went.

    An exception from the check is its failure reason; cancellation from outside propagates.

    Example::

        result = await run_check(otp.health.Check("ping", ping), "root/db")
    """
    started = trio.current_time()
    reason: str | None = None
    with trio.move_on_after(check.timeout) as scope:
        try:
            reason = _judge(await check.func())
        except* Exception as group:  # noqa: BLE001  (whatever a check raises is its failure)
            reason = _describe(group.exceptions[0] if len(group.exceptions) == 1 else group)
    if scope.cancel_called:
        # Cut short by its timeout (or finished only by swallowing the cancellation).
        reason = f"timed out after {check.timeout:g} s"
    now = trio.current_time()
    return CheckResult(
        path, check.name, reason is None, reason or "", check.critical, now, now - started
    )

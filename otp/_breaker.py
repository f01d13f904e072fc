"""Circuit breakers: a pure state machine (:class:`BreakerCore`) and its Trio wrapper.

A breaker stands between callers and a dependency that may be down. It has three states::

               trip rule met                      reset timeout over (lazily,
     CLOSED ──────────────────────▶ OPEN ───────────────────────────▶ HALF_OPEN
       ▲     (consecutive failures,   ▲      at the next admission)       │
       │      failure rate or         │                                   │
       │      slow-call rate)         └──── a trial failed, or the ───────┤
       │                                    half-open state lasted        │
       │                                    max_half_open_duration        │
       └──────────────── success_threshold trial successes ───────────────┘

* **closed**: every call goes through; outcomes feed the trip rules: ``failure_threshold``
  consecutive failures, and/or a sliding window (the last ``window_calls`` calls, or the last
  ``window_seconds`` seconds in ``window_buckets`` buckets, O(1) per call) whose failure rate
  or slow-call rate reaches its threshold once it holds ``minimum_calls`` calls
  (resilience4j's semantics). The call that trips the breaker raises its own exception.
* **open**: every call is rejected at once with :class:`CircuitOpen`, whose ``retry_after``
  says how long until the next trial. The open period is ``reset_timeout * multiplier ** k``
  (``k`` = trips since the breaker last closed), capped at ``max_reset_timeout``, times
  ``1 + jitter * U`` (Akka's random factor). No timer task: the move to half-open happens
  when a call (or ``breaker.state``) looks at the clock after the period is over.
* **half-open**: exactly ``half_open_max_calls`` trial calls run at once, the rest are
  rejected; ``success_threshold`` trial successes close the breaker (and reset the backoff),
  any trial failure re-opens it at once, and after ``max_half_open_duration`` a stuck
  half-open state re-opens (resilience4j's ``maxWaitDurationInHalfOpenState``).

Every stretch of time in one state is an *episode*, numbered; every transition (and
:meth:`~CircuitBreaker.reset`) starts a new one. An admission carries its episode, and a
result that comes back after its episode ended (a call admitted while closed that fails after
the breaker opened, a trial that ends after the half-open state timed out) is counted as
*late* in the statistics and changes no state: a late result can never flip the current
episode.

What no other Python breaker offers (pybreaker, purgatory, aiobreaker; see the reference
table in the docs), and some no breaker at all:

* cancellation-aware outcomes: a ``trio.Cancelled`` from outside is neither a success nor a
  failure, gives its half-open trial slot back, and propagates untouched (pybreaker and
  purgatory count it as a failure);
* a call timeout that really cancels the protected body (Akka fails the caller but lets the
  body run on; resilience4j needs a separate TimeLimiter), counted as a failure;
* the guarantee above that late results from an earlier episode cannot flip the current one;
* a half-open trial limit, slow-call detection, sliding windows, reset backoff with jitter,
  "ignored" outcomes distinct from successes, and an injectable monotonic clock and random
  source (the Python libraries read wall-clock time).

The Trio wrapper :class:`CircuitBreaker` is used as ``await breaker.call(fn, *args)``, as a
decorator (``@breaker``; ``breaker(ref.call)`` protects a server's calls), or as
``async with breaker.guard():``. While closed, it reads no clock for a call unless the
configuration needs one (a time window, slow-call detection or hooks; a failure is always
stamped), and with the default configuration a call costs about 2.7x a bare ``await``
(``benchmarks/bench_breaker.py``).
"""

from __future__ import annotations

import functools
import logging
import math
import random as _random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from enum import StrEnum
from types import TracebackType
from typing import Any, ClassVar, ParamSpec, TypeAlias, TypeVar, TypeVarTuple, final

import attrs
import trio

from ._backoff import Backoff
from ._exceptions import OtpError
from ._exceptions import _describe as _describe_error
from ._numbers import as_float
from ._taxonomy import BREAKER, DECLARATION, classify

__all__ = [
    "Admission",
    "BreakerCallCancelled",
    "BreakerCallFailed",
    "BreakerCallIgnored",
    "BreakerCallLate",
    "BreakerCallRejected",
    "BreakerCallSucceeded",
    "BreakerCallTimedOut",
    "BreakerConfig",
    "BreakerConfigError",
    "BreakerCore",
    "BreakerError",
    "BreakerEvent",
    "BreakerGuard",
    "BreakerState",
    "BreakerStateChanged",
    "BreakerStatistics",
    "BreakerTimeout",
    "CallOutcome",
    "CircuitBreaker",
    "CircuitOpen",
    "Rejection",
]

logger = logging.getLogger("otp.breaker")

P = ParamSpec("P")
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def _seconds(value: float) -> str:
    # Messages show milliseconds at most; the exact value is on the exception.
    return f"{round(value, 3):g}"


# --- exceptions -------------------------------------------------------------------------------


@classify(BREAKER)
class BreakerError(OtpError):
    """Base of the errors a circuit breaker raises around a call.

    Attributes:
        breaker: The breaker's name.

    Example::

        try:
            await breaker.call(fetch, url)
        except otp.BreakerError as exc:
            log.warning("not calling %s now: %s", url, exc)
    """

    def __init__(self, message: str, breaker: str) -> None:
        super().__init__(message)
        self.breaker = breaker


@classify(BREAKER)
@final
class CircuitOpen(BreakerError):
    """A call was rejected at once: the breaker is open, or half-open with no free trial slot.

    The protected function was not called.

    Attributes:
        breaker: The breaker's name.
        state: ``BreakerState.OPEN`` or ``BreakerState.HALF_OPEN``.
        retry_after: Seconds until the breaker admits a trial call: the rest of the open
            period (``math.inf`` when held open by ``open(math.inf)``); ``0.0`` when
            half-open, where a slot frees up as soon as a running trial ends.

    Example::

        try:
            reply = await breaker.call(ref.call, "get")
        except otp.CircuitOpen as exc:
            await trio.sleep(exc.retry_after)
    """

    def __init__(self, breaker: str, state: BreakerState, retry_after: float) -> None:
        if state is BreakerState.HALF_OPEN:
            message = (
                f"circuit breaker {breaker!r} is half-open and all its trial calls are in "
                "progress; a call may be admitted as soon as one ends"
            )
        elif retry_after == math.inf:
            message = f"circuit breaker {breaker!r} is held open until it is closed by hand"
        else:
            message = (
                f"circuit breaker {breaker!r} is open; the next trial call is allowed in "
                f"{_seconds(retry_after)} s"
            )
        super().__init__(message, breaker)
        self.state = state
        self.retry_after = retry_after


@classify(BREAKER)
@final
class BreakerTimeout(BreakerError, TimeoutError):
    """The protected call ran longer than the breaker's ``call_timeout`` and was cancelled.

    It counts as a failure (a *timeout* outcome). It is a ``TimeoutError``, so
    ``except TimeoutError`` catches it together with :class:`otp.CallTimeout`, but it is not
    a :class:`otp.CallError`: the breaker protects any function, not only server calls, and a
    caller can tell "the server did not reply within the call's timeout" (``CallTimeout``, a
    failure the breaker counts) from "the breaker cut the call short" (this).

    Attributes:
        breaker: The breaker's name.
        timeout: The ``call_timeout``, in seconds.

    Example::

        breaker = otp.CircuitBreaker("search", otp.BreakerConfig(call_timeout=2.0))
        try:
            hits = await breaker.call(search, query)
        except otp.BreakerTimeout:
            hits = []
    """

    def __init__(self, breaker: str, timeout: float) -> None:
        super().__init__(
            f"circuit breaker {breaker!r}: the call did not finish within its call_timeout "
            f"of {_seconds(timeout)} s and was cancelled",
            breaker,
        )
        self.timeout = timeout


@classify(DECLARATION)
@final
class BreakerConfigError(OtpError, ValueError):
    """A :class:`BreakerConfig` is invalid; the message names the field, expected and got.

    Raised at construction, never in the middle of a call.

    Example::

        >>> otp.BreakerConfig(failure_threshold=0)
        Traceback (most recent call last):
        otp.BreakerConfigError: BreakerConfig: failure_threshold must be an int >= 1 or None \
(got 0)
    """


# --- configuration ----------------------------------------------------------------------------


def _fail(message: str) -> BreakerConfigError:
    return BreakerConfigError(f"BreakerConfig: {message}")


def _count(name: str, value: object, *, or_none: bool = False) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    expected = "an int >= 1 or None" if or_none else "an int >= 1"
    msg = f"{name} must be {expected} (got {value!r})"
    raise _fail(msg)


def _optional_count(name: str, value: object) -> int | None:
    return None if value is None else _count(name, value, or_none=True)


def _number(
    name: str,
    value: object,
    *,
    low: float,
    high: float = math.inf,
    low_inclusive: bool = False,
    or_none: bool = False,
) -> float:
    number = as_float(value)
    above = number >= low if low_inclusive else number > low
    if math.isfinite(number) and above and number <= high:
        return number
    relation = ">=" if low_inclusive else ">"
    expected = f"a finite number {relation} {low:g}"
    if high != math.inf:
        expected = f"a number in {'[' if low_inclusive else '('}{low:g}, {high:g}]"
    if or_none:
        expected += " or None"
    msg = f"{name} must be {expected} (got {value!r})"
    raise _fail(msg)


def _optional_seconds(name: str, value: object) -> float | None:
    return None if value is None else _number(name, value, low=0.0, or_none=True)


def _exclude(
    value: object,
) -> tuple[type[BaseException] | Callable[[BaseException], bool], ...]:
    entries = value if isinstance(value, tuple | list) else (value,)
    for entry in entries:
        is_type = isinstance(entry, type) and issubclass(entry, BaseException)
        if not is_type and (isinstance(entry, type) or not callable(entry)):
            msg = (
                "exclude must be an exception type, a predicate (a callable taking the "
                f"exception), or a sequence of them (got {entry!r})"
            )
            raise _fail(msg)
    return tuple(entries)


@final
@attrs.frozen(init=False)
class BreakerConfig:
    """How a circuit breaker trips, waits and recovers; frozen and validated.

    All arguments are keyword-only. Compared with the other libraries' defaults: trips after 5
    consecutive failures (pybreaker, aiobreaker and purgatory: 5; Akka: 10; resilience4j: a
    50 % failure rate over 100 calls); stays open 30 s at first (pybreaker 60, purgatory 30,
    Akka 15, resilience4j 60), doubling per trip without a close up to 300 s (Akka and
    resilience4j can back off too, neither does by default); admits exactly one trial call
    when half-open (Akka's rule; resilience4j: 10; the Python libraries: unlimited) and
    closes after one trial success (as all but resilience4j); a half-open state stuck for 60 s
    re-opens (unbounded everywhere by default); no call timeout (Akka: 10 s) so the body is
    never cancelled unless asked.

    Args:
        failure_threshold: Trip after this many consecutive failures (timeouts included;
            a success resets the count, ignored and cancelled calls leave it alone).
            ``None`` turns the rule off. Defaults to 5.
        window_calls: A count-based sliding window: the last N calls (successes and
            failures; ignored and cancelled calls are not in it).
        window_seconds: A time-based sliding window: the calls that ended in the last
            ``window_seconds`` seconds, kept in ``window_buckets`` buckets so each call
            costs O(1); the window's oldest bucket may be partly outside it, so the window
            spans between ``window_seconds * (1 - 1 / window_buckets)`` and
            ``window_seconds``. At most one of the two windows may be set.
        window_buckets: Buckets of a time-based window (``>= 1``). Defaults to 10.
        failure_rate_threshold: Trip when the window's failure rate (timeouts included) is
            at least this fraction, in ``(0, 1]``. Needs a window. Defaults to 0.5.
        minimum_calls: Rates are not evaluated before the window holds this many calls.
            Needs a window. Defaults to ``window_calls`` (a full window, as resilience4j's
            defaults) or to 10 for a time-based window.
        slow_call_duration: A call that took longer than this (seconds) is *slow*, whether
            it succeeded or failed (resilience4j's semantics). Needs a window. A trial that
            succeeds slowly counts as a failed trial. ``None`` (the default): no slow calls.
        slow_call_rate_threshold: Trip when the window's slow-call rate is at least this
            fraction, in ``(0, 1]``. Needs ``slow_call_duration``. Defaults to 1.0.
        reset_timeout: The first open period, in seconds (``> 0``). Defaults to 30.
        backoff_multiplier: Each trip since the breaker last closed multiplies the open
            period by this (``>= 1``; 1 means no backoff). Defaults to 2.
        max_reset_timeout: The cap on the open period before jitter (``>= reset_timeout``).
            Defaults to ``10 * reset_timeout``.
        jitter: Akka's random factor (``>= 0``): the open period is multiplied by
            ``1 + jitter * U``, ``U`` uniform in ``[0, 1)``. Defaults to 0.
        half_open_max_calls: Trial calls admitted at once when half-open (``>= 1``); the
            others are rejected at once. Defaults to 1.
        success_threshold: Trial successes that close the breaker (``>= 1``); they may come
            from trials one after the other. Defaults to 1.
        max_half_open_duration: A half-open state older than this (seconds) re-opens at the
            next admission, so a trial that never ends cannot hold the breaker half-open.
            ``None``: no bound. Defaults to 60.
        call_timeout: Cancel the protected call after this many seconds (Trio's clock) and
            count a *timeout*, a failure; the caller gets :class:`BreakerTimeout`. ``None``
            (the default): no timeout of the breaker's own.
        exclude: Exception types and/or predicates; an exception matching one is *ignored*
            (neither success nor failure; it propagates). A predicate that raises is logged
            and taken as ``False``. Defaults to none.

    Raises:
        BreakerConfigError: A field is invalid, or no trip rule is set, or a window-only
            option is given a value of its own without a window (their defaults are accepted,
            so that ``attrs.evolve`` works).

    Example::

        >>> config = otp.BreakerConfig(failure_threshold=3, reset_timeout=10.0)
        >>> config.max_reset_timeout
        100.0
        >>> rates = otp.BreakerConfig(
        ...     failure_threshold=None, window_seconds=60.0, failure_rate_threshold=0.25,
        ...     slow_call_duration=2.0, slow_call_rate_threshold=0.5,
        ... )
        >>> rates.minimum_calls
        10
    """

    failure_threshold: int | None
    window_calls: int | None
    window_seconds: float | None
    window_buckets: int
    failure_rate_threshold: float
    minimum_calls: int
    slow_call_duration: float | None
    slow_call_rate_threshold: float
    reset_timeout: float
    backoff_multiplier: float
    max_reset_timeout: float
    jitter: float
    half_open_max_calls: int
    success_threshold: int
    max_half_open_duration: float | None
    call_timeout: float | None
    # Spelt out rather than aliased, so the API reference shows what it accepts.
    exclude: tuple[type[BaseException] | Callable[[BaseException], bool], ...]

    def __init__(
        self,
        *,
        failure_threshold: int | None = 5,
        window_calls: int | None = None,
        window_seconds: float | None = None,
        window_buckets: int = 10,
        failure_rate_threshold: float | None = None,
        minimum_calls: int | None = None,
        slow_call_duration: float | None = None,
        slow_call_rate_threshold: float | None = None,
        reset_timeout: float = 30.0,
        backoff_multiplier: float = 2.0,
        max_reset_timeout: float | None = None,
        jitter: float = 0.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        max_half_open_duration: float | None = 60.0,
        call_timeout: float | None = None,
        exclude: type[BaseException]
        | Callable[[BaseException], bool]
        | Sequence[type[BaseException] | Callable[[BaseException], bool]] = (),
    ) -> None:
        threshold = _optional_count("failure_threshold", failure_threshold)
        count_window = _optional_count("window_calls", window_calls)
        time_window = _optional_seconds("window_seconds", window_seconds)
        if count_window is not None and time_window is not None:
            msg = (
                "set at most one of window_calls and window_seconds "
                f"(got window_calls={window_calls!r}, window_seconds={window_seconds!r})"
            )
            raise _fail(msg)
        has_window = count_window is not None or time_window is not None
        buckets = _count("window_buckets", window_buckets)
        # The values a config without a window holds are accepted, so attrs.evolve works.
        for name, value, default in (
            ("failure_rate_threshold", failure_rate_threshold, 0.5),
            ("minimum_calls", minimum_calls, 10),
            ("slow_call_duration", slow_call_duration, None),
        ):
            if value is not None and value != default and not has_window:
                msg = (
                    f"{name} needs a window: set window_calls or window_seconds "
                    f"(got {name}={value!r})"
                )
                raise _fail(msg)
        if threshold is None and not has_window:
            msg = (
                "no trip rule: set failure_threshold, window_calls or window_seconds "
                "(got failure_threshold=None and no window)"
            )
            raise _fail(msg)
        rate = _number(
            "failure_rate_threshold",
            0.5 if failure_rate_threshold is None else failure_rate_threshold,
            low=0.0,
            high=1.0,
        )
        if minimum_calls is not None:
            minimum = _count("minimum_calls", minimum_calls)
        else:
            # A full count window before judging, as resilience4j's defaults do.
            minimum = count_window if count_window is not None else 10
        if count_window is not None and minimum > count_window:
            msg = (
                "minimum_calls must be <= window_calls, or the rates are never evaluated "
                f"(got minimum_calls={minimum_calls!r}, window_calls={window_calls!r})"
            )
            raise _fail(msg)
        slow = _optional_seconds("slow_call_duration", slow_call_duration)
        if slow_call_rate_threshold not in (None, 1.0) and slow is None:
            msg = (
                "slow_call_rate_threshold needs slow_call_duration "
                f"(got slow_call_rate_threshold={slow_call_rate_threshold!r})"
            )
            raise _fail(msg)
        slow_rate = _number(
            "slow_call_rate_threshold",
            1.0 if slow_call_rate_threshold is None else slow_call_rate_threshold,
            low=0.0,
            high=1.0,
        )
        reset = _number("reset_timeout", reset_timeout, low=0.0)
        multiplier = _number("backoff_multiplier", backoff_multiplier, low=1.0, low_inclusive=True)
        if max_reset_timeout is None:
            cap = reset * 10.0 if math.isfinite(reset * 10.0) else reset
        else:
            cap = _number("max_reset_timeout", max_reset_timeout, low=0.0)
            if cap < reset:
                msg = (
                    "max_reset_timeout must be >= reset_timeout (got "
                    f"reset_timeout={reset_timeout!r}, max_reset_timeout={max_reset_timeout!r})"
                )
                raise _fail(msg)
        spread = _number("jitter", jitter, low=0.0, low_inclusive=True)
        trials = _count("half_open_max_calls", half_open_max_calls)
        successes = _count("success_threshold", success_threshold)
        half_open_limit = _optional_seconds("max_half_open_duration", max_half_open_duration)
        timeout = _optional_seconds("call_timeout", call_timeout)
        self.__attrs_init__(
            threshold,
            count_window,
            time_window,
            buckets,
            rate,
            minimum,
            slow,
            slow_rate,
            reset,
            multiplier,
            cap,
            spread,
            trials,
            successes,
            half_open_limit,
            timeout,
            _exclude(exclude),
        )

    def excludes(self, error: BaseException) -> bool:
        """Whether ``error`` matches ``exclude`` (the call then counts as ignored).

        Example::

            >>> config = otp.BreakerConfig(exclude=(KeyError, lambda e: "404" in str(e)))
            >>> config.excludes(KeyError("x")), config.excludes(OSError("HTTP 404"))
            (True, True)
            >>> config.excludes(OSError("HTTP 503"))
            False
        """
        for entry in self.exclude:
            if isinstance(entry, type):
                if isinstance(error, entry):
                    return True
            else:
                try:
                    if entry(error):
                        return True
                except Exception:
                    logger.exception("breaker exclude predicate %r failed on %r", entry, error)
        return False


# --- states, outcomes, admissions -------------------------------------------------------------


class BreakerState(StrEnum):
    """The state of a circuit breaker.

    Example::

        >>> otp.BreakerState.HALF_OPEN
        <BreakerState.HALF_OPEN: 'half_open'>
    """

    CLOSED = "closed"
    """Calls go through; their outcomes feed the trip rules."""
    OPEN = "open"
    """Calls are rejected at once until the open period is over."""
    HALF_OPEN = "half_open"
    """A limited number of trial calls decide whether to close or re-open."""


class CallOutcome(StrEnum):
    """How a protected call ended, as recorded by :meth:`BreakerCore.record`.

    Example::

        core.record(admission, otp.CallOutcome.FAILURE, now=12.5, error=exc)
    """

    SUCCESS = "success"
    """It returned."""
    FAILURE = "failure"
    """It raised an exception that is not excluded."""
    TIMEOUT = "timeout"
    """The breaker's ``call_timeout`` cancelled it: a failure, counted on its own."""
    IGNORED = "ignored"
    """It raised an excluded exception: neither success nor failure."""
    CANCELLED = "cancelled"
    """It was cancelled from outside (or interrupted): neither, and a trial slot is returned."""


@final
@attrs.frozen
class Admission:
    """Permission for one call, from :meth:`BreakerCore.admit`; hand it back to ``record``.

    Attributes:
        episode: The episode it was admitted in; a result recorded after that episode
            ended is *late* and changes no state.
        trial: Whether it is a half-open trial call (it holds a trial slot until recorded).

    Example::

        >>> core = otp.BreakerCore("db")
        >>> core.admit(now=0.0)
        Admission(episode=0, trial=False)
    """

    episode: int
    trial: bool


@final
@attrs.frozen
class Rejection:
    """A call refused by :meth:`BreakerCore.admit`; :meth:`Rejection.exception` is what to raise.

    Attributes:
        breaker: The breaker's name.
        state: The state that refused it (open or half-open).
        retry_after: Seconds until a trial may be admitted (see :class:`CircuitOpen`).

    Example::

        >>> core = otp.BreakerCore("db", otp.BreakerConfig(reset_timeout=10.0))
        >>> core.open(now=0.0)
        >>> core.admit(now=4.0)
        Rejection(breaker='db', state=<BreakerState.OPEN: 'open'>, retry_after=6.0)
    """

    breaker: str
    state: BreakerState
    retry_after: float

    def exception(self) -> CircuitOpen:
        """The :class:`CircuitOpen` error that says so."""
        return CircuitOpen(self.breaker, self.state, self.retry_after)


@final
@attrs.frozen
class BreakerStatistics:
    """A snapshot of a breaker's counters, from ``statistics()``.

    Every admitted call ends up in exactly one of ``successes``, ``failures``, ``timeouts``,
    ``ignored``, ``cancelled`` and ``late`` (a result from an earlier episode, whatever its
    outcome); ``rejections`` counts calls never admitted. ``reset()`` zeroes everything.

    Attributes:
        state: The state now.
        successes: Calls that returned.
        failures: Calls that raised (not excluded), timeouts not included.
        timeouts: Calls cancelled by ``call_timeout``.
        ignored: Calls that raised an excluded exception.
        rejections: Calls rejected with :class:`CircuitOpen`.
        cancelled: Calls cancelled from outside (or interrupted).
        late: Results that came back after their episode ended.
        slow_calls: Successes and failures slower than ``slow_call_duration``.
        consecutive_failures: Failures (and timeouts) since the last success, while closed.
        trips: Times the breaker opened (trips, re-opens and manual opens).
        trial_calls: Half-open trial calls running now.
        window_calls: Calls in the sliding window (0 without one).
        failure_rate: The window's failure rate, or ``None`` without a window or calls.
        slow_call_rate: The window's slow-call rate, or ``None`` without slow-call detection
            or calls.

    Example::

        stats = breaker.statistics()
        print(f"{stats.state}: {stats.failures} failures, {stats.rejections} rejected")
    """

    state: BreakerState
    successes: int
    failures: int
    timeouts: int
    ignored: int
    rejections: int
    cancelled: int
    late: int
    slow_calls: int
    consecutive_failures: int
    trips: int
    trial_calls: int
    window_calls: int
    failure_rate: float | None
    slow_call_rate: float | None


# --- events -----------------------------------------------------------------------------------


_PAST_TENSE = {"success": "succeeded", "failure": "failed", "timeout": "timed out"}


@attrs.frozen
class BreakerEvent:
    """Base of every circuit breaker event, delivered to the breaker's hooks.

    Attributes:
        breaker: The breaker's name.
        time: The breaker's clock when it happened.

    Example::

        events = []
        breaker = otp.CircuitBreaker("db", hooks=[events.append])
        ...
        opened = [e for e in events if isinstance(e, otp.BreakerStateChanged)
                  and e.new is otp.BreakerState.OPEN]
    """

    name: ClassVar[str] = "breaker.event"

    breaker: str
    time: float

    def describe(self) -> str:
        """A one-line, human-readable account of the event."""
        # The call events share their fields; say what each of them holds.
        outcome = self.name.removeprefix("breaker.")
        text = "call " + _PAST_TENSE.get(outcome, outcome)
        if getattr(self, "trial", False):
            text = "trial " + text
        duration = getattr(self, "duration", None)
        if duration is not None:
            text += f" after {_seconds(duration)} s"
        if getattr(self, "slow", False):
            text += " (slow)"
        error = getattr(self, "error", None)
        if error is not None:
            text += f": {_describe_error(error)}"
        return text

    def __str__(self) -> str:
        return f"circuit breaker {self.breaker!r}: {self.describe()}"


@final
@attrs.frozen
class BreakerStateChanged(BreakerEvent):
    """The breaker moved from one state to another (or was opened again by hand).

    ``reason`` is one of ``"consecutive_failures"``, ``"failure_rate"``,
    ``"slow_call_rate"`` (trips), ``"reset_timeout"`` (open to half-open),
    ``"trial_failed"``, ``"slow_trial"``, ``"half_open_timeout"`` (re-opens),
    ``"trials_succeeded"`` (closed), ``"manual"`` (``open()`` / ``close()``) or
    ``"reset"``. Transitions are also logged to the ``otp.breaker`` logger (opening at
    ``WARNING``, the others at ``INFO``).

    Attributes:
        old: The state before.
        new: The state after.
        reason: Why (see above).
        episode: The new episode's number.
        open_for: For a move to open, how long it stays open (``None`` otherwise).

    Example::

        def on_event(event):
            if isinstance(event, otp.BreakerStateChanged):
                metrics.gauge("breaker.state", event.new)
    """

    name: ClassVar[str] = "breaker.state_changed"

    old: BreakerState
    new: BreakerState
    reason: str
    episode: int
    open_for: float | None

    def describe(self) -> str:
        """A one-line account of the event."""
        text = f"{self.old} -> {self.new} ({self.reason})"
        if self.open_for is not None:
            text += f"; open for {_seconds(self.open_for)} s"
        return text


@final
@attrs.frozen
class BreakerCallSucceeded(BreakerEvent):
    """A protected call returned.

    Attributes:
        episode: The episode it was admitted in.
        trial: Whether it was a half-open trial.
        duration: How long it ran (seconds).
        slow: Whether it was slower than ``slow_call_duration``.

    Example::

        durations = [e.duration for e in events if isinstance(e, otp.BreakerCallSucceeded)]
    """

    name: ClassVar[str] = "breaker.success"

    episode: int
    trial: bool
    duration: float
    slow: bool


@final
@attrs.frozen
class BreakerCallFailed(BreakerEvent):
    """A protected call raised an exception that is not excluded.

    Attributes:
        episode: The episode it was admitted in.
        trial: Whether it was a half-open trial.
        duration: How long it ran (seconds).
        slow: Whether it was slower than ``slow_call_duration``.
        error: The exception (``None`` if the pure core was not given it).

    Example::

        errors = [e.error for e in events if isinstance(e, otp.BreakerCallFailed)]
    """

    name: ClassVar[str] = "breaker.failure"

    episode: int
    trial: bool
    duration: float
    slow: bool
    error: BaseException | None = attrs.field(eq=False)


@final
@attrs.frozen
class BreakerCallTimedOut(BreakerEvent):
    """A protected call was cancelled by ``call_timeout`` (a failure).

    Attributes:
        episode: The episode it was admitted in.
        trial: Whether it was a half-open trial.
        duration: How long it ran (seconds, about ``call_timeout``).
        slow: Whether it was slower than ``slow_call_duration``.

    Example::

        timeouts = sum(isinstance(e, otp.BreakerCallTimedOut) for e in events)
    """

    name: ClassVar[str] = "breaker.timeout"

    episode: int
    trial: bool
    duration: float
    slow: bool


@final
@attrs.frozen
class BreakerCallIgnored(BreakerEvent):
    """A protected call raised an excluded exception: neither success nor failure.

    Attributes:
        episode: The episode it was admitted in.
        trial: Whether it was a half-open trial (its slot is given back).
        duration: How long it ran (seconds).
        error: The exception.

    Example::

        ignored = [e.error for e in events if isinstance(e, otp.BreakerCallIgnored)]
    """

    name: ClassVar[str] = "breaker.ignored"

    episode: int
    trial: bool
    duration: float
    error: BaseException | None = attrs.field(eq=False)


@final
@attrs.frozen
class BreakerCallCancelled(BreakerEvent):
    """A protected call was cancelled from outside (or interrupted): neither outcome.

    Attributes:
        episode: The episode it was admitted in.
        trial: Whether it was a half-open trial (its slot is given back).
        duration: How long it ran (seconds).

    Example::

        assert not any(isinstance(e, otp.BreakerCallCancelled) for e in events)
    """

    name: ClassVar[str] = "breaker.cancelled"

    episode: int
    trial: bool
    duration: float


@final
@attrs.frozen
class BreakerCallRejected(BreakerEvent):
    """A call was rejected at once with :class:`CircuitOpen`.

    Attributes:
        state: The state that rejected it.
        retry_after: Seconds until a trial may be admitted.

    Example::

        rejected = sum(isinstance(e, otp.BreakerCallRejected) for e in events)
    """

    name: ClassVar[str] = "breaker.rejected"

    state: BreakerState
    retry_after: float

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"call rejected ({self.state}); next trial in {_seconds(self.retry_after)} s"


@final
@attrs.frozen
class BreakerCallLate(BreakerEvent):
    """A call's result came back after the episode it was admitted in had ended.

    It changes no state and is counted only as ``late`` in the statistics.

    Attributes:
        episode: The (earlier) episode it was admitted in.
        outcome: How it ended.
        duration: How long it ran (seconds).
        error: The exception, if it raised.

    Example::

        late = [e.outcome for e in events if isinstance(e, otp.BreakerCallLate)]
    """

    name: ClassVar[str] = "breaker.late"

    episode: int
    outcome: CallOutcome
    duration: float
    error: BaseException | None = attrs.field(eq=False)

    def describe(self) -> str:
        """A one-line account of the event."""
        return (
            f"late {self.outcome} from episode {self.episode} after "
            f"{_seconds(self.duration)} s (ignored)"
        )


Hook: TypeAlias = Callable[[BreakerEvent], object]


# --- sliding windows --------------------------------------------------------------------------


class _CountWindow:
    """The last ``size`` calls in a ring; totals kept as the ring turns (O(1) per call)."""

    __slots__ = ("calls", "failures", "position", "ring", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        self.ring = [0] * size  # bit 0: failed, bit 1: slow
        self.position = 0
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def add(self, now: float, failed: bool, slow: bool) -> None:  # noqa: FBT001
        position = self.position
        if self.calls == self.size:
            old = self.ring[position]
            self.failures -= old & 1
            self.slow -= old >> 1
        else:
            self.calls += 1
        self.ring[position] = failed | (slow << 1)
        self.failures += failed
        self.slow += slow
        self.position = 0 if position + 1 == self.size else position + 1

    def advance(self, now: float) -> None:
        """Nothing to evict: a count window does not age."""

    def clear(self) -> None:
        self.ring = [0] * self.size
        self.position = self.calls = self.failures = self.slow = 0


class _TimeWindow:
    """The calls of the last ``buckets`` buckets of ``seconds / buckets`` each.

    Bucket ``n`` holds the calls that ended in ``[n * width, (n + 1) * width)``; moving to a
    newer bucket clears the ones it passes, at most ``buckets`` of them, so a call costs O(1)
    amortised however far the clock jumped.
    """

    __slots__ = ("buckets", "calls", "counts", "failures", "head", "slow", "width")

    def __init__(self, seconds: float, buckets: int) -> None:
        self.buckets = buckets
        self.width = seconds / buckets
        self.counts = [[0, 0, 0] for _ in range(buckets)]  # calls, failures, slow
        self.head: int | None = None  # the newest bucket's number
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def advance(self, now: float) -> None:
        number = math.floor(now / self.width)
        head = self.head
        if head is None:
            self.head = number
        elif number > head:
            self._move(head, number)
        # else: the same bucket, or a time that went backwards (counted in the newest bucket)

    def _move(self, head: int, number: int) -> None:
        for step in range(1, min(number - head, self.buckets) + 1):
            counts = self.counts[(head + step) % self.buckets]
            self.calls -= counts[0]
            self.failures -= counts[1]
            self.slow -= counts[2]
            counts[0] = counts[1] = counts[2] = 0
        self.head = number

    def add(self, now: float, failed: bool, slow: bool) -> None:  # noqa: FBT001
        number = math.floor(now / self.width)
        head = self.head
        if head is None:
            self.head = head = number
        elif number > head:
            self._move(head, number)
            head = number
        counts = self.counts[head % self.buckets]
        counts[0] += 1
        counts[1] += failed
        counts[2] += slow
        self.calls += 1
        self.failures += failed
        self.slow += slow

    def clear(self) -> None:
        for counts in self.counts:
            counts[0] = counts[1] = counts[2] = 0
        self.head = None
        self.calls = self.failures = self.slow = 0


# --- the pure core ----------------------------------------------------------------------------

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_SUCCESS = CallOutcome.SUCCESS
_FAILURE = CallOutcome.FAILURE
_TIMEOUT = CallOutcome.TIMEOUT
_IGNORED = CallOutcome.IGNORED
_CANCELLED = CallOutcome.CANCELLED


@final
class BreakerCore:
    """The circuit breaker state machine, pure: no Trio, no clock, the caller passes the time.

    Every method that takes ``now`` first applies the time-driven transitions due by then
    (open to half-open, a half-open state that lasted too long back to open), so no timer is
    needed. Times must not go backwards. :class:`CircuitBreaker` drives one of these with
    Trio's clock; use a core directly to drive a breaker from any other loop or simulation.

    Args:
        name: The breaker's name, for messages and events.
        config: The configuration; defaults to ``BreakerConfig()``.
        hooks: Callables each given every :class:`BreakerEvent`; one that raises is logged.
            Hooks run synchronously, in the middle of a transition: they may read the
            breaker but must not open, close or reset it.
        random: Returns a float in ``[0, 1)`` for the jitter; called once per trip, and
            only when ``jitter`` is set. Defaults to ``random.random``.

    Example::

        >>> core = otp.BreakerCore("db", otp.BreakerConfig(failure_threshold=2))
        >>> for t in (1.0, 2.0):
        ...     core.record(core.admit(t), otp.CallOutcome.FAILURE, now=t)
        <BreakerState.CLOSED: 'closed'>
        <BreakerState.OPEN: 'open'>
        >>> core.admit(10.0).retry_after
        22.0
        >>> trial = core.admit(32.0)
        >>> trial.trial, core.state
        (True, <BreakerState.HALF_OPEN: 'half_open'>)
        >>> core.record(trial, otp.CallOutcome.SUCCESS, now=32.5, duration=0.5)
        <BreakerState.CLOSED: 'closed'>
    """

    __slots__ = (
        "_backoff",
        "_cancelled",
        "_closed_admission",
        "_config",
        "_consecutive",
        "_episode",
        "_failures",
        "_fast",
        "_fast_eligible",
        "_half_open_since",
        "_hooks",
        "_ignored",
        "_late",
        "_name",
        "_open_until",
        "_plain",
        "_plain_eligible",
        "_random",
        "_rejections",
        "_reopens",
        "_slow_calls",
        "_state",
        "_successes",
        "_timed",
        "_timeouts",
        "_trial_admission",
        "_trial_successes",
        "_trials",
        "_trips",
        "_untimed",
        "_untimed_eligible",
        "_window",
    )

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        hooks: Sequence[Hook] = (),
        random: Callable[[], float] = _random.random,
    ) -> None:
        config = BreakerConfig() if config is None else config
        self._name = name
        self._config = config
        self._hooks = tuple(hooks)
        self._random = random
        # Validated already, so Backoff's own checks cannot fire; it caps before overflow.
        self._backoff = Backoff(
            min=config.reset_timeout,
            max=config.max_reset_timeout,
            multiplier=config.backoff_multiplier,
            jitter=config.jitter,
        )
        self._window: _CountWindow | _TimeWindow | None = None
        if config.window_calls is not None:
            self._window = _CountWindow(config.window_calls)
        elif config.window_seconds is not None:
            self._window = _TimeWindow(config.window_seconds, config.window_buckets)
        # Whether a call's duration matters (slow calls, events), so the wrapper times it.
        self._timed = bool(self._hooks) or config.slow_call_duration is not None
        # Closed-state shortcuts, each an admission (the current closed one) or None:
        # _untimed: a success needs no clock (nothing timed, no time window), unless it trips
        #     the breaker, which _record_untimed_success leaves to record();
        # _fast: and no call_timeout either, so the wrapper needs no cancel scope or clock;
        # _plain: and no window, so a success is two counter updates, done inline.
        self._untimed_eligible = not self._timed and not isinstance(self._window, _TimeWindow)
        self._fast_eligible = self._untimed_eligible and config.call_timeout is None
        self._plain_eligible = self._fast_eligible and self._window is None
        self._state = _CLOSED
        self._episode = 0
        self._closed_admission = Admission(0, trial=False)
        self._trial_admission = Admission(-1, trial=True)
        self._untimed: Admission | None = None
        self._fast: Admission | None = None
        self._plain: Admission | None = None
        self._set_shortcuts()
        self._open_until = 0.0
        self._half_open_since = 0.0
        self._trials = 0
        self._trial_successes = 0
        self._reopens = 0
        self._zero_counters()

    def _zero_counters(self) -> None:
        self._successes = 0
        self._failures = 0
        self._timeouts = 0
        self._ignored = 0
        self._rejections = 0
        self._cancelled = 0
        self._late = 0
        self._slow_calls = 0
        self._consecutive = 0
        self._trips = 0

    # --- introspection ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The breaker's name."""
        return self._name

    @property
    def config(self) -> BreakerConfig:
        """The configuration."""
        return self._config

    @property
    def state(self) -> BreakerState:
        """The state as of the last time passed in (see :meth:`BreakerCore.poll`)."""
        return self._state

    @property
    def episode(self) -> int:
        """The current episode's number (it grows with every transition and reset)."""
        return self._episode

    def __repr__(self) -> str:
        return f"<otp.BreakerCore {self._name!r} {self._state} episode={self._episode}>"

    # --- the machine ------------------------------------------------------------------------

    def poll(self, now: float) -> BreakerState:
        """Apply the time-driven transitions due at ``now``; return the state.

        Example::

            >>> core = otp.BreakerCore("db", otp.BreakerConfig(reset_timeout=5.0))
            >>> core.open(now=0.0)
            >>> core.poll(4.9), core.poll(5.0)
            (<BreakerState.OPEN: 'open'>, <BreakerState.HALF_OPEN: 'half_open'>)
        """
        state = self._state
        if state is _OPEN:
            if now >= self._open_until:
                self._enter(_HALF_OPEN, now, "reset_timeout")
        elif state is _HALF_OPEN:
            limit = self._config.max_half_open_duration
            if limit is not None and now - self._half_open_since >= limit:
                self._trip(now, "half_open_timeout")
        return self._state

    def admit(self, now: float) -> Admission | Rejection:
        """Ask to make one call at ``now``.

        Closed: always admitted. Open: rejected until the open period is over, then the
        breaker turns half-open and this call is its first trial. Half-open: admitted as a
        trial while fewer than ``half_open_max_calls`` trials run, else rejected. A rejection
        is counted and reported here; an admission must be passed to
        :meth:`BreakerCore.record` exactly once.

        Example::

            admitted = core.admit(now)
            if isinstance(admitted, otp.Rejection):
                raise admitted.exception()
        """
        if self._state is _CLOSED:
            return self._closed_admission
        state = self.poll(now)
        if state is _CLOSED:
            return self._closed_admission
        if state is _HALF_OPEN and self._trials < self._config.half_open_max_calls:
            self._trials += 1
            return self._trial_admission
        retry_after = max(self._open_until - now, 0.0) if state is _OPEN else 0.0
        self._rejections += 1
        if self._hooks:
            self._emit(BreakerCallRejected(self._name, now, state, retry_after))
        return Rejection(self._name, state, retry_after)

    def record(
        self,
        admission: Admission,
        outcome: CallOutcome,
        now: float,
        duration: float = 0.0,
        error: BaseException | None = None,
    ) -> BreakerState:
        """Record how an admitted call ended at ``now``; return the state afterwards.

        ``duration`` is used for slow-call detection and events only. A result whose
        admission belongs to an earlier episode is counted as late and changes nothing else.

        Example::

            >>> core = otp.BreakerCore("db", otp.BreakerConfig(failure_threshold=1))
            >>> core.record(core.admit(0.0), otp.CallOutcome.IGNORED, now=0.1)
            <BreakerState.CLOSED: 'closed'>
            >>> core.record(core.admit(0.2), otp.CallOutcome.TIMEOUT, now=0.3, duration=0.1)
            <BreakerState.OPEN: 'open'>
        """
        if self._state is not _CLOSED:
            self.poll(now)
        if admission.episode != self._episode:
            self._late += 1
            if self._hooks:
                self._emit(
                    BreakerCallLate(self._name, now, admission.episode, outcome, duration, error)
                )
            return self._state
        trial = admission.trial
        if trial:
            self._trials -= 1
        config = self._config
        limit = config.slow_call_duration
        slow = False
        if (
            limit is not None
            and duration > limit
            and outcome is not _IGNORED
            and outcome is not _CANCELLED
        ):
            slow = True
            self._slow_calls += 1
        if outcome is _SUCCESS:
            self._successes += 1
            if self._hooks:
                self._emit(
                    BreakerCallSucceeded(self._name, now, admission.episode, trial, duration, slow)
                )
            if not trial:
                self._consecutive = 0
                window = self._window
                if window is not None:
                    window.add(now, False, slow)  # noqa: FBT003
                    if window.calls >= config.minimum_calls:
                        self._check_rates(now)
            elif slow:
                self._trip(now, "slow_trial")
            else:
                self._trial_successes += 1
                if self._trial_successes >= config.success_threshold:
                    self._enter(_CLOSED, now, "trials_succeeded")
        elif outcome is _FAILURE or outcome is _TIMEOUT:
            if outcome is _FAILURE:
                self._failures += 1
                if self._hooks:
                    event: BreakerEvent = BreakerCallFailed(
                        self._name, now, admission.episode, trial, duration, slow, error
                    )
                    self._emit(event)
            else:
                self._timeouts += 1
                if self._hooks:
                    self._emit(
                        BreakerCallTimedOut(
                            self._name, now, admission.episode, trial, duration, slow
                        )
                    )
            if trial:
                self._trip(now, "trial_failed")
            else:
                self._consecutive += 1
                if self._window is not None:
                    self._window.add(now, True, slow)  # noqa: FBT003
                threshold = config.failure_threshold
                if threshold is not None and self._consecutive >= threshold:
                    self._trip(now, "consecutive_failures")
                elif self._window is not None:
                    self._check_rates(now)
        elif outcome is _IGNORED:
            self._ignored += 1
            if self._hooks:
                self._emit(
                    BreakerCallIgnored(self._name, now, admission.episode, trial, duration, error)
                )
        else:
            self._cancelled += 1
            if self._hooks:
                self._emit(
                    BreakerCallCancelled(self._name, now, admission.episode, trial, duration)
                )
        return self._state

    def open(self, now: float, duration: float | None = None) -> None:
        """Open the breaker by hand at ``now`` (a new open episode even if already open).

        Args:
            now: The time.
            duration: How long to stay open; ``None``: the backoff's next open period, as
                for a trip; ``math.inf``: until :meth:`BreakerCore.close` or
                :meth:`BreakerCore.reset`.

        Example::

            core.open(now, duration=math.inf)   # maintenance: reject everything
        """
        if duration is not None and not duration >= 0:  # NaN too
            msg = f"open: duration must be a number >= 0 or None (got {duration!r})"
            raise ValueError(msg)
        self.poll(now)
        self._trip(now, "manual", None if duration is None else float(duration))

    def close(self, now: float) -> None:
        """Close the breaker by hand at ``now``, resetting the backoff; nothing if closed.

        Example::

            core.close(now)
        """
        if self.poll(now) is not _CLOSED:
            self._enter(_CLOSED, now, "manual")

    def reset(self, now: float) -> None:
        """Back to a fresh closed breaker: counters, trips, window and backoff zeroed.

        It starts a new episode, so calls still running are counted as late.

        Example::

            core.reset(now)
            assert core.statistics(now).trips == 0
        """
        if self.poll(now) is not _CLOSED:
            self._enter(_CLOSED, now, "reset")
        else:
            self._new_closed_episode()
        self._zero_counters()

    def statistics(self, now: float) -> BreakerStatistics:
        """The counters, the state and the window's rates at ``now``.

        Example::

            >>> core = otp.BreakerCore("db")
            >>> core.record(core.admit(0.0), otp.CallOutcome.SUCCESS, now=0.1)
            <BreakerState.CLOSED: 'closed'>
            >>> stats = core.statistics(1.0)
            >>> stats.successes, stats.failures, stats.state
            (1, 0, <BreakerState.CLOSED: 'closed'>)
        """
        state = self.poll(now)
        window = self._window
        calls = failure_rate = slow_rate = None
        if window is not None:
            window.advance(now)
            calls = window.calls
            if calls:
                failure_rate = window.failures / calls
                if self._config.slow_call_duration is not None:
                    slow_rate = window.slow / calls
        return BreakerStatistics(
            state=state,
            successes=self._successes,
            failures=self._failures,
            timeouts=self._timeouts,
            ignored=self._ignored,
            rejections=self._rejections,
            cancelled=self._cancelled,
            late=self._late,
            slow_calls=self._slow_calls,
            consecutive_failures=self._consecutive,
            trips=self._trips,
            trial_calls=self._trials if state is _HALF_OPEN else 0,
            window_calls=calls or 0,
            failure_rate=failure_rate,
            slow_call_rate=slow_rate,
        )

    # --- internals --------------------------------------------------------------------------

    def _set_shortcuts(self) -> None:
        admission = self._closed_admission
        self._untimed = admission if self._untimed_eligible else None
        self._fast = admission if self._fast_eligible else None
        self._plain = admission if self._plain_eligible else None

    def _record_untimed_success(self, admission: Admission) -> bool:
        """Record a success that needs no time, without one; False if it is not such a one.

        That is a closed-state success of the current episode, with no durations to measure
        and no time window, that does not trip the breaker (a success can trip it when it
        brings a count window to ``minimum_calls`` with a failure rate at the threshold).
        """
        if admission is not self._untimed:
            return False
        window = self._window
        if window is not None:
            # A count window without slow calls: entries are 1 (failure) or 0 (success).
            assert type(window) is _CountWindow
            ring = window.ring
            position = window.position
            if window.calls == window.size:
                # Full: the rate can only stay (a success leaves) or drop (a failure
                # leaves); it was below the threshold, or the breaker would be open.
                if ring[position]:
                    ring[position] = 0
                    window.failures -= 1
            else:
                calls = window.calls + 1
                config = self._config
                if (
                    calls >= config.minimum_calls
                    and window.failures / calls >= config.failure_rate_threshold
                ):
                    return False
                window.calls = calls  # ring[position] is 0 already: the ring fills from clear
            position += 1
            window.position = 0 if position == window.size else position
        self._successes += 1
        self._consecutive = 0
        return True

    def _check_rates(self, now: float) -> None:
        window = self._window
        assert window is not None
        calls = window.calls
        config = self._config
        if calls < config.minimum_calls:  # (also checked by the caller on the hot path)
            return
        # Rates as resilience4j computes them: a fraction compared with the threshold (a
        # product would make 3 of 10 miss a threshold of 0.3 by one ulp).
        if window.failures / calls >= config.failure_rate_threshold:
            self._trip(now, "failure_rate")
        elif (
            config.slow_call_duration is not None
            and window.slow / calls >= config.slow_call_rate_threshold
        ):
            self._trip(now, "slow_call_rate")

    def _trip(self, now: float, reason: str, duration: float | None = None) -> None:
        if duration is None:
            duration = self._backoff.delay(self._reopens, self._random)
        # k counts every open since the breaker last closed, so re-opens back off further.
        self._reopens += 1
        self._trips += 1
        self._open_until = now + duration
        self._enter(_OPEN, now, reason, duration)

    def _new_closed_episode(self) -> None:
        self._episode += 1
        admission = Admission(self._episode, trial=False)
        self._closed_admission = admission
        self._set_shortcuts()
        self._consecutive = 0
        self._reopens = 0
        if self._window is not None:
            self._window.clear()

    def _enter(
        self, new: BreakerState, now: float, reason: str, open_for: float | None = None
    ) -> None:
        old = self._state
        self._state = new
        if new is _CLOSED:
            self._new_closed_episode()
        else:
            self._episode += 1
            self._untimed = self._fast = self._plain = None
            if new is _HALF_OPEN:
                self._trial_admission = Admission(self._episode, trial=True)
                self._trials = 0
                self._trial_successes = 0
                self._half_open_since = now
        level = logging.WARNING if new is _OPEN else logging.INFO
        if self._hooks or logger.isEnabledFor(level):
            event = BreakerStateChanged(self._name, now, old, new, reason, self._episode, open_for)
            if logger.isEnabledFor(level):
                logger.log(level, "%s", event, extra={"otp_event": event})
            self._emit(event)

    def _emit(self, event: BreakerEvent) -> None:
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                logger.exception(
                    "circuit breaker %r: hook %r failed on %s", self._name, hook, event
                )


# --- the Trio wrapper -------------------------------------------------------------------------


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for inner in group.exceptions:
        if isinstance(inner, BaseExceptionGroup):
            leaves.extend(_leaves(inner))
        else:
            leaves.append(inner)
    return leaves


def _classify(config: BreakerConfig, error: BaseException) -> CallOutcome:
    """The outcome of a call that raised ``error``."""
    if isinstance(error, trio.Cancelled):
        return _CANCELLED
    if isinstance(error, BaseExceptionGroup):
        # A nursery inside the call may wrap a cancellation from outside in a group.
        leaves = [leaf for leaf in _leaves(error) if not isinstance(leaf, trio.Cancelled)]
        if not leaves:
            return _CANCELLED
        if config.excludes(error) or all(config.excludes(leaf) for leaf in leaves):
            return _IGNORED
        if any(isinstance(leaf, Exception) for leaf in leaves):
            return _FAILURE
        return _CANCELLED
    if config.excludes(error):
        return _IGNORED
    if isinstance(error, Exception):
        return _FAILURE
    # KeyboardInterrupt, SystemExit, GeneratorExit: the program is stopping, the dependency
    # did not fail.
    return _CANCELLED


@final
class CircuitBreaker:
    """A circuit breaker for Trio code: ``call``, decorator, or ``async with guard()``.

    It drives a :class:`BreakerCore` (see there and the module documentation for the rules)
    with ``clock``; with the default configuration, the closed-state path reads no clock at
    all. No task, no lock: calls through one breaker run concurrently, and all its methods
    must be called from Trio (with the default clock).

    Outcomes: a return is a success; an exception is a failure, unless ``exclude`` matches
    it (ignored); ``trio.Cancelled`` from outside is neither and propagates untouched; a call
    cut short by ``call_timeout`` is a timeout (a failure) and raises :class:`BreakerTimeout`.
    The call that trips the breaker raises its own exception; the calls after it get
    :class:`CircuitOpen` at once.

    Servers: ``breaker.call(ref.call, request)`` or ``breaker(ref.call)`` protect a
    :meth:`otp.ServerRef.call`. Its errors (:class:`otp.CallTimeout`, :class:`otp.NoProc`,
    :class:`otp.ServerExited`, :class:`otp.MailboxFull`) are failures like any other. The
    breaker's ``call_timeout`` is a Trio deadline, so it travels with the request: when it
    is the shorter one, the server's handler is cancelled too and the caller gets
    :class:`BreakerTimeout`; when the call's own ``timeout`` is shorter, it gets
    ``CallTimeout``.

    Args:
        name: The breaker's name, for messages, logs and events.
        config: The configuration; defaults to ``BreakerConfig()`` (5 consecutive
            failures, 30 s open, doubling up to 300 s, one trial call).
        hooks: Callables each given every :class:`BreakerEvent` (calls and transitions).
        clock: Returns the time in seconds; defaults to :func:`trio.current_time`.
            ``call_timeout`` is always measured on Trio's clock.
        random: Returns a float in ``[0, 1)`` for the jitter; defaults to
            ``random.random``.

    Example::

        breaker = otp.CircuitBreaker("payments", otp.BreakerConfig(call_timeout=5.0))

        reply = await breaker.call(payments_ref.call, ("charge", 42))

        charge = breaker(payments_ref.call)        # a protected ServerRef.call
        reply = await charge(("charge", 42), timeout=2.0)

        @breaker
        async def refund(order): ...

        async with breaker.guard():
            await client.post("/refund", json=order)
    """

    __slots__ = ("_clock", "_core", "_name")

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        self._name = name
        self._clock = trio.current_time if clock is None else clock
        self._core = BreakerCore(
            name, config, hooks=hooks, random=_random.random if random is None else random
        )

    @property
    def name(self) -> str:
        """The breaker's name."""
        return self._name

    @property
    def config(self) -> BreakerConfig:
        """The configuration."""
        return self._core.config

    @property
    def core(self) -> BreakerCore:
        """The pure state machine underneath."""
        return self._core

    @property
    def state(self) -> BreakerState:
        """The state now (an open period that is over shows as half-open).

        Example::

            if breaker.state is otp.BreakerState.OPEN:
                return cached_answer
        """
        return self._core.poll(self._clock())

    def statistics(self) -> BreakerStatistics:
        """A snapshot of the counters and the state now.

        Example::

            stats = breaker.statistics()
            assert stats.successes + stats.failures <= calls_made
        """
        return self._core.statistics(self._clock())

    def open(self, duration: float | None = None) -> None:
        """Open the breaker now; ``duration`` as in :meth:`BreakerCore.open`.

        Example::

            breaker.open(math.inf)   # until breaker.close()
        """
        self._core.open(self._clock(), duration)

    def close(self) -> None:
        """Close the breaker now and reset its backoff.

        Example::

            breaker.close()
        """
        self._core.close(self._clock())

    def reset(self) -> None:
        """Back to a fresh closed breaker: counters, trips, window and backoff zeroed.

        Example::

            breaker.reset()
        """
        self._core.reset(self._clock())

    def __repr__(self) -> str:
        return f"<otp.CircuitBreaker {self._name!r} {self._core.state}>"

    # --- protected calls --------------------------------------------------------------------

    async def call(self, fn: Callable[[*Ts], Awaitable[T]], /, *args: *Ts) -> T:
        """Call ``await fn(*args)`` through the breaker.

        Arguments are positional, as in Trio's ``start_soon``; use :func:`functools.partial`
        for keyword arguments, or the decorator form, which takes both.

        Raises:
            CircuitOpen: Rejected at once; ``fn`` was not called.
            BreakerTimeout: ``call_timeout`` cut the call short.

        Example::

            reply = await breaker.call(ref.call, "get", 1.0)   # ref.call("get", timeout=1.0)
        """
        core = self._core
        admission = core._fast
        if admission is None:
            return await self._call(fn, args, {})
        # Closed, nothing to time: no clock read on the way through.
        try:
            result = await fn(*args)
        except BaseException as error:
            self._finish_error(admission, error, None)
            raise
        if core._plain is admission:
            core._successes += 1
            core._consecutive = 0
        elif not core._record_untimed_success(admission):
            core.record(admission, _SUCCESS, self._clock())
        return result

    async def _call(
        self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        core = self._core
        clock = self._clock
        if core._state is _CLOSED:
            # Admission while closed needs no time; the start only matters for durations.
            admitted: Admission | Rejection = core._closed_admission
            start = clock() if core._timed else None
        else:
            start = clock()
            admitted = core.admit(start)
            if type(admitted) is Rejection:
                raise admitted.exception()
        assert type(admitted) is Admission
        timeout = core._config.call_timeout
        try:
            if timeout is None:
                result = await fn(*args, **kwargs)
            else:
                with trio.move_on_after(timeout) as scope:
                    result = await fn(*args, **kwargs)
        except BaseException as error:
            self._finish_error(admitted, error, start)
            raise
        if timeout is not None and scope.cancelled_caught:
            end = clock()
            core.record(admitted, _TIMEOUT, end, 0.0 if start is None else end - start)
            raise BreakerTimeout(self._name, timeout)
        if core._record_untimed_success(admitted):
            return result
        end = clock()
        core.record(admitted, _SUCCESS, end, 0.0 if start is None else end - start)
        return result

    def _finish_error(
        self, admission: Admission, error: BaseException, start: float | None
    ) -> None:
        core = self._core
        end = self._clock()
        outcome = _classify(core._config, error)
        core.record(admission, outcome, end, 0.0 if start is None else end - start, error)

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        """Decorate an async function (or wrap a bound method) so every call goes through.

        The wrapper takes keyword arguments too, and costs no more than :meth:`CircuitBreaker.call`.

        Example::

            @breaker
            async def fetch(url):
                ...

            get = breaker(ref.call)     # a protected ServerRef.call: await get("status")
        """
        core = self._core
        finish_error = self._finish_error
        call_slowly = self._call
        clock = self._clock

        # The same path as call(), inlined: one coroutine frame, not two.
        @functools.wraps(fn)
        async def protected(*args: P.args, **kwargs: P.kwargs) -> T:
            admission = core._fast
            if admission is None:
                return await call_slowly(fn, args, kwargs)
            try:
                # Without keywords, a call that passes no dict is measurably cheaper.
                if kwargs:
                    result = await fn(*args, **kwargs)
                else:
                    result = await fn(*args)  # type: ignore[call-arg]  # kwargs is empty
            except BaseException as error:
                finish_error(admission, error, None)
                raise
            if core._plain is admission:
                core._successes += 1
                core._consecutive = 0
            elif not core._record_untimed_success(admission):
                core.record(admission, _SUCCESS, clock())
            return result

        return protected

    def guard(self) -> BreakerGuard:
        """An async context manager that runs its body as one protected call.

        Entering it asks for admission (raising :class:`CircuitOpen` when rejected) and,
        with ``call_timeout``, opens a cancel scope around the body, so the timeout cancels
        the body itself. Each ``guard()`` is for one use.

        Example::

            async with breaker.guard():
                response = await client.get(url)
        """
        return BreakerGuard(self)


@final
class BreakerGuard:
    """One protected call as an ``async with`` block; from :meth:`CircuitBreaker.guard`.

    A guard is single-use: the breaker is shared by many tasks, and each use holds its own
    admission and cancel scope, which is why ``async with breaker:`` is not offered.

    Attributes:
        admission: The admission once entered (``None`` before).
        cancel_scope: The scope enforcing ``call_timeout``, or ``None`` without one.

    Example::

        async with breaker.guard() as guard:
            await upload(blob)
        assert guard.admission is not None
    """

    __slots__ = ("_breaker", "_entered", "_start", "admission", "cancel_scope")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        self._entered = False
        self._start: float | None = None
        self.admission: Admission | None = None
        self.cancel_scope: trio.CancelScope | None = None

    async def __aenter__(self) -> BreakerGuard:
        if self._entered:
            msg = "a breaker guard can be used only once; call breaker.guard() again"
            raise RuntimeError(msg)
        self._entered = True
        breaker = self._breaker
        core = breaker._core
        if core._state is _CLOSED:
            # As in CircuitBreaker._call: no time needed to admit, only to measure.
            admitted: Admission | Rejection = core._closed_admission
            if core._timed:
                self._start = breaker._clock()
        else:
            self._start = breaker._clock()
            admitted = core.admit(self._start)
            if type(admitted) is Rejection:
                raise admitted.exception()
        assert type(admitted) is Admission
        self.admission = admitted
        timeout = core._config.call_timeout
        if timeout is not None:
            scope = trio.move_on_after(timeout)
            scope.__enter__()
            self.cancel_scope = scope
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        breaker = self._breaker
        core = breaker._core
        admission = self.admission
        assert admission is not None
        start = self._start
        scope = self.cancel_scope
        if scope is not None:
            try:
                scope.__exit__(exc_type, error, traceback)
            except BaseException as changed:
                # The scope took its own Cancelled out of a group and re-raised the rest.
                breaker._finish_error(admission, changed, start)
                raise
            # (__exit__ returns True for no exception too: ask the scope what it caught.)
            if scope.cancelled_caught:
                end = breaker._clock()
                core.record(admission, _TIMEOUT, end, 0.0 if start is None else end - start)
                timeout = core._config.call_timeout
                assert timeout is not None
                raise BreakerTimeout(breaker._name, timeout) from None
        if error is not None:
            breaker._finish_error(admission, error, start)
            return False
        if core._plain is admission:
            core._successes += 1
            core._consecutive = 0
        elif not core._record_untimed_success(admission):
            end = breaker._clock()
            core.record(admission, _SUCCESS, end, 0.0 if start is None else end - start)
        return False

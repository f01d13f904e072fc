"""Pure: the phi-accrual failure detector (Hayashibara et al.), with Akka's semantics.

A monitored peer sends heartbeats; the detector keeps the intervals between them and turns the
time since the last one into a level of suspicion, *phi*:
``phi = -log10(P(a heartbeat comes later than now))`` under a normal distribution fitted to the
recent intervals. ``phi = 1`` means about a 10 % chance that calling the peer dead is a
mistake, ``phi = 2`` about 1 %, ``phi = 8`` (the default threshold) about 10^-8.

The semantics are Akka's (and Pekko's) ``PhiAccrualFailureDetector``, so its published spec
values hold here:

* ``y = (elapsed - (mean + acceptable_heartbeat_pause)) / max(std, min_std_deviation)`` and
  ``phi = log10(1 + exp(z))`` with ``z = y * (1.5976 + 0.070566 * y**2)``, the logistic
  approximation of the normal CDF. Under the defaults a silent peer that beat steadily every
  second is suspected ``1 + 3 + 5.226 * 0.1`` = 4.523 s after its last heartbeat.
* ``mean`` and ``std`` are the population mean and standard deviation of the last
  ``max_sample_size`` intervals.
* The first heartbeat starts the history with two made-up intervals, ``est - est // 4`` and
  ``est + est // 4`` (mean ``est``, deviation ``est / 4``) for ``est`` =
  ``first_heartbeat_estimate``, so a peer that beat once and went silent is still suspected.
  They stay until newer intervals push them out of the window.
* Before any heartbeat, ``phi`` is 0.0 and the peer is available: unmanaged means healthy.
* A heartbeat that arrives while the peer is suspected (``phi >= threshold``) moves the time of
  the last heartbeat but its interval is not recorded: one long pause must not widen the
  distribution so much that the next one goes unnoticed.
* ``is_available()`` is ``phi < threshold``, strictly.

Differences from Akka, on purpose:

* Time is float seconds from an injectable clock (default ``trio.current_time``), turned into
  whole nanoseconds on entry; Akka uses whole milliseconds. The window's sum and sum of squares
  are exact Python integers (Akka: ``Long``), updated in O(1) per heartbeat, so they never
  drift however many heartbeats pass, and the variance is computed exactly as
  ``(n * sum_sq - sum**2) / n**2`` and rounded once, so it is never negative. Akka's
  ``sum_sq / n - mean**2`` in doubles loses digits to cancellation when the spread is small
  next to the mean.
* ``phi`` is evaluated as a softplus that is finite wherever Akka's is infinite: Akka's
  ``exp(-z)`` underflows to 0 once ``y`` exceeds about 21.59 and its phi becomes +inf; here
  the value keeps growing (``y = 40`` gives 1989.12). Availability is the same either way,
  since both are far above any threshold. phi is +inf only once ``z`` itself is beyond the
  float range (``y`` above about 1.366e103, reachable only with an absurdly small
  ``min_std_deviation``); it is never NaN, and for very negative ``y`` it is ``0.0`` (Akka:
  ``-0.0``).
* ``min_std_deviation`` is used as given, not truncated to a whole millisecond (Akka turns
  0.5 ms into 0 and can then divide by zero).
* A clock reading earlier than the last heartbeat counts as the same instant (Akka would
  record a negative interval).
* No warning is published for an interval of at least 2/3 of the acceptable pause (Akka issue
  #25253): this module is pure; callers can compare :attr:`PhiAccrualDetector.mean` with the
  pause themselves.
* ``threshold`` must be finite and durations at most 1e12 s (about 31,700 years), so that every
  number stays well inside the float range.

Additions to Akka's API:

* :meth:`PhiAccrualDetector.unavailable_at` and
  :meth:`PhiAccrualDetector.time_until_unavailable` solve ``phi = threshold`` for the time, so
  a supervisor can sleep until the moment of suspicion instead of polling.
* :meth:`PhiAccrualDetector.resume` is a heartbeat whose interval is never recorded, for a peer
  that was known to be idle (not hung) since its last heartbeat.
* :attr:`~PhiAccrualDetector.mean`, :attr:`~PhiAccrualDetector.std_deviation` and friends
  expose the window's statistics for tests and reports.

There is no locking: one detector belongs to one Trio task (or is used from one thread).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import final

from ._exceptions import ChildSpecError
from ._numbers import as_float

__all__ = ["PhiAccrualDetector"]

_NS_PER_S = 1_000_000_000
# Durations and clock readings are bounded so that nanosecond counts, their squares and sums
# stay far from the float range however they are combined. Public to the kernel: a Heartbeat
# checks its own parameters against the same bound when it is declared.
SECONDS_LIMIT = 1e12
_LIMIT_S = SECONDS_LIMIT
_LIMIT_NS = _LIMIT_S * _NS_PER_S

# The logistic approximation of the normal CDF ("beta Mathematics Handbook"), as in Akka.
_A = 1.5976
_B = 0.070566
_LN10 = math.log(10.0)
# Beyond this z, exp(-z) is below half an ulp of z, so log(1 + exp(z)) rounds to z itself.
_SOFTPLUS_LINEAR = 40.0
# Past this, log(expm1(t)) is better computed as t + log1p(-exp(-t)).
_EXPM1_SWITCH = 1.0


def _phi_of_y(y: float) -> float:
    z = y * (_A + _B * y * y)
    if z > _SOFTPLUS_LINEAR:
        # log10(1 + exp(z)) without the overflow of exp(z); exact to rounding here.
        return z / _LN10
    # Monotone pieces only (exp, log1p), so phi never dips as elapsed time grows; for very
    # negative z, exp(z) underflows to 0 and phi to 0.0, its correctly rounded value.
    return math.log1p(math.exp(z)) / _LN10


def _y_of_phi(phi: float) -> float:
    """The y at which phi(y) == phi: invert the softplus, then solve the monotone cubic."""
    t = phi * _LN10
    z = math.log(math.expm1(t)) if t < _EXPM1_SWITCH else t + math.log1p(-math.exp(-t))
    return _solve_cubic(z)


def _solve_cubic(z: float) -> float:
    # B y^3 + A y = z has exactly one real root (A, B > 0): Cardano's formula. The cubic is
    # odd, so solve for |z| and keep u away from the cancelling branch.
    if z < 0.0:
        return -_solve_cubic(-z)
    third_p = _A / (3.0 * _B)
    half_q = z / (2.0 * _B)
    u = math.cbrt(half_q + math.hypot(half_q, third_p**1.5))
    y = u - third_p / u
    if math.isfinite(y):
        for _ in range(2):  # Newton steps polish away Cardano's rounding.
            y -= (y * (_A + _B * y * y) - z) / (_A + 3.0 * _B * y * y)
    return y


def _nanoseconds(seconds: float) -> int:
    ns = seconds * _NS_PER_S
    if not -_LIMIT_NS <= ns <= _LIMIT_NS:  # also rejects NaN
        msg = (
            "PhiAccrualDetector: the clock must return a finite number of seconds within "
            f"+-{_LIMIT_S:g} (got {seconds!r})"
        )
        raise ValueError(msg)
    return round(ns)


def _number(name: str, value: object, *, inclusive: bool, seconds: bool) -> float:
    number = as_float(value)
    limit = _LIMIT_S if seconds else math.inf
    ok = (number >= 0.0 if inclusive else number > 0.0) and number < math.inf and number <= limit
    if not ok:  # NaN fails every comparison above
        relation = ">=" if inclusive else ">"
        expected = f"a finite number of seconds {relation} 0 and <= {limit:g}"
        if not seconds:
            expected = f"a finite number {relation} 0"
        msg = f"PhiAccrualDetector: {name} must be {expected} (got {value!r})"
        raise ChildSpecError(msg)
    return number


def _trio_clock() -> Callable[[], float]:
    # Imported on demand: the module stays importable (and testable) without Trio running.
    import trio  # noqa: PLC0415

    return trio.current_time


@final
class PhiAccrualDetector:
    """A phi-accrual failure detector for one monitored peer; pure, with an injected clock.

    Call :meth:`heartbeat` whenever a sign of life arrives; ask :meth:`phi` or
    :meth:`is_available` whenever a decision is needed. The defaults are Akka's cluster
    failure detector's.

    Args:
        threshold: Suspect the peer once ``phi >= threshold`` (``> 0``). Defaults to 8.0.
        max_sample_size: How many of the latest intervals the distribution is fitted to
            (an ``int > 0``). Defaults to 1000.
        min_std_deviation: A floor on the standard deviation, in seconds (``> 0``), so that
            very regular heartbeats do not make the slightest delay look fatal. Defaults
            to 0.1.
        acceptable_heartbeat_pause: Seconds of silence beyond the mean interval that are
            tolerated before suspicion starts to grow (``>= 0``), for GC pauses and network
            hiccups. Defaults to 3.0.
        first_heartbeat_estimate: The interval assumed before any was measured, in seconds
            (``> 0``): the first heartbeat seeds the history with ``est - est/4`` and
            ``est + est/4``. Defaults to 1.0 (Akka's heartbeat interval).
        clock: Returns the current time in seconds, never going backwards. Defaults to
            ``trio.current_time`` (which needs a running Trio loop when it is called).

    Raises:
        ChildSpecError: An argument is out of range; the message names it, says what was
            expected and what was given.

    Example::

        >>> times = iter([0.0, 1.0, 2.0, 3.0, 3.5, 9.0])
        >>> detector = PhiAccrualDetector(clock=lambda: next(times))
        >>> for _ in range(4):  # at 0, 1, 2 and 3 s
        ...     detector.heartbeat()
        >>> detector.is_available()  # at 3.5 s
        True
        >>> detector.is_available()  # at 9 s: 6 s of silence
        False

    In a Trio task, sleep until the moment of suspicion rather than poll; heartbeats that
    arrive meanwhile move that moment on::

        detector = PhiAccrualDetector()  # clock: trio.current_time
        ...
        while detector.is_available():
            await trio.sleep_until(detector.unavailable_at())
        await on_suspected()
    """

    __slots__ = (
        "_clock",
        "_estimate",
        "_intervals",
        "_last_ns",
        "_last_time",
        "_max_sample_size",
        "_min_std",
        "_min_std_ns",
        "_offset",
        "_pause",
        "_pause_ns",
        "_scale",
        "_std_floor_ns",
        "_sum",
        "_sum_sq",
        "_threshold",
        "_y_threshold",
    )

    def __init__(
        self,
        *,
        threshold: float = 8.0,
        max_sample_size: int = 1000,
        min_std_deviation: float = 0.1,
        acceptable_heartbeat_pause: float = 3.0,
        first_heartbeat_estimate: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._threshold = _number("threshold", threshold, inclusive=False, seconds=False)
        size: object = max_sample_size
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            msg = f"PhiAccrualDetector: max_sample_size must be an int > 0 (got {size!r})"
            raise ChildSpecError(msg)
        self._max_sample_size = size
        self._min_std = _number(
            "min_std_deviation", min_std_deviation, inclusive=False, seconds=True
        )
        self._pause = _number(
            "acceptable_heartbeat_pause", acceptable_heartbeat_pause, inclusive=True, seconds=True
        )
        self._estimate = _number(
            "first_heartbeat_estimate", first_heartbeat_estimate, inclusive=False, seconds=True
        )
        given: object = clock
        if given is not None and not callable(given):
            msg = f"PhiAccrualDetector: clock must be a callable returning seconds (got {given!r})"
            raise ChildSpecError(msg)
        self._clock = _trio_clock() if clock is None else clock

        # The floor only ever divides, so it keeps its full precision (Akka truncates to ms).
        self._min_std_ns = self._min_std * _NS_PER_S
        self._pause_ns = round(self._pause * _NS_PER_S)
        # Every decision compares phi with the threshold; where it crosses is a constant.
        self._y_threshold = _y_of_phi(self._threshold)

        self._intervals: deque[int] = deque()
        self._sum = 0
        self._sum_sq = 0
        self._last_ns: int | None = None
        self._last_time = 0.0
        self._offset = 0
        self._scale = 1.0
        self._std_floor_ns = 1.0
        # The seed is in place from the start, as in Akka, so the statistics describe what
        # the first heartbeat will be judged against; it is the history until intervals
        # are recorded. Integer division, as Akka's (there in ms).
        estimate_ns = round(self._estimate * _NS_PER_S)
        self._record(estimate_ns - estimate_ns // 4)
        self._record(estimate_ns + estimate_ns // 4)

    def __repr__(self) -> str:
        return (
            f"PhiAccrualDetector(threshold={self._threshold!r}, "
            f"max_sample_size={self._max_sample_size!r}, "
            f"min_std_deviation={self._min_std!r}, "
            f"acceptable_heartbeat_pause={self._pause!r}, "
            f"first_heartbeat_estimate={self._estimate!r})"
        )

    # --- configuration

    @property
    def threshold(self) -> float:
        """The phi at and above which the peer is suspected.

        Example::

            >>> PhiAccrualDetector(threshold=10, clock=lambda: 0.0).threshold
            10.0
        """
        return self._threshold

    @property
    def max_sample_size(self) -> int:
        """How many of the latest intervals are kept.

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).max_sample_size
            1000
        """
        return self._max_sample_size

    @property
    def min_std_deviation(self) -> float:
        """The floor on the standard deviation, in seconds.

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).min_std_deviation
            0.1
        """
        return self._min_std

    @property
    def acceptable_heartbeat_pause(self) -> float:
        """The tolerated silence beyond the mean interval, in seconds.

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).acceptable_heartbeat_pause
            3.0
        """
        return self._pause

    @property
    def first_heartbeat_estimate(self) -> float:
        """The interval assumed before any was measured, in seconds.

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).first_heartbeat_estimate
            1.0
        """
        return self._estimate

    # --- heartbeats and decisions

    def heartbeat(self) -> None:
        """Record a heartbeat now (reads the clock once).

        The interval since the previous heartbeat joins the window unless the peer is
        suspected at this instant; the time of the last heartbeat moves either way.

        Example::

            >>> times = iter([0.0, 1.0])
            >>> detector = PhiAccrualDetector(clock=lambda: next(times))
            >>> detector.heartbeat()
            >>> detector.heartbeat()
            >>> detector.sample_count  # the two seeded intervals and the one measured
            3
        """
        now = self._clock()
        now_ns = _nanoseconds(now)
        last_ns = self._last_ns
        if last_ns is None:
            self._last_ns = now_ns
            self._last_time = float(now)
            return
        if now_ns < last_ns:
            # A clock that went backwards: the same instant as the last heartbeat.
            now_ns, now = last_ns, self._last_time
        interval = now_ns - last_ns
        # A heartbeat after a suspicion-length pause would skew the statistics (as Akka).
        if self._phi_after(interval) < self._threshold:
            self._record(interval)
        self._last_ns = now_ns
        self._last_time = float(now)

    def resume(self) -> None:
        """Start the silence afresh without recording the interval (reads the clock once).

        For a peer that is known to have been idle rather than hung since its last
        heartbeat (a server waiting for messages, say): the gap says nothing about its
        heartbeat rhythm, so it must not widen the distribution. The statistics are kept;
        only the time of the last heartbeat moves, as for a heartbeat while suspected. Before
        the first heartbeat it is the first heartbeat. Not in Akka.

        Example::

            >>> times = iter([0.0, 1.0, 60.0, 60.5])
            >>> detector = PhiAccrualDetector(clock=lambda: next(times))
            >>> detector.heartbeat()
            >>> detector.heartbeat()
            >>> detector.resume()  # a minute later, after an idle spell
            >>> detector.sample_count, detector.is_available()
            (3, True)
        """
        now = self._clock()
        now_ns = _nanoseconds(now)
        last_ns = self._last_ns
        if last_ns is not None and now_ns < last_ns:
            return  # a clock that went backwards: the same instant as the last heartbeat
        self._last_ns = now_ns
        self._last_time = float(now)

    def phi(self) -> float:
        """The suspicion level now (reads the clock once, unless no heartbeat has arrived).

        ``0.0`` before the first heartbeat; otherwise ``>= 0``, never NaN, and finite unless
        the peer is more than about 1.4e103 standard deviations late.

        Example::

            >>> times = iter([0.0, 1.0, 7.0])
            >>> detector = PhiAccrualDetector(acceptable_heartbeat_pause=0.0,
            ...                               clock=lambda: next(times))
            >>> detector.phi()  # no heartbeat yet
            0.0
            >>> detector.heartbeat()
            >>> round(detector.phi(), 3)  # at the mean: log10(2)
            0.301
            >>> round(detector.phi(), 3)  # 24 deviations late (Akka: inf)
            440.308
        """
        last_ns = self._last_ns
        if last_ns is None:
            return 0.0
        return self._phi_after(max(_nanoseconds(self._clock()) - last_ns, 0))

    def is_available(self) -> bool:
        """Whether the peer is trusted now: ``phi() < threshold`` (reads the clock once).

        ``True`` before the first heartbeat.

        Example::

            >>> times = iter([0.0, 2.0, 10.0])
            >>> detector = PhiAccrualDetector(clock=lambda: next(times))
            >>> detector.heartbeat()
            >>> detector.is_available(), detector.is_available()
            (True, False)
        """
        return self.phi() < self._threshold

    @property
    def is_monitoring(self) -> bool:
        """Whether at least one heartbeat has arrived.

        Example::

            >>> detector = PhiAccrualDetector(clock=lambda: 0.0)
            >>> detector.is_monitoring
            False
            >>> detector.heartbeat()
            >>> detector.is_monitoring
            True
        """
        return self._last_ns is not None

    @property
    def last_heartbeat(self) -> float | None:
        """The clock reading of the last heartbeat, or ``None`` before the first.

        Example::

            >>> detector = PhiAccrualDetector(clock=lambda: 12.5)
            >>> detector.heartbeat()
            >>> detector.last_heartbeat
            12.5
        """
        return None if self._last_ns is None else self._last_time

    def unavailable_at(self) -> float:
        """The clock time at which the peer becomes suspected if no heartbeat arrives first.

        Solved exactly from the formula (the inverse of phi, then the one real root of the
        cubic), then moved past float rounding: it is the first instant on the detector's
        nanosecond grid at which ``is_available()`` is ``False``, so sleeping until it never
        wakes too early. ``inf`` before the first heartbeat (or when the moment is beyond the
        clock's range); a time in the past if the peer is already suspected. Does not read
        the clock.

        Example::

            >>> times = iter([0.0, 2.0])
            >>> detector = PhiAccrualDetector(acceptable_heartbeat_pause=0.0,
            ...                               clock=lambda: next(times))
            >>> detector.unavailable_at()
            inf
            >>> detector.heartbeat()
            >>> round(detector.unavailable_at(), 4)  # mean 1 s + 5.226 x 0.25 s
            2.3065
        """
        last_ns = self._last_ns
        if last_ns is None:
            return math.inf
        n = len(self._intervals)
        crossing_ns = self._offset / n + self._y_threshold * self._std_floor_ns
        deadline = max(self._last_time + crossing_ns / _NS_PER_S, self._last_time)
        # Rounding (of the root, of the sum, of seconds to nanoseconds) can leave phi a hair
        # under the threshold at the computed time; step forward until it is not, or a
        # caller sleeping until then would wake to an available peer and spin. The steps
        # double, so this ends within a few dozen even in the worst case.
        step = 1.0 / _NS_PER_S
        while deadline <= _LIMIT_S:
            if self._phi_after(max(_nanoseconds(deadline) - last_ns, 0)) >= self._threshold:
                return deadline
            deadline = max(math.nextafter(deadline, math.inf), deadline + step)
            step *= 2.0
        return math.inf

    def time_until_unavailable(self) -> float:
        """Seconds from now until the peer becomes suspected if no heartbeat arrives.

        ``0.0`` if it is suspected already, ``inf`` before the first heartbeat, and always
        ``> 0`` while the peer is available (so a loop that sleeps this long makes
        progress). Reads the clock once.

        Example::

            >>> times = iter([0.0, 1.0, 3.0])
            >>> detector = PhiAccrualDetector(acceptable_heartbeat_pause=0.0,
            ...                               clock=lambda: next(times))
            >>> detector.heartbeat()
            >>> round(detector.time_until_unavailable(), 4)  # at 1 s
            1.3065
            >>> detector.time_until_unavailable()  # at 3 s
            0.0
        """
        last_ns = self._last_ns
        if last_ns is None:
            return math.inf
        now = self._clock()
        if self._phi_after(max(_nanoseconds(now) - last_ns, 0)) >= self._threshold:
            return 0.0
        return max(self.unavailable_at() - now, 0.0)

    # --- statistics of the window

    @property
    def sample_count(self) -> int:
        """How many intervals the window holds (seeded ones included).

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).sample_count  # the seed
            2
        """
        return len(self._intervals)

    @property
    def mean(self) -> float:
        """The mean interval in the window, in seconds (exact sums, rounded once).

        Example::

            >>> PhiAccrualDetector(first_heartbeat_estimate=2.0, clock=lambda: 0.0).mean
            2.0
        """
        return self._sum / (len(self._intervals) * _NS_PER_S)

    @property
    def variance(self) -> float:
        """The population variance of the intervals in the window, in seconds squared.

        Computed exactly from the integer sums and rounded once, so never negative.

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).variance  # the seed: (1 s / 4) ** 2
            0.0625
        """
        n = len(self._intervals)
        return (n * self._sum_sq - self._sum * self._sum) / (n * n * _NS_PER_S * _NS_PER_S)

    @property
    def std_deviation(self) -> float:
        """The population standard deviation of the window, in seconds.

        This is the measured value; phi uses ``max(std_deviation, min_std_deviation)``.

        Example::

            >>> PhiAccrualDetector(clock=lambda: 0.0).std_deviation  # the seed: 1 s / 4
            0.25
        """
        return math.sqrt(self.variance)

    # --- internals

    def _phi_after(self, elapsed_ns: int) -> float:
        # y = (elapsed - (mean + pause)) / std, multiplied through by n so the numerator is
        # an exact integer and only the final division rounds.
        n = len(self._intervals)
        return _phi_of_y((n * elapsed_ns - self._offset) / self._scale)

    def _record(self, interval_ns: int) -> None:
        intervals = self._intervals
        intervals.append(interval_ns)
        self._sum += interval_ns
        self._sum_sq += interval_ns * interval_ns
        if len(intervals) > self._max_sample_size:
            oldest = intervals.popleft()
            self._sum -= oldest
            self._sum_sq -= oldest * oldest
        n = len(intervals)
        # n^2 times the variance, exactly; >= 0 by Cauchy-Schwarz, so the root is never NaN.
        spread = n * self._sum_sq - self._sum * self._sum
        self._std_floor_ns = max(math.sqrt(spread / (n * n)), self._min_std_ns)
        self._scale = n * self._std_floor_ns
        self._offset = self._sum + n * self._pause_ns

"""Pure: the burst limit on a supervisor's logged reports (Erlang's logger burst limit).

A child that crashes thousands of times a second would otherwise log a traceback each time,
and the logging, not the restart, would set the tree's speed. Within each window of
``window`` seconds a supervisor logs at most ``max_reports`` child reports; the rest are
counted per child and kind of event, and summarised in one line each when the window ends
(or when the supervisor stops). Only the log is limited: hooks, restart counts and every
other decision still see each event.

Windows are fixed, as in Erlang: the first report opens one, and the first report after it
has ended opens the next. Time is passed in, so the policy is testable without a clock.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from typing import final

import attrs

from ._exceptions import ChildSpecError
from ._numbers import as_float

__all__ = ["BurstLimiter", "DroppedReports", "ReportLimit"]

_MAX_SUMMARIES = 10
"""Summary lines per window; the children beyond are summed up in one more line."""


def _check_max_reports(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"ReportLimit: max_reports must be an int >= 1 (got {value!r})"
        raise ChildSpecError(msg)


def _to_window(value: object) -> float:
    number = as_float(value)
    if not (math.isfinite(number) and number > 0):
        msg = f"ReportLimit: window must be a finite number of seconds > 0 (got {value!r})"
        raise ChildSpecError(msg)
    return number


@final
@attrs.frozen
class ReportLimit:
    """How many child reports a supervisor logs per window before it summarises the rest.

    The default, 100 reports a second, keeps a crash loop's logging from slowing its
    restarts while still showing every crash of an ordinary failure. Pass
    ``report_limit=None`` to a supervisor to log every report.

    Args:
        max_reports: Reports logged per window (``>= 1``). Defaults to 100.
        window: The window in seconds (``> 0``). Defaults to 1.

    Example::

        >>> otp.ReportLimit(max_reports=20, window=0.5)
        ReportLimit(max_reports=20, window=0.5)

        sup = await nursery.start(
            partial(otp.supervisor, children, report_limit=otp.ReportLimit(max_reports=20))
        )
    """

    max_reports: int = attrs.field(default=100, validator=_check_max_reports)
    window: float = attrs.field(default=1.0, converter=_to_window)


@final
@attrs.frozen
class DroppedReports:
    """The reports of one kind about one child that a window's limit kept out of the log.

    Attributes:
        child_id: The child they were about, or ``None`` for the line that sums up the
            children beyond the first ten of a window.
        what: What happened to it, as a verb phrase (``"crashed"``, ``"failed to restart"``).
        count: How many reports were dropped.
        level: The highest logging level among them.
        last: The last one's reason (its error for a crash), if it had one.
        since: When the window opened.
        until: When it was summarised.

    Example::

        >>> print(otp.DroppedReports("c", "crashed", 1234, 40, "ValueError('boom')", 0.0, 1.0))
        child 'c' crashed 1,234 more times in the last 1 s; last error: ValueError('boom')
    """

    child_id: Hashable
    what: str
    count: int
    level: int
    last: str | None
    since: float
    until: float

    def __str__(self) -> str:
        span = f"in the last {self.until - self.since:.3g} s"
        times = "time" if self.count == 1 else "times"
        if self.child_id is None:
            return f"{self.count:,} more reports about other children {span}"
        text = f"child {self.child_id!r} {self.what} {self.count:,} more {times} {span}"
        if self.last is not None:
            noun = "error" if self.level >= logging.ERROR else "reason"
            text += f"; last {noun}: {self.last}"
        return text


@final
class _Tally:
    __slots__ = ("count", "last", "level")

    def __init__(self, level: int, last: object) -> None:
        self.count = 1
        self.level = level
        self.last = last


@final
class BurstLimiter:
    """The per-supervisor counter behind :class:`ReportLimit` (pure: time is passed in).

    Example::

        >>> limiter = BurstLimiter(otp.ReportLimit(max_reports=2, window=1.0))
        >>> [limiter.admit(0.1), limiter.admit(0.2), limiter.admit(0.3)]
        [True, True, False]
        >>> limiter.drop("c", "crashed", 40, "ValueError()")
        True
        >>> [str(d) for d in limiter.due(1.0)]
        ["child 'c' crashed 1 more time in the last 1 s; last error: ValueError()"]
        >>> limiter.admit(1.0)
        True
    """

    __slots__ = ("_count", "_dropped", "_end", "_start", "limit")

    def __init__(self, limit: ReportLimit) -> None:
        self.limit = limit
        self._start = -math.inf
        self._end = -math.inf
        self._count = 0
        self._dropped: dict[tuple[Hashable, str], _Tally] = {}

    @property
    def window_end(self) -> float:
        """When the current window ends (a summary of its drops is due then)."""
        return self._end

    def due(self, now: float) -> list[DroppedReports]:
        """The summaries of a window that has ended by ``now`` (empty otherwise)."""
        if now < self._end:
            return []
        self._count = 0
        summaries = self._summaries(min(now, self._end))
        self._start = self._end = -math.inf
        return summaries

    def admit(self, now: float) -> bool:
        """Whether a report at ``now`` may be logged; call :meth:`due` first.

        The first report after a window has ended opens a new one.
        """
        if now >= self._end:
            self._start = now
            self._end = now + self.limit.window
            self._count = 0
        if self._count < self.limit.max_reports:
            self._count += 1
            return True
        return False

    def drop(self, child_id: Hashable, what: str, level: int, last: object) -> bool:
        """Count a report :meth:`admit` refused; ``True`` if it is the window's first drop.

        ``last`` is its reason, or ``None``; it is turned into text only if it is still the
        last one when the summary is made, so a storm does not format every error.

        On the first drop, whoever drives the limiter should arrange to log :meth:`due` at
        :attr:`window_end`.
        """
        first = not self._dropped
        key = (child_id, what)
        tally = self._dropped.get(key)
        if tally is None:
            self._dropped[key] = _Tally(level, last)
        else:
            tally.count += 1
            tally.level = max(tally.level, level)
            tally.last = last
        return first

    def flush(self, now: float) -> list[DroppedReports]:
        """Every summary still held, whether or not its window has ended (at stop)."""
        return self._summaries(now)

    def _summaries(self, until: float) -> list[DroppedReports]:
        if not self._dropped:
            return []
        since = self._start
        items = list(self._dropped.items())
        self._dropped = {}
        summaries = [
            DroppedReports(
                child_id,
                what,
                tally.count,
                tally.level,
                None if tally.last is None else str(tally.last),
                since,
                until,
            )
            for (child_id, what), tally in items[:_MAX_SUMMARIES]
        ]
        rest = items[_MAX_SUMMARIES:]
        if rest:
            count = sum(tally.count for _, tally in rest)
            level = max(tally.level for _, tally in rest)
            summaries.append(DroppedReports(None, "", count, level, None, since, until))
        return summaries

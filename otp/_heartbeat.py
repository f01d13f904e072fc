"""The liveness contract of a child spec: how often it must beat, and how much slack it gets.

The runtime that watches the beats is :mod:`otp._liveness`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import final

import attrs

from ._exceptions import ChildSpecError
from ._numbers import as_float
from ._phi import SECONDS_LIMIT, PhiAccrualDetector

__all__ = ["Heartbeat"]


def _seconds(name: str, value: object, *, zero_ok: bool = False) -> float:
    # The detector's own bound, so a Heartbeat that is accepted always builds its detector.
    number = as_float(value)
    if not ((number >= 0 if zero_ok else number > 0) and number <= SECONDS_LIMIT):
        relation = ">= 0" if zero_ok else "> 0"
        msg = (
            f"Heartbeat: {name} must be a finite number of seconds {relation} and "
            f"<= {SECONDS_LIMIT:g} (got {value!r})"
        )
        raise ChildSpecError(msg)
    return number


def _threshold(value: object) -> float:
    number = as_float(value)
    if not (math.isfinite(number) and number > 0):
        msg = f"Heartbeat: threshold must be a finite number > 0 (got {value!r})"
        raise ChildSpecError(msg)
    return number


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@final
@attrs.frozen(init=False)
class Heartbeat:
    """A child's liveness contract: beat about every ``interval`` seconds, or be restarted.

    The parameters are those of :class:`~otp.PhiAccrualDetector`, scaled to ``interval``
    as Akka's cluster defaults are to its 1 s heartbeat.

    Args:
        interval: The expected time between beats (the detector's first estimate).
        threshold: The phi above which the child counts as hung. Defaults to 8.0.
        acceptable_pause: Extra silence tolerated on top of the usual interval. Defaults to
            ``3 * interval``.
        min_std_deviation: A floor on the spread of intervals. Defaults to
            ``interval / 10``.
        max_sample_size: How many recent intervals the detector keeps. Defaults to 1000.

    Every duration, given or derived, must be within the detector's bound (``1e12`` s), so a
    Heartbeat that is accepted always builds its detector when the child starts.

    Raises:
        ChildSpecError: A parameter is out of range, naming it, the bound and what was given.

    Example::

        async def poller(*, task_status=trio.TASK_STATUS_IGNORED):
            task_status.started()
            while True:
                await poll_once()
                otp.heartbeat()

        spec = otp.ChildSpec("poller", poller, liveness=otp.Heartbeat(interval=1.0))
    """

    interval: float
    threshold: float
    acceptable_pause: float
    min_std_deviation: float
    max_sample_size: int

    def __init__(
        self,
        interval: float = 1.0,
        *,
        threshold: float = 8.0,
        acceptable_pause: float | None = None,
        min_std_deviation: float | None = None,
        max_sample_size: int = 1000,
    ) -> None:
        every = _seconds("interval", interval)
        if acceptable_pause is None:
            pause = 3 * every
            if pause > SECONDS_LIMIT:
                msg = (
                    f"Heartbeat: interval must be <= {SECONDS_LIMIT / 3:g} s when "
                    f"acceptable_pause defaults to 3 * interval (got {interval!r}); "
                    "pass acceptable_pause explicitly"
                )
                raise ChildSpecError(msg)
        else:
            pause = _seconds("acceptable_pause", acceptable_pause, zero_ok=True)
        spread = (
            every / 10
            if min_std_deviation is None
            else _seconds("min_std_deviation", min_std_deviation)
        )
        phi = _threshold(threshold)
        if not _count(max_sample_size):
            msg = f"Heartbeat: max_sample_size must be an int >= 1 (got {max_sample_size!r})"
            raise ChildSpecError(msg)
        self.__attrs_init__(every, phi, pause, spread, max_sample_size)

    def detector(self, clock: Callable[[], float]) -> PhiAccrualDetector:
        """A fresh detector with these parameters."""
        return PhiAccrualDetector(
            threshold=self.threshold,
            max_sample_size=self.max_sample_size,
            min_std_deviation=self.min_std_deviation,
            acceptable_heartbeat_pause=self.acceptable_pause,
            first_heartbeat_estimate=self.interval,
            clock=clock,
        )

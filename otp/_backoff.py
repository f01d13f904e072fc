"""Pure: the exponential backoff schedule for restarts (an addition to Erlang/OTP).

Erlang restarts at once. With a :class:`Backoff`, a supervisor waits before each restart of a
child: ``min * multiplier ** attempt``, capped at ``max``, then multiplied by
``1 + jitter * U`` with ``U`` uniform in ``[0, 1)`` (Akka's *random factor*), so a crash storm
does not restart in lockstep. ``attempt`` counts the restarts since the child last ran for
``reset_after`` seconds without crashing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import final

import attrs

from ._exceptions import ChildSpecError
from ._numbers import as_float

__all__ = ["Backoff"]


def _finite(name: str, value: object, minimum: float, *, inclusive: bool) -> float:
    number = as_float(value)
    ok = math.isfinite(number) and (number >= minimum if inclusive else number > minimum)
    if not ok:
        relation = ">=" if inclusive else ">"
        msg = f"Backoff: {name} must be a finite number {relation} {minimum:g} (got {value!r})"
        raise ChildSpecError(msg)
    return number


@final
@attrs.frozen(init=False)
class Backoff:
    """An exponential backoff with jitter and reset, for a supervisor's restarts.

    Args:
        min: The first delay, in seconds (``> 0``).
        max: The cap on the delay before jitter, in seconds (``>= min``).
        multiplier: The growth factor per attempt (``>= 1``). Defaults to 2.
        jitter: Akka's random factor (``>= 0``): each delay is multiplied by
            ``1 + jitter * U``, ``U`` uniform in ``[0, 1)``. Defaults to 0.
        reset_after: After a child has run this long without crashing, its next restart is
            attempt 0 again. Defaults to ``(min + max) / 2``, as in Akka.

    Example::

        >>> backoff = otp.Backoff(min=0.1, max=2.0)
        >>> [backoff.delay(n, random=lambda: 0.0) for n in range(6)]
        [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]

        sup = await nursery.start(partial(otp.supervisor, children, backoff=backoff))
    """

    min: float
    max: float
    multiplier: float
    jitter: float
    reset_after: float

    def __init__(
        self,
        min: float,  # noqa: A002  (Akka's names)
        max: float,  # noqa: A002
        multiplier: float = 2.0,
        jitter: float = 0.0,
        reset_after: float | None = None,
    ) -> None:
        low = _finite("min", min, 0.0, inclusive=False)
        high = _finite("max", max, 0.0, inclusive=False)
        if high < low:
            msg = f"Backoff: max must be >= min (got min={min!r}, max={max!r})"
            raise ChildSpecError(msg)
        factor = _finite("multiplier", multiplier, 1.0, inclusive=True)
        spread = _finite("jitter", jitter, 0.0, inclusive=True)
        reset = (
            low + (high - low) / 2  # the midpoint, without overflowing
            if reset_after is None
            else _finite("reset_after", reset_after, 0.0, inclusive=False)
        )
        self.__attrs_init__(low, high, factor, spread, reset)

    def delay(self, attempt: int, random: Callable[[], float]) -> float:
        """The delay before restart number ``attempt`` (0-based), in seconds.

        ``random`` returns a float in ``[0, 1)``; it is called only when ``jitter`` is set.
        """
        if self.multiplier == 1.0:
            base = self.min
        else:
            # Past this many attempts the cap has been reached; stop before floats overflow.
            saturation = (math.log(self.max) - math.log(self.min)) / math.log(self.multiplier)
            if attempt >= saturation:
                base = self.max
            else:
                try:
                    base = min(self.min * self.multiplier**attempt, self.max)
                except OverflowError:
                    base = self.max
        if self.jitter:
            return base * (1.0 + self.jitter * random())
        return base

    def attempt_after_run(self, attempt: int, ran_for: float) -> int:
        """The attempt number to use after a child that had ``attempt`` ran ``ran_for`` s."""
        return 0 if ran_for >= self.reset_after else attempt

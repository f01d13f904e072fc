"""Pure: the restart-intensity window (Erlang's ``add_restart/3``, in O(1) per restart).

A supervisor may restart at most ``intensity`` times within any ``period`` seconds; the restart
that would be one too many is not performed and the supervisor gives up instead.

Differences from Erlang/OTP, on purpose:

* Time is a float (``trio.current_time()``), not whole seconds, so the window is exactly
  ``period`` long. Erlang's whole-second stamps make it anywhere between ``period`` and
  ``period + 1`` seconds.
* The window is closed, as Erlang's: a restart exactly ``period`` seconds after an earlier one
  still counts that earlier one.
* At most ``intensity + 1`` timestamps are kept, and each is dropped once, so a restart costs
  O(1) amortised rather than a walk over the window.
"""

from __future__ import annotations

from collections import deque
from typing import final

__all__ = ["RestartIntensity"]


@final
class RestartIntensity:
    """Counts restarts in a sliding window; pure, the caller passes the time in.

    Args:
        intensity: Restarts allowed within any ``period`` seconds (``>= 0``).
        period: The window, in seconds (``> 0``).

    Example::

        >>> window = RestartIntensity(intensity=2, period=5.0)
        >>> [window.add_restart(t) for t in (0.0, 1.0, 2.0)]
        [True, True, False]
        >>> RestartIntensity(intensity=2, period=5.0).add_restart(0.0)
        True
    """

    __slots__ = ("_stamps", "intensity", "period")

    def __init__(self, intensity: int, period: float) -> None:
        self.intensity = intensity
        self.period = period
        self._stamps: deque[float] = deque()

    def add_restart(self, now: float) -> bool:
        """Record a restart at time ``now``; return whether it is allowed.

        ``False`` means this restart is one too many: the supervisor must give up. The times
        passed in must not go backwards.
        """
        stamps = self._stamps
        stamps.append(now)
        if len(stamps) > self.intensity + 1:
            # Only the newest intensity + 1 stamps can decide anything.
            stamps.popleft()
        oldest_kept = now - self.period
        while stamps[0] < oldest_kept:
            stamps.popleft()
        return len(stamps) <= self.intensity

    def restarts_in_window(self, now: float) -> int:
        """How many recorded restarts are still inside the window that ends at ``now``."""
        oldest_kept = now - self.period
        return sum(1 for stamp in self._stamps if stamp >= oldest_kept)

"""Count and time the messages a server handles, by kind."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import final

import attrs

import otp

__all__ = ["Timing", "TimingStatistics"]


@final
@attrs.frozen
class TimingStatistics:
    """Messages of one kind: how many, how many failed or were rejected, and their times.

    Times are in seconds of the handler (and the links after :class:`Timing` in the chain).

    Example::

        calls = timing.statistics()[otp.MessageKind.CALL]
        print(calls.count, calls.mean, calls.maximum)
    """

    count: int
    rejected: int
    failed: int
    total: float
    maximum: float

    @property
    def mean(self) -> float:
        """The mean time, ``0.0`` before the first message."""
        return self.total / self.count if self.count else 0.0


class _Counter:
    __slots__ = ("count", "failed", "maximum", "rejected", "total")

    def __init__(self) -> None:
        self.count = self.rejected = self.failed = 0
        self.total = self.maximum = 0.0


@final
class Timing(otp.Middleware):
    """Time every message, by kind; read the figures with :meth:`statistics`.

    One instance counts for every server whose class lists it, across restarts. With
    ``observe``, each duration is also passed on (for example to a metrics histogram) as
    ``observe(kind, seconds)``.

    Example::

        timing = otp.middleware.Timing()


        class Orders(otp.GenServer):
            middleware = (timing,)
    """

    def __init__(self, observe: Callable[[otp.MessageKind, float], None] | None = None) -> None:
        given: object = observe
        if given is not None and not callable(given):
            msg = f"Timing: observe must be a function (kind, seconds) or None (got {observe!r})"
            raise TypeError(msg)
        self.observe = observe
        self._counters = {kind: _Counter() for kind in otp.MessageKind}

    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        counter = self._counters[message.kind]
        began = time.perf_counter()
        try:
            return await handler(message)
        except otp.Rejected:
            counter.rejected += 1
            raise
        except BaseException:
            counter.failed += 1
            raise
        finally:
            took = time.perf_counter() - began
            counter.count += 1
            counter.total += took
            counter.maximum = max(counter.maximum, took)
            if self.observe is not None:
                self.observe(message.kind, took)

    def statistics(self) -> dict[otp.MessageKind, TimingStatistics]:
        """The figures so far, for each kind of message.

        Example::

            print(timing.statistics()[otp.MessageKind.CAST].count)
        """
        return {
            kind: TimingStatistics(c.count, c.rejected, c.failed, c.total, c.maximum)
            for kind, c in self._counters.items()
        }

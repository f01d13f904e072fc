"""Reject messages beyond a rate, with a token bucket."""

from __future__ import annotations

from collections.abc import Iterable
from typing import final

import trio

import otp
from otp.streams import TokenBucket

__all__ = ["RateLimit"]


@final
class RateLimit(otp.Middleware):
    """Let ``rate`` messages a second through (bursts of ``burst``) and reject the rest.

    Only messages of ``kinds`` count (all three by default). One bucket serves every server
    of the class, so the limit is per class; give each class its own instance. A rejected
    call's caller gets :class:`otp.Rejected` at once instead of queueing behind the limit.

    Example::

        class Search(otp.GenServer):
            middleware = (otp.middleware.RateLimit(rate=100, burst=20, kinds=["call"]),)
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        kinds: Iterable[otp.MessageKind | str] = tuple(otp.MessageKind),
    ) -> None:
        self._bucket = TokenBucket(rate, burst, now=0.0)  # checks rate and burst
        self._fresh = True
        try:
            self.kinds = frozenset(otp.MessageKind(kind) for kind in kinds)
        except (ValueError, TypeError):
            msg = f"RateLimit: kinds must be among 'call', 'cast', 'info' (got {kinds!r})"
            raise TypeError(msg) from None
        self.rate = rate
        self.burst = burst
        self.rejected = 0

    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        if message.kind in self.kinds:
            now = trio.current_time()
            if self._fresh:  # the bucket starts full at the first message, on this run's clock
                self._bucket = TokenBucket(self.rate, self.burst, now=now)
                self._fresh = False
            if not self._bucket.try_take(now):
                self.rejected += 1
                raise otp.Rejected(f"over the rate limit of {self.rate:g} a second")
        return await handler(message)

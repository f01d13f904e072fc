"""A token bucket, pure: the caller passes the time, so tests need no clock."""

from __future__ import annotations

from typing import final

from ._errors import StreamsDeclarationError


def _positive(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        msg = f"{owner}: {field} must be a number > 0 (got {value!r})"
        raise StreamsDeclarationError(msg)
    return float(value)


@final
class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; starts full.

    :meth:`reserve` takes one token and says how long to wait before using it, so callers
    that reserve ahead queue up fairly instead of racing for the next token.

    Example::

        >>> bucket = otp.streams.TokenBucket(rate=2.0, burst=1, now=0.0)
        >>> bucket.reserve(0.0), bucket.reserve(0.0), bucket.reserve(0.0)
        (0.0, 0.5, 1.0)
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int = 1, *, now: float) -> None:
        self.rate = _positive("TokenBucket", "rate", rate)
        given: object = burst
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            msg = f"TokenBucket: burst must be an int >= 1 (got {burst!r})"
            raise StreamsDeclarationError(msg)
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def tokens(self, now: float) -> float:
        """The tokens available at ``now`` (negative while reservations are outstanding)."""
        return min(float(self.burst), self._tokens + (now - self._last) * self.rate)

    def try_take(self, now: float) -> bool:
        """Take one token if one is there; ``False`` (and nothing taken) if not.

        Example::

            if not bucket.try_take(trio.current_time()):
                raise otp.Rejected("over the rate limit")
        """
        tokens = self.tokens(now)
        if tokens < 1.0:
            return False
        self._tokens = tokens - 1.0
        self._last = now
        return True

    def reserve(self, now: float) -> float:
        """Take one token; the seconds to wait (``0.0`` if one was there)."""
        self._tokens = self.tokens(now) - 1.0
        self._last = now
        return 0.0 if self._tokens >= 0.0 else -self._tokens / self.rate

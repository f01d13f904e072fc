"""Ready-made middleware for servers: logging, timing, validation, authorization, rate limit.

A server lists middleware in its ``middleware`` class attribute, outermost first; see
:class:`otp.Middleware` for writing your own. Each link here is one module.

Example::

    class Orders(otp.GenServer):
        middleware = (
            otp.middleware.LogMessages(),
            otp.middleware.RateLimit(rate=100, burst=10),
            otp.middleware.Validate(call=check_order),
        )
"""

from ._checks import Authorize as Authorize
from ._checks import Validate as Validate
from ._logging import LogMessages as LogMessages
from ._rate import RateLimit as RateLimit
from ._timing import Timing as Timing
from ._timing import TimingStatistics as TimingStatistics

__all__ = ["Authorize", "LogMessages", "RateLimit", "Timing", "TimingStatistics", "Validate"]

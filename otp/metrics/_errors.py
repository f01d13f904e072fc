"""The errors of ``otp.metrics``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import DECLARATION, classify


@classify(DECLARATION)
class MetricsError(OtpError, ValueError):
    """A metric was declared or used with a wrong name, labels or value.

    Example::

        with pytest.raises(otp.metrics.MetricsError):
            metrics.counter("bad name", "help")
    """

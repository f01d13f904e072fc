"""The errors of ``otp.events``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import DECLARATION, classify


@classify(DECLARATION)
class EventsError(OtpError, ValueError):
    """A bus, subscription or filter was declared with a wrong value.

    Example::

        with pytest.raises(otp.events.EventsError):
            bus.subscribe(buffer=0)
    """

"""The errors of ``otp.routing``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import CALL, DECLARATION, classify


@classify(DECLARATION)
class RoutingDeclarationError(OtpError, ValueError):
    """A router or group was declared with a wrong value.

    Example::

        with pytest.raises(otp.routing.RoutingDeclarationError, match="strategy"):
            otp.routing.Router([ref], strategy="fastest")
    """


@classify(CALL)
class NoMembers(OtpError):
    """A router found no member alive to route to (or a hashed route got no key).

    Example::

        try:
            await router.call("work")
        except otp.routing.NoMembers:
            return "every worker is restarting; try again"
    """

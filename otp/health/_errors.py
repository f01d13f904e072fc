"""The one error family of ``otp.health``: a bad declaration, raised before anything runs."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import DECLARATION, classify

__all__ = ["HealthDeclarationError"]


@classify(DECLARATION)
class HealthDeclarationError(OtpError, TypeError, ValueError):
    """A health check, a monitor option or an endpoint option is invalid.

    Raised where it is declared, never while the checks run. The message names the check (or
    option), what was expected and what was given. It is both a ``TypeError`` and a
    ``ValueError``, as a bad declaration can be either.

    Example::

        try:
            otp.health.Check("db", ping, timeout=0)
        except otp.health.HealthDeclarationError as error:
            print(error)  # check 'db': timeout must be a number > 0 (got 0)
    """

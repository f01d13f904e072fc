"""The one error the command line turns into exit status 2 with a message."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad arguments or input files: ``otp-bench`` prints the message and exits with 2.

    Raised before anything runs, so a mistake costs no benchmark time.
    """

"""The runner's errors."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import BASE, DECLARATION, START, classify

__all__ = ["AppError", "AppOptionError", "AppStartError", "got"]


def got(value: object) -> str:
    """How a wrong value is shown in an error message."""
    return f"{value!r} of type {type(value).__name__!r}"


@classify(BASE)
class AppError(OtpError):
    """Base class of the errors of ``otp.app``.

    Example::

        try:
            await otp.app.serve(tree)
        except otp.app.AppError as exc:
            print("cannot run:", exc)
    """


@classify(DECLARATION)
class AppOptionError(AppError, ValueError):
    """An argument of :func:`run` or :func:`serve` is wrong (raised before anything starts).

    Example::

        with pytest.raises(otp.app.AppOptionError):
            otp.app.run(tree, shutdown_timeout=-1)
    """


@classify(START)
class AppStartError(AppError):
    """A child failed to start; everything started before it was stopped.

    Attributes:
        path: The failing child's place in the tree (``"shop/workers/w1"``).
        error: What it raised (also ``__cause__``).

    Example::

        try:
            await otp.app.serve(tree)
        except otp.app.AppStartError as exc:
            print(exc.path, exc.error)
    """

    def __init__(self, app: str, path: str, error: BaseException) -> None:
        self.app = app
        self.path = path
        self.error = error
        text = str(error)
        described = f"{type(error).__name__}: {text}" if text else type(error).__name__
        super().__init__(f"app {app!r} failed to start: child {path!r} failed: {described}")
        self.__cause__ = error

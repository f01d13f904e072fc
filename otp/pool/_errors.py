"""The errors of ``otp.pool``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import BASE, CALL, DECLARATION, MISUSE, OVERLOAD, classify


@classify(BASE)
class PoolError(OtpError):
    """The base class of every ``otp.pool`` error.

    Example::

        try:
            async with pool.acquire() as conn:
                ...
        except otp.pool.PoolError as exc:
            log.warning("no connection: %s", exc)
    """


@classify(DECLARATION)
class PoolDeclarationError(PoolError, ValueError):
    """A pool was declared with a wrong value.

    Example::

        with pytest.raises(otp.pool.PoolDeclarationError, match="max_size"):
            otp.pool.Pool("db", connect, max_size=0)
    """


@classify(OVERLOAD)
class PoolExhausted(PoolError):
    """Every resource stayed busy for the whole ``acquire_timeout``; none was given.

    Example::

        try:
            async with pool.acquire() as conn:
                ...
        except otp.pool.PoolExhausted:
            return busy_response()
    """


@classify(MISUSE)
class PoolClosed(PoolError):
    """The pool is not running (not started yet, or stopped while the caller waited).

    Example::

        with pytest.raises(otp.pool.PoolClosed):
            async with pool.acquire():
                pass
    """


@classify(CALL)
class ResourceFailed(PoolError):
    """A new resource was needed and its factory raised; the cause is that error.

    The pool is unaffected; the caller decides whether to try again.

    Example::

        try:
            async with pool.acquire() as conn:
                ...
        except otp.pool.ResourceFailed as exc:
            log.error("cannot connect: %r", exc.__cause__)
    """

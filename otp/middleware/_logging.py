"""Log every message a server handles, with its outcome and how long it took."""

from __future__ import annotations

import logging
import time
from typing import final

import otp

__all__ = ["LogMessages"]


@final
class LogMessages(otp.Middleware):
    """Log each message, its outcome and its duration, at ``level`` on ``logger``.

    A reply or result, a rejection and an error each get one line; the exception is not
    swallowed (a rejection still reaches the caller, a crash still crashes the server).

    Example::

        class Orders(otp.GenServer):
            middleware = (otp.middleware.LogMessages(level=logging.INFO),)
    """

    def __init__(
        self, logger: str | logging.Logger = "otp.messages", level: int = logging.DEBUG
    ) -> None:
        given: object = logger
        if not isinstance(given, str | logging.Logger):
            msg = f"LogMessages: logger must be a name or a logging.Logger (got {logger!r})"
            raise TypeError(msg)
        if isinstance(level, bool) or not isinstance(level, int):
            msg = f"LogMessages: level must be a logging level such as logging.INFO (got {level!r})"
            raise TypeError(msg)
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level

    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        logger = self.logger
        if not logger.isEnabledFor(self.level):
            return await handler(message)
        server = message.server.ref.description
        began = time.perf_counter()
        try:
            result = await handler(message)
        except otp.Rejected as rejected:
            took = (time.perf_counter() - began) * 1e3
            logger.log(
                self.level,
                "%s: %s %r rejected in %.3f ms: %s",
                server,
                message.kind.value,
                message.payload,
                took,
                rejected.reason,
            )
            raise
        except Exception as error:
            took = (time.perf_counter() - began) * 1e3
            logger.log(
                self.level,
                "%s: %s %r raised %s in %.3f ms",
                server,
                message.kind.value,
                message.payload,
                type(error).__name__,
                took,
            )
            raise
        took = (time.perf_counter() - began) * 1e3
        logger.log(
            self.level,
            "%s: %s %r -> %r in %.3f ms",
            server,
            message.kind.value,
            message.payload,
            result,
            took,
        )
        return result

    def __repr__(self) -> str:
        return f"LogMessages({self.logger.name!r}, level={logging.getLevelName(self.level)})"

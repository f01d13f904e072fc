"""Validate and authorize messages before their handler sees them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, final

import otp

__all__ = ["Authorize", "Validate"]

Check = Callable[[Any], object]


def _check_callable(owner: str, field: str, value: object) -> None:
    if value is not None and not callable(value):
        msg = f"{owner}: {field} must be a function or None (got {value!r})"
        raise TypeError(msg)


@final
class Validate(otp.Middleware):
    """Check (and optionally convert) each payload by kind before the handler gets it.

    Each check takes the payload and returns the payload the handler should get (the same,
    or converted); a :class:`ValueError` or :class:`TypeError` from it rejects the message
    with the error's text. A kind without a check passes unchanged.

    Example::

        def order(request):
            if not isinstance(request, dict) or "sku" not in request:
                raise ValueError(f"an order needs a 'sku' (got {request!r})")
            return request


        class Orders(otp.GenServer):
            middleware = (otp.middleware.Validate(call=order),)
    """

    def __init__(
        self, *, call: Check | None = None, cast: Check | None = None, info: Check | None = None
    ) -> None:
        for field, check in (("call", call), ("cast", cast), ("info", info)):
            _check_callable("Validate", field, check)
        if call is None and cast is None and info is None:
            msg = "Validate: give a check for at least one of call, cast or info"
            raise TypeError(msg)
        self._checks = {
            otp.MessageKind.CALL: call,
            otp.MessageKind.CAST: cast,
            otp.MessageKind.INFO: info,
        }

    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        check = self._checks[message.kind]
        if check is not None:
            try:
                payload = check(message.payload)
            except (ValueError, TypeError) as error:
                raise otp.Rejected(f"invalid {message.kind.value}: {error}") from error
            if payload is not message.payload:
                message = message.replace(payload)
        return await handler(message)


@final
class Authorize(otp.Middleware):
    """Reject each message for which ``allow(message)`` is false.

    ``allow`` sees the whole :class:`otp.Message` (kind, payload, server); who sent it is
    whatever the payload says, since Trio tasks share no identity.

    Example::

        def allow(message):
            return message.kind != "call" or message.payload[0] in ("get", "list")


        class Catalog(otp.GenServer):
            middleware = (otp.middleware.Authorize(allow, reason="read only"),)
    """

    def __init__(
        self, allow: Callable[[otp.Message], bool], *, reason: str = "not authorized"
    ) -> None:
        given: object = allow
        if not callable(given):
            msg = f"Authorize: allow must be a function (message) -> bool (got {allow!r})"
            raise TypeError(msg)
        text: object = reason
        if not isinstance(text, str) or not text:
            msg = f"Authorize: reason must be a non-empty str (got {reason!r})"
            raise TypeError(msg)
        self.allow = allow
        self.reason = reason

    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        if not self.allow(message):
            raise otp.Rejected(self.reason)
        return await handler(message)

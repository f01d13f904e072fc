"""Middleware: an ordered chain around a server's call, cast and info handlers.

A server class lists its chain in ``middleware``; the chain is composed once, when the
server starts, into the instance's handlers. A class without middleware gets nothing
installed, so its message loop is exactly the one without this feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, final

import attrs

from ._exceptions import OtpError
from ._taxonomy import CALL, classify

if TYPE_CHECKING:
    from ._server import Caller, GenServer

__all__ = ["Handler", "Message", "MessageKind", "Middleware", "Rejected", "check_middleware"]


class MessageKind(StrEnum):
    """Which handler a :class:`Message` is for.

    Example::

        if message.kind is otp.MessageKind.CALL:
            ...
    """

    CALL = "call"
    CAST = "cast"
    INFO = "info"


@final
@attrs.frozen
class Message:
    """One message on its way to a handler: what middleware sees and may change.

    ``payload`` is the call's request, the cast or the info; ``caller`` is the call's
    :class:`Caller` (``None`` for a cast or an info); ``server`` the server instance.

    Example::

        async def __call__(self, message, handler):
            if message.kind == "call" and isinstance(message.payload, str):
                message = message.replace(message.payload.strip())
            return await handler(message)
    """

    kind: MessageKind
    payload: object
    server: GenServer[Any, Any] = attrs.field(repr=False)
    caller: Caller[Any] | None = attrs.field(default=None, repr=False)

    def replace(self, payload: object) -> Message:
        """The same message with another payload (the handler then gets that one).

        Example::

            return await handler(message.replace(normalize(message.payload)))
        """
        return attrs.evolve(self, payload=payload)


class Handler(Protocol):
    """The rest of a middleware chain, ending in the server's own handler.

    Example::

        async def passthrough(message: otp.Message, handler: otp.Handler) -> object:
            return await handler(message)
    """

    def __call__(self, message: Message, /) -> Awaitable[object]: ...


class Middleware:
    """A link of a server's middleware chain: override :meth:`__call__`.

    A link passes the message on (``await handler(message)``), changes it first
    (``message.replace(...)``), answers a call itself (returns a reply without calling
    ``handler``), or rejects it (``raise otp.Rejected(reason)``): a rejected call's caller
    gets :class:`Rejected`, a rejected cast or info is logged and dropped, and the server
    goes on. Any other exception is a bug in the link and crashes the server, as a
    handler's would. What ``handler`` returns is the handler's result (a call's reply, a
    cast's ``Continue``/``Timeout``/``None``); return it.

    Plain async functions ``(message, handler)`` work too.

    Example::

        class OnlyStrings(otp.Middleware):
            async def __call__(self, message, handler):
                if message.kind == "call" and not isinstance(message.payload, str):
                    raise otp.Rejected(f"requests are strings, got {message.payload!r}")
                return await handler(message)


        class Cache(otp.GenServer):
            middleware = (OnlyStrings(),)
    """

    async def __call__(self, message: Message, handler: Handler) -> object:
        return await handler(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@classify(CALL)
class Rejected(OtpError):
    """Middleware refused a message; ``reason`` says why. The server is unaffected.

    Raised by middleware with just a reason; the caller of a rejected call gets a copy
    whose message also names the server and the request (the original is its cause).

    Example::

        try:
            await ref.call(("delete", key))
        except otp.Rejected as exc:
            print(exc.reason)
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_middleware(owner: str, chain: object) -> tuple[Callable[..., Awaitable[object]], ...]:
    """``chain`` as a tuple of links, or a :class:`TypeError` naming the bad one."""
    if isinstance(chain, str | bytes) or not isinstance(chain, tuple | list):
        msg = f"{owner}.middleware must be a tuple of middleware (got {chain!r})"
        raise TypeError(msg)
    for position, link in enumerate(chain):
        if not callable(link) or isinstance(link, type):
            hint = " (an instance, not the class?)" if isinstance(link, type) else ""
            msg = (
                f"{owner}.middleware[{position}] must be an otp.Middleware or an async "
                f"function (message, handler){hint} (got {link!r})"
            )
            raise TypeError(msg)
    return tuple(chain)

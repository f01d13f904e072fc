"""Call observers: how a metrics layer sees every call, at no cost to a program without one.

:func:`observe_calls` sets a context variable; a server started inside the block (in a task
spawned there, so also by a supervisor started there, restarts included) keeps the observer
and hands it every call its clients make: the ref of that server instance (even for a call
made through a name), the request, the error (``None`` for a reply) and the round trip in
seconds, measured by the caller. A server started outside keeps
no observer and its calls pay nothing for the feature.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeAlias

from ._exceptions import ChildSpecError

if TYPE_CHECKING:
    from ._server import ServerRef

__all__ = ["CallObserver", "observe_calls"]

logger = logging.getLogger("otp.server")

CallObserver: TypeAlias = Callable[
    ["ServerRef[Any, Any]", object, "BaseException | None", float], object
]
"""``observer(ref, request, error, seconds)``: one finished call (``error`` ``None``: a reply)."""

current_observer: ContextVar[CallObserver | None] = ContextVar("otp.call_observer", default=None)


@contextmanager
def observe_calls(observer: CallObserver) -> Iterator[None]:
    """Give every call to the servers started in this block to ``observer``.

    ``observer(ref, request, error, seconds)`` is called once per finished call, by the
    caller, with the server instance's ref, the request, the error the caller got (``None``
    for a reply; ``trio.Cancelled`` if the caller was cancelled) and the round trip.

    Observers nest: inside another block, both are called, the outer one first. An observer
    that raises is logged and does not disturb the call.

    Example::

        def on_call(ref, request, error, seconds):
            print(ref.name, "error" if error else "ok", f"{seconds * 1e6:.0f} us")

        with otp.observe_calls(on_call):
            async with otp.open_supervisor(tree) as sup:
                ...
    """
    given: object = observer
    if not callable(given):
        msg = f"observe_calls: observer must be a callable (got {observer!r})"
        raise ChildSpecError(msg)
    outer = current_observer.get()
    if outer is None:
        combined = observer
    else:

        def combined(
            ref: ServerRef[Any, Any], request: object, error: BaseException | None, seconds: float
        ) -> None:
            notify(outer, ref, request, error, seconds)
            notify(observer, ref, request, error, seconds)

    token = current_observer.set(combined)
    try:
        yield
    finally:
        current_observer.reset(token)


def notify(
    observer: CallObserver,
    ref: ServerRef[Any, Any],
    request: object,
    error: BaseException | None,
    seconds: float,
) -> None:
    """Call ``observer``; one that raises is logged, never raised into the caller."""
    try:
        observer(ref, request, error, seconds)
    except Exception:  # noqa: BLE001  (logged: an observer must not break a call)
        observer_failed(observer, ref)


def observer_failed(observer: CallObserver, ref: ServerRef[Any, Any]) -> None:
    """Log the exception an observer raised (call it from the ``except`` block)."""
    logger.exception("call observer %r failed on a call to %r", observer, ref)

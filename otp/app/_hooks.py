"""Shutdown hooks: named async callables, each with its own timeout."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import final

import attrs

from ._errors import AppOptionError, got

__all__ = ["ShutdownHook", "check_hooks", "check_seconds"]


def check_seconds(where: str, value: object, *, allow_infinity: bool = True) -> float:
    """``value`` as seconds > 0, or an :class:`AppOptionError` naming ``where``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    seconds = float(value) if ok else math.nan  # type: ignore[arg-type]
    if (
        not ok
        or math.isnan(seconds)
        or seconds <= 0
        or (seconds == math.inf and not allow_infinity)
    ):
        bound = "> 0" if allow_infinity else "> 0 and finite"
        msg = f"{where} must be a number of seconds {bound} (got {got(value)})"
        raise AppOptionError(msg)
    return seconds


@final
@attrs.frozen(init=False)
class ShutdownHook:
    """An async callable run at one phase of the shutdown, cancelled after ``timeout`` seconds.

    A hook that raises or times out is reported (:class:`HookFailed`, :class:`HookTimedOut`)
    and the shutdown goes on.

    Args:
        name: Shown in reports.
        fn: An async callable taking no arguments.
        timeout: Seconds it may take (default 5).

    Example::

        otp.app.run(tree, before_stop=[otp.app.ShutdownHook("deregister", deregister, timeout=2)])
    """

    name: str
    fn: Callable[[], Awaitable[object]]
    timeout: float

    def __init__(
        self, name: str, fn: Callable[[], Awaitable[object]], *, timeout: float = 5.0
    ) -> None:
        given: object = name
        function: object = fn
        if not isinstance(given, str):
            msg = f"ShutdownHook: name must be a string (got {got(given)})"
            raise AppOptionError(msg)
        if not callable(function):
            msg = f"ShutdownHook {name!r}: fn must be an async callable (got {got(function)})"
            raise AppOptionError(msg)
        seconds = check_seconds(f"ShutdownHook {name!r}: timeout", timeout)
        self.__attrs_init__(name, fn, seconds)


def check_hooks(where: str, hooks: Sequence[object]) -> tuple[ShutdownHook, ...]:
    """Hooks as a tuple of :class:`ShutdownHook`; a bare async function gets a default one."""
    if not isinstance(hooks, list | tuple):
        msg = f"{where} must be a list of ShutdownHook (got {got(hooks)})"
        raise AppOptionError(msg)
    checked: list[ShutdownHook] = []
    for index, hook in enumerate(hooks):
        if isinstance(hook, ShutdownHook):
            checked.append(hook)
        elif inspect.iscoroutinefunction(hook):
            checked.append(ShutdownHook(hook.__qualname__, hook))
        else:
            msg = f"{where}[{index}] must be a ShutdownHook or an async function (got {got(hook)})"
            raise AppOptionError(msg)
    return tuple(checked)

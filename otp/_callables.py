"""A small internal interface for the layers: is a callable async?"""

from __future__ import annotations

import functools
import inspect

__all__ = ["is_async_callable"]


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` gives a coroutine.

    True for an async function, a partial of one, or an object whose ``__call__`` is one.
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return False
    call = inspect.getattr_static(type(fn), "__call__", None)
    return inspect.iscoroutinefunction(call)

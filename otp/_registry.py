"""Per-run server names (Erlang's local registry), kept in a Trio ``RunVar``, not a global.

Each ``trio.run`` has its own registry, so two runs (two tests, two guest loops) never see
each other's names. A name is bound when a server starts (before its ``init``, as in Erlang,
so a clash fails the start at once) and released when it ends, before its monitors hear of
the end; a restarted server binds it again.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from ._server import ServerRef, _ServerCore

__all__ = ["whereis"]


class _Registry:
    __slots__ = ("names", "waiters")

    def __init__(self) -> None:
        self.names: dict[Hashable, _ServerCore] = {}
        self.waiters: dict[Hashable, trio.Event] = {}


_REGISTRY: trio.lowlevel.RunVar[_Registry] = trio.lowlevel.RunVar("otp.registry")


def _registry() -> _Registry:
    try:
        return _REGISTRY.get()
    except LookupError:
        registry = _Registry()
        _REGISTRY.set(registry)
        return registry


def register(name: Hashable, core: _ServerCore) -> _ServerCore | None:
    """Bind ``name`` to ``core``; return the current holder instead if it is taken."""
    registry = _registry()
    holder = registry.names.get(name)
    if holder is not None:
        return holder
    registry.names[name] = core
    waiter = registry.waiters.pop(name, None)
    if waiter is not None:
        waiter.set()
    return None


def unregister(name: Hashable, core: _ServerCore) -> None:
    """Release ``name`` if ``core`` holds it."""
    names = _registry().names
    if names.get(name) is core:
        del names[name]


def lookup(name: Hashable) -> _ServerCore | None:
    """The live server bound to ``name``, if any."""
    return _registry().names.get(name)


async def wait_for(name: Hashable) -> _ServerCore:
    """Wait until some server binds ``name`` (the caller bounds the wait)."""
    registry = _registry()
    while True:
        core = registry.names.get(name)
        if core is not None:
            await trio.lowlevel.checkpoint()
            return core
        waiter = registry.waiters.get(name)
        if waiter is None:
            waiter = registry.waiters[name] = trio.Event()
        await waiter.wait()


def whereis(name: Hashable) -> ServerRef[Any, Any] | None:
    """The server registered under ``name`` in this Trio run, or ``None``.

    The ref returned points at that very server (like an Erlang pid): after a restart, ask
    again, or use :func:`otp.named` for a ref that follows the name.

    Example::

        ref = otp.whereis("config")
        if ref is not None:
            settings = await ref.call("get")
    """
    core = lookup(name)
    return core.ref if core is not None else None

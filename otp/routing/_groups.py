"""Process groups, like Erlang's ``pg``: servers join and leave groups by name, per run."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import trio

import otp

from ._errors import RoutingDeclarationError

__all__ = ["join", "leave", "members", "which_groups"]

_GROUPS: trio.lowlevel.RunVar[dict[Hashable, list[otp.ServerRef[Any, Any]]]] = trio.lowlevel.RunVar(
    "otp.routing.groups"
)


def _groups() -> dict[Hashable, list[otp.ServerRef[Any, Any]]]:
    try:
        return _GROUPS.get()
    except LookupError:
        groups: dict[Hashable, list[otp.ServerRef[Any, Any]]] = {}
        _GROUPS.set(groups)
        return groups


def join(group: Hashable, ref: otp.ServerRef[Any, Any]) -> None:
    """Add the server ``ref`` to ``group`` (once; joining again does nothing).

    A member that ends leaves its groups by itself; a restarted server joins again, as in
    Erlang, typically in its ``init``. Groups belong to the current ``trio.run``.

    Example::

        class Worker(otp.GenServer):
            async def init(self):
                otp.routing.join("workers", self.ref)
    """
    given: object = ref
    if not isinstance(given, otp.ServerRef):
        msg = f"join: ref must be an otp.ServerRef (got {ref!r})"
        raise RoutingDeclarationError(msg)
    try:
        hash(group)
    except TypeError:
        msg = f"join: a group name must be hashable (got {group!r})"
        raise RoutingDeclarationError(msg) from None
    refs = _groups().setdefault(group, [])
    if ref not in refs:
        refs.append(ref)


def leave(group: Hashable, ref: otp.ServerRef[Any, Any]) -> bool:
    """Take ``ref`` out of ``group``; whether it was in it.

    Example::

        otp.routing.leave("workers", self.ref)
    """
    refs = _groups().get(group)
    if refs is None or ref not in refs:
        return False
    refs.remove(ref)
    if not refs:
        del _groups()[group]
    return True


def members(group: Hashable) -> list[otp.ServerRef[Any, Any]]:
    """The live members of ``group``, in the order they joined (the ended are dropped).

    Example::

        for ref in otp.routing.members("workers"):
            ref.cast("reload")
    """
    refs = _groups().get(group)
    if refs is None:
        return []
    alive = [ref for ref in refs if ref.alive]
    if len(alive) != len(refs):
        refs[:] = alive
        if not alive:
            del _groups()[group]
    return alive


def which_groups() -> list[Hashable]:
    """The groups that have a live member.

    Example::

        assert "workers" in otp.routing.which_groups()
    """
    return [group for group in list(_groups()) if members(group)]

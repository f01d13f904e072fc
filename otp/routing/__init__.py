"""Routing: a router in front of a group of servers, and Erlang ``pg``-like process groups.

A :class:`Router` picks one member per call or cast, round robin, at random, the least
loaded (mailbox depth), by consistent hash of a key, or by your own function; it passes over
members that are not alive and takes them back once they are, and :meth:`Router.broadcast`
calls them all with a per-member result. Process groups (:func:`join`, :func:`leave`,
:func:`members`) let servers find each other by group name. It uses only the public ``otp``
API (the error families aside).

Example::

    router = otp.routing.Router([otp.named(f"worker-{n}") for n in range(4)])
    reply = await router.call(("resize", image))
"""

from ._errors import NoMembers as NoMembers
from ._errors import RoutingDeclarationError as RoutingDeclarationError
from ._groups import join as join
from ._groups import leave as leave
from ._groups import members as members
from ._groups import which_groups as which_groups
from ._ring import stable_hash as stable_hash
from ._router import BroadcastResult as BroadcastResult
from ._router import Pick as Pick
from ._router import Router as Router
from ._router import Strategy as Strategy

__all__ = [
    "BroadcastResult",
    "NoMembers",
    "Pick",
    "Router",
    "RoutingDeclarationError",
    "Strategy",
    "join",
    "leave",
    "members",
    "stable_hash",
    "which_groups",
]

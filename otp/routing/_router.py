"""A router in front of a group of servers: pick a member per message, by a strategy."""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Hashable, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeAlias, final

import attrs
import trio

import otp

from ._errors import NoMembers, RoutingDeclarationError
from ._groups import members as group_members
from ._ring import HashRing

__all__ = ["BroadcastResult", "Pick", "Router", "Strategy"]

Ref: TypeAlias = otp.ServerRef[Any, Any]
Pick: TypeAlias = Callable[[Sequence[Ref], Hashable | None], Ref]
"""A user strategy: given the live members (never empty) and the message's key, one of them."""


class Strategy(StrEnum):
    """How a router picks a member.

    Example::

        router = otp.routing.Router(refs, strategy=otp.routing.Strategy.LEAST_LOADED)
    """

    ROUND_ROBIN = "round_robin"
    """Each live member in turn."""
    RANDOM = "random"
    """Any live member, uniformly (from the router's ``random`` source)."""
    LEAST_LOADED = "least_loaded"
    """The live member with the fewest messages waiting in its mailbox (the first on a tie)."""
    CONSISTENT_HASH = "consistent_hash"
    """By the message's ``key`` on a hash ring: one key, one member, while it lives."""


def _identity(ref: Ref) -> str:
    return repr(ref.name) if ref.name is not None else ref.description


@final
@attrs.frozen
class BroadcastResult:
    """Every member's answer to a broadcast: replies and errors, by member.

    Example::

        result = await router.broadcast("flush")
        if not result.ok:
            log.warning("%d of %d failed: %s", len(result.errors), result.total, result.errors)
    """

    replies: Mapping[Ref, Any]
    errors: Mapping[Ref, Exception]

    @property
    def ok(self) -> bool:
        """Whether every member replied."""
        return not self.errors

    @property
    def total(self) -> int:
        """The members the request went to."""
        return len(self.replies) + len(self.errors)

    def summary(self) -> str:
        """One line: how many replied, and each failure's member and error."""
        failures = "; ".join(
            f"{ref.description}: {type(error).__name__}: {error}"
            for ref, error in self.errors.items()
        )
        text = f"{len(self.replies)} of {self.total} replied"
        return f"{text}; failed: {failures}" if failures else text


@final
class Router:
    """Routes calls and casts to one server of a group, by a :class:`Strategy` or your own.

    Members are either a list of refs (named refs, ``otp.named("worker-1")``, follow a
    server across its restarts) or the name of a process group (:func:`join`). A member that
    is not alive is passed over, and comes back once it is (a restarted server under its
    name, or joining its group again). A call that finds its member gone before delivery
    (:class:`otp.NoProc`) goes to another; one that reached its member is never repeated.

    Args:
        members: The refs, or a process group's name (``group=`` style: any hashable).
        strategy: A :class:`Strategy` (or its value) or a callable ``pick(live, key)``.
        name: Its name in errors.
        random: A ``[0, 1)`` source for ``random`` (for tests).
        replicas: Points per member on the ``consistent_hash`` ring.

    Example::

        router = otp.routing.Router([otp.named(f"worker-{n}") for n in range(4)])
        reply = await router.call(("resize", image))
    """

    def __init__(
        self,
        members: Sequence[Ref] | Hashable,
        *,
        strategy: Strategy | str | Pick = Strategy.ROUND_ROBIN,
        name: str = "router",
        random: Callable[[], float] = _random.random,
        replicas: int = 64,
    ) -> None:
        self.name = name
        self._random = random
        self._group: Hashable | None = None
        self._declared: list[Ref] = []
        if isinstance(members, Sequence) and not isinstance(members, str | bytes):
            refs: list[object] = list(members)
            bad = [ref for ref in refs if not isinstance(ref, otp.ServerRef)]
            if bad or not refs:
                msg = (
                    f"Router {name!r}: members must be a non-empty list of otp.ServerRef or a "
                    f"group name (got {members!r})"
                )
                raise RoutingDeclarationError(msg)
            self._declared = list(members)
        else:
            self._group = members
        self._pick_own: Pick | None = None
        if callable(strategy) and not isinstance(strategy, str):
            self.strategy: Strategy | None = None
            self._pick_own = strategy
        else:
            try:
                self.strategy = Strategy(strategy)
            except ValueError:
                choices = ", ".join(s.value for s in Strategy)
                msg = (
                    f"Router {name!r}: strategy must be one of {choices} or a callable "
                    f"(got {strategy!r})"
                )
                raise RoutingDeclarationError(msg) from None
        count: object = replicas
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            msg = f"Router {name!r}: replicas must be an int >= 1 (got {replicas!r})"
            raise RoutingDeclarationError(msg)
        self._replicas = count
        self._turn = 0
        self._ring: HashRing[Ref] | None = None
        self._ring_members: tuple[Ref, ...] = ()

    def __repr__(self) -> str:
        source = f"group {self._group!r}" if self._group is not None else "members"
        how = self.strategy.value if self.strategy is not None else "custom"
        return f"<otp.routing.Router {self.name!r} ({how}, {source})>"

    def members(self) -> list[Ref]:
        """The members alive now.

        Example::

            print(len(router.members()), "workers up")
        """
        if self._group is not None:
            return group_members(self._group)
        return [ref for ref in self._declared if ref.alive]

    def pick(self, key: Hashable | None = None) -> Ref:
        """The member the next message with ``key`` goes to.

        Raises:
            NoMembers: No member is alive (or ``consistent_hash`` got no key).

        Example::

            ref = router.pick(key=user_id)
        """
        return self._pick(key, ())

    def _pick(self, key: Hashable | None, tried: Sequence[Ref]) -> Ref:
        if self._group is None and not tried:
            # The common cases look at the members they pick, not at all of them.
            if self.strategy is Strategy.ROUND_ROBIN:
                refs = self._declared
                for _ in range(len(refs)):
                    ref = refs[self._turn % len(refs)]
                    self._turn += 1
                    if ref.alive:
                        return ref
            elif self.strategy is Strategy.CONSISTENT_HASH and key is not None:
                if self._ring is None:
                    self._ring = HashRing(self._declared, _identity, self._replicas)
                    self._ring_members = tuple(self._declared)
                chosen = self._ring.pick(key, _alive)
                if chosen is not None:
                    return chosen
        live = self.members()
        if tried:
            live = [ref for ref in live if ref not in tried]
        if not live:
            declared = (
                f"group {self._group!r}"
                if self._group is not None
                else f"{len(self._declared)} declared"
            )
            more = f", {len(tried)} tried" if tried else ""
            msg = f"router {self.name!r}: no member is alive ({declared}{more})"
            raise NoMembers(msg)
        strategy = self.strategy
        if strategy is None:
            assert self._pick_own is not None
            chosen = self._pick_own(live, key)
            if chosen not in live:
                msg = f"router {self.name!r}: the strategy picked {chosen!r}, not a live member"
                raise RoutingDeclarationError(msg)
            return chosen
        if strategy is Strategy.ROUND_ROBIN:
            self._turn += 1
            return live[(self._turn - 1) % len(live)]
        if strategy is Strategy.RANDOM:
            return live[min(int(self._random() * len(live)), len(live) - 1)]
        if strategy is Strategy.LEAST_LOADED:
            return min(live, key=_queued)
        if key is None:
            msg = f"router {self.name!r} routes by consistent hash: pass key= with the message"
            raise NoMembers(msg)
        return self._hashed(key, live)

    def _hashed(self, key: Hashable, live: list[Ref]) -> Ref:
        everyone = tuple(self._declared) if self._group is None else tuple(live)
        if self._ring is None or everyone != self._ring_members:
            self._ring = HashRing(everyone, _identity, self._replicas)
            self._ring_members = everyone
        alive = set(live)
        chosen = self._ring.pick(key, alive.__contains__)
        assert chosen is not None  # live is not empty
        return chosen

    async def call(
        self,
        request: object,
        *,
        key: Hashable | None = None,
        timeout: float | None = 5.0,  # noqa: ASYNC109  (each call's, as ServerRef.call's)
    ) -> Any:  # noqa: ANN401
        """Call one member (see :meth:`otp.ServerRef.call`) and return its reply.

        A member gone before the call reached it (:class:`otp.NoProc`) is passed over for
        another; other errors are the call's.

        Example::

            total = await router.call(("add", 2, 3), key="user-7")
        """
        tried: list[Ref] = []
        while True:
            ref = self._pick(key, tried)
            try:
                return await ref.call(request, timeout)
            except otp.NoProc:
                tried.append(ref)

    def cast(self, message: object, *, key: Hashable | None = None) -> Ref:
        """Cast ``message`` to one member; the member it went to.

        Example::

            router.cast(("log", line))
        """
        tried: list[Ref] = []
        while True:
            ref = self._pick(key, tried)
            try:
                ref.cast(message)
            except otp.NoProc:
                tried.append(ref)
            else:
                return ref

    async def broadcast(
        self,
        request: object,
        *,
        timeout: float | None = 5.0,  # noqa: ASYNC109  (each member's call's)
    ) -> BroadcastResult:
        """Call every live member at once; each one's reply or error.

        A member's failure (timeout, crash, gone) is its entry in ``errors``, never the
        broadcast's. With no member alive it raises :class:`NoMembers`.

        Example::

            result = await router.broadcast("stats")
            print(result.summary())
        """
        live = self.members()
        if not live:
            self._pick(None, ())  # raises NoMembers with the message
        replies: dict[Ref, Any] = {}
        errors: dict[Ref, Exception] = {}

        async def one(ref: Ref) -> None:
            try:
                replies[ref] = await ref.call(request, timeout)
            except Exception as exc:  # noqa: BLE001  (a member's failure is its result)
                errors[ref] = exc

        async with trio.open_nursery() as nursery:
            for ref in live:
                nursery.start_soon(one, ref)
        order = {ref: index for index, ref in enumerate(live)}
        return BroadcastResult(
            dict(sorted(replies.items(), key=lambda item: order[item[0]])),
            dict(sorted(errors.items(), key=lambda item: order[item[0]])),
        )


def _alive(ref: Ref) -> bool:
    return ref.alive


def _queued(ref: Ref) -> int:
    try:
        return ref.mailbox_statistics().queued
    except otp.NoProc:
        return 1 << 62  # gone since the members were read: last choice

"""The client load: client tasks calling the tree's servers at a steady total rate.

Calls are issued *open loop*: call number ``i`` goes out in its slot, the ``i``-th
``1 / rate`` seconds of the run, whatever happened to the calls before it, each in a task of
its own, as independent clients would. A closed loop (wait for the reply, then send the next)
would send fewer calls exactly while the tree is in trouble, and so hide the trouble. Each
call has a deadline of ``timeout`` seconds after it is issued, which covers everything it
does: waiting for a server to take a name back after a restart, opening a session, and the
call itself.

Within its slot, a call goes out at a random moment drawn from the client's seeded
generator. Real clients are not synchronised to a grid; and a grid would line calls up with
round-numbered delays (a call's deadline one second later is exactly another call's start),
so that the order of things happening at the same instant would decide outcomes. Trio breaks
ties between equal deadlines by memory address, which differs from one process to the next:
with a grid, two runs with the same seed could differ.

Targets are every named server (called through :func:`otp.named`, waiting for the name during
a restart) and ``sessions`` sessions in each dynamic supervisor whose template is a server
(the ``k``-th session of the pool; a client opens it with ``start_child`` if the pool has
fewer, as a client would open a connection).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, final

import attrs
import trio

import otp

from ._layout import Layout
from ._metrics import CallLog, EventLog, Outcome

__all__ = ["Target", "Workload", "targets_of"]

REQUEST = "ping"
"""What every call asks: bench servers answer ``"pong"``; any reply counts as served."""


class Target(Protocol):
    """Something a client can call."""

    @property
    def path(self) -> str:
        """The injector path of what it calls (a dynamic supervisor's template, for a pool)."""
        ...

    async def call(self, root: otp.Supervisor, changed: trio.lowlevel.ParkingLot) -> object:
        """Make one call (under the caller's deadline) and return the reply."""
        ...


@final
@attrs.frozen
class NamedServer:
    """A server registered under ``name``."""

    path: str
    name: Hashable

    async def call(self, root: otp.Supervisor, changed: trio.lowlevel.ParkingLot) -> object:
        """Call it by name, waiting for the name while the server restarts."""
        # timeout=None: the deadline of the enclosing scope travels with the call.
        return await otp.named(self.name).call(REQUEST, timeout=None, wait_for_name=True)


@final
@attrs.frozen
class PoolSession:
    """The ``index``-th session of the dynamic supervisor at ``pool`` (a path of ids)."""

    path: str
    pool: tuple[Hashable, ...]
    index: int
    opening: trio.Lock = attrs.field(eq=False)

    async def call(self, root: otp.Supervisor, changed: trio.lowlevel.ParkingLot) -> object:
        """Find (or open) the session, waiting while it or its pool restarts; call it."""
        while True:
            pool = _find_pool(root, self.pool)
            if pool is not None:
                sessions = pool.which_children()
                if self.index >= len(sessions):
                    await self._open(pool)
                    continue
                child = sessions[self.index].child
                if child is not None:
                    ref: otp.ServerRef[Any, Any] = child.value
                    return await ref.call(REQUEST, timeout=None)
            await changed.park()  # woken by the next start anywhere in the tree

    async def _open(self, pool: otp.DynamicSupervisor) -> None:
        # One client at a time opens sessions in a pool, so that several clients finding
        # it short do not all open one.
        async with self.opening:
            while pool.running and len(pool.which_children()) <= self.index:
                if await pool.start_child() is None:
                    msg = f"a session of {self.path!r} ignored its start"
                    raise otp.StartError(self.path, RuntimeError(msg), None)


def _find_pool(root: otp.Supervisor, path: tuple[Hashable, ...]) -> otp.DynamicSupervisor | None:
    """The running dynamic supervisor at ``path`` (ids from the root), or ``None``."""
    node: object = root
    for child_id in path:
        if not isinstance(node, otp.Supervisor):
            return None
        try:
            child = node.get_child(child_id)
        except otp.ChildNotFound:
            return None
        if child is None:
            return None  # restarting
        node = child.value
    if isinstance(node, otp.DynamicSupervisor) and node.running:
        return node
    return None


def targets_of(layout: Layout, *, sessions: int) -> list[Target]:
    """Every target of the workload, in tree order.

    Example::

        targets = targets_of(layout_of(default_tree()), sessions=4)
    """
    targets: list[Target] = []
    pools = {pool.template_path: pool for pool in layout.pools}
    for info in layout.paths:
        if info.kind != "server":
            continue
        if info.template:
            pool = pools.get(info.path)
            if pool is None or sessions == 0:
                continue
            ids = tuple(_ids(pool.path, layout))
            opening = trio.Lock()
            targets.extend(PoolSession(info.path, ids, k, opening) for k in range(sessions))
        elif info.server_name is not None:
            targets.append(NamedServer(info.path, info.server_name))
    return targets


def _ids(path: str, layout: Layout) -> list[Hashable]:
    """The child ids along ``path``, as the specs spell them (ids may be ints in a file)."""
    parts = path.split("/")
    return [_id_of(layout, "/".join(parts[: depth + 1]), part) for depth, part in enumerate(parts)]


def _id_of(layout: Layout, prefix: str, fallback: str) -> Hashable:
    info = layout.info(prefix)
    return info.child_id if info is not None else fallback


@final
class Workload:
    """``clients`` tasks issuing ``rate`` calls per second in total for ``duration`` seconds.

    Each client draws the moment of each call within its slot, and its target, from a
    random generator seeded with the run's seed and its own number: a seed fixes both.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        rate: float,
        duration: float,
        timeout: float,
        clients: int,
        seed: int,
        events: EventLog,
        on_progress: Callable[[float], None],
    ) -> None:
        self.targets = tuple(targets)
        self.rate = rate
        self.timeout = timeout
        self.clients = clients
        self.seed = seed
        self.events = events
        self.on_progress = on_progress
        # One call per slot of 1 / rate seconds that starts before the end. Rounded first,
        # so that 20 s at 200 calls/s is 4000 calls rather than 4001 by a float's error.
        self.total = max(0, math.ceil(round(duration * rate, 9)))
        self.log = CallLog([target.path for target in self.targets])

    async def run(self, root: otp.Supervisor, start: float) -> None:
        """Issue every call, then wait for the last ones to end (within their timeout)."""
        async with trio.open_nursery() as nursery:
            for client in range(min(self.clients, self.total)):
                nursery.start_soon(self._client, root, start, client, name=f"bench.client-{client}")

    async def _client(self, root: otp.Supervisor, start: float, client: int) -> None:
        rng = random.Random(f"{self.seed}:client:{client}")
        async with trio.open_nursery() as calls:
            for number in range(client, self.total, self.clients):
                # A random moment in the call's slot (see the module docstring).
                await trio.sleep_until(start + (number + rng.random()) / self.rate)
                index = rng.randrange(len(self.targets))
                calls.start_soon(self._call, root, index)
                if client == 0:
                    self.on_progress(trio.current_time() - start)

    async def _call(self, root: otp.Supervisor, index: int) -> None:
        target = self.targets[index]
        issued = trio.current_time()
        outcome = Outcome.TIMED_OUT
        error: str | None = None
        try:
            with trio.move_on_at(issued + self.timeout):
                await target.call(root, self.events.changed)
                outcome = Outcome.SERVED
        except otp.CallTimeout:
            outcome = Outcome.TIMED_OUT
        except Exception as exc:  # noqa: BLE001  (every other error is a failed call, by type)
            outcome = Outcome.FAILED
            error = type(exc).__name__
        self.log.record(issued, trio.current_time(), index, outcome, error)

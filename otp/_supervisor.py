"""The static supervisor: start order, strategies, the admin API, shutdown order.

Step two and three of the path of a crash: a child's exit reaches :meth:`Supervisor._handle`
(through the inbox of :mod:`otp._supervising`), the child's restart type decides whether it is
restarted, :mod:`otp._intensity` whether the supervisor may, :mod:`otp._backoff` when, and the
strategy which siblings go with it. If the supervisor may not, it gives up: it stops its
children and raises :class:`otp.RestartIntensityExceeded` to its own parent, which sees an
ordinary, shutdown-class exit of one of its children (step four, one level up).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import Any, final

import attrs
import trio

from ._backoff import Backoff
from ._burst import ReportLimit
from ._child import Child
from ._exceptions import (
    ChildAlreadyPresent,
    ChildAlreadyStarted,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildSpecError,
    StartError,
)
from ._exit import ExitKind, ExitReason
from ._flags import (
    DEFAULT_REPORT_LIMIT,
    AutoShutdown,
    AutoShutdownLike,
    RandomSource,
    Strategy,
    StrategyLike,
    SupervisorFlags,
    check_hooks,
    make_flags,
)
from ._liveness import ChildHung
from ._reports import Hook
from ._spec import (
    INFINITY,
    ChildSpec,
    ChildType,
    Restart,
    RestartLike,
    ShutdownLike,
    _got,
    check_child_specs,
)
from ._supervising import (
    ChildCounts,
    ChildInfo,
    ChildState,
    Due,
    Hung,
    Pending,
    StartFailure,
    SupervisorBase,
    default_name,
    running_in_block,
)

__all__ = ["Supervisor", "open_supervisor", "supervisor", "supervisor_spec"]


def _require_spec(supervisor: str, spec: object) -> None:
    if not isinstance(spec, ChildSpec):
        msg = f"supervisor {supervisor!r}: start_child takes a ChildSpec (got {_got(spec)})"
        raise ChildSpecError(msg)


class _Slot:
    """One child spec held by a static supervisor, with its running child, if any."""

    __slots__ = ("attempt", "child", "pending", "spec", "state", "task_name")

    def __init__(self, spec: ChildSpec, supervisor: str) -> None:
        self.spec = spec
        self.child: Child | None = None
        self.state = ChildState.STOPPED
        self.pending: Pending | None = None
        self.attempt = 0
        self.task_name = f"otp.child:{supervisor}/{spec.id}"


@final
class Supervisor(SupervisorBase):
    """A running static supervisor: what :func:`supervisor` passes to ``task_status.started``.

    Admin calls are serialised with the supervisor's handling of exits, as in Erlang/OTP.
    Reads (``which_children``, ``count_children``, ``get_childspec``, ``get_child``) are
    synchronous snapshots.

    Example::

        async def main():
            async with trio.open_nursery() as nursery:
                sup = await nursery.start(otp.supervisor, [otp.ChildSpec("db", db_worker)])
                await sup.start_child(otp.ChildSpec("web", web_worker))
                print([info.id for info in sup.which_children()])   # ['web', 'db']
                await sup.stop()
    """

    _slots: dict[Hashable, _Slot]
    _initial: tuple[ChildSpec, ...]

    def __init__(self) -> None:
        msg = "otp.Supervisor has no public constructor; use otp.supervisor or open_supervisor"
        raise TypeError(msg)

    @classmethod
    def _create(
        cls,
        name: str,
        children: tuple[ChildSpec, ...],
        flags: SupervisorFlags,
        hooks: Sequence[Hook],
        random: RandomSource | None,
    ) -> Supervisor:
        self = object.__new__(cls)
        self._init_base(name, flags, hooks, random)
        self._slots = {}
        self._initial = children
        return self

    def __repr__(self) -> str:
        return (
            f"<otp.Supervisor {self.name!r} {self._flags.strategy.value} "
            f"({len(self._slots)} children, {self._state.value})>"
        )

    # --- admin API ------------------------------------------------------------------------

    async def start_child(self, spec: ChildSpec) -> Child | None:
        """Add a child spec at the end of the start order and start it.

        Returns the running :class:`Child`, or ``None`` if the child raised
        :class:`otp.Ignore` (its spec is then kept, unless it is temporary).

        Raises:
            ChildAlreadyStarted: A running child has this id (``exc.child`` is it).
            ChildAlreadyPresent: A child that is not running has this id: stopped (use
                :meth:`restart_child`), or waiting for its restart, as Erlang's
                ``already_present``.
            StartError: The child failed to start (the cause is ``__cause__``); the spec is
                not kept.
            SupervisorNotRunning: The supervisor is stopping or stopped.

        Example::

            child = await sup.start_child(otp.ChildSpec("cache", cache_worker))
        """
        _require_spec(self.name, spec)
        if spec.significant and self._flags.auto_shutdown is AutoShutdown.NEVER:
            check_child_specs([spec], supervisor=self.name)
        self._check_caller()
        async with self._lock:
            self._check_running()
            slot = self._slots.get(spec.id)
            if slot is not None:
                if slot.child is not None:
                    msg = f"supervisor {self.name!r}: child {spec.id!r} is already started"
                    raise ChildAlreadyStarted(msg, slot.child)
                # Erlang's already_present covers a child waiting for its restart too.
                if slot.state is ChildState.RESTARTING:
                    msg = (
                        f"supervisor {self.name!r}: child {spec.id!r} is already present "
                        "(waiting for its restart); terminate_child() and delete_child() it "
                        "first to replace its spec"
                    )
                else:
                    msg = (
                        f"supervisor {self.name!r}: child {spec.id!r} is already present "
                        "(stopped); use restart_child() to start it, or delete_child() first"
                    )
                raise ChildAlreadyPresent(msg)
            slot = _Slot(spec, self.name)
            self._slots[spec.id] = slot
            completed = False
            try:
                child = await self._start_slot(slot, restart=False)
                completed = True
            except StartFailure as failure:
                raise StartError(spec.id, failure.cause, spec) from failure.cause
            finally:
                if not completed and self._slots.get(spec.id) is slot:
                    del self._slots[spec.id]  # failed or cancelled: the spec is not kept
            return child

    async def terminate_child(self, child_id: Hashable) -> None:
        """Stop a child within its shutdown limit; keep its spec (unless temporary).

        A child that is not running is fine (nothing to do); a pending restart is cancelled
        at once. Never charged to the restart intensity, never triggers ``auto_shutdown``.

        Raises:
            ChildNotFound: No child has this id.

        Example::

            await sup.terminate_child("cache")
            await sup.restart_child("cache")
        """
        self._check_caller()
        async with self._lock:
            self._check_running()
            slot = self._slot(child_id)
            if slot.child is not None:
                await self._stop_slot(slot)
                return
            self._detach(slot)
            slot.state = ChildState.STOPPED

    async def restart_child(self, child_id: Hashable) -> Child | None:
        """Start a stopped child again from its spec (not charged to the intensity).

        Returns the running :class:`Child`, or ``None`` if it ignored its start.

        Raises:
            ChildNotFound: No child has this id.
            ChildRunning: It is running.
            ChildRestarting: It is waiting for its restart.
            StartError: It failed to start; it stays stopped and is not retried.

        Example::

            await sup.terminate_child("cache")
            child = await sup.restart_child("cache")
        """
        self._check_caller()
        async with self._lock:
            self._check_running()
            slot = self._slot(child_id)
            self._check_stopped(slot)
            self._detach(slot)  # a sibling waiting in a group restart: started now instead
            try:
                return await self._start_slot(slot, restart=True)
            except StartFailure as failure:
                slot.state = ChildState.STOPPED
                raise StartError(child_id, failure.cause, slot.spec) from failure.cause

    async def delete_child(self, child_id: Hashable) -> None:
        """Forget a stopped child's spec.

        Raises:
            ChildNotFound: No child has this id.
            ChildRunning: It is running; terminate it first.
            ChildRestarting: It is waiting for its restart.

        Example::

            await sup.terminate_child("cache")
            await sup.delete_child("cache")
        """
        self._check_caller()
        async with self._lock:
            self._check_running()
            slot = self._slot(child_id)
            self._check_stopped(slot)
            self._detach(slot)
            del self._slots[child_id]

    def which_children(self) -> list[ChildInfo]:
        """Every child, newest first (Erlang's order: reverse start order).

        Example::

            >>> [(info.id, info.state.value) for info in sup.which_children()]
            [('web', 'running'), ('db', 'restarting')]
        """
        return [
            ChildInfo(slot.spec.id, slot.child, slot.state, slot.spec.type)
            for slot in reversed(self._slots.values())
        ]

    def count_children(self) -> ChildCounts:
        """Counts of specs, running children, supervisors and workers.

        Example::

            assert sup.count_children().active == 2
        """
        active = supervisors = 0
        for slot in self._slots.values():
            if slot.child is not None:
                active += 1
            if slot.spec.type is ChildType.SUPERVISOR:
                supervisors += 1
        specs = len(self._slots)
        return ChildCounts(specs, active, supervisors, specs - supervisors)

    def get_childspec(self, child_id: Hashable) -> ChildSpec:
        """The spec of the child with this id.

        Raises:
            ChildNotFound: No child has this id.

        Example::

            assert sup.get_childspec("db").restart is otp.Restart.PERMANENT
        """
        return self._slot(child_id).spec

    def get_child(self, child_id: Hashable) -> Child | None:
        """The running :class:`Child` with this id, or ``None`` if it is not running.

        Raises:
            ChildNotFound: No child has this id.

        Example::

            conn = sup.get_child("db").value
        """
        return self._slot(child_id).child

    # --- lookups and checks -----------------------------------------------------------------

    def _slot(self, child_id: Hashable) -> _Slot:
        try:
            return self._slots[child_id]
        except (KeyError, TypeError):
            msg = f"supervisor {self.name!r} has no child {child_id!r}"
            raise ChildNotFound(msg) from None

    def _holds(self, slot: _Slot) -> bool:
        """Whether ``slot`` is still one of ours (a temporary child's goes when it stops)."""
        return self._slots.get(slot.spec.id) is slot

    def _check_stopped(self, slot: _Slot) -> None:
        if slot.child is not None:
            msg = f"supervisor {self.name!r}: child {slot.spec.id!r} is running"
            raise ChildRunning(msg)
        if slot.state is ChildState.RESTARTING:
            msg = f"supervisor {self.name!r}: child {slot.spec.id!r} is restarting"
            raise ChildRestarting(msg)

    def _size(self) -> int:
        return sum(1 for slot in self._slots.values() if slot.child is not None)

    def _spec_of(self, failure: StartFailure) -> ChildSpec | None:
        slot = self._slots.get(failure.child_id)
        return slot.spec if slot is not None else None

    # --- starting and stopping slots --------------------------------------------------------

    async def _start_initial_children(self) -> None:
        for spec in self._initial:
            slot = _Slot(spec, self.name)
            self._slots[spec.id] = slot
            await self._start_slot(slot, restart=False)

    async def _start_slot(self, slot: _Slot, *, restart: bool) -> Child | None:
        spec = slot.spec
        child = await self._start_child_task(
            spec, spec.args, restart=restart, task_name=slot.task_name
        )
        if child is None:  # ignored its start
            slot.state = ChildState.STOPPED
            if spec.restart is Restart.TEMPORARY:
                self._slots.pop(spec.id, None)
            return None
        slot.child = child
        slot.state = ChildState.RUNNING
        return child

    async def _stop_slot(self, slot: _Slot) -> ExitReason:
        """Terminate a slot's running child; a temporary child's spec goes with it."""
        child = slot.child
        assert child is not None
        slot.child = None
        slot.state = ChildState.STOPPED
        child._handled = True
        if slot.spec.restart is Restart.TEMPORARY:
            self._slots.pop(slot.spec.id, None)
        return await self._terminate(child)

    async def _shutdown_children(self) -> None:
        for slot in reversed(list(self._slots.values())):
            if slot.child is not None:
                await self._stop_slot(slot)

    # --- the loop: exits and pending restarts ----------------------------------------------

    async def _handle(self, message: Any) -> bool:  # noqa: ANN401
        if isinstance(message, Child):
            return await self._handle_exit(message)
        if isinstance(message, Hung):
            return await self._handle_hung(message.child, message.error)
        assert isinstance(message, Due)
        await self._perform(message.pending)
        return False

    async def _handle_exit(self, child: Child) -> bool:
        if child._handled:
            return False  # already dealt with (terminated while its exit was queued)
        child._handled = True
        slot = self._slots.get(child.id)
        if slot is None or slot.child is not child:
            return False
        assert child.exit is not None
        return await self._after_exit(slot, child, child.exit)

    async def _handle_hung(self, child: Child, error: ChildHung) -> bool:
        if child._handled or child.exit is not None:
            return False  # it ended meanwhile; its own exit is (or was) handled
        slot = self._slots.get(child.id)
        if slot is None or slot.child is not child:
            return False
        child._handled = True
        return await self._after_exit(slot, child, ExitReason(ExitKind.HUNG, error), hung=True)

    async def _after_exit(
        self, slot: _Slot, child: Child, reason: ExitReason, *, hung: bool = False
    ) -> bool:
        """A child ended (or hung): report it, then restart per the spec and strategy."""
        spec = slot.spec
        restarting = spec.restart.restarts_after(reason)
        self._report_exit(child, reason, restarting=restarting)
        slot.child = None
        if hung:
            # Stop it under its shutdown rules before anything is restarted in its place.
            slot.state = ChildState.RESTARTING if restarting else ChildState.STOPPED
            await self._terminate(child)
        if not restarting:
            slot.state = ChildState.STOPPED
            if spec.restart is Restart.TEMPORARY:
                del self._slots[spec.id]
            return spec.significant and self._auto_shutdown_due()
        slot.state = ChildState.RESTARTING
        await self._restart(slot, reason, started_at=child.started_at)
        return False

    def _auto_shutdown_due(self) -> bool:
        mode = self._flags.auto_shutdown
        if mode is AutoShutdown.NEVER:
            return False
        if mode is AutoShutdown.ANY_SIGNIFICANT:
            return True
        # A sibling waiting in a group restart shows `stopped` but is coming back.
        return not any(
            slot.spec.significant
            and (slot.state is not ChildState.STOPPED or slot.pending is not None)
            for slot in self._slots.values()
        )

    def _group(self, leader: _Slot) -> list[_Slot]:
        """The slots restarted with ``leader``, in start order."""
        strategy = self._flags.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            return [leader]
        slots = list(self._slots.values())
        if strategy is Strategy.ONE_FOR_ALL:
            return slots
        return slots[slots.index(leader) :]

    async def _restart(
        self, leader: _Slot, reason: ExitReason, *, started_at: float | None
    ) -> None:
        """Restart ``leader`` and its group per the strategy: charge, stop, then start."""
        self._charge(leader.spec.id, reason)
        group = self._group(leader)
        for member in reversed(group):
            if member.child is not None:
                await self._stop_slot(member)
        members = [member for member in group if self._holds(member)]
        for member in members:
            self._detach(member)
            # As in Erlang, only the child being restarted is `restarting`; the siblings
            # stopped with it are `stopped` (pid undefined) until they are started again.
            member.state = ChildState.RESTARTING if member is leader else ChildState.STOPPED
        delay = self._backoff_delay(leader, started_at)
        if delay > 0:
            self._defer(leader, members, delay)
            return
        await self._start_members(members)

    async def _start_members(self, members: list[_Slot]) -> None:
        for index, member in enumerate(members):
            try:
                await self._start_slot(member, restart=True)
            except StartFailure as failure:
                await self._restart_failed(member, members, index, failure)
                return

    async def _restart_failed(
        self, failed: _Slot, members: list[_Slot], index: int, failure: StartFailure
    ) -> None:
        """A restart attempt failed: charge it and queue a retry (Erlang's ``try_again``).

        one_for_all stops the members it already restarted and retries the whole group;
        rest_for_one retries from the failed child; one_for_one retries the child.
        """
        strategy = self._flags.strategy
        if strategy is Strategy.ONE_FOR_ALL:
            for started in reversed(members[:index]):
                if started.child is not None:
                    await self._stop_slot(started)
        failed.state = ChildState.RESTARTING
        self._charge(failed.spec.id, ExitReason(ExitKind.ABNORMAL, failure.cause))
        retry = [member for member in self._group(failed) if member.child is None]
        for member in retry:
            self._detach(member)
            member.state = ChildState.RESTARTING if member is failed else ChildState.STOPPED
        self._defer(failed, retry, self._backoff_delay(failed, None))

    def _defer(self, leader: _Slot, members: list[_Slot], delay: float) -> None:
        pending = Pending(leader, members)
        for member in members:
            member.pending = pending
        group = tuple(member.spec.id for member in members)
        self._schedule(pending, delay, leader.spec.id, group)

    async def _perform(self, pending: Pending) -> None:
        self._pending.discard(pending)
        if pending.scope.cancel_called:
            return
        members: list[_Slot] = [
            member
            for member in pending.members
            if member.pending is pending and self._holds(member)
        ]
        for member in members:
            member.pending = None
        if members:
            await self._start_members(members)

    def _detach(self, slot: _Slot) -> None:
        """Take ``slot`` out of its pending restart; cancel that restart if it is now empty."""
        pending = slot.pending
        if pending is None:
            return
        slot.pending = None
        if not any(member.pending is pending for member in pending.members):
            self._cancel_pending(pending)


async def supervisor(
    children: Sequence[ChildSpec] = (),
    *,
    strategy: StrategyLike = Strategy.ONE_FOR_ONE,
    intensity: int = 3,
    period: float = 5.0,
    backoff: Backoff | None = None,
    auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
    name: str | None = None,
    hooks: Sequence[Hook] = (),
    random: RandomSource | None = None,
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
    task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a static supervisor: start ``children`` in order, then keep them running.

    Start it with ``nursery.start``; it passes its :class:`Supervisor` handle to
    ``task_status.started()`` once every child has started (children start one at a time,
    in list order, each finishing its init before the next begins). Options are keyword-only,
    so pass them with :func:`functools.partial`, as for any Trio start-able function.

    It runs until it is cancelled (its children are then stopped one by one in reverse start
    order, each within its shutdown limit), :meth:`Supervisor.stop` is called, significant
    children trigger ``auto_shutdown``, or it gives up.

    Args:
        children: The child specs, in start order (see :class:`ChildSpec`).
        strategy: ``"one_for_one"`` (default), ``"one_for_all"`` or ``"rest_for_one"``.
        intensity: Restarts allowed within any ``period`` seconds. Defaults to 3.
        period: The intensity window in seconds. Defaults to 5.
        backoff: An optional :class:`Backoff` delaying each restart.
        auto_shutdown: ``"never"`` (default), ``"any_significant"`` or ``"all_significant"``.
        name: A name for reports; defaults to its path in the tree (``"root/workers"``).
        hooks: Callables that receive every :class:`SupervisorEvent`. Nested supervisors
            inherit them, so a hook on the root hears the whole tree.
        random: A source of floats in ``[0, 1)`` for the backoff jitter (``random.random``
            by default); pass a seeded one for reproducible runs.
        report_limit: How many child reports it logs per window before it summarises the
            rest (:class:`ReportLimit`, 100 a second by default); ``None`` logs them all.
            Hooks always get every event.
        task_status: Given by ``nursery.start``.

    Raises:
        ChildSpecError: A child spec or flag is invalid (before anything starts).
        StartError: A child failed to start; the children already started were stopped in
            reverse order.
        RestartIntensityExceeded: It gave up (after stopping all its children).

    Example::

        async def main():
            children = [otp.ChildSpec("db", db_worker), otp.ChildSpec("web", web_worker)]
            async with trio.open_nursery() as nursery:
                sup = await nursery.start(
                    functools.partial(otp.supervisor, children, strategy="rest_for_one")
                )
                ...
    """
    sup_name = default_name(name, "supervisor")
    hooks = check_hooks(name, hooks)
    flags = make_flags(
        sup_name,
        strategy=strategy,
        intensity=intensity,
        period=period,
        backoff=backoff,
        auto_shutdown=auto_shutdown,
        random=random,
        report_limit=report_limit,
    )
    specs = check_child_specs(children, auto_shutdown=flags.auto_shutdown, supervisor=sup_name)
    sup = Supervisor._create(sup_name, specs, flags, hooks, random)
    await sup._run(task_status)


@asynccontextmanager
async def open_supervisor(
    children: Sequence[ChildSpec] = (),
    *,
    strategy: StrategyLike = Strategy.ONE_FOR_ONE,
    intensity: int = 3,
    period: float = 5.0,
    backoff: Backoff | None = None,
    auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
    name: str | None = None,
    hooks: Sequence[Hook] = (),
    random: RandomSource | None = None,
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
) -> AsyncIterator[Supervisor]:
    """Run a static supervisor for the duration of an ``async with`` block.

    The block starts once every child has started. When the block ends, the supervisor
    stops its children in reverse start order and the ``async with`` waits for that. Like a
    nursery, errors come out as an exception group: the block's own, and
    :class:`RestartIntensityExceeded` if the supervisor gave up (which also cancels the
    block). A failed start (:class:`StartError`, :class:`ChildSpecError`) is raised as is,
    since nothing else runs yet. Arguments are those of :func:`supervisor`.

    Example::

        async with otp.open_supervisor([otp.ChildSpec("db", db_worker)]) as sup:
            conn = sup.get_child("db").value
            await serve(conn)
    """
    start = functools.partial(
        supervisor,
        children,
        strategy=strategy,
        intensity=intensity,
        period=period,
        backoff=backoff,
        auto_shutdown=auto_shutdown,
        name=name,
        hooks=hooks,
        random=random,
        report_limit=report_limit,
    )
    async with running_in_block(start) as sup:
        assert isinstance(sup, Supervisor)
        yield sup


@final
@attrs.frozen
class NestedSupervisor:
    """The ``start`` of a supervisor's own child spec: runs :func:`supervisor` with its flags.

    Built by :func:`supervisor_spec`; the children and flags stay readable, so a tree of specs
    is plain data all the way down.
    """

    children: tuple[ChildSpec, ...]
    flags: SupervisorFlags
    name: str | None = None
    hooks: tuple[Hook, ...] = ()
    random: RandomSource | None = attrs.field(default=None, eq=False)

    async def __call__(self, *, task_status: trio.TaskStatus[Supervisor]) -> None:
        """Run the nested supervisor (called by its parent)."""
        flags = self.flags
        await supervisor(
            self.children,
            strategy=flags.strategy,
            intensity=flags.intensity,
            period=flags.period,
            backoff=flags.backoff,
            auto_shutdown=flags.auto_shutdown,
            name=self.name,
            hooks=self.hooks,
            random=self.random,
            report_limit=flags.report_limit,
            task_status=task_status,
        )


def supervisor_spec(
    id: Hashable,  # noqa: A002
    children: Sequence[ChildSpec] = (),
    *,
    strategy: StrategyLike = Strategy.ONE_FOR_ONE,
    intensity: int = 3,
    period: float = 5.0,
    backoff: Backoff | None = None,
    auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
    restart: RestartLike = Restart.PERMANENT,
    shutdown: ShutdownLike = INFINITY,
    significant: bool = False,
    name: str | None = None,
    hooks: Sequence[Hook] = (),
    random: RandomSource | None = None,
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
) -> ChildSpec:
    """The child spec of a nested static supervisor, so a whole tree is one list of specs.

    The nested supervisor's flags and children are validated here, at declaration. Its
    ``type`` is ``"supervisor"`` and its ``shutdown`` defaults to :data:`INFINITY`.

    Example::

        tree = [
            otp.ChildSpec("config", config_server),
            otp.supervisor_spec(
                "workers",
                [otp.ChildSpec(f"w{i}", worker, (i,)) for i in range(4)],
                strategy="one_for_one",
                intensity=10,
            ),
        ]
        sup = await nursery.start(functools.partial(otp.supervisor, tree, strategy="rest_for_one"))
    """
    where = name if name is not None else str(id)
    hooks = check_hooks(name, hooks, label=where)
    flags = make_flags(
        where,
        strategy=strategy,
        intensity=intensity,
        period=period,
        backoff=backoff,
        auto_shutdown=auto_shutdown,
        random=random,
        report_limit=report_limit,
    )
    specs = check_child_specs(children, auto_shutdown=flags.auto_shutdown, supervisor=where)
    start = NestedSupervisor(specs, flags, name, tuple(hooks), random)
    return ChildSpec(
        id,
        start,
        restart=restart,
        shutdown=shutdown,
        type=ChildType.SUPERVISOR,
        significant=significant,
    )

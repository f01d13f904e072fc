"""The dynamic supervisor: one template spec, many children started on demand.

Erlang's ``simple_one_for_one`` (Elixir's ``DynamicSupervisor``): no children at start;
``start_child(*extra_args)`` starts one more from the template, with the template's args
followed by the extra ones. Each child is restarted on its own (one_for_one) with the args it
was started with. On shutdown all children are stopped at once, with one shared timer.

Use a static :func:`otp.supervisor` for a fixed set of different children that depend on
each other; use a dynamic one for many instances of the same child that come and go (one per
connection, job or session).
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
    ChildNotFound,
    ChildSpecError,
    MaxChildrenReached,
    StartError,
)
from ._exit import ExitKind, ExitReason
from ._flags import (
    DEFAULT_REPORT_LIMIT,
    AutoShutdown,
    AutoShutdownLike,
    RandomSource,
    SupervisorFlags,
    check_hooks,
    make_flags,
)
from ._liveness import ChildHung
from ._reports import Hook
from ._spec import INFINITY, ChildSpec, ChildType, Restart, RestartLike, ShutdownLike, _got
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

__all__ = [
    "DynamicSupervisor",
    "dynamic_supervisor",
    "dynamic_supervisor_spec",
    "open_dynamic_supervisor",
]


class _Entry:
    """One child of a dynamic supervisor, across its restarts."""

    __slots__ = ("args", "attempt", "child", "last", "pending", "state")

    def __init__(self, args: tuple[object, ...], child: Child) -> None:
        self.args = args
        self.child: Child | None = child
        self.last = child  # the latest incarnation, running or not
        self.state = ChildState.RUNNING
        self.pending: Pending | None = None
        self.attempt = 0
        child._slot = self


@final
class DynamicSupervisor(SupervisorBase):
    """A running dynamic supervisor: what :func:`dynamic_supervisor` passes to ``started``.

    Example::

        template = otp.ChildSpec("conn", handle_connection, restart="temporary")
        async with otp.open_dynamic_supervisor(template, max_children=1000) as pool:
            child = await pool.start_child(stream)      # handle_connection(stream)
            ...
            await pool.terminate_child(child)
    """

    _template: ChildSpec
    _entries: dict[_Entry, None]  # an ordered set
    _by_value: dict[int, _Entry]
    _task_name: str

    def __init__(self) -> None:
        msg = (
            "otp.DynamicSupervisor has no public constructor; use otp.dynamic_supervisor or "
            "open_dynamic_supervisor"
        )
        raise TypeError(msg)

    @classmethod
    def _create(
        cls,
        name: str,
        template: ChildSpec,
        flags: SupervisorFlags,
        hooks: Sequence[Hook],
        random: RandomSource | None,
    ) -> DynamicSupervisor:
        self = object.__new__(cls)
        self._init_base(name, flags, hooks, random)
        self._template = template
        self._entries = {}
        self._by_value = {}
        self._task_name = f"otp.child:{name}/{template.id}"
        return self

    def __repr__(self) -> str:
        return (
            f"<otp.DynamicSupervisor {self.name!r} ({len(self._entries)} children, "
            f"{self._state.value})>"
        )

    @property
    def template(self) -> ChildSpec:
        """The template child spec."""
        return self._template

    # --- admin API ------------------------------------------------------------------------

    async def start_child(self, *extra_args: object) -> Child | None:
        """Start one more child: ``template.start(*template.args, *extra_args)``.

        Returns the running :class:`Child`, or ``None`` if it raised :class:`otp.Ignore`
        (nothing is kept).

        Raises:
            MaxChildrenReached: ``max_children`` children are running or restarting.
            StartError: The child failed to start (``exc.spec`` is ``None``, as in Erlang).
            SupervisorNotRunning: The supervisor is stopping or stopped.

        Example::

            child = await pool.start_child(client_stream)
        """
        self._check_caller()
        async with self._lock:
            self._check_running()
            limit = self._flags.max_children
            if limit is not None and len(self._entries) >= limit:
                msg = f"supervisor {self.name!r} already runs max_children={limit} children"
                raise MaxChildrenReached(msg)
            template = self._template
            args = template.args + extra_args if extra_args else template.args
            try:
                child = await self._start_child_task(
                    template, args, restart=False, task_name=self._task_name
                )
            except StartFailure as failure:
                raise StartError(template.id, failure.cause, None) from failure.cause
            if child is not None:
                self._add(_Entry(args, child))
            return child

    async def terminate_child(self, child: Child | object) -> None:
        """Stop one child, given its :class:`Child` handle or its started value.

        The value is the very object the child passed to ``task_status.started()`` (compared
        by identity, as a handle is: two children may well pass equal values). A pending restart of
        the child is cancelled at once. A handle of a child that has already ended is fine
        (nothing to do), as in Erlang.

        Raises:
            ChildNotFound: No running child of this supervisor has this handle or value
                (dynamic children are identified by handle, not by id).

        Example::

            child = await pool.start_child(job)
            await pool.terminate_child(child)
        """
        self._check_caller()
        async with self._lock:
            self._check_running()
            entry = self._find(child)
            if entry is None:
                return
            self._remove(entry)
            if entry.pending is not None:
                self._cancel_pending(entry.pending)
                entry.pending = None
            running = entry.child
            if running is not None:
                entry.child = None
                running._handled = True
                await self._terminate(running)

    def which_children(self) -> list[ChildInfo]:
        """Every child (running or restarting), oldest first; ``id`` is the template's.

        Example::

            running = [info.child for info in pool.which_children() if info.child]
        """
        template = self._template
        return [
            ChildInfo(template.id, entry.child, entry.state, template.type)
            for entry in self._entries
        ]

    def count_children(self) -> ChildCounts:
        """Counts: ``specs`` is 1, ``active`` the running children.

        ``workers`` (or ``supervisors``, by the template's type) counts all children,
        restarting ones included, as in Erlang.

        Example::

            assert pool.count_children().active <= pool.count_children().workers
        """
        total = len(self._entries)
        restarting = sum(1 for entry in self._entries if entry.child is None)
        if self._template.type is ChildType.SUPERVISOR:
            return ChildCounts(1, total - restarting, total, 0)
        return ChildCounts(1, total - restarting, 0, total)

    def get_childspec(self, child: Child | object) -> ChildSpec:
        """The spec of one child, given its :class:`Child` handle or its started value.

        As Erlang's ``get_childspec(Sup, Pid)``: the template with this child's arguments
        (the template's, then the extra arguments its ``start_child`` got). The template
        itself is :attr:`template`.

        Raises:
            ChildNotFound: No child of this supervisor has this handle or value (any more).

        Example::

            child = await pool.start_child(conn)
            assert pool.get_childspec(child).args == (*pool.template.args, conn)
        """
        entry = self._find(child)
        if entry is None:
            msg = f"supervisor {self.name!r} has no child {child!r} any more (it has ended)"
            raise ChildNotFound(msg)
        if entry.args is self._template.args:
            return self._template
        return attrs.evolve(self._template, args=entry.args)

    # --- bookkeeping ------------------------------------------------------------------------

    def _add(self, entry: _Entry) -> None:
        self._entries[entry] = None
        self._index(entry)

    def _index(self, entry: _Entry) -> None:
        child = entry.child
        if child is not None and child.value is not None:
            self._by_value[id(child.value)] = entry

    def _unindex(self, child: Child) -> None:
        if child.value is not None and self._by_value.get(id(child.value)) is child._slot:
            del self._by_value[id(child.value)]

    def _remove(self, entry: _Entry) -> None:
        self._entries.pop(entry, None)
        self._unindex(entry.last)
        entry.last._slot = None  # no cycle between an ended child and its entry

    def _find(self, handle: object) -> _Entry | None:
        """The entry for a handle or value; ``None`` for a handle that has already ended."""
        if isinstance(handle, Child):
            entry = handle._slot
            if handle.supervisor is self and entry in self._entries and entry.last is handle:
                return entry  # type: ignore[no-any-return]
            if handle.exit is not None:
                return None
            msg = f"supervisor {self.name!r} has no running child {handle!r}"
            raise ChildNotFound(msg)
        entry = self._by_value.get(id(handle))
        if entry is not None and entry.child is not None and entry.child.value is handle:
            return entry
        msg = (
            f"supervisor {self.name!r} has no running child whose handle or started value is "
            f"{handle!r}; dynamic supervisors identify children by handle, not by id"
        )
        raise ChildNotFound(msg)

    def _size(self) -> int:
        return len(self._entries)

    def _spec_of(self, failure: StartFailure) -> ChildSpec | None:
        return None

    # --- the loop -----------------------------------------------------------------------------

    async def _start_initial_children(self) -> None:
        return

    async def _handle(self, message: Any) -> bool:  # noqa: ANN401
        if isinstance(message, Child):
            return await self._handle_exit(message)
        if isinstance(message, Hung):
            return await self._handle_hung(message.child, message.error)
        assert isinstance(message, Due)
        pending = message.pending
        self._pending.discard(pending)
        entry: _Entry = pending.leader
        if pending.scope.cancel_called or entry.pending is not pending:
            return False
        entry.pending = None
        await self._restart_entry(entry)
        return False

    async def _handle_exit(self, child: Child) -> bool:
        if child._handled:
            return False
        child._handled = True
        entry: _Entry = child._slot
        if entry not in self._entries or entry.child is not child:
            return False
        assert child.exit is not None
        return await self._after_exit(entry, child, child.exit)

    async def _handle_hung(self, child: Child, error: ChildHung) -> bool:
        if child._handled or child.exit is not None:
            return False  # it ended meanwhile; its own exit is (or was) handled
        entry: _Entry = child._slot
        if entry not in self._entries or entry.child is not child:
            return False
        child._handled = True
        return await self._after_exit(entry, child, ExitReason(ExitKind.HUNG, error), hung=True)

    async def _after_exit(
        self, entry: _Entry, child: Child, reason: ExitReason, *, hung: bool = False
    ) -> bool:
        """A child ended (or hung): report it, then restart it on its own if its type says so."""
        template = self._template
        restarting = template.restart.restarts_after(reason)
        self._report_exit(child, reason, restarting=restarting)
        entry.child = None
        self._unindex(child)
        if hung:
            entry.state = ChildState.RESTARTING
            await self._terminate(child)
        if not restarting:
            self._entries.pop(entry, None)
            child._slot = None
            return template.significant and self._auto_shutdown_due()
        entry.state = ChildState.RESTARTING
        self._charge(template.id, reason)
        delay = self._backoff_delay(entry, child.started_at)
        if delay > 0:
            self._defer(entry, delay)
        else:
            await self._restart_entry(entry)
        return False

    async def _restart_entry(self, entry: _Entry) -> None:
        template = self._template
        try:
            child = await self._start_child_task(
                template, entry.args, restart=True, task_name=self._task_name
            )
        except StartFailure as failure:
            self._charge(template.id, ExitReason(ExitKind.ABNORMAL, failure.cause))
            self._defer(entry, self._backoff_delay(entry, None))
            return
        if child is None:
            self._entries.pop(entry, None)  # ignored its restart: dropped (as newer OTP does)
            entry.last._slot = None
            return
        child._slot = entry
        entry.last._slot = None
        entry.child = entry.last = child
        entry.state = ChildState.RUNNING
        self._index(entry)

    def _defer(self, entry: _Entry, delay: float) -> None:
        pending = Pending(entry, [entry])
        entry.pending = pending
        self._schedule(pending, delay, self._template.id, (self._template.id,))

    def _auto_shutdown_due(self) -> bool:
        mode = self._flags.auto_shutdown
        if mode is AutoShutdown.NEVER:
            return False
        if mode is AutoShutdown.ANY_SIGNIFICANT:
            return True
        return not self._entries

    async def _shutdown_children(self) -> None:
        running = [entry.child for entry in self._entries if entry.child is not None]
        for entry in self._entries:
            entry.child = None
            entry.last._slot = None
        self._entries.clear()
        self._by_value.clear()
        await self._terminate_all_at_once(running)


def _check_template(name: str, template: object, auto_shutdown: AutoShutdown) -> ChildSpec:
    if not isinstance(template, ChildSpec):
        msg = f"supervisor {name!r}: the template must be a ChildSpec (got {_got(template)})"
        raise ChildSpecError(msg)
    if template.significant and auto_shutdown is AutoShutdown.NEVER:
        msg = (
            f"supervisor {name!r}: the template is significant but auto_shutdown is 'never'; "
            "set auto_shutdown to 'any_significant' or 'all_significant', or drop "
            "significant=True"
        )
        raise ChildSpecError(msg)
    return template


async def dynamic_supervisor(
    template: ChildSpec,
    *,
    intensity: int = 3,
    period: float = 5.0,
    backoff: Backoff | None = None,
    max_children: int | None = None,
    auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
    name: str | None = None,
    hooks: Sequence[Hook] = (),
    random: RandomSource | None = None,
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
    task_status: trio.TaskStatus[DynamicSupervisor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a dynamic supervisor for children made from one ``template`` spec.

    It starts with no children and passes its :class:`DynamicSupervisor` handle to
    ``task_status.started()`` at once. Each child is restarted on its own, per the
    template's restart type, the intensity and the backoff. When it stops, all children are
    cancelled at once and share one shutdown timer.

    Args:
        template: The spec every child is made from; its ``id`` names them all in reports.
        intensity: Restarts allowed within any ``period`` seconds. Defaults to 3.
        period: The intensity window in seconds. Defaults to 5.
        backoff: An optional :class:`Backoff` delaying each restart.
        max_children: The most children it runs at once (``None``: no limit).
        auto_shutdown: ``"never"`` (default), ``"any_significant"`` or ``"all_significant"``.
        name: A name for reports; defaults to its path in the tree.
        hooks: Callables that receive every :class:`SupervisorEvent`. Nested supervisors
            inherit them, so a hook on the root hears the whole tree.
        random: A source of floats in ``[0, 1)`` for the backoff jitter.
        report_limit: How many child reports it logs per window before it summarises the
            rest (:class:`ReportLimit`, 100 a second by default); ``None`` logs them all.
        task_status: Given by ``nursery.start``.

    Example::

        template = otp.ChildSpec("job", run_job, restart="transient")
        pool = await nursery.start(
            functools.partial(otp.dynamic_supervisor, template, max_children=100)
        )
        await pool.start_child(job_id)
    """
    sup_name = default_name(name, "dynamic_supervisor")
    hooks = check_hooks(name, hooks)
    flags = make_flags(
        sup_name,
        strategy="one_for_one",
        intensity=intensity,
        period=period,
        backoff=backoff,
        auto_shutdown=auto_shutdown,
        max_children=max_children,
        random=random,
        report_limit=report_limit,
    )
    spec = _check_template(sup_name, template, flags.auto_shutdown)
    sup = DynamicSupervisor._create(sup_name, spec, flags, hooks, random)
    await sup._run(task_status)


@asynccontextmanager
async def open_dynamic_supervisor(
    template: ChildSpec,
    *,
    intensity: int = 3,
    period: float = 5.0,
    backoff: Backoff | None = None,
    max_children: int | None = None,
    auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
    name: str | None = None,
    hooks: Sequence[Hook] = (),
    random: RandomSource | None = None,
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
) -> AsyncIterator[DynamicSupervisor]:
    """Run a dynamic supervisor for the duration of an ``async with`` block.

    When the block ends, all children are stopped at once and the ``async with`` waits for
    them. Errors come out as an exception group, as from a nursery. Arguments are those of
    :func:`dynamic_supervisor`.

    Example::

        async with otp.open_dynamic_supervisor(otp.ChildSpec("job", run_job)) as pool:
            for job_id in range(10):
                await pool.start_child(job_id)
    """
    start = functools.partial(
        dynamic_supervisor,
        template,
        intensity=intensity,
        period=period,
        backoff=backoff,
        max_children=max_children,
        auto_shutdown=auto_shutdown,
        name=name,
        hooks=hooks,
        random=random,
        report_limit=report_limit,
    )
    async with running_in_block(start) as sup:
        assert isinstance(sup, DynamicSupervisor)
        yield sup


@final
@attrs.frozen
class NestedDynamicSupervisor:
    """The ``start`` of a dynamic supervisor's own child spec (see dynamic_supervisor_spec)."""

    template: ChildSpec
    flags: SupervisorFlags
    name: str | None = None
    hooks: tuple[Hook, ...] = ()
    random: RandomSource | None = attrs.field(default=None, eq=False)

    async def __call__(self, *, task_status: trio.TaskStatus[DynamicSupervisor]) -> None:
        """Run the nested dynamic supervisor (called by its parent)."""
        flags = self.flags
        await dynamic_supervisor(
            self.template,
            intensity=flags.intensity,
            period=flags.period,
            backoff=flags.backoff,
            max_children=flags.max_children,
            auto_shutdown=flags.auto_shutdown,
            name=self.name,
            hooks=self.hooks,
            random=self.random,
            report_limit=flags.report_limit,
            task_status=task_status,
        )


def dynamic_supervisor_spec(
    id: Hashable,  # noqa: A002
    template: ChildSpec,
    *,
    intensity: int = 3,
    period: float = 5.0,
    backoff: Backoff | None = None,
    max_children: int | None = None,
    auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
    restart: RestartLike = Restart.PERMANENT,
    shutdown: ShutdownLike = INFINITY,
    significant: bool = False,
    name: str | None = None,
    hooks: Sequence[Hook] = (),
    random: RandomSource | None = None,
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
) -> ChildSpec:
    """The child spec of a nested dynamic supervisor, validated at declaration.

    Example::

        tree = [
            otp.ChildSpec("registry", registry_server),
            otp.dynamic_supervisor_spec("sessions", otp.ChildSpec("session", session)),
        ]
    """
    where = name if name is not None else str(id)
    hooks = check_hooks(name, hooks, label=where)
    flags = make_flags(
        where,
        strategy="one_for_one",
        intensity=intensity,
        period=period,
        backoff=backoff,
        auto_shutdown=auto_shutdown,
        max_children=max_children,
        random=random,
        report_limit=report_limit,
    )
    spec = _check_template(where, template, flags.auto_shutdown)
    start = NestedDynamicSupervisor(spec, flags, name, tuple(hooks), random)
    return ChildSpec(
        id,
        start,
        restart=restart,
        shutdown=shutdown,
        type=ChildType.SUPERVISOR,
        significant=significant,
    )

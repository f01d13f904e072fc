"""What every supervisor does, static or dynamic: its task, its inbox, starting and stopping.

A supervisor is one Trio task (the caller of :func:`otp.supervisor`) holding one nursery in
which every child runs in its own :func:`~otp._child.run_child` task. When a child ends by
itself, its task posts the :class:`~otp._child.Child` to the supervisor's inbox; the
supervisor's loop takes exits one at a time, under the admin lock, so an exit and an admin
call never interleave (as in Erlang, where both are messages to one process).

Shutdown: the supervisor's task body ends (its parent cancelled it, ``stop()`` was called, it
gave up or auto-shut down), and its ``finally`` stops the children inside
:func:`otp.cleanup_scope`, so a nested supervisor gets exactly its own shutdown limit from its
parent. If that limit runs out, every child still alive is cancelled at once.
"""

from __future__ import annotations

import logging
import math
import random as _random
from collections.abc import Hashable
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, cast, final

import attrs
import trio

from ._child import (
    Child,
    StartAborted,
    cleanup_scope,
    current_child,
    run_child,
    start_aborted_error,
)
from ._exceptions import (
    Ignore,
    RestartIntensityExceeded,
    Shutdown,
    StartError,
    SupervisorNotRunning,
)
from ._exit import KILLED, SHUTDOWN, ExitKind, ExitReason
from ._flags import RandomSource, SupervisorFlags
from ._intensity import RestartIntensity
from ._liveness import ChildHung, Liveness, Watcher
from ._reports import (
    ChildAbandoned,
    ChildExited,
    ChildIgnored,
    ChildRestartScheduled,
    ChildStarted,
    ChildStartFailed,
    ChildTerminated,
    Hook,
    Reporter,
    SupervisorEvent,
    SupervisorGaveUp,
    SupervisorStarted,
    SupervisorStopped,
)
from ._reports import logger as reports_logger
from ._spec import BRUTAL_KILL, ChildSpec, ChildType
from ._timeouts import CallTimeouts

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from ._dynamic import DynamicSupervisor
    from ._supervisor import Supervisor

__all__ = ["ChildCounts", "ChildInfo", "ChildState"]


ABANDONED = ExitReason(ExitKind.KILLED)
"""The reason reported for a child that would not stop (already warned about)."""


class ChildState(StrEnum):
    """Where a child stands, as :meth:`Supervisor.which_children` reports it.

    Example::

        info = sup.which_children()[0]
        if info.state is otp.ChildState.RESTARTING:
            ...
    """

    RUNNING = "running"
    """Its task is running."""
    RESTARTING = "restarting"
    """It exited and a restart is pending (a backoff delay, or a retry after a failed start)."""
    STOPPED = "stopped"
    """No task: terminated, ignored its start, or a transient child that ended normally."""


@final
@attrs.frozen
class ChildInfo:
    """One row of :meth:`Supervisor.which_children` (Erlang's ``{Id, Child, Type, Modules}``).

    Attributes:
        id: The child's spec id.
        child: The running :class:`Child`, or ``None``.
        state: Running, restarting or stopped.
        type: Worker or supervisor.

    Example::

        for info in sup.which_children():
            print(info.id, info.state, info.child)
    """

    id: Hashable
    child: Child | None = attrs.field(eq=False)
    state: ChildState
    type: ChildType


@final
@attrs.frozen
class ChildCounts:
    """What :meth:`Supervisor.count_children` returns (Erlang's ``count_children/1``).

    Attributes:
        specs: Child specs held, running or not.
        active: Children whose task is running.
        supervisors: Specs of type supervisor, running or not.
        workers: Specs of type worker, running or not.

    Example::

        counts = sup.count_children()
        assert counts.active == counts.specs
    """

    specs: int
    active: int
    supervisors: int
    workers: int


class _Lifecycle(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class GiveUp(Exception):
    """Internal: a restart would exceed the intensity; unwinds the supervisor's loop."""

    def __init__(self, child_id: Hashable, reason: ExitReason) -> None:
        super().__init__(child_id)
        self.child_id = child_id
        self.reason = reason


class StartFailure(Exception):
    """Internal: a child raised before ``started()``; carries the cause."""

    def __init__(self, child_id: Hashable, cause: BaseException) -> None:
        super().__init__(child_id)
        self.child_id = child_id
        self.cause = cause


class Pending:
    """A restart that has been decided (and charged) but not yet performed.

    It is performed when a :class:`Due` for it reaches the loop: at once for a retry after a
    failed start, after the backoff delay otherwise. ``members`` restart together, in order.
    """

    __slots__ = ("leader", "members", "scope")

    def __init__(self, leader: Any, members: list[Any]) -> None:  # noqa: ANN401
        self.leader = leader
        self.members = members
        self.scope = trio.CancelScope()


@final
class Hung:
    """Inbox message: the liveness watcher gave up on a child."""

    __slots__ = ("child", "error")

    def __init__(self, child: Child, error: ChildHung) -> None:
        self.child = child
        self.error = error


@final
class Due:
    """Inbox message: perform a pending restart now."""

    __slots__ = ("pending",)

    def __init__(self, pending: Pending) -> None:
        self.pending = pending


def _with_inherited_hooks(hooks: Sequence[Hook]) -> tuple[Hook, ...]:
    """A supervisor's own hooks, then those of the supervisor it runs under (once each).

    So one hook on the root of a tree hears every supervisor in it.
    """
    combined = list(hooks)
    parent = current_child()
    if parent is not None:
        combined.extend(parent.supervisor._reporter.hooks)
    unique: dict[int, Hook] = {}
    for hook in combined:
        unique.setdefault(id(hook), hook)
    return tuple(unique.values())


@asynccontextmanager
async def running_in_block(
    start: Callable[..., Awaitable[object]],
) -> AsyncIterator[SupervisorBase]:
    """Run a supervisor for the duration of an ``async with`` block (``open_*supervisor``)."""
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            sup: SupervisorBase = await nursery.start(start)
        except Exception as exc:  # noqa: BLE001  (re-raised below)
            # Nothing else runs in this nursery yet: a failed start is the only error, so
            # it comes out bare, after the nursery, rather than in a group.
            failure = exc
        else:
            try:
                yield sup
            except BaseException:
                sup._stop_soon("shutdown")  # the block failed or was cancelled
                raise
            sup._stop_soon("normal")
    if failure is not None:
        raise failure


def default_name(explicit: str | None, kind: str) -> str:
    """A supervisor's name: explicit, else its path in the tree, else ``kind``."""
    if explicit is not None:
        return explicit
    parent = current_child()
    if parent is not None:
        return f"{parent.supervisor.name}/{parent.id}"
    return kind


class SupervisorBase:
    """The machinery shared by :class:`Supervisor` and :class:`DynamicSupervisor`."""

    _kind: ClassVar[str] = "supervisor"

    name: str
    _flags: SupervisorFlags
    _reporter: Reporter
    _now: Callable[[], float]
    _intensity: RestartIntensity
    _random: RandomSource
    _nursery: trio.Nursery
    _live: set[Child]
    _pending: set[Pending]
    _state: _Lifecycle
    _lock: trio.Lock
    _inbox_send: trio.MemorySendChannel[Any]
    _inbox_receive: trio.MemoryReceiveChannel[Any]
    _serve_scope: trio.CancelScope
    _stopped: trio.Event
    _stop_reason: str
    _watcher: Watcher | None
    _watcher_scope: trio.CancelScope
    _own_child: Child | None
    """The child record this supervisor runs as in its parent, if it has one."""
    _timeouts: CallTimeouts | None
    _timeouts_scope: trio.CancelScope

    def _init_base(
        self,
        name: str,
        flags: SupervisorFlags,
        hooks: Sequence[Hook],
        random: RandomSource | None,
    ) -> None:
        self.name = name
        self._flags = flags
        self._reporter = Reporter(name, _with_inherited_hooks(hooks), flags.report_limit)
        # trio.current_time() without its two lookups: reports stamp every event with it.
        self._now = trio.lowlevel.current_clock().current_time
        self._report_flush_scope: trio.CancelScope | None = None
        self._intensity = RestartIntensity(flags.intensity, flags.period)
        self._restarted = 0
        self._random = random if random is not None else _random.random
        self._live = set()
        self._pending = set()
        self._state = _Lifecycle.STARTING
        self._lock = trio.Lock()
        self._inbox_send, self._inbox_receive = trio.open_memory_channel(math.inf)
        self._serve_scope = trio.CancelScope()
        self._stopped = trio.Event()
        self._stop_reason = "shutdown"
        self._watcher = None
        self._watcher_scope = trio.CancelScope()
        self._own_child = current_child()
        self._timeouts = None
        self._timeouts_scope = trio.CancelScope()

    # --- public, shared -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the supervisor is up and taking admin calls."""
        return self._state is _Lifecycle.RUNNING

    async def stop(self) -> None:
        """Stop every child (as on shutdown) and the supervisor itself, then return.

        The supervisor exits normally (Erlang's ``stop/1``: reason ``normal``). Calling it
        again, or on a supervisor that already stopped, just waits for the end.

        Example::

            sup = await nursery.start(otp.supervisor, children)
            ...
            await sup.stop()
        """
        self._check_caller()
        self.stop_nowait()
        await self.wait()

    def stop_nowait(self) -> None:
        """Ask the supervisor to stop, without waiting for it.

        Example::

            sup.stop_nowait()   # e.g. from a sync callback
            await sup.wait()
        """
        self._stop_soon("normal")

    def _stop_soon(self, reason: str) -> None:
        live = self._state is _Lifecycle.RUNNING or self._state is _Lifecycle.STARTING
        if live and not self._serve_scope.cancel_called:
            self._stop_reason = reason
            self._serve_scope.cancel()

    @property
    def restarts(self) -> int:
        """How many children it has started again since it started (``restart_child`` too).

        Each child started by a restart counts once, so a group restart of three children
        counts three; a restart whose start failed does not count until it succeeds.

        Example::

            assert sup.restarts == 0
        """
        return self._restarted

    async def wait(self) -> None:
        """Wait until the supervisor has stopped all its children and exited.

        Example::

            async with otp.open_supervisor(children) as sup:
                await sup.wait()   # until it stops, gives up or auto-shuts down
        """
        self._check_caller()
        await self._stopped.wait()

    # --- the supervisor's task ------------------------------------------------------------

    async def _run(self, task_status: trio.TaskStatus[Any]) -> None:
        try:
            await self._run_in_nursery(task_status)
        finally:
            self._state = _Lifecycle.STOPPED
            self._stopped.set()
            self._reporter.flush(self._now())
            if self._reporter.wants(SupervisorStopped):
                self._emit(SupervisorStopped(self.name, self._now(), self._stop_reason))

    async def _run_in_nursery(self, task_status: trio.TaskStatus[Any]) -> None:
        outcome: Exception | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._reporter.on_first_drop = self._flush_reports_later
            try:
                # Under the admin lock: a child that calls its supervisor as soon as it has
                # started waits until all its siblings have started too, as in Erlang.
                async with self._lock:
                    await self._start_initial_children()
                    self._state = _Lifecycle.RUNNING
                if self._reporter.wants(SupervisorStarted):
                    self._emit(
                        SupervisorStarted(self.name, self._now(), self._size(), self._public())
                    )
                task_status.started(self)
                with self._serve_scope:
                    await self._serve()
            except StartFailure as failure:
                self._stop_reason = "start_failed"
                outcome = StartError(failure.child_id, failure.cause, self._spec_of(failure))
            except GiveUp as give_up:
                self._stop_reason = "gave_up"
                outcome = self._gave_up(give_up)
            finally:
                self._state = _Lifecycle.STOPPING
                # Reports dropped from here on are summarised when the supervisor has stopped.
                self._reporter.on_first_drop = None
                if self._report_flush_scope is not None:
                    self._report_flush_scope.cancel()
                self._watcher_scope.cancel()
                self._timeouts_scope.cancel()
                for pending in self._pending:
                    pending.scope.cancel()
                with cleanup_scope():
                    await self._shutdown_children()
                    # Stragglers: children an admin call was starting or stopping when we
                    # began. Each still gets its own shutdown limit.
                    for child in list(self._live):
                        if not child._terminating:
                            child._begin_termination(self._now())
                        await self._wait_terminated(child)
                # Whatever is left (our own shutdown limit ran out, or a child is still
                # starting) is killed at once, cleanup scopes and all, so the nursery closes.
                for child in list(self._live):
                    child._kill()
        if outcome is not None:
            # Raised here, outside the nursery, so it comes out bare rather than in a group.
            raise outcome
        if self._stop_reason == "auto_shutdown" and self._is_child_task():
            # Erlang's supervisor exits `shutdown` here, so a transient parent leaves it down.
            # Run by a user's own nursery, it has no parent to tell, and returns.
            raise Shutdown

    def _is_child_task(self) -> bool:
        """Whether this supervisor is the whole task of a child of another supervisor."""
        child = current_child()
        return child is not None and child.task is trio.lowlevel.current_task()

    async def _serve(self) -> None:
        """The loop: take inbox messages one at a time, under the admin lock."""
        receive = self._inbox_receive
        lock = self._lock
        while True:
            message = await receive.receive()
            try:
                lock.acquire_nowait()
            except trio.WouldBlock:
                await lock.acquire()
            try:
                done = await self._handle(message)
            finally:
                lock.release()
            # Until the next message, this frame would keep the last ended child alive, and
            # with it its arguments, started value and exception.
            del message
            if done:
                self._stop_reason = "auto_shutdown"
                return

    def _gave_up(self, give_up: GiveUp) -> RestartIntensityExceeded:
        flags = self._flags
        self._reporter.flush(self._now())  # the crashes before the give-up, first
        if self._reporter.wants(SupervisorGaveUp):
            self._emit(
                SupervisorGaveUp(
                    self.name,
                    self._now(),
                    give_up.child_id,
                    give_up.reason,
                    flags.intensity,
                    flags.period,
                )
            )
        error = RestartIntensityExceeded(self.name, give_up.child_id, flags.intensity, flags.period)
        error.__cause__ = give_up.reason.exception
        return error

    # --- hooks for the two kinds of supervisor ----------------------------------------------

    async def _start_initial_children(self) -> None:
        raise NotImplementedError

    def _size(self) -> int:
        """How many children are running."""
        raise NotImplementedError

    def _public(self) -> Supervisor | DynamicSupervisor:
        # The two kinds of supervisor are the only subclasses.
        return cast("Supervisor | DynamicSupervisor", self)

    async def _handle(self, message: Any) -> bool:  # noqa: ANN401
        """Handle one inbox message; return True when the supervisor must auto-shut down."""
        raise NotImplementedError

    async def _shutdown_children(self) -> None:
        raise NotImplementedError

    def _spec_of(self, failure: StartFailure) -> ChildSpec | None:
        raise NotImplementedError

    # --- children: exits, starts, stops ---------------------------------------------------

    def _on_child_exit(self, child: Child) -> None:
        """Called by a child's task as it ends (every child, every way)."""
        self._live.discard(child)
        if child._started and not child._terminating and not child._handled:
            self._inbox_send.send_nowait(child)

    def _check_running(self) -> None:
        if self._state is not _Lifecycle.RUNNING:
            msg = f"supervisor {self.name!r} is {self._state.value}"
            raise SupervisorNotRunning(msg)

    def _check_caller(self) -> None:
        """Refuse an admin call from one of our own children that has not started yet."""
        child = current_child()
        if child is not None and child.supervisor is self and not child._started:
            msg = (
                f"child {child.id!r} called its supervisor {self.name!r} before "
                "task_status.started(); the supervisor is waiting for that call, so this "
                "would deadlock. Call task_status.started() first."
            )
            raise RuntimeError(msg)

    async def _start_child_task(
        self, spec: ChildSpec, args: tuple[object, ...], *, restart: bool, task_name: str
    ) -> Child | None:
        """Start one child in our nursery and wait for its ``started()``.

        Returns the child, or ``None`` if it raised :class:`otp.Ignore`. Raises
        :class:`StartFailure` if it failed to start. As with ``nursery.start``, if the caller
        is cancelled while it waits, the child's init is cancelled too.
        """
        child = Child._create(spec, args, self)  # type: ignore[arg-type]  # a mixin of both kinds
        self._live.add(child)
        if spec.liveness is not None:
            detector = spec.liveness.detector(trio.current_time)
            child._liveness = Liveness(child, detector, self._liveness_watcher())
        ready = child._ready = trio.Event()
        self._nursery.start_soon(run_child, child, name=task_name)
        try:
            await ready.wait()
        except BaseException:
            # The caller gave up: nobody will own this child, so it must not run on. As with
            # nursery.start, its init is cancelled and waited for (within its shutdown limit).
            child._handled = True
            if child.exit is None:
                if not child._terminating:
                    child._begin_termination(self._now())
                with trio.CancelScope(shield=True):
                    await self._wait_terminated(child)
            raise
        finally:
            child._ready = None
        error = child._start_error
        if error is None and child._started:
            if restart:
                self._restarted += 1
            # A restart's hot path: the logger is asked once, the record built only if needed.
            reporter = self._reporter
            logged = reports_logger.isEnabledFor(ChildStarted.level)
            if logged or reporter.hooks_for(ChildStarted):
                event = ChildStarted(self.name, self._now(), spec.id, child, restart)
                reporter.deliver(event, ChildStarted.level, logged=logged)
            return child
        if isinstance(error, Ignore):
            if self._reporter.wants(ChildIgnored):
                self._emit(ChildIgnored(self.name, self._now(), spec.id))
            return None
        if error is None or isinstance(error, StartAborted):
            # Stopped during its init, or it raised KeyboardInterrupt (or the like) into our
            # nursery, which is cancelling us: let that cancellation win if it is ours.
            await trio.lowlevel.checkpoint()
            raise start_aborted_error(self.name)
        if self._reporter.wants(ChildStartFailed):
            self._emit(ChildStartFailed(self.name, self._now(), spec.id, error, restart))
        raise StartFailure(spec.id, error) from error

    async def _terminate(self, child: Child) -> ExitReason:
        """Stop one child within its shutdown limit; report it and return why it ended.

        The caller has already done the bookkeeping (the child is no longer its slot's), so
        if this wait is cancelled, the supervisor's state is still right.
        """
        if child.exit is None:
            if not child._terminating:
                child._begin_termination(self._now())
            if current_child() is child:
                # A child stopping itself: its next checkpoint unwinds it; waiting here for
                # that would wait forever.
                self._report_terminated(child, SHUTDOWN)
                return SHUTDOWN
            await self._wait_terminated(child)
        reason = child.exit if child.exit is not None else self._abandon(child)
        self._report_terminated(child, reason)
        return reason

    async def _wait_terminated(self, child: Child) -> None:
        # Most children unwind as soon as they run again: give them that chance (two
        # scheduler passes, since Trio may run us first in a batch) before paying for a timer
        # and an event.
        for _ in range(2):
            if child.exit is not None:
                return
            await trio.lowlevel.cancel_shielded_checkpoint()
        if child.exit is None:
            with trio.move_on_at(child._stop_deadline):
                await child.wait()

    def _abandon(self, child: Child) -> ExitReason:
        child._handled = True
        limit = child.spec.shutdown
        seconds = float(limit) if isinstance(limit, float) else 0.0
        self._emit(ChildAbandoned(self.name, self._now(), child.id, seconds))
        return ABANDONED

    async def _terminate_all_at_once(self, children: list[Child]) -> None:
        """Stop several children concurrently with one shared timer (dynamic supervisors)."""
        now = self._now()
        for child in children:
            child._handled = True
            if child.exit is None and not child._terminating:
                child._begin_termination(now)
        if not children:
            return
        # One shared timer: they were all cancelled at the same moment.
        with trio.move_on_at(max(child._stop_deadline for child in children)):
            for child in children:
                if child.exit is None:
                    await child.wait()
        for child in children:
            reason = child.exit if child.exit is not None else self._abandon(child)
            self._report_terminated(child, reason)

    # --- call timeouts -------------------------------------------------------------------------

    def _call_timeouts(self) -> CallTimeouts | None:
        """The timer of calls to this supervisor's servers (started with the first call).

        ``None`` once the supervisor is stopping: its nursery takes no new task then.
        """
        if self._state is not _Lifecycle.RUNNING:
            return None
        if self._timeouts is None:
            self._timeouts = CallTimeouts()
            self._nursery.start_soon(self._time_calls, self._timeouts, name="otp.call_timeouts")
        return self._timeouts

    async def _time_calls(self, timeouts: CallTimeouts) -> None:
        with self._timeouts_scope:
            await timeouts.run()

    # --- liveness ------------------------------------------------------------------------------

    def _liveness_watcher(self) -> Watcher:
        """The watcher of this supervisor's beating children (started with the first one)."""
        if self._watcher is None:
            self._watcher = Watcher(self._on_hung)
            self._nursery.start_soon(self._watch, self._watcher, name="otp.liveness")
        return self._watcher

    async def _watch(self, watcher: Watcher) -> None:
        with self._watcher_scope:
            await watcher.run()

    def _on_hung(self, child: Child, error: ChildHung) -> None:
        self._inbox_send.send_nowait(Hung(child, error))

    # --- restarts: charging, backoff, pending -----------------------------------------------

    def _charge(self, child_id: Hashable, reason: ExitReason) -> None:
        """Charge one restart to the intensity window, or give up."""
        if not self._intensity.add_restart(self._now()):
            raise GiveUp(child_id, reason)

    def _backoff_delay(self, slot: Any, started_at: float | None) -> float:  # noqa: ANN401
        """The delay before restarting ``slot`` (0 without backoff); advances its attempt.

        ``started_at`` is when the child that just exited had started, or ``None`` after a
        failed start.
        """
        backoff = self._flags.backoff
        if backoff is None:
            return 0.0
        if started_at is not None:
            ran_for = self._now() - started_at
            slot.attempt = backoff.attempt_after_run(slot.attempt, ran_for)
        delay = backoff.delay(slot.attempt, self._random)
        slot.attempt += 1
        return delay

    def _schedule(
        self, pending: Pending, delay: float, child_id: Hashable, group: tuple[Hashable, ...]
    ) -> None:
        """Perform ``pending`` after ``delay`` seconds (or at once, behind queued messages)."""
        self._pending.add(pending)
        if delay <= 0:
            self._inbox_send.send_nowait(Due(pending))
            return
        if self._reporter.wants(ChildRestartScheduled):
            self._emit(
                ChildRestartScheduled(
                    self.name,
                    self._now(),
                    child_id,
                    delay,
                    pending.leader.attempt - 1,
                    group,
                )
            )
        self._nursery.start_soon(self._sleep_then_restart, pending, delay, name="otp.backoff")

    async def _sleep_then_restart(self, pending: Pending, delay: float) -> None:
        with pending.scope:
            await trio.sleep(delay)
            self._inbox_send.send_nowait(Due(pending))

    def _cancel_pending(self, pending: Pending) -> None:
        pending.scope.cancel()
        self._pending.discard(pending)

    # --- reports --------------------------------------------------------------------------

    def _flush_reports_later(self, deadline: float) -> None:
        # At most one waits at a time: the limiter asks again only once a window has ended.
        self._nursery.start_soon(self._flush_reports_at, deadline, name="otp.report_flush")

    async def _flush_reports_at(self, deadline: float) -> None:
        with trio.CancelScope() as scope:
            self._report_flush_scope = scope
            await trio.sleep_until(deadline)
            self._reporter.flush_due(self._now())

    def _emit(self, event: SupervisorEvent) -> None:
        self._reporter.emit(event)

    def _report_exit(self, child: Child, reason: ExitReason, *, restarting: bool) -> None:
        level = logging.ERROR if reason.abnormal else ChildExited.level
        reporter = self._reporter
        logged = reports_logger.isEnabledFor(level)
        if logged or reporter.hooks_for(ChildExited):
            event = ChildExited(self.name, self._now(), child.id, reason, restarting)
            reporter.deliver(event, level, logged=logged)

    def _report_terminated(self, child: Child, reason: ExitReason) -> None:
        if reason.exception is not None and not isinstance(reason.exception, Exception):
            return  # it died of KeyboardInterrupt or the like, which is propagating: not ours
        level = ChildTerminated.level
        expected = reason is KILLED and child.spec.shutdown is BRUTAL_KILL
        if reason.abnormal and not expected and reason is not ABANDONED:
            level = logging.ERROR
        if self._reporter.wants(ChildTerminated, level):
            event = ChildTerminated(self.name, self._now(), child.id, reason)
            self._reporter.emit(event, level)

"""Runs ONE child in its own cancel scope and turns how it ended into an exit reason.

This is the first step of the path of a crash: the child's code raises inside
:func:`run_child`, never into the supervisor's nursery, so a crash cannot take its siblings
down. :func:`run_child` classifies the ending (see :mod:`otp._exit`) and hands one exit record
to the child's supervisor (``_on_child_exit``), which decides what happens next.

Each child runs in its supervisor's nursery, under a :class:`trio.CancelScope` of its own.
Whoever starts it waits for ``task_status.started()``, as with ``nursery.start`` (and if they
give up, the child's init is cancelled), but without ``nursery.start``'s temporary nursery,
which makes a restart markedly cheaper. Once started, the scope is *shielded*: nothing but the
supervisor, through that scope, can cancel the child.
That is what lets a supervisor stop its children one at a time, in reverse start order, when
its own task is cancelled, instead of Trio cancelling the whole subtree at once.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, final

import trio

from ._exceptions import SupervisorNotRunning
from ._exit import KILLED, NORMAL, SHUTDOWN, ExitKind, ExitReason, exit_reason
from ._spec import BRUTAL_KILL, INFINITY, ChildSpec

if TYPE_CHECKING:
    from ._dynamic import DynamicSupervisor
    from ._supervisor import Supervisor

__all__ = ["Child", "cleanup_scope", "current_child"]

ABANDON_GRACE = 0.1
"""Seconds a child gets to finish unwinding once its cleanup was cut short; after that, a
child that shields itself from cancellation is abandoned (treated as killed)."""

_current_child: ContextVar[Child | None] = ContextVar("otp.current_child", default=None)


@final
class Child:
    """A running (or finished) instance of a child spec: what ``start_child`` returns.

    A restart creates a new ``Child``; the old one keeps its :attr:`exit`. Handles are
    compared by identity.

    Attributes:
        id: The spec's id.
        spec: The :class:`ChildSpec` it runs.
        value: What the child passed to ``task_status.started(value)`` (``None`` if nothing).
        supervisor: The supervisor that runs it.
        exit: Why it ended, or ``None`` while it runs.
        task: The child's Trio task while it runs; ``None`` once it has ended.

    Example::

        child = await sup.start_child(otp.ChildSpec("db", db_worker))
        conn = child.value          # what db_worker passed to task_status.started()
        await sup.terminate_child("db")
        assert child.exit.kind is otp.ExitKind.SHUTDOWN
    """

    __slots__ = (
        "_cleanup_deadline",
        "_cleanups",
        "_done",
        "_handled",
        "_liveness",
        "_ready",
        "_scope",
        "_slot",
        "_start_error",
        "_started",
        "_stop_deadline",
        "_terminating",
        "args",
        "exit",
        "id",
        "spec",
        "started_at",
        "supervisor",
        "task",
        "value",
    )

    id: Hashable
    spec: ChildSpec
    args: tuple[object, ...]
    value: Any
    supervisor: Supervisor | DynamicSupervisor
    exit: ExitReason | None
    task: trio.lowlevel.Task | None
    started_at: float
    _liveness: Any
    _ready: trio.Event | None
    _scope: trio.CancelScope
    _slot: Any
    _start_error: BaseException | None
    _started: bool
    _terminating: bool
    _handled: bool
    _cleanup_deadline: float | None
    _stop_deadline: float
    _cleanups: set[trio.CancelScope] | None
    _done: trio.Event | None

    def __init__(self) -> None:
        msg = "otp.Child has no public constructor; supervisors create children"
        raise TypeError(msg)

    @classmethod
    def _create(
        cls, spec: ChildSpec, args: tuple[object, ...], supervisor: Supervisor | DynamicSupervisor
    ) -> Child:
        self = object.__new__(cls)
        self.id = spec.id
        self.spec = spec
        self.args = args
        self.value = None
        self.supervisor = supervisor
        self.exit = None
        self.task = None
        self.started_at = 0.0
        self._liveness = None
        self._ready = None
        self._scope = trio.CancelScope()
        self._slot = None
        self._start_error = None
        self._started = False
        self._terminating = False
        self._handled = False
        self._cleanup_deadline = None
        self._stop_deadline = math.inf
        self._cleanups = None
        self._done = None
        return self

    @property
    def alive(self) -> bool:
        """Whether the child's task is still running."""
        return self.exit is None

    async def wait(self) -> ExitReason:
        """Wait until this child instance has ended, and return why.

        Example::

            reason = await child.wait()
        """
        if self.exit is None:
            if self._done is None:
                self._done = trio.Event()
            await self._done.wait()
        else:
            await trio.lowlevel.checkpoint()
        assert self.exit is not None
        return self.exit

    def __repr__(self) -> str:
        state = "running" if self.exit is None else f"exited: {self.exit}"
        return f"<otp.Child {self.id!r} of {self.supervisor.name!r} ({state})>"

    # --- termination (driven by the supervisor) -------------------------------------------

    def _begin_termination(self, now: float) -> None:
        """Cancel the child and start the clock on its cleanup scopes."""
        self._terminating = True
        limit = self.spec.shutdown
        if limit is BRUTAL_KILL:
            self._cleanup_deadline = -math.inf
            self._stop_deadline = now + ABANDON_GRACE
        elif limit is INFINITY:
            self._cleanup_deadline = math.inf
        else:
            assert isinstance(limit, float)
            self._cleanup_deadline = now + limit
            self._stop_deadline = now + limit + ABANDON_GRACE
        if self._cleanups:
            for scope in self._cleanups:
                self._limit_cleanup(scope)
        self._scope.cancel()

    def _kill(self) -> None:
        """Cancel the child and cut every cleanup scope now, whatever its limit."""
        if not self._terminating:
            self._begin_termination(trio.current_time())
        self._cleanup_deadline = -math.inf
        if self._cleanups:
            for scope in self._cleanups:
                scope.cancel()
        self._scope.cancel()

    def _limit_cleanup(self, scope: trio.CancelScope) -> None:
        deadline = self._cleanup_deadline
        assert deadline is not None
        if deadline == -math.inf:
            scope.cancel()
        elif deadline < scope.deadline:
            scope.deadline = deadline

    def _mark_started(self, value: object) -> None:
        """The child's init acknowledgement (``task_status.started(value)``)."""
        if self._started:
            msg = f"child {self.id!r} called task_status.started() twice"
            raise RuntimeError(msg)
        self.value = value
        self._started = True
        if self.supervisor._flags.backoff is not None:
            self.started_at = trio.current_time()  # only backoff's reset_after needs it
        if not self._terminating:
            # From now on only the supervisor, through this scope, can cancel the child.
            self._scope.shield = True
        if self._liveness is not None:
            self._liveness.beat()  # being ready is the first sign of life
        if self._ready is not None:
            self._ready.set()

    def _cut_short(self) -> bool:
        """Whether the child was still running when its cleanup time ran out (Erlang: killed)."""
        deadline = self._cleanup_deadline
        assert deadline is not None
        return deadline == -math.inf or (deadline != math.inf and trio.current_time() >= deadline)

    def _finish(self, reason: ExitReason) -> None:
        self.exit = reason
        if self._ready is not None:
            self._ready.set()  # a starter still waiting learns it failed
        if self._done is not None:
            self._done.set()


def current_child() -> Child | None:
    """The :class:`Child` whose task (or subtask) is running this code, if any.

    Example::

        async def worker(*, task_status=trio.TASK_STATUS_IGNORED):
            me = otp.current_child()
            task_status.started()
            print("I am", me.id)
    """
    return _current_child.get()


@contextmanager
def cleanup_scope() -> Iterator[trio.CancelScope]:
    """A shielded scope for a child's cleanup, bounded by the child's shutdown limit.

    When a supervisor stops a child it cancels it; code in ``finally`` blocks can then no
    longer await anything. Put the cleanup that must await inside ``cleanup_scope()``: it is
    shielded from that cancellation until the child's ``shutdown`` limit, counted from the
    moment the supervisor asked it to stop. With ``brutal_kill`` it is cut short at once; with
    ``infinity`` never. Outside a supervised child it is a plain shielded scope.

    Example::

        async def db_worker(url, *, task_status=trio.TASK_STATUS_IGNORED):
            conn = await connect(url)
            task_status.started(conn)
            try:
                await conn.serve_forever()
            finally:
                with otp.cleanup_scope():
                    await conn.aclose()   # gets up to the spec's shutdown seconds
    """
    scope = trio.CancelScope(shield=True)
    child = _current_child.get()
    if child is None:
        with scope:
            yield scope
        return
    if child._cleanups is None:
        child._cleanups = set()
    child._cleanups.add(scope)
    if child._cleanup_deadline is not None:
        child._limit_cleanup(scope)
    try:
        with scope:
            yield scope
    finally:
        child._cleanups.discard(scope)


@final
class _ChildTaskStatus:
    """The ``task_status`` a child sees: ``started(value)`` is its init acknowledgement."""

    __slots__ = ("_child",)

    def __init__(self, child: Child) -> None:
        self._child: Child | None = child

    def __repr__(self) -> str:
        return "<otp task status>"

    def started(self, value: object = None) -> None:
        child = self._child
        if child is None:
            msg = "task_status.started() was called twice"
            raise RuntimeError(msg)
        # Forget the child: a crash's traceback keeps the child function's frame, and with it
        # this object, alive; holding no reference keeps the child out of that cycle.
        self._child = None
        child._mark_started(value)


class StartAborted(Exception):
    """Internal: the child was cancelled before it finished starting."""


async def run_child(child: Child) -> None:
    r"""The body of a child's task: run its spec, classify the ending, tell the supervisor.

    The task runs in its supervisor's nursery from the start. Whoever starts it waits for
    ``task_status.started()`` (see :meth:`Child._mark_started`); an exception before that is
    handed to the starter as the start failure instead of becoming an exit. After it,
    ``Exception``\ s become exit reasons; ``KeyboardInterrupt``, ``SystemExit`` and any group
    holding them propagate into the supervisor's nursery and take the supervisor down.
    """
    _current_child.set(child)
    child.task = trio.lowlevel.current_task()
    spec = child.spec
    reason = SHUTDOWN
    try:
        with child._scope:
            if spec.takes_task_status:
                await spec.runner(*child.args, task_status=_ChildTaskStatus(child))
            else:
                child._mark_started(None)
                await spec.runner(*child.args)
    except Exception as exc:  # noqa: BLE001  (every crash becomes an exit reason)
        reason = exit_reason(exc)
        if not child._started:
            child._start_error = exc  # a start failure (or Ignore), for the starter
    except BaseException as exc:
        # Not the child's to report (KeyboardInterrupt, SystemExit, a foreign Cancelled, or
        # a group holding one): record it so nobody waits for this child, and let it go on.
        reason = ExitReason(ExitKind.SHUTDOWN, exc)
        child._handled = True
        raise
    else:
        if not child._started:
            if child._terminating:
                child._start_error = StartAborted()
            else:
                msg = (
                    f"child {child.id!r} returned without calling task_status.started(); call "
                    "it once the child is ready, or drop the task_status parameter"
                )
                child._start_error = RuntimeError(msg)
        elif child._terminating:
            reason = KILLED if child._cut_short() else SHUTDOWN
        else:
            reason = NORMAL
    finally:
        child._finish(reason)
        child.supervisor._on_child_exit(child)
        # Break the reference cycles a finished child would otherwise sit in (task -> context
        # -> current child -> task, and traceback -> this frame -> child -> exit -> traceback),
        # so that ended children are freed by reference counting, not the cycle collector.
        child.task = None
        del child, reason


def start_aborted_error(supervisor: str) -> SupervisorNotRunning:
    """The error a starter sees when the supervisor stopped a child during its init."""
    return SupervisorNotRunning(f"supervisor {supervisor!r} stopped while the child was starting")

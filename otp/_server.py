"""gen_server: a server that lives in a supervision tree, and the refs its clients call.

The path of a call: :meth:`ServerRef.call` queues a :class:`Caller` (the caller's one-shot
reply slot) in the server's :mod:`mailbox <otp._mailbox>` and parks the calling task. The
server's loop takes messages one at a time and runs ``handle_call`` under the caller's
deadline; the reply reschedules the caller directly. When the server ends, however it ends,
every caller still waiting is failed with :class:`otp.ServerExited`, its names are released,
then its monitors fire: nobody is left hanging.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, final

import attrs
import outcome
import trio

from ._child import cleanup_scope, current_child
from ._exceptions import (
    AlreadyReplied,
    CallingSelf,
    CallTimeout,
    Exit,
    MailboxFull,
    NameTaken,
    NoProc,
    ServerExited,
    Shutdown,
    Stop,
    _describe,
)
from ._exit import KILLED, SHUTDOWN, ExitKind, ExitReason, exit_reason, reason_from_value
from ._heartbeat import Heartbeat
from ._mailbox import Mailbox, MailboxStatistics, Overflow
from ._middleware import Handler, Message, MessageKind, Rejected, check_middleware
from ._monitor import Monitor, demonitor, monitor
from ._observer import CallObserver, current_observer, notify, observer_failed
from ._registry import lookup, register, unregister, wait_for
from ._spec import BRUTAL_KILL, ChildSpec, RestartLike, ShutdownLike
from ._timeouts import CallTimeouts, run_timeouts

if TYPE_CHECKING:
    from ._supervising import SupervisorBase

__all__ = [
    "Caller",
    "Continue",
    "GenServer",
    "IdleTimeout",
    "NoReply",
    "ServerRef",
    "Timeout",
    "named",
]

logger = logging.getLogger("otp.server")

_serving: ContextVar[_ServerCore | None] = ContextVar("otp.serving", default=None)
"""The server whose task (or subtask) this is: its current call's deadline travels on."""

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

_CAST = 0
_INFO = 1
_STOP = 2
_YIELD_EVERY = 64
"""A busy server yields to the scheduler after this many messages in a row."""


@final
class _NoReplyType:
    """The type of :data:`otp.NoReply`: return it from ``handle_call`` to reply later.

    Example::

        async def handle_call(self, request, caller):
            self.waiting.append(caller)   # answered later with caller.reply(value)
            return otp.NoReply
    """

    _instance: ClassVar[_NoReplyType | None] = None

    def __new__(cls) -> _NoReplyType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "otp.NoReply"

    def __reduce__(self) -> str:
        return "NoReply"


NoReply: Any = _NoReplyType()
"""Return this from ``handle_call`` to reply later, with :meth:`Caller.reply`.

Example::

    async def handle_call(self, request, caller):
        self.waiting.append(caller)
        return otp.NoReply
"""


@final
@attrs.frozen
class Continue:
    """Have ``handle_continue(arg)`` run before the next message (Erlang's ``{continue, Arg}``).

    Return it from ``init``, ``handle_cast``, ``handle_info`` or ``handle_continue``.
    From ``handle_call``, whose return value is the reply, use
    :meth:`GenServer.request_continue` instead.

    Example::

        async def init(self, path):
            self.path = path
            return otp.Continue("load")      # started() now; load before any message

        async def handle_continue(self, arg):
            self.data = await load(self.path)
    """

    arg: object = None


@final
@attrs.frozen
class IdleTimeout:
    """The info a server gets when no message arrived for ``idle_timeout`` seconds.

    Example::

        class Session(otp.GenServer):
            idle_timeout = 300.0

            async def handle_info(self, message):
                if isinstance(message, otp.IdleTimeout):
                    raise otp.Stop()
    """

    seconds: float


@final
@attrs.frozen
class Timeout:
    """A one-shot timeout: Erlang's ``{noreply, State, Timeout}``.

    Return ``otp.Timeout(seconds)`` from ``init``, ``handle_cast``, ``handle_info`` or
    ``handle_continue`` (from ``handle_call``, whose return value is the reply, call
    :meth:`otp.GenServer.request_timeout`). If no message arrives within ``seconds``, the same
    ``Timeout`` comes to ``handle_info``, once; any message that arrives first cancels it.
    Unlike the persistent ``idle_timeout`` attribute, it does not come back by itself.

    Attributes:
        seconds: How long to wait for a message (``0``: fire at once unless one is queued).

    Example::

        class Batcher(otp.GenServer):
            async def handle_cast(self, item):
                self.batch.append(item)
                return otp.Timeout(0.5)  # flush if nothing more comes within 0.5 s

            async def handle_info(self, message):
                if isinstance(message, otp.Timeout):
                    await self.flush()
    """

    seconds: float = attrs.field()

    @seconds.validator
    def _check(self, _: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            msg = f"otp.Timeout: seconds must be a number >= 0, got {value!r}"
            raise ValueError(msg)


@final
class Caller(Generic[ReplyT]):
    """One call waiting for its reply: ``handle_call``'s second argument.

    Reply by returning from ``handle_call``, or return :data:`NoReply` and call
    :meth:`reply` later, from any task, exactly once. A reply to a caller that has given up
    (timed out or been cancelled) is dropped; it never reaches a later call.

    Attributes:
        request: What the caller sent.
        deadline: The caller's deadline (``trio.current_time()`` scale; ``inf`` if none). The
            handler runs under it.

    Example::

        async def handle_call(self, request, caller):
            self.nursery.start_soon(self.answer_later, caller)
            return otp.NoReply

        async def answer_later(self, caller):
            caller.reply(await compute(caller.request))
    """

    __slots__ = ("_core", "_replied", "_task", "_timeouts", "deadline", "request")

    request: Any
    deadline: float
    _core: _ServerCore
    _task: trio.lowlevel.Task | None
    _timeouts: CallTimeouts | None
    _replied: bool

    def __init__(self) -> None:
        msg = "otp.Caller has no public constructor; servers receive callers"
        raise TypeError(msg)

    @classmethod
    def _create(cls, request: object, deadline: float, core: _ServerCore) -> Caller[Any]:
        self = object.__new__(cls)
        self.request = request
        self.deadline = deadline
        self._core = core
        self._task = None
        self._timeouts = None
        self._replied = False
        return self

    @property
    def waiting(self) -> bool:
        """Whether the caller is still waiting for a reply."""
        return self._task is not None

    def reply(self, value: ReplyT) -> None:
        """Answer the call. Allowed exactly once, from any task.

        A reply to a caller that is gone (it timed out or was cancelled, or the call failed
        because the server ended) is dropped without a word, as Erlang drops a message to a
        dead process: only a second reply by the handler is an error.

        Raises:
            AlreadyReplied: The handler already answered this call.
        """
        if self._replied:
            msg = (
                f"caller.reply() was called a second time for call {self.request!r}; "
                "each call takes exactly one reply"
            )
            raise AlreadyReplied(msg)
        self._answer(value)

    def _answer(self, value: object) -> None:
        self._replied = True
        task = self._task
        if task is not None:
            # _settle(), inlined: this is the path of every call.
            self._task = None
            timeouts = self._timeouts
            if timeouts is not None:
                timeouts._waiting -= 1
                self._timeouts = None
            if self._core.pending:
                self._core.pending.discard(self)
            trio.lowlevel.reschedule(task, outcome.Value(value))

    def _fail(self, error: BaseException) -> None:
        # Not a reply: a handler that answers later finds the caller gone and is ignored.
        task = self._task
        if task is not None:
            self._settle()
            trio.lowlevel.reschedule(task, outcome.Error(error))

    def _expire(self, timeout: float) -> None:
        """Its deadline passed (see :mod:`otp._timeouts`): give up on the caller's behalf."""
        task = self._task
        if task is not None:
            self._settle()
            self._stop_handler()
            msg = f"{self._core.describe()} did not reply to {self.request!r} within {timeout:g} s"
            trio.lowlevel.reschedule(task, outcome.Error(CallTimeout(msg)))

    def _settle(self) -> None:
        """The caller stops waiting (answered, failed, timed out or gone)."""
        self._task = None
        if self._timeouts is not None:
            self._timeouts.answered()
            self._timeouts = None
        pending = self._core.pending
        if pending:
            pending.discard(self)

    def _stop_handler(self) -> None:
        """If the server is working on this call, cancel that work: nobody waits for it."""
        core = self._core
        if core.current is self and core.epoch is not None:
            core.epoch.cancel()

    async def _wait(self) -> Any:  # noqa: ANN401
        self._task = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            # The caller gave up (a deadline or a cancellation of its own): the server must
            # not work on its behalf any longer, and any later reply is dropped.
            self._settle()
            self._stop_handler()
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)

    def __repr__(self) -> str:
        state = "waiting" if self._task is not None else "done"
        return f"<otp.Caller of {self._core.describe()} for {self.request!r} ({state})>"


class _ServerCore:
    """The runtime record of one server instance (its pid, in Erlang terms)."""

    __slots__ = (
        "cleanup",
        "cls_name",
        "current",
        "epoch",
        "exit",
        "killed",
        "mailbox",
        "monitors",
        "name",
        "observer",
        "pending",
        "ref",
        "supervisor",
        "task",
        "timeouts",
    )

    def __init__(self, cls_name: str, name: Hashable | None, mailbox: Mailbox) -> None:
        self.cls_name = cls_name
        self.name = name
        self.mailbox = mailbox
        self.exit: ExitReason | None = None
        self.pending: set[Caller[Any]] = set()
        """Callers told "later" (``NoReply``) and still waiting."""
        self.current: Caller[Any] | None = None
        """The call whose ``handle_call`` is running."""
        self.epoch: trio.CancelScope | None = None
        """The scope the loop runs in; cancelled when the caller of ``current`` gives up."""
        self.monitors: set[Monitor] | None = None
        self.task: trio.lowlevel.Task | None = None
        self.supervisor: SupervisorBase | None = None
        self.timeouts: CallTimeouts | None = None
        self.ref: ServerRef[Any, Any] = ServerRef._for_core(self)
        self.killed = False
        """Set by :meth:`ServerRef.stop` when the server outlived the stop's timeout."""
        self.cleanup: trio.CancelScope | None = None
        """The scope ``terminate`` runs in, while it runs."""
        self.observer: CallObserver | None = current_observer.get()
        """Given every call (see :func:`otp.observe_calls`), if the server started with one."""

    def kill(self) -> None:
        """Erlang's ``exit(Pid, kill)``: cut the server short, wherever it is."""
        self.killed = True
        if self.cleanup is not None:
            self.cleanup.cancel()
        if self.epoch is not None:
            self.epoch.cancel()

    def describe(self) -> str:
        return self.cls_name if self.name is None else f"{self.name!r} ({self.cls_name})"

    def deliver(self, item: object) -> bool:
        """Queue a message; return False if a full mailbox refused it.

        A call evicted to make room (``drop_oldest``) is failed at once.
        """
        dropped = self.mailbox.put(item)
        if dropped is None:
            return True
        if type(dropped) is Caller and dropped is not item:
            dropped._fail(MailboxFull(f"the mailbox of {self.describe()} is full"))
        return dropped is not item

    def call_timeouts(self) -> CallTimeouts | None:
        """The timer of this server's supervisor, or the run's if no supervisor runs it.

        ``None`` when its supervisor is stopping.
        """
        supervisor = self.supervisor
        return supervisor._call_timeouts() if supervisor is not None else run_timeouts()

    def end(self, reason: ExitReason) -> None:
        """The server has ended: release names, fail callers, then fire monitors."""
        self.exit = reason
        if self.name is not None:
            unregister(self.name, self)
        error = ServerExited(f"{self.describe()} exited: {reason}", reason)
        if self.current is not None:
            self.current._fail(error)
            self.current = None
        for caller in list(self.pending):
            caller._fail(error)
        self.pending.clear()
        for item in self.mailbox.drain():
            if type(item) is Caller:
                item._fail(error)
        monitors = self.monitors
        self.monitors = None
        if monitors:
            for mon in monitors:
                mon._fire(reason)


@final
class ServerRef(Generic[RequestT, ReplyT]):
    """How clients reach a server: call, cast and send.

    A ref from :meth:`GenServer.start`, ``task_status`` or :func:`otp.whereis` points at one
    server instance (like an Erlang pid): after a restart it is dead and calls raise
    :class:`otp.NoProc`. A ref from :func:`otp.named` follows a name instead, and finds
    whichever server holds it at the time of each call.

    Example::

        ref = await nursery.start(Counter.start, 10)
        await ref.call("increment")
        ref.cast("reset")
        ref.send(("tick", 1))
    """

    __slots__ = ("_core", "_name")

    _core: _ServerCore | None
    _name: Hashable | None

    def __init__(self) -> None:
        msg = "otp.ServerRef has no public constructor; use GenServer.start or otp.named"
        raise TypeError(msg)

    @classmethod
    def _for_core(cls, core: _ServerCore) -> ServerRef[Any, Any]:
        self = object.__new__(cls)
        self._core = core
        self._name = None
        return self

    @classmethod
    def _for_name(cls, name: Hashable) -> ServerRef[Any, Any]:
        self = object.__new__(cls)
        self._core = None
        self._name = name
        return self

    @property
    def name(self) -> Hashable | None:
        """The name this ref follows, or the server's own name."""
        if self._core is not None:
            return self._core.name
        return self._name

    @property
    def description(self) -> str:
        """How reports name the server, as ``"'cache' (Cache)"``, or its class for no name.

        A named ref whose name is free describes the name.

        Example::

            print(ref.description)
        """
        core = self._resolve_now()
        return core.describe() if core is not None else f"{self._name!r} (no server)"

    @property
    def alive(self) -> bool:
        """True while a server is there; for a named ref, while some server holds the name."""
        core = self._resolve_now()
        return core is not None and core.exit is None

    @property
    def exit_reason(self) -> ExitReason | None:
        """Why this server ended, or ``None`` while it runs (``None`` for named refs)."""
        return self._core.exit if self._core is not None else None

    def _resolve_now(self) -> _ServerCore | None:
        if self._core is not None:
            return self._core
        return lookup(self._name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerRef):
            return NotImplemented
        if self._core is not None:
            return self._core is other._core
        return other._core is None and self._name == other._name

    def __hash__(self) -> int:
        return id(self._core) if self._core is not None else hash(("otp.named", self._name))

    def __repr__(self) -> str:
        if self._core is None:
            return f"<otp.ServerRef named {self._name!r}>"
        core = self._core
        state = "running" if core.exit is None else f"exited: {core.exit}"
        return f"<otp.ServerRef {core.describe()} ({state})>"

    # --- client API -----------------------------------------------------------------------

    async def call(
        self,
        request: RequestT,
        timeout: float | None = 5.0,  # noqa: ASYNC109  (Erlang's call timeout; the deadline travels too)
        *,
        wait_for_name: bool = False,
    ) -> ReplyT:
        """Send ``request`` and wait for the reply.

        The caller's remaining Trio deadline (and ``timeout``) travels with the call: the
        server runs ``handle_call`` under it, and if the caller gives up, the handler is
        cancelled and its reply, if any, dropped.

        Args:
            request: Anything; ``handle_call`` receives it.
            timeout: Seconds to wait for the reply (``None``: no limit of its own).
            wait_for_name: For a named ref whose name is free (say, the server is being
                restarted), wait for a server to take it, within the call's deadline,
                instead of failing at once with :class:`otp.NoProc`.

        Raises:
            CallTimeout: No reply in time.
            NoProc: No server there.
            ServerExited: The server ended before replying (with its reason).
            CallingSelf: The server called itself.
            MailboxFull: A bounded mailbox refused the call.

        Example::

            count = await counter.call("get", timeout=1.0)
        """
        now = trio.current_time()
        expires = math.inf if timeout is None else now + timeout
        # The caller's own Trio deadline travels with the call (its own cancel scope enforces
        # it; the server only needs to know it).
        deadline = min(expires, trio.current_effective_deadline())
        serving = _serving.get()
        if serving is not None and serving.current is not None:
            # A call made while handling a call inherits that call's deadline.
            deadline = min(deadline, serving.current.deadline)
        core = self._core
        if core is None:
            core = lookup(self._name)
            while core is None or (wait_for_name and core.exit is not None):
                if not wait_for_name:
                    msg = f"no server is registered as {self._name!r}"
                    raise NoProc(msg)
                # A server that takes the name may end again before we get to it: then we
                # wait on for the next one, still within the call's deadline.
                core = None
                with trio.move_on_at(deadline):
                    core = await wait_for(self._name)
                if core is None:
                    msg = f"no server took the name {self._name!r} within the call's timeout"
                    raise CallTimeout(msg)
        if core.exit is not None:
            msg = f"{core.describe()} is not running (it exited: {core.exit})"
            raise NoProc(msg)
        if core.task is trio.lowlevel.current_task():
            msg = f"{core.describe()} called itself; it would wait for its own reply forever"
            raise CallingSelf(msg)
        observer = core.observer
        if observer is not None:
            began = time.perf_counter()
            try:
                reply = await self._round_trip(core, request, deadline, timeout, expires)
            except BaseException as error:
                notify(observer, core.ref, request, error, time.perf_counter() - began)
                raise
            try:  # notify(), inlined for the path of every observed reply
                observer(core.ref, request, None, time.perf_counter() - began)
            except Exception:  # noqa: BLE001  (logged: an observer must not break a call)
                observer_failed(observer, core.ref)
            return reply
        return await self._round_trip(core, request, deadline, timeout, expires)

    async def _round_trip(
        self,
        core: _ServerCore,
        request: RequestT,
        deadline: float,
        timeout: float | None,  # noqa: ASYNC109  (as in call)
        expires: float,
    ) -> ReplyT:
        caller = Caller._create(request, deadline, core)
        if not core.deliver(caller):
            msg = f"the mailbox of {core.describe()} is full"
            raise MailboxFull(msg)
        if timeout is None:
            return await caller._wait()  # type: ignore[no-any-return]
        timeouts = core.timeouts
        if timeouts is None or not timeouts.running:
            timeouts = core.timeouts = core.call_timeouts()
        if timeouts is not None:
            timeouts.add(caller, expires, timeout)  # no scope of our own: see otp._timeouts
            return await caller._wait()  # type: ignore[no-any-return]
        with trio.CancelScope(deadline=expires):
            return await caller._wait()  # type: ignore[no-any-return]
        # Only our own timeout gets here; a cancellation from outside propagates.
        msg = f"{core.describe()} did not reply to {request!r} within {timeout:g} s"
        raise CallTimeout(msg)

    def cast(self, message: object) -> None:
        """Send ``message`` to ``handle_cast``; never blocks, never fails (as in Erlang).

        A cast to a server that has ended (or a name nobody holds) is dropped.

        Example::

            counter.cast("increment")
        """
        core = self._resolve_now()
        if core is not None and core.exit is None:
            core.deliver((_CAST, message))

    def send(self, info: object) -> None:
        """Send ``info`` to ``handle_info``; never blocks, never fails (Erlang's ``!``).

        Example::

            server.send(("tick", trio.current_time()))
        """
        core = self._resolve_now()
        if core is not None and core.exit is None:
            core.deliver((_INFO, info))

    async def stop(
        self,
        reason: object = "normal",
        timeout: float | None = None,  # noqa: ASYNC109  (Erlang's stop timeout)
    ) -> None:
        """Stop the server with ``reason`` and wait until it has ended: ``gen_server:stop/3``.

        The request is queued behind the messages already in the mailbox (never refused by
        a bound); the server then runs ``terminate`` with the reason and ends with it. The
        reason is any value, read as :class:`otp.Exit` reads it: ``"normal"``,
        ``"shutdown"`` and ``("shutdown", detail)`` are orderly (a ``transient`` server is not
        restarted), ``"killed"`` and any other value are abnormal (it is). Monitors, the
        supervisor and its reports get the value unchanged (:attr:`otp.ExitReason.value`).

        Args:
            reason: Why the server stops; any value.
            timeout: Seconds to wait for the server to end (``None``: no limit). A server
                still running then, in a handler or in ``terminate``, is killed (its exit
                reason is *killed*) and :class:`otp.CallTimeout` is raised.

        Raises:
            NoProc: No server is there, or it has ended already.
            CallingSelf: The server asked to stop itself (raise :class:`otp.Stop` instead).
            CallTimeout: The server did not end within ``timeout`` and was killed.
            ServerExited: The server ended with another reason than ``reason`` (say,
                ``terminate`` raised); ``exc.reason`` says how it ended.

        Example::

            await ref.stop()                                   # normal
            await ref.stop(("shutdown", "maintenance"), timeout=5)
        """
        core = self._resolve_now()
        if core is None:
            msg = f"cannot stop {self._name!r}: no server is registered under that name"
            raise NoProc(msg)
        if core.exit is not None:
            msg = f"cannot stop {core.describe()}: it has exited already ({core.exit})"
            raise NoProc(msg)
        if core.task is trio.lowlevel.current_task():
            msg = f"{core.describe()} asked to stop itself; raise otp.Stop(reason) instead"
            raise CallingSelf(msg)
        requested = reason_from_value(reason)
        core.mailbox.put((_STOP, requested), bounded=False)
        watch = monitor(core.ref)
        try:
            with trio.move_on_after(math.inf if timeout is None else timeout):
                down = await watch.wait()
                ended = down.reason
                if ended.kind is requested.kind and _same_value(ended.value, requested.value):
                    return
                msg = f"{core.describe()} was asked to stop ({requested}) but exited: {ended}"
                raise ServerExited(msg, ended)
            core.kill()
            await watch.wait()
        finally:
            demonitor(watch)
        msg = f"{core.describe()} did not stop within {timeout:g} s; it was killed"
        raise CallTimeout(msg)

    def mailbox_statistics(self) -> MailboxStatistics:
        """Queue length, peak, messages received and dropped, and the bound.

        Raises:
            NoProc: No server there.

        Example::

            print(ref.mailbox_statistics().queued)
        """
        core = self._resolve_now()
        if core is None:
            msg = f"no server is registered as {self._name!r}"
            raise NoProc(msg)
        return core.mailbox.statistics()


def named(name: Hashable) -> ServerRef[Any, Any]:
    """A ref that follows ``name``: each call goes to whichever server holds it then.

    Example::

        config = otp.named("config")
        port = await config.call(("get", "port"), wait_for_name=True)
    """
    return ServerRef._for_name(name)


class GenServer(Generic[RequestT, ReplyT]):
    """Base class of servers: subclass it and override the callbacks you need.

    The runtime creates the instance (with no arguments) and calls ``init(*args)``; once it
    returns, the server is started and ``self.ref`` is what ``task_status.started()``
    passes on. Callbacks run one at a time, in the order messages arrived.

    Class options: ``mailbox_size`` (``None``: unbounded) and ``mailbox_overflow`` (an
    :class:`Overflow`); ``middleware``, a chain of :class:`Middleware` around the handlers;
    ``idle_timeout`` (seconds, or ``None``) may also be changed on the instance at any time.

    Without ``handle_info``, an info is dropped with a warning; without ``handle_call``,
    ``handle_cast`` or ``handle_continue``, receiving one crashes the server with an error
    naming the missing callback; without ``terminate``, stopping is simply clean.

    Example::

        class Counter(otp.GenServer[str, int]):
            async def init(self, start: int = 0) -> None:
                self.count = start

            async def handle_call(self, request: str, caller: otp.Caller[int]) -> int:
                if request == "increment":
                    self.count += 1
                return self.count

        async with otp.open_supervisor([otp.ChildSpec("counter", Counter, (10,))]) as sup:
            counter = sup.get_child("counter").value
            assert await counter.call("increment") == 11
    """

    mailbox_size: ClassVar[int | None] = None
    mailbox_overflow: ClassVar[Overflow] = Overflow.DROP_NEWEST
    idle_timeout: float | None = None
    middleware: ClassVar[tuple[Callable[[Message, Handler], Awaitable[object]], ...]] = ()
    """The chain around ``handle_call``, ``handle_cast`` and ``handle_info``, outermost first
    (see :class:`Middleware`); checked when the class is defined."""

    def __init_subclass__(cls, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init_subclass__(**kwargs)
        if "middleware" in cls.__dict__:
            cls.middleware = check_middleware(cls.__name__, cls.__dict__["middleware"])

    ref: ServerRef[RequestT, ReplyT]
    """This server's own ref, from ``init`` on."""

    _otp_core: _ServerCore
    _otp_continue: list[object]
    _otp_timeout: Timeout | None

    # --- callbacks ------------------------------------------------------------------------

    async def init(self, *args: Any) -> Continue | Timeout | None:  # noqa: ANN401
        """Set the server up; raising here is a start failure with the real cause."""
        if args:
            msg = f"{type(self).__name__} takes no arguments (got {args!r}); define init()"
            raise TypeError(msg)
        return None

    async def handle_call(self, request: RequestT, caller: Caller[ReplyT]) -> ReplyT:
        """Answer a call: return the reply, or :data:`NoReply` to answer later."""
        msg = f"{type(self).__name__} has no handle_call, and got a call: {request!r}"
        raise NotImplementedError(msg)

    async def handle_cast(self, message: Any) -> Continue | Timeout | None:  # noqa: ANN401
        """Handle a cast."""
        msg = f"{type(self).__name__} has no handle_cast, and got a cast: {message!r}"
        raise NotImplementedError(msg)

    async def handle_info(self, message: Any) -> Continue | Timeout | None:  # noqa: ANN401
        """Handle an info (``ref.send``, a DOWN, an idle timeout); by default, drop it."""
        logger.warning(
            "%s has no handle_info; dropped the info %r",
            self.ref._core.describe() if self.ref._core else type(self).__name__,
            message,
        )
        return None

    async def handle_continue(self, arg: Any) -> Continue | Timeout | None:  # noqa: ANN401
        """Run continued work before the next message."""
        msg = f"{type(self).__name__} has no handle_continue, and got a continue: {arg!r}"
        raise NotImplementedError(msg)

    async def terminate(self, reason: ExitReason) -> None:
        """Clean up as the server stops (not after a ``brutal_kill``).

        It runs inside :func:`otp.cleanup_scope`: shielded, within the server's shutdown limit
        when a supervisor stops it.
        """

    # --- helpers for callbacks --------------------------------------------------------------

    def request_continue(self, arg: object = None) -> None:
        """Have ``handle_continue(arg)`` run right after the current callback.

        Example::

            async def handle_call(self, request, caller):
                self.request_continue("flush")
                return "queued"
        """
        self._otp_continue.append(arg)

    def request_timeout(self, seconds: float) -> None:
        """Ask for a one-shot :class:`otp.Timeout` after the current callback.

        The way ``handle_call`` (whose return value is the reply) asks for
        ``{reply, Reply, State, Timeout}``; other callbacks may return ``otp.Timeout`` instead.

        Example::

            async def handle_call(self, request, caller):
                self.request_timeout(30)  # no call within 30 s: handle_info gets a Timeout
                return "ok"
        """
        self._otp_timeout = Timeout(seconds)

    def register_name(self, name: Hashable) -> None:
        """Register this server under ``name``, from its ``init`` or a handler.

        Erlang's ``register/2``: the name is released when the server ends. It is for
        servers whose name is only known once they start, as the children of a dynamic
        supervisor that each get theirs as an argument. A server holds one name at most.

        Raises:
            NameTaken: Another server holds ``name``.
            ValueError: This server has a name already.

        Example::

            class Session(otp.GenServer):
                async def init(self, user_id):
                    self.register_name(("session", user_id))
        """
        core = self._otp_core
        if core.name is not None:
            msg = f"{core.describe()} is registered as {core.name!r} already; a server has one name"
            raise ValueError(msg)
        holder = register(name, core)
        if holder is not None:
            raise NameTaken(name, holder.ref)
        core.name = name

    def monitor(self, ref: ServerRef[Any, Any]) -> Monitor:
        """Monitor ``ref``; its DOWN arrives in this server's ``handle_info``.

        Example::

            async def init(self, worker):
                self.monitor(worker)
        """
        return monitor(ref, notify=self.ref)

    # --- starting -------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        *args: object,
        name: Hashable | None = None,
        task_status: trio.TaskStatus[ServerRef[Any, Any]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the server until it stops: start it with ``nursery.start``.

        ``task_status.started(ref)`` fires once ``init`` has returned. With ``name``, the
        server is registered under it first (a taken name fails the start with
        :class:`otp.NameTaken`).

        Example::

            ref = await nursery.start(Counter.start, 10)
            ref = await nursery.start(functools.partial(Counter.start, 10, name="counter"))
        """
        await _run_server(cls, args, name, task_status)

    @classmethod
    async def __otp_start__(
        cls, *args: object, task_status: trio.TaskStatus[ServerRef[Any, Any]]
    ) -> None:
        """How a :class:`ChildSpec` whose ``start`` is this class runs it."""
        await _run_server(cls, args, None, task_status)

    @classmethod
    def child_spec(
        cls,
        *args: object,
        id: Hashable | None = None,  # noqa: A002
        name: Hashable | None = None,
        restart: RestartLike = "permanent",
        shutdown: ShutdownLike | None = None,
        significant: bool = False,
        liveness: Heartbeat | None = None,
    ) -> ChildSpec:
        """A child spec that runs this server, optionally under a name.

        ``id`` defaults to the name, else to the class name.

        Example::

            children = [Counter.child_spec(0, name="counter"), Cache.child_spec(id="cache")]
        """
        # Without a name the class itself is the start, so that the spec equals
        # ChildSpec(id, cls, args) and a saved tree loads back equal.
        start: Any = cls if name is None else ServerStart(cls, name)
        child_id = id if id is not None else (name if name is not None else cls.__name__)
        return ChildSpec(
            child_id,
            start,
            args,
            restart=restart,
            shutdown=shutdown,
            significant=significant,
            liveness=liveness,
        )


@final
@attrs.frozen
class ServerStart:
    """The ``start`` of a server's child spec: the class and the name to register."""

    server: type[GenServer[Any, Any]]
    name: Hashable | None = None

    async def __call__(
        self, *args: object, task_status: trio.TaskStatus[ServerRef[Any, Any]]
    ) -> None:
        """Run the server (called by its supervisor)."""
        await _run_server(self.server, args, self.name, task_status)


def _same_value(a: object, b: object) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001  (a value whose == raises is only equal to itself)
        return False


def _raise_for(reason: ExitReason) -> None:
    """End the server's task so that its supervisor classifies it as ``reason``."""
    if reason.kind is ExitKind.NORMAL:
        return
    if reason.exception is not None:
        raise reason.exception
    if reason.kind is ExitKind.KILLED:
        raise Exit("killed")
    raise Shutdown


async def _run_server(
    cls: type[GenServer[Any, Any]],
    args: tuple[object, ...],
    name: Hashable | None,
    task_status: trio.TaskStatus[ServerRef[Any, Any]],
) -> None:
    mailbox = Mailbox(cls.mailbox_size, Overflow(cls.mailbox_overflow))
    core = _ServerCore(cls.__name__, name, mailbox)
    core.task = trio.lowlevel.current_task()
    child = current_child()
    if child is not None:
        core.supervisor = child.supervisor
    _serving.set(core)
    if name is not None:
        holder = register(name, core)
        if holder is not None:
            raise NameTaken(name, holder.ref)
    server = cls()
    server.ref = core.ref
    server._otp_core = core
    server._otp_continue = []
    server._otp_timeout = None
    if cls.middleware:
        _install_middleware(server, core, cls.middleware)
    reason = SHUTDOWN
    initialized = False
    try:
        try:
            first = await server.init(*args)
        except Exception as exc:
            reason = exit_reason(exc)
            raise  # a start failure: the starter (or supervisor) gets the real cause
        initialized = True
        _after(server, first)
        task_status.started(core.ref)
        reason = await _serve(server, core)
    except trio.Cancelled:
        # Stopped by its supervisor (or whoever runs it): an orderly shutdown.
        reason = SHUTDOWN
        failure = await _terminate(server, core, SHUTDOWN) if initialized else None
        if failure is not None:
            # terminate raised while we were being stopped: that is how the server ended.
            reason = ExitReason(ExitKind.ABNORMAL, failure)
            raise failure  # noqa: B904  (the Cancelled stays as __context__)
        child = current_child()
        if child is not None and child._terminating and child._cut_short():
            reason = KILLED  # what its supervisor reports too: brutal_kill, or cut short
        raise
    finally:
        core.end(reason)
    _raise_for(reason)


def _link(link: Callable[[Message, Handler], Awaitable[object]], rest: Handler) -> Handler:
    async def linked(message: Message) -> object:
        return await link(message, rest)

    return linked


def _install_middleware(
    server: GenServer[Any, Any],
    core: _ServerCore,
    chain: tuple[Callable[[Message, Handler], Awaitable[object]], ...],
) -> None:
    """Compose ``chain`` around this instance's handlers (its class stays as it is)."""

    def compose(innermost: Handler) -> Handler:
        handler = innermost
        for link in reversed(chain):
            handler = _link(link, handler)
        return handler

    own_call, own_cast, own_info = server.handle_call, server.handle_cast, server.handle_info

    async def innermost_call(message: Message) -> object:
        assert message.caller is not None
        return await own_call(message.payload, message.caller)

    async def innermost_cast(message: Message) -> object:
        return await own_cast(message.payload)

    async def innermost_info(message: Message) -> object:
        return await own_info(message.payload)

    call_chain = compose(innermost_call)
    cast_chain = compose(innermost_cast)
    info_chain = compose(innermost_info)

    async def handle_call(request: object, caller: Caller[Any]) -> object:
        try:
            return await call_chain(Message(MessageKind.CALL, request, server, caller))
        except Rejected as rejected:
            error = Rejected(rejected.reason)
            error.args = (f"{core.describe()} rejected call {request!r}: {rejected.reason}",)
            error.__cause__ = rejected
            caller._fail(error)
            return NoReply

    async def handle_cast(message: object) -> object:
        try:
            return await cast_chain(Message(MessageKind.CAST, message, server))
        except Rejected as rejected:
            logger.warning("%s rejected cast %r: %s", core.describe(), message, rejected.reason)
            return None

    async def handle_info(message: object) -> object:
        try:
            return await info_chain(Message(MessageKind.INFO, message, server))
        except Rejected as rejected:
            logger.warning("%s rejected info %r: %s", core.describe(), message, rejected.reason)
            return None

    # Instance attributes shadow the class's methods, for this server only.
    vars(server).update(handle_call=handle_call, handle_cast=handle_cast, handle_info=handle_info)


async def _terminate(
    server: GenServer[Any, Any], core: _ServerCore, reason: ExitReason
) -> Exception | None:
    """Run ``terminate(reason)`` in a cleanup scope; return what it raised, if it raised.

    As in Erlang, an exception from ``terminate`` becomes the server's exit reason.
    """
    child = current_child()
    if child is not None and child._terminating and child.spec.shutdown is BRUTAL_KILL:
        return None  # Erlang's kill: no terminate
    with cleanup_scope() as scope:
        core.cleanup = scope  # so that a stop's timeout can kill terminate too
        try:
            await server.terminate(reason)
        except Exception as exc:
            message = "%s: terminate(%s) raised %s"
            if child is None:  # nobody supervises it: the only record with the traceback
                logger.error(message, core.describe(), reason, _describe(exc), exc_info=exc)
            else:
                logger.warning(message, core.describe(), reason, _describe(exc))
            return exc
        finally:
            core.cleanup = None
    return None


async def _serve(server: GenServer[Any, Any], core: _ServerCore) -> ExitReason:
    """The server's loop, in epochs of one cancel scope each.

    One scope serves many calls and is replaced only when the caller of the call in hand
    gives up and cancels it: a scope per call would cost more than the call itself.
    """
    while True:
        epoch = core.epoch = trio.CancelScope()
        with epoch:
            reason = await _serve_messages(server, core)
            return KILLED if core.killed else reason
        if core.killed:
            return KILLED  # the call in hand, if any, fails when the server ends
        # The caller of the call in hand gave up, which cancelled its handler: go on.
        core.current = None


async def _serve_messages(server: GenServer[Any, Any], core: _ServerCore) -> ExitReason:
    """One message at a time, until a callback stops or crashes the server."""
    items = core.mailbox.items
    mailbox = core.mailbox
    pending_continue = server._otp_continue
    in_a_row = 0
    # With a liveness contract, the loop beats for the server at each message it takes and
    # is exempt while it waits for one: only a handler that never returns looks hung.
    child = current_child()
    liveness = child._liveness if child is not None else None
    try:
        while True:
            if pending_continue:
                if liveness is not None:
                    liveness.beat()
                arg = pending_continue.pop(0)
                _after(server, await server.handle_continue(arg))
                continue
            if items:
                item = items.popleft()
                server._otp_timeout = None  # a message came first
                in_a_row += 1
                if in_a_row >= _YIELD_EVERY:
                    in_a_row = 0
                    await trio.lowlevel.checkpoint()  # a busy server still lets others run
            else:
                in_a_row = 0
                if liveness is not None:
                    liveness.suspend()
                idle = server.idle_timeout
                once = server._otp_timeout
                if idle is None and once is None:
                    await mailbox.wait()
                    continue
                if once is not None and (idle is None or once.seconds <= idle):
                    with trio.move_on_after(once.seconds):
                        await mailbox.wait()
                        continue
                    server._otp_timeout = None
                    item = (_INFO, once)
                else:
                    assert idle is not None
                    with trio.move_on_after(idle):
                        await mailbox.wait()
                        continue
                    item = (_INFO, IdleTimeout(idle))
            if liveness is not None:
                liveness.beat()
            if type(item) is Caller:
                if item._task is None:
                    continue  # its caller gave up before we got to it
                core.current = item
                result = await server.handle_call(item.request, item)
                core.current = None
                if result is NoReply:
                    if item._task is not None:
                        core.pending.add(item)  # so that it fails if we end first
                elif item._replied:
                    raise AlreadyReplied(
                        f"handle_call answered call {item.request!r} with caller.reply() and "
                        f"then returned {result!r}; a handle_call that answers with "
                        "caller.reply() must return otp.NoReply"
                    )
                else:
                    item._answer(result)
            elif item[0] == _CAST:
                _after(server, await server.handle_cast(item[1]))
            elif item[0] == _INFO:
                _after(server, await server.handle_info(item[1]))
            else:
                return await _stop_requested(server, core, item[1])
    except Stop as stop:
        current = core.current
        core.current = None
        if current is not None and stop.has_reply and current._replied:
            # Stop(reply=...) after caller.reply(): a second reply, so a crash, like any.
            error = AlreadyReplied(
                f"call {current.request!r} was already answered; raise otp.Stop() without "
                "a reply after caller.reply()"
            )
            return await _crashed(server, core, error, current)
        reason = reason_from_value(stop.reason)
        failure = await _terminate(server, core, reason)
        if failure is not None:
            core.current = current  # it fails with the others when the server ends
            return ExitReason(ExitKind.ABNORMAL, failure)
        if current is not None and stop.has_reply:
            current._answer(stop.reply)
        elif current is not None:
            core.current = current
        return reason
    except Exception as exc:  # noqa: BLE001  (a crash: terminate, then the supervisor decides)
        return await _crashed(server, core, exc, core.current)


async def _crashed(
    server: GenServer[Any, Any],
    core: _ServerCore,
    exc: Exception,
    current: Caller[Any] | None = None,
) -> ExitReason:
    """A callback raised: log, run ``terminate``, and give the exit reason.

    The call in hand, if any, stays ``core.current`` and fails when the server ends.
    """
    core.current = current
    reason = ExitReason(ExitKind.ABNORMAL, exc)
    if current_child() is None:
        # Nobody supervises it: this is the only record of the crash.
        logger.error("%s crashed: %s", core.describe(), _describe(exc), exc_info=exc)
    else:
        # Its supervisor's crash report carries the traceback.
        logger.warning("%s crashed: %s", core.describe(), _describe(exc))
    failure = await _terminate(server, core, reason)
    return reason if failure is None else ExitReason(ExitKind.ABNORMAL, failure)


async def _stop_requested(
    server: GenServer[Any, Any], core: _ServerCore, reason: ExitReason
) -> ExitReason:
    """:meth:`ServerRef.stop`: ``terminate(reason)``, then end with ``reason``."""
    failure = await _terminate(server, core, reason)
    return reason if failure is None else ExitReason(ExitKind.ABNORMAL, failure)


def _after(server: GenServer[Any, Any], result: object) -> None:
    if isinstance(result, Continue):
        server._otp_continue.append(result.arg)
    elif isinstance(result, Timeout):
        server._otp_timeout = result

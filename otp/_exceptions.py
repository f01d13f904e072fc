"""Every exception ``otp`` raises, and the two that children raise to say how they end.

The tree::

    Exception
    ├── Shutdown                      a child's orderly exit (Erlang's ``shutdown``)
    │   └── RestartIntensityExceeded  a supervisor gave up: too many restarts too fast
    ├── Ignore                        a child declines to start (Erlang's ``ignore``)
    ├── Stop                          a server stops itself (Erlang's ``{stop, Reason}``)
    ├── Exit                          a child ends with a reason value (Erlang's ``exit(Reason)``)
    └── OtpError                      base of the errors the library raises
        ├── ChildSpecError            a child spec or supervisor flag is invalid (also ValueError)
        ├── StartError                a child failed to start; the cause is ``__cause__``
        └── SupervisorError           an admin call on a supervisor could not be carried out
            ├── ChildNotFound         no child with that id or handle (also LookupError)
            ├── ChildAlreadyStarted   the id is taken by a running child
            ├── ChildAlreadyPresent   the id is taken by a stopped child
            ├── ChildRunning          the child is running; stop it first
            ├── ChildRestarting       the child is between a crash and its restart
            ├── MaxChildrenReached    a dynamic supervisor is full
            └── SupervisorNotRunning  the supervisor has stopped or is stopping
        ├── CallError                 a call got no reply
        │   ├── CallTimeout           not within its timeout (also TimeoutError)
        │   ├── NoProc                no server there (never was, or not any more)
        │   ├── ServerExited          the server ended before replying; ``reason`` says why
        │   ├── CallingSelf           a server called itself
        │   └── MailboxFull           a bounded mailbox refused the call
        ├── TreeError                 a tree file (or dict) is invalid (also ValueError)
        ├── NameTaken                 another server holds the name
        └── AlreadyReplied            a second reply to one call (also RuntimeError)

``Shutdown`` and its subclass are exit *reasons*, not errors: a transient child that raises
``Shutdown`` is not restarted, and a supervisor that gives up ends its parent's view of it the
same way, so a transient nested supervisor that gave up stays down (as in Erlang/OTP).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, final

from ._taxonomy import ADMIN, BASE, CALL, CONTROL, DECLARATION, GIVE_UP, MISUSE, START, classify

if TYPE_CHECKING:
    from ._child import Child
    from ._exit import ExitReason
    from ._server import ServerRef
    from ._spec import ChildSpec

__all__ = [
    "AlreadyReplied",
    "CallError",
    "CallTimeout",
    "CallingSelf",
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpecError",
    "Exit",
    "Ignore",
    "MailboxFull",
    "MaxChildrenReached",
    "NameTaken",
    "NoProc",
    "OtpError",
    "RestartIntensityExceeded",
    "ServerExited",
    "Shutdown",
    "StartError",
    "Stop",
    "SupervisorError",
    "SupervisorNotRunning",
]


@classify(CONTROL)
class Shutdown(Exception):
    """Raise this from a child to stop it in an orderly way.

    A child that raises ``Shutdown`` exits with reason *shutdown* (Erlang's ``shutdown`` or
    ``{shutdown, Info}``): a ``transient`` child is not restarted and no crash is reported.
    A ``permanent`` child is restarted all the same, as in Erlang/OTP.

    Args:
        info: Optional detail kept on the exception and shown in reports.

    Example::

        async def worker(queue):
            async for job in queue:
                if job is None:
                    raise otp.Shutdown("queue drained")
                await handle(job)
    """

    def __init__(self, info: object = None) -> None:
        if info is None:
            super().__init__()
        else:
            super().__init__(info)
        self.info = info


@classify(GIVE_UP)
@final
class RestartIntensityExceeded(Shutdown):
    """A supervisor gave up: more than ``intensity`` restarts within ``period`` seconds.

    The supervisor has already stopped all its children (in reverse start order) when this is
    raised out of it. It is a :class:`Shutdown`, so a parent supervisor treats it as an orderly
    exit: a ``transient`` nested supervisor that gave up is not restarted, a ``permanent`` one
    is (and charges its parent's intensity). The last crash that tipped it over is
    ``__cause__``.

    Attributes:
        supervisor: The name of the supervisor that gave up.
        child_id: The id of the child whose exit tipped it over.
        intensity: The supervisor's ``intensity``.
        period: The supervisor's ``period`` in seconds.

    Example::

        try:
            async with otp.open_supervisor(children, intensity=0) as sup:
                await sup.wait()
        except* otp.RestartIntensityExceeded as group:
            print("tree gave up:", group.exceptions[0])
    """

    def __init__(self, supervisor: str, child_id: Hashable, intensity: int, period: float) -> None:
        self.supervisor = supervisor
        self.child_id = child_id
        self.intensity = intensity
        self.period = period
        super().__init__(
            f"supervisor {supervisor!r} reached its maximum restart intensity "
            f"({intensity} restart{'s' if intensity != 1 else ''} in {period:g} s) "
            f"when child {child_id!r} exited"
        )


@classify(CONTROL)
@final
class Ignore(Exception):
    """Raise this from a child *before* it calls ``task_status.started()`` to decline to start.

    The supervisor keeps the child's spec with no running task (a ``temporary`` spec is
    dropped), as Erlang/OTP does for an ``init`` that returns ``ignore``. The supervisor's own
    start carries on with the next child. ``start_child`` returns ``None`` for an ignored
    child. Raised after ``started()``, it is an ordinary crash.

    Example::

        async def metrics_exporter(config, *, task_status=trio.TASK_STATUS_IGNORED):
            if not config.enabled:
                raise otp.Ignore
            task_status.started()
            ...
    """


@classify(BASE)
class OtpError(Exception):
    """Base class of the errors raised by ``otp`` itself.

    Example::

        try:
            await sup.restart_child("db")
        except otp.OtpError as exc:
            log.warning("could not restart db: %s", exc)
    """


@classify(DECLARATION)
@final
class ChildSpecError(OtpError, ValueError):
    """A child spec, a list of child specs or a supervisor flag is invalid.

    Raised at declaration, never in the middle of a restart. The message names the child, the
    field, what was expected and what was given.

    Example::

        >>> otp.ChildSpec("db", start=db_worker, restart="always")
        Traceback (most recent call last):
        otp.ChildSpecError: child 'db': restart must be one of 'permanent', 'transient', \
'temporary' (got 'always')
    """


@classify(START)
@final
class StartError(OtpError):
    """A child failed to start: it raised (or returned) before ``task_status.started()``.

    The exception it raised is ``__cause__``. When a supervisor fails to start because one of
    its children did, the supervisor's own start raises ``StartError`` for that child after
    stopping the children already started, in reverse order (Erlang's
    ``shutdown(failed_to_start_child(Id, Reason))``).

    Attributes:
        child_id: The id of the child that failed to start.
        spec: The child's spec for a static supervisor; ``None`` for a dynamic supervisor,
            whose errors carry no spec (as in Erlang/OTP).

    Example::

        try:
            await sup.start_child(otp.ChildSpec("db", start=connect))
        except otp.StartError as exc:
            print(exc.child_id, "failed:", repr(exc.__cause__))
    """

    def __init__(self, child_id: Hashable, cause: BaseException, spec: ChildSpec | None) -> None:
        self.child_id = child_id
        self.spec = spec
        super().__init__(f"child {child_id!r} failed to start: {_describe(cause)}")
        self.__cause__ = cause


@classify(ADMIN)
class SupervisorError(OtpError):
    """An admin call on a supervisor could not be carried out.

    Example::

        try:
            await sup.delete_child("db")
        except otp.SupervisorError as exc:
            print("not now:", exc)
    """


@classify(ADMIN)
@final
class ChildNotFound(SupervisorError, LookupError):
    """No child with that id (static supervisor) or handle (dynamic supervisor).

    Example::

        with pytest.raises(otp.ChildNotFound):
            await sup.terminate_child("no-such-child")
    """


@classify(ADMIN)
@final
class ChildAlreadyStarted(SupervisorError):
    """``start_child``: a running child already has this id.

    Attributes:
        child: The running child that holds the id.

    Example::

        try:
            await sup.start_child(spec)
        except otp.ChildAlreadyStarted as exc:
            child = exc.child
    """

    def __init__(self, message: str, child: Child) -> None:
        super().__init__(message)
        self.child = child


@classify(ADMIN)
@final
class ChildAlreadyPresent(SupervisorError):
    """``start_child``: a stopped child already has this id; use ``restart_child`` instead.

    Example::

        await sup.terminate_child("db")
        with pytest.raises(otp.ChildAlreadyPresent):
            await sup.start_child(db_spec)
    """


@classify(ADMIN)
@final
class ChildRunning(SupervisorError):
    """``restart_child`` / ``delete_child``: the child is running; terminate it first.

    Example::

        with pytest.raises(otp.ChildRunning):
            await sup.delete_child("db")
    """


@classify(ADMIN)
@final
class ChildRestarting(SupervisorError):
    """The child is between an exit and its restart (a retry or a backoff delay is pending).

    Example::

        with pytest.raises(otp.ChildRestarting):
            await sup.restart_child("flaky")
    """


@classify(ADMIN)
@final
class MaxChildrenReached(SupervisorError):
    """A dynamic supervisor already runs ``max_children`` children.

    Example::

        with pytest.raises(otp.MaxChildrenReached):
            await pool.start_child("one too many")
    """


@classify(ADMIN)
@final
class SupervisorNotRunning(SupervisorError):
    """The supervisor has stopped or is stopping; it takes no more admin calls.

    Example::

        await sup.stop()
        with pytest.raises(otp.SupervisorNotRunning):
            await sup.start_child(spec)
    """


_NO_REPLY: Any = object()


@classify(CONTROL)
@final
class Stop(Exception):
    """Raise this from a server's callback to stop the server.

    ``terminate(reason)`` runs first; then, if ``reply`` was given and the callback was
    ``handle_call``, the caller gets ``reply`` (as in Erlang, the reply comes after
    ``terminate``). ``reason`` is any value, read by Erlang/OTP's rules as with
    :class:`otp.Exit`: ``None`` or ``"normal"`` is *normal*; ``"shutdown"``, a
    ``("shutdown", detail)`` pair or an :class:`otp.Shutdown` is *shutdown*; an exception is
    classified as if the server had raised it; any other value is *abnormal* (a transient
    server is then restarted). Monitors and reports get the value unchanged
    (:attr:`otp.ExitReason.value`).

    Args:
        reason: Why the server stops: any value (see above).
        reply: The reply to the current call, if any.

    Example::

        async def handle_call(self, request, caller):
            if request == "quit":
                raise otp.Stop(reply="bye")
            if request == "maintenance":
                raise otp.Stop(("shutdown", "maintenance"), reply="going down")
            ...
    """

    def __init__(self, reason: object = None, *, reply: object = _NO_REPLY) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply

    @property
    def has_reply(self) -> bool:
        """Whether a reply was given."""
        return self.reply is not _NO_REPLY


@classify(CONTROL)
class Exit(Exception):
    """Raise this from a child to end it with any reason value, as Erlang's ``exit(Reason)``.

    The value decides the kind of exit, by Erlang/OTP's rules: ``"normal"`` is *normal*;
    ``"shutdown"`` or a ``("shutdown", detail)`` pair is *shutdown* (a ``transient`` child is
    not restarted and no crash is reported); ``"killed"`` is *killed*; any other value is
    *abnormal*. The value itself reaches reports and monitors unchanged, as
    :attr:`otp.ExitReason.value`. Servers get the same from ``raise otp.Stop(value)`` and
    :meth:`otp.ServerRef.stop`.

    Args:
        reason: The exit reason, any value.

    Example::

        async def worker(job):
            if job.cancelled_upstream:
                raise otp.Exit(("shutdown", "upstream cancelled"))
            raise otp.Exit({"error": "bad_job", "id": job.id})  # abnormal: restarted
    """

    def __init__(self, reason: object) -> None:
        super().__init__(reason)
        self.reason = reason


@classify(CALL)
class CallError(OtpError):
    """A call got no reply: base of the ways a call can fail.

    Example::

        try:
            value = await ref.call("get")
        except otp.CallError as exc:
            log.warning("no answer: %s", exc)
    """


@classify(CALL)
@final
class CallTimeout(CallError, TimeoutError):
    """The reply did not come within the call's timeout.

    The server goes on; if it replies later, the reply is dropped (it never reaches a later
    call). If the server was still handling the request, that handler is cancelled.

    Example::

        with pytest.raises(otp.CallTimeout):
            await ref.call("slow", timeout=0.1)
    """


@classify(CALL)
@final
class NoProc(CallError):
    """No server there: it never existed, has ended, or no server holds the name.

    Example::

        with pytest.raises(otp.NoProc):
            await otp.named("nobody").call("ping")
    """


@classify(CALL)
@final
class ServerExited(CallError):
    """The server ended before it replied; ``reason`` says why.

    The exception the server ended with, if any, is ``__cause__``.

    Attributes:
        reason: The server's :class:`otp.ExitReason`.

    Example::

        try:
            await ref.call("crash please")
        except otp.ServerExited as exc:
            assert exc.reason.abnormal
    """

    def __init__(self, message: str, reason: ExitReason) -> None:
        super().__init__(message)
        self.reason = reason
        self.__cause__ = reason.exception


@classify(MISUSE)
@final
class CallingSelf(CallError):
    """A server called itself: it would wait for its own reply forever.

    Example::

        async def handle_cast(self, message):
            await self.ref.call("x")   # raises otp.CallingSelf
    """


@classify(CALL)
@final
class MailboxFull(CallError):
    """A bounded mailbox with the ``drop_newest`` policy refused the call.

    Example::

        with pytest.raises(otp.MailboxFull):
            await bounded_ref.call("one too many")
    """


@classify(START)
@final
class NameTaken(OtpError):
    """A server could not start: another server holds its name.

    Erlang's ``already_started``.

    Attributes:
        name: The name.
        holder: The server that holds it.

    Example::

        with pytest.raises(otp.StartError) as info:
            await nursery.start(functools.partial(Counter.start, name="c"))
        assert isinstance(info.value.__cause__, otp.NameTaken)
    """

    def __init__(self, name: Hashable, holder: ServerRef[Any, Any]) -> None:
        super().__init__(f"name {name!r} is already taken by {holder!r}")
        self.name = name
        self.holder = holder


@classify(MISUSE)
@final
class AlreadyReplied(OtpError, RuntimeError):
    """A call was answered twice; each call gets exactly one reply.

    Example::

        caller.reply(1)
        with pytest.raises(otp.AlreadyReplied):
            caller.reply(2)
    """


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

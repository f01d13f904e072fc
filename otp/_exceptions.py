"""Every exception ``otp`` raises, and the two that children raise to say how they end.

The tree::

    Exception
    ├── Shutdown                      a child's orderly exit (Erlang's ``shutdown``)
    │   └── RestartIntensityExceeded  a supervisor gave up: too many restarts too fast
    ├── Ignore                        a child declines to start (Erlang's ``ignore``)
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

``Shutdown`` and its subclass are exit *reasons*, not errors: a transient child that raises
``Shutdown`` is not restarted, and a supervisor that gives up ends its parent's view of it the
same way, so a transient nested supervisor that gave up stays down (as in Erlang/OTP).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from ._child import Child
    from ._spec import ChildSpec

__all__ = [
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpecError",
    "Ignore",
    "MaxChildrenReached",
    "OtpError",
    "RestartIntensityExceeded",
    "Shutdown",
    "StartError",
    "SupervisorError",
    "SupervisorNotRunning",
]


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


class OtpError(Exception):
    """Base class of the errors raised by ``otp`` itself.

    Example::

        try:
            await sup.restart_child("db")
        except otp.OtpError as exc:
            log.warning("could not restart db: %s", exc)
    """


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


class SupervisorError(OtpError):
    """An admin call on a supervisor could not be carried out.

    Example::

        try:
            await sup.delete_child("db")
        except otp.SupervisorError as exc:
            print("not now:", exc)
    """


@final
class ChildNotFound(SupervisorError, LookupError):
    """No child with that id (static supervisor) or handle (dynamic supervisor).

    Example::

        with pytest.raises(otp.ChildNotFound):
            await sup.terminate_child("no-such-child")
    """


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


@final
class ChildAlreadyPresent(SupervisorError):
    """``start_child``: a stopped child already has this id; use ``restart_child`` instead.

    Example::

        await sup.terminate_child("db")
        with pytest.raises(otp.ChildAlreadyPresent):
            await sup.start_child(db_spec)
    """


@final
class ChildRunning(SupervisorError):
    """``restart_child`` / ``delete_child``: the child is running; terminate it first.

    Example::

        with pytest.raises(otp.ChildRunning):
            await sup.delete_child("db")
    """


@final
class ChildRestarting(SupervisorError):
    """The child is between an exit and its restart (a retry or a backoff delay is pending).

    Example::

        with pytest.raises(otp.ChildRestarting):
            await sup.restart_child("flaky")
    """


@final
class MaxChildrenReached(SupervisorError):
    """A dynamic supervisor already runs ``max_children`` children.

    Example::

        with pytest.raises(otp.MaxChildrenReached):
            await pool.start_child("one too many")
    """


@final
class SupervisorNotRunning(SupervisorError):
    """The supervisor has stopped or is stopping; it takes no more admin calls.

    Example::

        await sup.stop()
        with pytest.raises(otp.SupervisorNotRunning):
            await sup.start_child(spec)
    """


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""Supervisor reports: one attrs record per event, to stdlib logging and to optional hooks.

Every start, exit, restart, give-up and shutdown of a supervisor is one event record. It goes
to the ``otp.supervisor`` logger (the record carries it as ``record.otp_event``; the message is
formatted only if a handler emits it) and to each hook passed to the supervisor. When no hook
is set and the logger is not enabled for the event's level, no record is even built.

Levels: crashes (abnormal exits), give-ups and failed starts are ``ERROR``; a child that would
not stop in time is ``WARNING``; everything else is ``INFO``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, ClassVar, final

import attrs

from ._burst import BurstLimiter, DroppedReports, ReportLimit
from ._exceptions import _describe
from ._exit import ExitReason
from ._hooks import hooks_wanting

if TYPE_CHECKING:
    from ._child import Child
    from ._dynamic import DynamicSupervisor
    from ._supervisor import Supervisor

__all__ = [
    "ChildAbandoned",
    "ChildExited",
    "ChildIgnored",
    "ChildRestartScheduled",
    "ChildStartFailed",
    "ChildStarted",
    "ChildTerminated",
    "SupervisorEvent",
    "SupervisorGaveUp",
    "SupervisorStarted",
    "SupervisorStopped",
]

logger = logging.getLogger("otp.supervisor")

Hook = Callable[["SupervisorEvent"], object]


@final
class _Described:
    """An error whose description is made only if a summary shows it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __str__(self) -> str:
        return _describe(self.error)


@attrs.frozen
class SupervisorEvent:
    """Base of every supervisor report.

    Attributes:
        supervisor: The supervisor's name (``"root/workers"`` for a nested one).
        time: ``trio.current_time()`` when it happened.

    Example::

        events = []
        sup = await nursery.start(partial(otp.supervisor, children, hooks=[events.append]))
        ...
        assert any(isinstance(e, otp.ChildExited) and e.reason.abnormal for e in events)
    """

    name: ClassVar[str] = "supervisor.event"
    level: ClassVar[int] = logging.INFO

    supervisor: str
    time: float

    def describe(self) -> str:
        """A one-line, human-readable account of the event."""
        return self.name

    def _summarised_as(self) -> tuple[Hashable, str, object] | None:
        """(child id, verb, reason) for a dropped-reports summary; ``None``: never limited.

        The reason is anything whose ``str()`` describes it, formatted only if needed.
        """
        return None

    def __str__(self) -> str:
        return f"supervisor {self.supervisor!r}: {self.describe()}"


@final
@attrs.frozen
class SupervisorStarted(SupervisorEvent):
    """A supervisor started all its initial children (``children`` counts those running).

    ``handle`` is the supervisor itself (not compared by ``==``).

    Example::

        started = next(e for e in events if isinstance(e, otp.SupervisorStarted))
        assert started.handle.count_children().active == started.children
    """

    name: ClassVar[str] = "supervisor.started"

    children: int
    handle: Supervisor | DynamicSupervisor | None = attrs.field(default=None, eq=False)
    """The supervisor itself, to read later (``otp.metrics`` counts its running children)."""

    def describe(self) -> str:
        """A one-line account of the event."""
        noun = "child" if self.children == 1 else "children"
        return f"started with {self.children} {noun}"


@final
@attrs.frozen
class SupervisorStopped(SupervisorEvent):
    """A supervisor stopped all its children and exited.

    ``reason`` is ``"normal"`` (``stop()``), ``"shutdown"`` (cancelled by its parent),
    ``"auto_shutdown"`` (significant children exited), ``"gave_up"`` (restart intensity) or
    ``"start_failed"`` (a child failed to start).

    Example::

        assert events[-1] == otp.SupervisorStopped("root", t, reason="normal")
    """

    name: ClassVar[str] = "supervisor.stopped"

    reason: str

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"stopped ({self.reason})"


@final
@attrs.frozen
class SupervisorGaveUp(SupervisorEvent):
    """A supervisor reached its restart intensity and gives up.

    Erlang calls it ``reached_max_restart_intensity``.

    Example::

        gave_up = [e for e in events if isinstance(e, otp.SupervisorGaveUp)]
    """

    name: ClassVar[str] = "supervisor.gave_up"
    level: ClassVar[int] = logging.ERROR

    child_id: Hashable
    reason: ExitReason
    intensity: int
    period: float

    def describe(self) -> str:
        """A one-line account of the event."""
        return (
            f"reached max restart intensity ({self.intensity} in {self.period:g} s) after "
            f"child {self.child_id!r} exited: {self.reason}"
        )


@final
@attrs.frozen
class ChildStarted(SupervisorEvent):
    """A child called ``task_status.started()`` (or was called, if it takes no task_status).

    Attributes:
        child_id: The child's spec id.
        child: The running child's handle.
        restart: ``True`` when this start is a restart.

    Example::

        restarts = sum(1 for e in events if isinstance(e, otp.ChildStarted) and e.restart)
    """

    name: ClassVar[str] = "child.started"

    child_id: Hashable
    child: Child = attrs.field(eq=False)
    restart: bool

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"child {self.child_id!r} {'restarted' if self.restart else 'started'}"

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        return self.child_id, "restarted" if self.restart else "started", None


@final
@attrs.frozen
class ChildIgnored(SupervisorEvent):
    """A child declined to start by raising :class:`otp.Ignore`.

    Example::

        assert any(isinstance(e, otp.ChildIgnored) for e in events)
    """

    name: ClassVar[str] = "child.ignored"

    child_id: Hashable

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"child {self.child_id!r} ignored its start"

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        return self.child_id, "ignored its start", None


@final
@attrs.frozen
class ChildStartFailed(SupervisorEvent):
    """A child raised (or returned) before ``task_status.started()``.

    Example::

        failures = [e.error for e in events if isinstance(e, otp.ChildStartFailed)]
    """

    name: ClassVar[str] = "child.start_failed"
    level: ClassVar[int] = logging.ERROR

    child_id: Hashable
    error: BaseException = attrs.field(eq=False)
    restart: bool

    def describe(self) -> str:
        """A one-line account of the event."""
        what = "restart" if self.restart else "start"
        return f"child {self.child_id!r} failed to {what}: {_describe(self.error)}"

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        what = "failed to restart" if self.restart else "failed to start"
        return self.child_id, what, _Described(self.error)


@final
@attrs.frozen
class ChildExited(SupervisorEvent):
    """A child exited by itself (not stopped by its supervisor).

    An abnormal exit is a crash report, logged at ``ERROR`` with the traceback.

    Attributes:
        child_id: The child's spec id.
        reason: Why it exited.
        restarting: Whether the supervisor will restart it (and maybe its siblings).

    Example::

        crashes = [e for e in events if isinstance(e, otp.ChildExited) and e.reason.abnormal]
    """

    name: ClassVar[str] = "child.exited"

    child_id: Hashable
    reason: ExitReason
    restarting: bool

    def describe(self) -> str:
        """A one-line account of the event."""
        then = "restarting" if self.restarting else "not restarting"
        return f"child {self.child_id!r} exited: {self.reason}; {then}"

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        what = "crashed" if self.reason.abnormal else "exited"
        error = self.reason.exception
        return self.child_id, what, self.reason if error is None else _Described(error)


@final
@attrs.frozen
class ChildRestartScheduled(SupervisorEvent):
    """A restart was put off by the supervisor's backoff.

    Attributes:
        child_id: The child whose exit (or failed restart) caused it.
        delay: Seconds until the restart.
        attempt: The backoff attempt number (0-based).
        group: The ids restarted together when the delay ends, in start order.

    Example::

        delays = [e.delay for e in events if isinstance(e, otp.ChildRestartScheduled)]
    """

    name: ClassVar[str] = "child.restart_scheduled"

    child_id: Hashable
    delay: float
    attempt: int
    group: tuple[Hashable, ...]

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"child {self.child_id!r} restarts in {self.delay:.3g} s (attempt {self.attempt})"

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        return self.child_id, "had a restart put off", None


@final
@attrs.frozen
class ChildTerminated(SupervisorEvent):
    """The supervisor stopped a child (``terminate_child``, a group restart, or shutdown).

    ``reason`` is ``shutdown`` when the child stopped within its shutdown limit, ``killed``
    when it was cut short (always, with ``brutal_kill``), or what it raised while stopping.
    Logged at ``ERROR`` (Erlang's ``shutdown_error``) when it did not stop cleanly, except for
    ``brutal_kill``, where ``killed`` is the expected outcome.

    Example::

        stopped = [e.child_id for e in events if isinstance(e, otp.ChildTerminated)]
    """

    name: ClassVar[str] = "child.terminated"

    child_id: Hashable
    reason: ExitReason

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"child {self.child_id!r} terminated: {self.reason}"

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        return self.child_id, "was terminated", self.reason


@final
@attrs.frozen
class ChildAbandoned(SupervisorEvent):
    """A child did not stop within its shutdown limit; it is treated as killed.

    Trio cannot kill a task that shields itself from cancellation. The supervisor goes on
    without it, and waits for its task before it exits itself.

    Example::

        assert not any(isinstance(e, otp.ChildAbandoned) for e in events)
    """

    name: ClassVar[str] = "child.abandoned"
    level: ClassVar[int] = logging.WARNING

    child_id: Hashable
    limit: float

    def describe(self) -> str:
        """A one-line account of the event."""
        return (
            f"child {self.child_id!r} did not stop within its shutdown limit "
            f"({self.limit:g} s after cancellation) because it shields itself from "
            "cancellation; treating it as killed (the supervisor waits for it before exiting)"
        )

    def _summarised_as(self) -> tuple[Hashable, str, object]:
        return self.child_id, "was abandoned", None


@final
class Reporter:
    """Sends a supervisor's events to the ``otp.supervisor`` logger and to its hooks.

    With a :class:`ReportLimit`, child reports past the limit are kept out of the log and
    summarised (see :mod:`otp._burst`); hooks still get every event.
    """

    __slots__ = ("_by_type", "_limiter", "hooks", "on_first_drop", "supervisor")

    def __init__(
        self, supervisor: str, hooks: Sequence[Hook], limit: ReportLimit | None = None
    ) -> None:
        self.supervisor = supervisor
        self.hooks = tuple(hooks)
        self._by_type: dict[type[SupervisorEvent], tuple[Hook, ...]] = {}
        self._limiter = BurstLimiter(limit) if limit is not None else None
        self.on_first_drop: Callable[[float], object] | None = None
        """Called with the window's end when it first drops a report, to flush then."""

    def hooks_for(self, event_type: type[SupervisorEvent]) -> tuple[Hook, ...]:
        """The hooks that want events of ``event_type`` (see :class:`otp.FilteredHook`)."""
        hooks = self._by_type.get(event_type)
        if hooks is None:
            hooks = self._by_type[event_type] = hooks_wanting(self.hooks, event_type)
        return hooks

    def wants(self, event_type: type[SupervisorEvent], level: int | None = None) -> bool:
        """Whether an event of ``event_type`` would go anywhere (so is worth building).

        ``level`` overrides the type's own, as in :meth:`emit`.
        """
        if self.hooks_for(event_type):
            return True
        return logger.isEnabledFor(event_type.level if level is None else level)

    def emit(self, event: SupervisorEvent, level: int | None = None) -> None:
        """Log ``event`` lazily and hand it to every hook; a failing hook is logged.

        ``level`` overrides the event type's own (a crash is an ``ERROR``-level exit).
        """
        if level is None:
            level = event.level
        self.deliver(event, level, logged=logger.isEnabledFor(level))

    def deliver(self, event: SupervisorEvent, level: int, *, logged: bool) -> None:
        """:meth:`emit`, told whether the logger is enabled for ``level`` (hot paths ask once)."""
        if logged and self._admit(event, level):
            exc_info: BaseException | None = None
            if isinstance(event, ChildExited | ChildTerminated):
                exc_info = event.reason.exception if level >= logging.ERROR else None
            elif isinstance(event, ChildStartFailed):
                exc_info = event.error
            logger.log(level, "%s", event, exc_info=exc_info, extra={"otp_event": event})
        for hook in self.hooks_for(type(event)):
            try:
                hook(event)
            except Exception:
                logger.exception(
                    "supervisor %r: hook %r failed on %s", self.supervisor, hook, event
                )

    def _admit(self, event: SupervisorEvent, level: int) -> bool:
        limiter = self._limiter
        if limiter is None:
            return True
        summary = event._summarised_as()
        if summary is None:
            return True
        now = event.time
        if now >= limiter.window_end:
            self._log_dropped(limiter.due(now))
        if limiter.admit(now):
            return True
        child_id, what, last = summary
        if limiter.drop(child_id, what, level, last) and self.on_first_drop is not None:
            self.on_first_drop(limiter.window_end)
        return False

    def flush_due(self, now: float) -> None:
        """Log the summaries of a window that has ended by ``now``."""
        if self._limiter is not None:
            self._log_dropped(self._limiter.due(now))

    def flush(self, now: float) -> None:
        """Log every summary still held (the supervisor is stopping)."""
        if self._limiter is not None:
            self._log_dropped(self._limiter.flush(now))

    def _log_dropped(self, summaries: list[DroppedReports]) -> None:
        for dropped in summaries:
            logger.log(
                dropped.level,
                "supervisor %r: %s",
                self.supervisor,
                dropped,
                extra={"otp_dropped": dropped},
            )

"""The runner's own events: one record per step of an application's life."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar, final

import attrs

from ._codes import ExitCode

__all__ = [
    "AppEvent",
    "AppStartFailed",
    "AppStarted",
    "AppStopped",
    "EventSink",
    "HookFailed",
    "HookTimedOut",
    "ReloadFailed",
    "ReloadSkipped",
    "Reloaded",
    "ShutdownForced",
    "ShutdownPhase",
    "StopRequested",
]

logger = logging.getLogger("otp.app")


def describe_error(exc: BaseException) -> str:
    """``"Type: message"``, or the type alone when the message is empty."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ShutdownPhase(StrEnum):
    """The phases of a shutdown that run hooks (Akka's CoordinatedShutdown has more).

    Example::

        hook = otp.app.ShutdownHook("drain", drain, timeout=5)
        otp.app.run(tree, before_stop=[hook])
    """

    BEFORE_STOP = "before_stop"
    """After the stop request, before the tree is stopped (stop taking work, drain)."""
    AFTER_STOP = "after_stop"
    """After the tree is down (flush, close)."""


@attrs.frozen
class AppEvent:
    """Base of every runner event; ``str(event)`` is its one-line account.

    Attributes:
        app: The application's name.
        time: ``trio.current_time()`` when it happened.

    Example::

        events = []
        await otp.app.serve(tree, on_event=events.append)
    """

    name: ClassVar[str] = "app.event"
    level: ClassVar[int] = logging.INFO

    app: str
    time: float

    def describe(self) -> str:
        """A one-line, human-readable account of the event."""
        return self.name

    def __str__(self) -> str:
        return f"app {self.app!r}: {self.describe()}"


@final
@attrs.frozen
class AppStarted(AppEvent):
    """Every child of the tree has called ``task_status.started()``.

    Example::

        assert any(isinstance(e, otp.app.AppStarted) for e in events)
    """

    name: ClassVar[str] = "app.started"

    root: str
    children: int
    took: float

    def describe(self) -> str:
        """A one-line account of the event."""
        noun = "child" if self.children == 1 else "children"
        return f"started ({self.children} {noun} under {self.root!r}) in {self.took:.3g} s"


@final
@attrs.frozen
class AppStartFailed(AppEvent):
    """A child failed to start; ``path`` is its place in the tree (``"shop/workers/w1"``).

    Example::

        failed = [e for e in events if isinstance(e, otp.app.AppStartFailed)]
    """

    name: ClassVar[str] = "app.start_failed"
    level: ClassVar[int] = logging.ERROR

    path: str
    error: BaseException = attrs.field(eq=False)

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"failed to start: child {self.path!r} failed: {describe_error(self.error)}"


@final
@attrs.frozen
class StopRequested(AppEvent):
    """The shutdown begins; ``cause`` is a signal's name, ``"stop()"`` or why the tree ended.

    Example::

        assert events[-3].cause == "SIGTERM"
    """

    name: ClassVar[str] = "app.stop_requested"

    cause: str

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"stopping ({self.cause})"


@final
@attrs.frozen
class ShutdownForced(AppEvent):
    """The shutdown was cut short; ``running`` lists the paths still running, killed now.

    Example::

        forced = [e for e in events if isinstance(e, otp.app.ShutdownForced)]
    """

    name: ClassVar[str] = "app.shutdown_forced"
    level: ClassVar[int] = logging.WARNING

    why: str
    running: tuple[str, ...]

    def describe(self) -> str:
        """A one-line account of the event."""
        left = ", ".join(repr(path) for path in self.running) or "nothing"
        return f"forcing the shutdown ({self.why}); killing what is still running: {left}"


@final
@attrs.frozen
class HookFailed(AppEvent):
    """A shutdown hook raised; the shutdown went on.

    Example::

        assert not any(isinstance(e, otp.app.HookFailed) for e in events)
    """

    name: ClassVar[str] = "app.hook_failed"
    level: ClassVar[int] = logging.ERROR

    phase: ShutdownPhase
    hook: str
    error: BaseException = attrs.field(eq=False)

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"{self.phase} hook {self.hook!r} failed: {describe_error(self.error)}"


@final
@attrs.frozen
class HookTimedOut(AppEvent):
    """A shutdown hook outlived its timeout and was cancelled; the shutdown went on.

    Example::

        late = [e.hook for e in events if isinstance(e, otp.app.HookTimedOut)]
    """

    name: ClassVar[str] = "app.hook_timed_out"
    level: ClassVar[int] = logging.WARNING

    phase: ShutdownPhase
    hook: str
    timeout: float

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"{self.phase} hook {self.hook!r} timed out after {self.timeout:g} s"


@final
@attrs.frozen
class Reloaded(AppEvent):
    """The reload callback (SIGHUP or ``App.reload_soon()``) returned.

    Example::

        assert any(isinstance(e, otp.app.Reloaded) for e in events)
    """

    name: ClassVar[str] = "app.reloaded"

    def describe(self) -> str:
        """A one-line account of the event."""
        return "reloaded"


@final
@attrs.frozen
class ReloadFailed(AppEvent):
    """The reload callback raised; the application keeps running as it was.

    Example::

        failed = [e.error for e in events if isinstance(e, otp.app.ReloadFailed)]
    """

    name: ClassVar[str] = "app.reload_failed"
    level: ClassVar[int] = logging.ERROR

    error: BaseException = attrs.field(eq=False)

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"reload failed: {describe_error(self.error)}"


@final
@attrs.frozen
class ReloadSkipped(AppEvent):
    """A reload was asked for but not run (no callback, or not running).

    Example::

        skipped = [e.why for e in events if isinstance(e, otp.app.ReloadSkipped)]
    """

    name: ClassVar[str] = "app.reload_skipped"
    level: ClassVar[int] = logging.WARNING

    why: str

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"reload skipped: {self.why}"


@final
@attrs.frozen
class AppStopped(AppEvent):
    """The run is over; ``code`` is its exit code.

    Example::

        assert events[-1].code is otp.app.ExitCode.SIGTERM
    """

    name: ClassVar[str] = "app.stopped"

    code: ExitCode
    cause: str

    def describe(self) -> str:
        """A one-line account of the event."""
        return f"stopped ({self.cause}): exit code {int(self.code)} ({self.code.name})"


EventSink = Callable[[AppEvent], object]


def emit(event: AppEvent, sinks: tuple[EventSink, ...]) -> None:
    """Log ``event`` to ``otp.app`` and hand it to every sink; a failing sink is logged."""
    level = event.level
    if logger.isEnabledFor(level):
        exc_info = None
        if isinstance(event, AppStartFailed | HookFailed | ReloadFailed):
            exc_info = event.error
        logger.log(level, "%s", event, exc_info=exc_info, extra={"otp_event": event})
    for sink in sinks:
        try:
            sink(event)
        except Exception:
            logger.exception("app %r: event sink %r failed on %s", event.app, sink, event)

"""How a child ended, as a value: the Trio port of Erlang's exit reasons.

Erlang tells a supervisor why a process died with an exit reason; Trio tells the task that
awaited a coroutine with an exception or a return. :func:`exit_reason` maps one to the other:

=============================================  ==============  ===========================
how the child ended                            kind            abnormal (transient restarts)
=============================================  ==============  ===========================
returned                                       ``normal``      no
raised :class:`otp.Shutdown` (or a group of    ``shutdown``    no
only those)
cancelled by its own supervisor                ``shutdown``    no
raised :class:`otp.Exit` with a value          by the value    as its kind (see ``Exit``)
raised any other ``Exception`` or an           ``abnormal``    yes
``ExceptionGroup``
cut short at its shutdown limit (always with    ``killed``      yes
``brutal_kill``), or abandoned
stopped because it stopped beating (liveness)   ``hung``        yes
=============================================  ==============  ===========================

``KeyboardInterrupt``, ``SystemExit``, a foreign ``trio.Cancelled`` and any group holding one
of them are never exit reasons: they propagate, because they are not the child's to report.
"""

from __future__ import annotations

from enum import StrEnum
from typing import final

import attrs

from ._exceptions import Exit, Shutdown, _describe

__all__ = ["ExitKind", "ExitReason", "exit_reason"]


class ExitKind(StrEnum):
    """The four ways a child can end, named after Erlang's exit reasons.

    Example::

        >>> otp.ExitReason(otp.ExitKind.NORMAL).abnormal
        False
    """

    NORMAL = "normal"
    """The child returned."""
    SHUTDOWN = "shutdown"
    """The child raised :class:`otp.Shutdown` or was stopped by its supervisor."""
    ABNORMAL = "abnormal"
    """The child raised an exception (a crash)."""
    KILLED = "killed"
    """The child was still running when its shutdown limit ran out (or was abandoned)."""
    HUNG = "hung"
    """The child's liveness detector gave up on it; see :class:`otp.Heartbeat`."""


@final
@attrs.frozen
class ExitReason:
    """Why a child ended: a kind and, when it raised, the exception.

    Attributes:
        kind: One of :class:`ExitKind`.
        exception: What the child raised, if it raised; ``None`` otherwise.

    Example::

        >>> reason = otp.ExitReason(otp.ExitKind.ABNORMAL, ValueError("boom"))
        >>> reason.abnormal, str(reason)
        (True, "abnormal (ValueError: boom)")
    """

    kind: ExitKind
    exception: BaseException | None = attrs.field(default=None, eq=False)

    @property
    def abnormal(self) -> bool:
        """Whether a ``transient`` child is restarted after this exit."""
        return self.kind is not ExitKind.NORMAL and self.kind is not ExitKind.SHUTDOWN

    @property
    def value(self) -> object:
        """The reason as an Erlang-style value, as the child or a stop gave it.

        ``"normal"``, ``"shutdown"`` (``("shutdown", info)`` for an :class:`otp.Shutdown`
        with info), ``"killed"``, ``"hung"``; the value given to :class:`otp.Exit`,
        :class:`otp.Stop` or :meth:`otp.ServerRef.stop`, unchanged; or the exception a
        crashed child raised.

        Example::

            >>> otp.exit_reason(otp.Exit(("shutdown", "drained"))).value
            ('shutdown', 'drained')
        """
        exc = self.exception
        if isinstance(exc, Exit):
            return exc.reason
        if self.kind is ExitKind.SHUTDOWN:
            if isinstance(exc, Shutdown) and exc.info is not None:
                return ("shutdown", exc.info)
            return "shutdown"
        if self.kind is ExitKind.ABNORMAL and exc is not None:
            return exc
        return self.kind.value

    def __str__(self) -> str:
        exc = self.exception
        if exc is None or (type(exc) is Shutdown and exc.info is None):
            return self.kind.value
        if isinstance(exc, Exit):
            value = exc.reason
            if isinstance(value, str) and value == self.kind.value:
                return self.kind.value
            if self.kind is ExitKind.SHUTDOWN and isinstance(value, tuple):
                return f"shutdown ({value[1]!r})"
            return f"{self.kind.value} ({value!r})"
        return f"{self.kind.value} ({_describe(exc)})"


NORMAL = ExitReason(ExitKind.NORMAL)
SHUTDOWN = ExitReason(ExitKind.SHUTDOWN)
KILLED = ExitReason(ExitKind.KILLED)


def exit_reason(exc: Exception) -> ExitReason:
    r"""Classify an exception that ended a child.

    Only ``Exception`` is accepted: an ``ExceptionGroup`` holds nothing but ``Exception``
    leaves by construction, so any group that reaches this point is safe to classify whole and
    is never unwrapped. Groups that carry ``KeyboardInterrupt``, ``SystemExit`` or
    ``trio.Cancelled`` are ``BaseExceptionGroup``\\ s and never get here.

    Example::

        >>> otp.exit_reason(otp.Shutdown("drained")).kind
        <ExitKind.SHUTDOWN: 'shutdown'>
    """
    if isinstance(exc, Shutdown):
        return ExitReason(ExitKind.SHUTDOWN, exc)
    if isinstance(exc, Exit):
        return ExitReason(_kind_of(exc.reason), exc)
    if isinstance(exc, ExceptionGroup):
        _, not_shutdown = exc.split(Shutdown)
        if not_shutdown is None:
            return ExitReason(ExitKind.SHUTDOWN, exc)
    return ExitReason(ExitKind.ABNORMAL, exc)


def _kind_of(value: object) -> ExitKind:
    """Erlang/OTP's reading of a reason value (see :class:`otp.Exit`)."""
    if isinstance(value, str):
        return _NAMED_KINDS.get(value, ExitKind.ABNORMAL)
    if type(value) is tuple and len(value) == 2 and isinstance(value[0], str):
        return ExitKind.SHUTDOWN if value[0] == "shutdown" else ExitKind.ABNORMAL
    return ExitKind.ABNORMAL


_NAMED_KINDS = {
    "normal": ExitKind.NORMAL,
    "shutdown": ExitKind.SHUTDOWN,
    "killed": ExitKind.KILLED,
}


def reason_from_value(value: object) -> ExitReason:
    """The exit reason of a stop with ``value`` (``Stop(value)``, ``ServerRef.stop(value)``).

    ``None`` reads as ``"normal"``; an exception is classified as if the child had raised it.
    """
    if value is None or (isinstance(value, str) and value == "normal"):
        return NORMAL
    if isinstance(value, str) and value == "shutdown":
        return SHUTDOWN
    if isinstance(value, Exception):
        return exit_reason(value)
    return ExitReason(_kind_of(value), Exit(value))

"""The error taxonomy: every exception ``otp`` raises belongs to one family.

A family says how serious the error is (:class:`Severity`) and what the library does about
it (:class:`Recovery`), so a program can handle errors by family rather than by a list of
classes, and the docs table of every error (``docs/errors.md``) is generated from these
declarations. Each exception class is tagged where it is defined, with :func:`classify`;
:func:`error_family` reads the tag of an exception or class (the nearest in its MRO).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar, final

import attrs

__all__ = ["ErrorFamily", "Recovery", "Severity", "classify", "error_family"]

E = TypeVar("E", bound=type[BaseException])


class Severity(StrEnum):
    """How serious an error of a family is.

    Example::

        if otp.error_family(exc).severity is otp.Severity.BUG:
            raise  # fix the program; retrying will not help
    """

    CONTROL = "control"
    """Not a failure: a way for a child or server to end or to decline to start."""
    TRANSIENT = "transient"
    """A runtime condition the caller is expected to handle; trying again may succeed."""
    ERROR = "error"
    """Something failed; the library recovers by restarting or stopping what failed."""
    FATAL = "fatal"
    """A supervisor ran out of restarts, or a store is unusable: a human must look."""
    BUG = "bug"
    """The program declared or used something wrongly; fix the code or the file."""
    VARIES = "varies"
    """A base class: its subclasses say."""


class Recovery(StrEnum):
    """What the library does when an error of a family happens.

    Example::

        assert otp.error_family(otp.CallTimeout).recovery is otp.Recovery.RAISE
    """

    REJECT = "reject"
    """Rejected where it was declared or loaded: nothing starts, nothing changes."""
    RAISE = "raise"
    """Raised to the caller alone; the server or tree goes on as before."""
    RESTART = "restart"
    """The child or server exits; its supervisor restarts it as its restart type says."""
    ESCALATE = "escalate"
    """The supervisor stops its children and exits with the error; its parent decides."""
    VARIES = "varies"
    """A base class: its subclasses say."""


@final
@attrs.frozen
class ErrorFamily:
    """One family of errors: a name, a severity, the recovery and a one-line summary.

    Example::

        >>> family = otp.error_family(otp.NoProc)
        >>> (family.name, family.severity.value, family.recovery.value)
        ('call', 'transient', 'raise')
    """

    name: str
    severity: Severity
    recovery: Recovery
    summary: str


BASE = ErrorFamily(
    "base",
    Severity.VARIES,
    Recovery.VARIES,
    "a base class to catch a group of errors by; never raised itself",
)
DECLARATION = ErrorFamily(
    "declaration",
    Severity.BUG,
    Recovery.REJECT,
    "a spec, flag, option, tree file or configuration is invalid; the message names the key",
)
MISUSE = ErrorFamily(
    "misuse",
    Severity.BUG,
    Recovery.RAISE,
    "the API was used in a way that cannot work; raised where it happened (in a handler, it "
    "crashes the server, which is restarted)",
)
CONTROL = ErrorFamily(
    "control",
    Severity.CONTROL,
    Recovery.RESTART,
    "raised by a child or server to end with a reason or decline to start; whether it is "
    "restarted follows its restart type and the reason",
)
CALL = ErrorFamily(
    "call",
    Severity.TRANSIENT,
    Recovery.RAISE,
    "a call got no reply; the caller decides (retry, fail, fall back); the server is unaffected",
)
ADMIN = ErrorFamily(
    "admin",
    Severity.TRANSIENT,
    Recovery.RAISE,
    "a supervisor refused an admin request; its children are unchanged",
)
BREAKER = ErrorFamily(
    "breaker",
    Severity.TRANSIENT,
    Recovery.RAISE,
    "a circuit breaker failed a call fast or timed it out; the protected service is spared",
)
START = ErrorFamily(
    "start",
    Severity.ERROR,
    Recovery.ESCALATE,
    "a child failed to start; what had started is stopped in reverse order and the starter "
    "(a parent supervisor or the application) gets the error",
)
CHILD_FAILURE = ErrorFamily(
    "child failure",
    Severity.ERROR,
    Recovery.RESTART,
    "a running child failed (crashed, hung, hit a store error); its supervisor restarts it",
)
CONFLICT = ErrorFamily(
    "conflict",
    Severity.TRANSIENT,
    Recovery.RESTART,
    "another writer got there first; nothing was written, and the server that held stale "
    "state crashes and rebuilds from the store",
)
GIVE_UP = ErrorFamily(
    "give up",
    Severity.FATAL,
    Recovery.ESCALATE,
    "a supervisor reached its restart intensity; it stopped its children and exits, and its "
    "parent restarts it or gives up in turn",
)
STORE_LOST = ErrorFamily(
    "store unusable",
    Severity.FATAL,
    Recovery.RESTART,
    "the store cannot be read or written (corrupt, full); servers using it crash until it is "
    "repaired, and their supervisors give up",
)
OVERLOAD = ErrorFamily(
    "overload",
    Severity.TRANSIENT,
    Recovery.RAISE,
    "a bounded queue was full and the work was not taken; the caller decides (wait, retry "
    "later, shed load)",
)
JOB = ErrorFamily(
    "job",
    Severity.ERROR,
    Recovery.RAISE,
    "a job did not succeed (failed after its retries, timed out, cancelled, dropped at a "
    "stop); whoever awaits it gets the error, and the executor and other jobs go on",
)

FAMILIES = (
    DECLARATION,
    MISUSE,
    CONTROL,
    CALL,
    ADMIN,
    BREAKER,
    OVERLOAD,
    JOB,
    START,
    CHILD_FAILURE,
    CONFLICT,
    GIVE_UP,
    STORE_LOST,
    BASE,
)
"""Every family, in the order the docs list them."""


def classify(family: ErrorFamily) -> Callable[[E], E]:
    """A class decorator: ``exc_class`` belongs to ``family``."""

    def tag(cls: E) -> E:
        cls.__otp_family__ = family  # type: ignore[attr-defined]
        return cls

    return tag


def error_family(error: BaseException | type[BaseException]) -> ErrorFamily | None:
    """The family of an ``otp`` exception (or class); ``None`` for any other exception.

    Example::

        try:
            await ref.call("get")
        except otp.OtpError as exc:
            if otp.error_family(exc).severity is otp.Severity.TRANSIENT:
                await retry_later()
    """
    cls = error if isinstance(error, type) else type(error)
    family = getattr(cls, "__otp_family__", None)
    return family if isinstance(family, ErrorFamily) else None


def own_family(cls: type[BaseException]) -> ErrorFamily | None:
    """The family ``cls`` was classified in itself (not inherited), if any."""
    family = cls.__dict__.get("__otp_family__")
    return family if isinstance(family, ErrorFamily) else None

"""Supervisor flags: strategy, intensity, backoff, auto_shutdown and report limit, validated.

Erlang/OTP rejects bad flags when the supervisor starts (``supervisor_data``); ``otp`` rejects
them when the supervisor or its spec is declared, with a message that names the flag.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Literal, TypeAlias, final

import attrs

from ._backoff import Backoff
from ._burst import ReportLimit
from ._exceptions import ChildSpecError
from ._numbers import as_float
from ._spec import _got, _quoted_choices

__all__ = ["AutoShutdown", "Strategy", "SupervisorFlags"]


class Strategy(StrEnum):
    """Which children a supervisor restarts when one of them exits and must be restarted.

    Example::

        sup = await nursery.start(partial(otp.supervisor, children, strategy="rest_for_one"))
    """

    ONE_FOR_ONE = "one_for_one"
    """Only the child that exited."""
    ONE_FOR_ALL = "one_for_all"
    """All children: the others are stopped in reverse start order, then all are started
    again in start order."""
    REST_FOR_ONE = "rest_for_one"
    """The child that exited and every child started after it."""


class AutoShutdown(StrEnum):
    """When the exit of *significant* children stops the supervisor itself.

    Only exits a significant child makes by itself count; ``terminate_child`` and the
    collateral stops of a group restart never do.

    Example::

        spec = otp.ChildSpec("job", start=job, restart="transient", significant=True)
        await nursery.start(partial(otp.supervisor, [spec], auto_shutdown="any_significant"))
    """

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


StrategyLike: TypeAlias = Strategy | Literal["one_for_one", "one_for_all", "rest_for_one"]
AutoShutdownLike: TypeAlias = AutoShutdown | Literal["never", "any_significant", "all_significant"]
RandomSource: TypeAlias = Callable[[], float]
DEFAULT_REPORT_LIMIT = ReportLimit()


@final
@attrs.frozen
class SupervisorFlags:
    """A supervisor's validated flags (built by :func:`make_flags`)."""

    strategy: Strategy
    intensity: int
    period: float
    backoff: Backoff | None
    auto_shutdown: AutoShutdown
    max_children: int | None = None
    report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT


def _positive_finite(value: object) -> bool:
    number = as_float(value)
    return math.isfinite(number) and number > 0


def _check_random(where: str, random: object) -> None:
    # Not called here: a seeded source must give the same delays whether or not it was
    # declared, so only its shape can be checked.
    if random is None or (callable(random) and not isinstance(random, type)):
        return
    hint = ""
    if callable(getattr(random, "random", None)):
        hint = "; pass its bound method instead (random=rng.random)"
    msg = (
        f"{where}random must be a callable returning a float in [0, 1), such as "
        f"random.random, or None (got {_got(random)}){hint}"
    )
    raise ChildSpecError(msg)


def check_hooks(
    name: object, hooks: object, *, label: object = None
) -> tuple[Callable[..., object], ...]:
    """Validate a supervisor's ``name`` and ``hooks`` at declaration; return the hooks."""
    if name is not None and not isinstance(name, str):
        msg = f"supervisor: name must be a str or None (got {_got(name)})"
        raise ChildSpecError(msg)
    label = name if label is None else label
    where = f"supervisor {label!r}: " if label else "supervisor: "
    if isinstance(hooks, str | bytes) or not isinstance(hooks, Iterable):
        msg = f"{where}hooks must be an iterable of callables (got {_got(hooks)})"
        raise ChildSpecError(msg)
    result = tuple(hooks)
    for index, hook in enumerate(result):
        if not callable(hook):
            msg = (
                f"{where}hooks[{index}] must be a callable taking an otp.SupervisorEvent "
                f"(got {_got(hook)})"
            )
            raise ChildSpecError(msg)
    return result


def make_flags(
    name: str | None,
    *,
    strategy: object,
    intensity: object,
    period: object,
    backoff: object,
    auto_shutdown: object,
    max_children: object = None,
    random: object = None,
    report_limit: object = DEFAULT_REPORT_LIMIT,
) -> SupervisorFlags:
    """Validate a supervisor's flags, naming the supervisor and the flag on error.

    ``random`` (the jitter source) is checked here but not kept: it is not data.
    """
    where = f"supervisor {name!r}: " if name else "supervisor: "

    def choice(flag: str, enum: type[StrEnum], value: object) -> StrEnum:
        if isinstance(value, enum):
            return value
        if isinstance(value, str):
            try:
                return enum(value)
            except ValueError:
                pass
        msg = f"{where}{flag} must be one of {_quoted_choices(enum)} (got {_got(value)})"
        raise ChildSpecError(msg)

    strategy_value = choice("strategy", Strategy, strategy)
    auto_value = choice("auto_shutdown", AutoShutdown, auto_shutdown)
    if not isinstance(intensity, int) or isinstance(intensity, bool) or intensity < 0:
        msg = f"{where}intensity must be an int >= 0 (got {_got(intensity)})"
        raise ChildSpecError(msg)
    if not _positive_finite(period):
        msg = f"{where}period must be a finite number of seconds > 0 (got {_got(period)})"
        raise ChildSpecError(msg)
    if backoff is not None and not isinstance(backoff, Backoff):
        msg = f"{where}backoff must be an otp.Backoff or None (got {_got(backoff)})"
        raise ChildSpecError(msg)
    if max_children is not None and (
        not isinstance(max_children, int) or isinstance(max_children, bool) or max_children < 1
    ):
        msg = f"{where}max_children must be an int >= 1 or None (got {_got(max_children)})"
        raise ChildSpecError(msg)
    if report_limit is not None and not isinstance(report_limit, ReportLimit):
        msg = (
            f"{where}report_limit must be an otp.ReportLimit, or None to log every report "
            f"(got {_got(report_limit)})"
        )
        raise ChildSpecError(msg)
    _check_random(where, random)
    return SupervisorFlags(
        strategy=Strategy(strategy_value),
        intensity=intensity,
        period=float(period),  # type: ignore[arg-type]  # checked above
        backoff=backoff,
        auto_shutdown=AutoShutdown(auto_value),
        max_children=max_children,
        report_limit=report_limit,
    )

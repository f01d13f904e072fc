"""Child specs: what a supervisor runs, declared as data and validated at declaration.

A bad spec fails here, when it is written, with a message that names the child, the field,
the allowed values and what was given, never deep inside a restart.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from enum import StrEnum
from typing import Any, Literal, TypeAlias, final

import attrs

from ._exceptions import ChildSpecError
from ._exit import ExitReason
from ._heartbeat import Heartbeat
from ._numbers import as_float

__all__ = [
    "BRUTAL_KILL",
    "INFINITY",
    "ChildSpec",
    "ChildType",
    "Restart",
    "ShutdownMode",
    "check_child_specs",
]

StartFunction: TypeAlias = Callable[..., Awaitable[object]]
"""An async callable a supervisor runs as ``await start(*args, task_status=...)``."""


class Restart(StrEnum):
    """When a child is restarted after it exits (Erlang's restart types).

    Example::

        otp.ChildSpec("cache", start=cache, restart=otp.Restart.TRANSIENT)
        otp.ChildSpec("cache", start=cache, restart="transient")  # the same
    """

    PERMANENT = "permanent"
    """Always restarted, even after a normal return or :class:`otp.Shutdown`."""
    TRANSIENT = "transient"
    """Restarted only after an abnormal exit (a crash, or being killed)."""
    TEMPORARY = "temporary"
    """Never restarted; its spec is dropped as soon as it exits for any reason."""

    def restarts_after(self, reason: ExitReason) -> bool:
        """Whether a child of this restart type is restarted after exiting with ``reason``.

        Example::

            >>> otp.Restart.TRANSIENT.restarts_after(otp.ExitReason(otp.ExitKind.NORMAL))
            False
        """
        if self is Restart.PERMANENT:
            return True
        if self is Restart.TRANSIENT:
            return reason.abnormal
        return False


class ChildType(StrEnum):
    """Whether a child is a worker or a supervisor (changes only the default shutdown).

    Example::

        otp.ChildSpec("pool", start=pool_supervisor, type="supervisor")
    """

    WORKER = "worker"
    SUPERVISOR = "supervisor"


class ShutdownMode(StrEnum):
    """The two shutdown limits that are not a number of seconds.

    Example::

        otp.ChildSpec("cache", start=cache, shutdown=otp.BRUTAL_KILL)
        otp.ChildSpec("db", start=db, shutdown=otp.INFINITY)
        otp.ChildSpec("web", start=web, shutdown=10.0)  # 10 s of cleanup, then cut short
    """

    BRUTAL_KILL = "brutal_kill"
    """Cancel at once; cleanup scopes are cut short immediately."""
    INFINITY = "infinity"
    """Cancel and wait for the cleanup, however long it takes."""


BRUTAL_KILL = ShutdownMode.BRUTAL_KILL
INFINITY = ShutdownMode.INFINITY

DEFAULT_WORKER_SHUTDOWN = 5.0
"""Erlang's default shutdown for workers: 5000 ms."""

ShutdownLimit: TypeAlias = float | ShutdownMode
RestartLike: TypeAlias = Restart | Literal["permanent", "transient", "temporary"]
ShutdownLike: TypeAlias = float | ShutdownMode | Literal["brutal_kill", "infinity"]
ChildTypeLike: TypeAlias = ChildType | Literal["worker", "supervisor"]


def _quoted_choices(enum: type[StrEnum]) -> str:
    return ", ".join(repr(member.value) for member in enum)


def _got(value: object) -> str:
    if isinstance(value, str | int | float | bool | type(None)):
        return repr(value)
    kind = type(value).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return f"{value!r} that is {article} {kind}"


def _to_enum(child_id: object, field: str, enum: type[StrEnum], value: object) -> Any:  # noqa: ANN401
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    msg = f"child {child_id!r}: {field} must be one of {_quoted_choices(enum)} (got {_got(value)})"
    raise ChildSpecError(msg)


def _to_shutdown(child_id: object, value: object, child_type: ChildType) -> ShutdownLimit:
    if value is None:
        return INFINITY if child_type is ChildType.SUPERVISOR else DEFAULT_WORKER_SHUTDOWN
    if isinstance(value, ShutdownMode):
        return value
    if isinstance(value, str):
        try:
            return ShutdownMode(value)
        except ValueError:
            pass
    else:
        seconds = as_float(value)  # an int beyond any float reads as forever
        if seconds >= 0:  # NaN fails this
            return INFINITY if seconds == math.inf else seconds
    msg = (
        f"child {child_id!r}: shutdown must be a number of seconds >= 0, 'brutal_kill' or "
        f"'infinity' (got {_got(value)})"
    )
    raise ChildSpecError(msg)


def _is_heartbeat(value: object) -> bool:
    return value is None or isinstance(value, Heartbeat)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _unwrap_partial(fn: object) -> object:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _check_start(child_id: object, start: object) -> None:
    if not callable(start):
        msg = f"child {child_id!r}: start must be an async callable (got {_got(start)})"
        raise ChildSpecError(msg)
    target = _unwrap_partial(start)
    if inspect.isclass(target) and not hasattr(target, "__otp_start__"):
        msg = (
            f"child {child_id!r}: start must be an async callable (got class "
            f"{target.__qualname__!r}); a class can be a start only if it is an otp.GenServer"
        )
        raise ChildSpecError(msg)
    if inspect.isbuiltin(target) or inspect.ismethoddescriptor(target):
        name = getattr(target, "__qualname__", repr(target))
        msg = (
            f"child {child_id!r}: start must be an async function (got builtin {name!r}); a "
            "builtin is not async and cannot take task_status: wrap the work in an 'async def'"
        )
        raise ChildSpecError(msg)
    is_plain_function = inspect.isfunction(target) or inspect.ismethod(target)
    if not is_plain_function and not inspect.isclass(target):
        call = inspect.getattr_static(type(target), "__call__", None)
        if inspect.isfunction(call) and not inspect.iscoroutinefunction(call):
            msg = (
                f"child {child_id!r}: start must be an async callable (got an instance of "
                f"{type(target).__qualname__!r}, whose __call__ is not async); define "
                "__call__ with 'async def'"
            )
            raise ChildSpecError(msg)
    if is_plain_function and not inspect.iscoroutinefunction(target):
        name = getattr(target, "__qualname__", repr(target))
        kind = "async generator" if inspect.isasyncgenfunction(target) else "sync function"
        msg = (
            f"child {child_id!r}: start must be an async function (got {kind} {name!r}); "
            "define it with 'async def'"
        )
        raise ChildSpecError(msg)


def _accepts_task_status(start: object) -> bool:
    """Whether ``start`` can be run with ``nursery.start`` (takes a ``task_status`` keyword).

    A plain async function without it counts as started as soon as it is called.
    """
    try:
        signature = inspect.signature(start)  # type: ignore[arg-type]  # any callable
    except (TypeError, ValueError):
        return True  # cannot tell: follow Trio's convention for start-able callables
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return True
        positional_only = parameter.kind is inspect.Parameter.POSITIONAL_ONLY
        if parameter.name == "task_status" and not positional_only:
            return True
    return False


@final
@attrs.frozen(init=False)
class ChildSpec:
    """What a supervisor runs: one child, declared as data, validated when it is created.

    ``start`` is an async callable. The supervisor runs it as ``await start(*args,
    task_status=...)`` when it accepts a ``task_status`` keyword: the child calls
    ``task_status.started(value)`` once it is ready (its init acknowledgement; ``value`` is
    what ``Child.value`` holds), and an exception before that is a start failure. A plain
    async function without ``task_status`` counts as started as soon as it is called. To
    decline to start, a child raises :class:`otp.Ignore` before calling ``started()``.

    Args:
        id: Any hashable value, unique within its supervisor.
        start: The async callable to run.
        args: Positional arguments for ``start`` (a tuple or list).
        restart: ``"permanent"`` (default), ``"transient"`` or ``"temporary"``: see
            :class:`Restart`.
        shutdown: How long the child gets to clean up when its supervisor stops it: seconds
            (``>= 0``), :data:`BRUTAL_KILL` or :data:`INFINITY`. Defaults to 5 s for a worker
            and to :data:`INFINITY` for a supervisor.
        type: ``"worker"`` (default) or ``"supervisor"``.
        significant: Whether the child's own exit can trigger its supervisor's
            ``auto_shutdown``. Requires a ``transient`` or ``temporary`` restart type.
        liveness: An optional :class:`Heartbeat`: the child must then beat (see
            :func:`otp.heartbeat`) or be stopped and restarted as *hung*.

    Raises:
        ChildSpecError: Naming the child, the field, the allowed values and what was given.

    Example::

        async def db_worker(url, *, task_status=trio.TASK_STATUS_IGNORED):
            conn = await connect(url)
            task_status.started(conn)
            await conn.serve_forever()

        spec = otp.ChildSpec("db", db_worker, ("postgres://...",), restart="transient")
    """

    id: Hashable
    start: StartFunction
    args: tuple[object, ...]
    restart: Restart
    shutdown: ShutdownLimit
    type: ChildType
    significant: bool
    liveness: Heartbeat | None
    runner: StartFunction = attrs.field(init=False, eq=False, repr=False)
    """What actually runs: ``start``, or for a server class its ``__otp_start__``."""
    takes_task_status: bool = attrs.field(init=False, eq=False, repr=False)
    """Whether the runner accepts ``task_status`` (computed once, from its signature)."""

    def __init__(
        self,
        id: Hashable,  # noqa: A002  (the Erlang/Elixir field name)
        start: StartFunction,
        args: Sequence[object] = (),
        *,
        restart: RestartLike = Restart.PERMANENT,
        shutdown: ShutdownLike | None = None,
        type: ChildTypeLike = ChildType.WORKER,  # noqa: A002
        significant: bool = False,
        liveness: Heartbeat | None = None,
    ) -> None:
        try:
            hash(id)
        except TypeError:
            msg = f"child {id!r}: id must be hashable (got {_got(id)})"
            raise ChildSpecError(msg) from None
        _check_start(id, start)
        if not isinstance(args, tuple | list):
            msg = f"child {id!r}: args must be a tuple or a list (got {_got(args)})"
            raise ChildSpecError(msg)
        restart_value: Restart = _to_enum(id, "restart", Restart, restart)
        type_value: ChildType = _to_enum(id, "type", ChildType, type)
        shutdown_value = _to_shutdown(id, shutdown, type_value)
        if not _is_bool(significant):
            msg = f"child {id!r}: significant must be True or False (got {_got(significant)})"
            raise ChildSpecError(msg)
        if significant and restart_value is Restart.PERMANENT:
            msg = (
                f"child {id!r}: a significant child must be 'transient' or 'temporary' "
                "(got restart='permanent'); a permanent child never exits by itself for good"
            )
            raise ChildSpecError(msg)
        if not _is_heartbeat(liveness):
            msg = f"child {id!r}: liveness must be an otp.Heartbeat or None (got {_got(liveness)})"
            raise ChildSpecError(msg)
        self.__attrs_init__(
            id, start, tuple(args), restart_value, shutdown_value, type_value, significant, liveness
        )
        runner = getattr(start, "__otp_start__", start)
        object.__setattr__(self, "runner", runner)
        object.__setattr__(self, "takes_task_status", _accepts_task_status(runner))


def check_child_specs(
    children: Iterable[ChildSpec],
    *,
    auto_shutdown: str = "never",
    supervisor: str | None = None,
) -> tuple[ChildSpec, ...]:
    """Validate a list of child specs as a supervisor would, and return it as a tuple.

    Checks that ``children`` is a list or tuple of :class:`ChildSpec`, that ids are unique,
    and that no child is ``significant`` when ``auto_shutdown`` is ``"never"`` (Erlang's
    ``check_childspecs/2``). Each spec already validated its own fields when it was created.

    Args:
        children: The specs, in start order.
        auto_shutdown: The supervisor's ``auto_shutdown`` flag.
        supervisor: A name to put in error messages.

    Raises:
        ChildSpecError: Naming the offending entry and what is wrong with it.

    Example::

        >>> otp.check_child_specs([otp.ChildSpec("a", worker), otp.ChildSpec("a", worker)])
        Traceback (most recent call last):
        otp.ChildSpecError: duplicate child id 'a' (children[0] and children[1])
    """
    where = f"supervisor {supervisor!r}: " if supervisor else ""
    if not isinstance(children, list | tuple):
        msg = f"{where}children must be a list or tuple of ChildSpec (got {_got(children)})"
        raise ChildSpecError(msg)
    if auto_shutdown not in ("never", "any_significant", "all_significant"):
        msg = (
            f"{where}auto_shutdown must be one of 'never', 'any_significant', "
            f"'all_significant' (got {_got(auto_shutdown)})"
        )
        raise ChildSpecError(msg)
    seen: dict[Hashable, int] = {}
    for index, spec in enumerate(children):
        if not isinstance(spec, ChildSpec):
            msg = f"{where}children[{index}] must be a ChildSpec (got {_got(spec)})"
            raise ChildSpecError(msg)
        if spec.id in seen:
            first = seen[spec.id]
            msg = f"{where}duplicate child id {spec.id!r} (children[{first}] and children[{index}])"
            raise ChildSpecError(msg)
        seen[spec.id] = index
        if spec.significant and auto_shutdown == "never":
            msg = (
                f"{where}child {spec.id!r} is significant but auto_shutdown is 'never'; "
                "set auto_shutdown to 'any_significant' or 'all_significant', or drop "
                "significant=True"
            )
            raise ChildSpecError(msg)
    return tuple(children)

"""Fault plans: seeded, reproducible schedules of faults, injected without the child knowing.

A :class:`FaultPlan` is data: a sorted tuple of :class:`Fault` (when, what, against which
child). :meth:`FaultPlan.random` draws one from per-second rates and a seed, so the same seed
always gives the same schedule. A :class:`FaultInjector` applies a plan to a tree: it
*instruments* the child specs (wrapping each targeted ``start``), then, started as a task,
fires each fault at its time against whichever incarnation of the target is running.

Targets are paths of child ids from the root's children: ``"db"``, ``"workers/w1"``. A
dynamic supervisor's template is targeted as ``"pool/<template id>"``; the fault then hits
its oldest running child.

What each kind does:

==================  =========================================================================
kind                effect
==================  =========================================================================
``crash``           the child raises :class:`InjectedFault` (a server: at its next message)
``exit``            the child returns normally (a server: stops with reason ``normal``)
``hang``            the child stops reacting without exiting: a worker stops doing anything,
                    a server blocks in its next handler (only liveness or a timeout notices)
``slow``            a server waits ``delay`` seconds before each message for ``duration`` s
``fail_start``      the child's next start raises :class:`InjectedFault` before its init
``fail_terminate``  the child raises :class:`InjectedFault` when it is next stopped
``cancel_restart``  the child crashes and its next start takes ``delay`` s; halfway through
                    that restart, its supervisor crashes, which cancels the restart in the
                    middle; the supervisor's parent then restarts it by its own rules
                    (strategy, intensity, backoff, retries of a failed start), as it would
                    after any real crash
==================  =========================================================================
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, final

import attrs
import trio

from otp._taxonomy import CHILD_FAILURE, classify

from .._child import current_child
from .._dynamic import NestedDynamicSupervisor
from .._exceptions import OtpError, Stop
from .._numbers import as_float
from .._server import GenServer, ServerStart
from .._spec import ChildSpec
from .._supervisor import NestedSupervisor

__all__ = ["Fault", "FaultInjector", "FaultKind", "FaultPlan", "InjectedFault"]


class FaultKind(StrEnum):
    """The faults a :class:`FaultPlan` can inject (see the module's table).

    Example::

        otp.testing.Fault(at=2.0, kind=otp.testing.FaultKind.HANG, target="workers/w1")
    """

    CRASH = "crash"
    EXIT = "exit"
    HANG = "hang"
    SLOW = "slow"
    FAIL_START = "fail_start"
    FAIL_TERMINATE = "fail_terminate"
    CANCEL_RESTART = "cancel_restart"


_SERVER_ONLY = frozenset({FaultKind.SLOW})


@classify(CHILD_FAILURE)
@final
class InjectedFault(OtpError):
    """The exception an injected ``crash``, ``fail_start`` or ``fail_terminate`` raises.

    Example::

        crashes = recorder.of(otp.ChildExited)
        assert isinstance(crashes[0].reason.exception, otp.testing.InjectedFault)
    """


def _is_path(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _by_time(faults: Sequence[Fault]) -> tuple[Fault, ...]:
    return tuple(sorted(faults, key=lambda fault: fault.at))


def _non_negative(name: str, value: object) -> float:
    number = as_float(value)
    if not (math.isfinite(number) and number >= 0):
        msg = f"Fault: {name} must be a finite number of seconds >= 0 (got {value!r})"
        raise ValueError(msg)
    return number


@final
@attrs.frozen(init=False)
class Fault:
    """One fault: at ``at`` seconds after the injector starts, ``kind`` against ``target``.

    Args:
        at: Seconds after :meth:`FaultInjector.run` starts.
        kind: A :class:`FaultKind` (or its value).
        target: The path of the child (``"workers/w1"``).
        delay: For ``slow``, the wait before each message; for ``cancel_restart``, how long
            the interrupted restart takes. Defaults to 0.5 s.
        duration: For ``slow``, how long it lasts. Defaults to 2 s.

    Example::

        otp.testing.Fault(at=1.5, kind="crash", target="db")
    """

    at: float
    kind: FaultKind
    target: str
    delay: float
    duration: float

    def __init__(
        self,
        at: float,
        kind: FaultKind | str,
        target: str,
        *,
        delay: float = 0.5,
        duration: float = 2.0,
    ) -> None:
        try:
            kind_value = FaultKind(kind)
        except ValueError:
            choices = ", ".join(repr(k.value) for k in FaultKind)
            msg = f"Fault: kind must be one of {choices} (got {kind!r})"
            raise ValueError(msg) from None
        if not _is_path(target):
            msg = f"Fault: target must be a non-empty path like 'workers/w1' (got {target!r})"
            raise ValueError(msg)
        self.__attrs_init__(
            _non_negative("at", at),
            kind_value,
            target,
            _non_negative("delay", delay),
            _non_negative("duration", duration),
        )


@final
@attrs.frozen
class FaultPlan:
    """A reproducible schedule of faults, sorted by time.

    Attributes:
        faults: The faults, in the order they fire.
        seed: The seed it was drawn from, if it was drawn (see :meth:`random`).

    Example::

        plan = otp.testing.FaultPlan.random(
            ["db", "workers/w1"], seed=7, duration=30.0, rates={"crash": 0.2, "hang": 0.05}
        )
        assert plan == otp.testing.FaultPlan.random(
            ["db", "workers/w1"], seed=7, duration=30.0, rates={"crash": 0.2, "hang": 0.05}
        )
    """

    faults: tuple[Fault, ...] = attrs.field(converter=_by_time)
    seed: int | None = None

    @classmethod
    def random(
        cls,
        targets: Sequence[str],
        *,
        seed: int,
        duration: float,
        rates: Mapping[FaultKind | str, float],
        delay: float = 0.5,
        slow_for: float = 2.0,
    ) -> FaultPlan:
        """Draw a plan from per-second ``rates``: the same seed gives the same plan.

        Each kind is a Poisson process of ``rates[kind]`` faults per second over ``duration``
        seconds, each against a target drawn uniformly from ``targets``.

        Example::

            plan = otp.testing.FaultPlan.random(["a"], seed=1, duration=10, rates={"crash": 1})
        """
        if not targets:
            msg = "FaultPlan.random: give at least one target"
            raise ValueError(msg)
        rng = _random.Random(seed)
        faults: list[Fault] = []
        for kind_name in sorted(str(FaultKind(kind)) for kind in rates):
            kind = FaultKind(kind_name)
            rate = rates[kind] if kind in rates else rates[kind.value]
            if rate < 0 or not math.isfinite(rate):
                msg = f"FaultPlan.random: the rate of {kind.value!r} must be >= 0 (got {rate!r})"
                raise ValueError(msg)
            if rate == 0:
                continue
            moment = rng.expovariate(rate)
            while moment < duration:
                target = targets[rng.randrange(len(targets))]
                faults.append(Fault(moment, kind, target, delay=delay, duration=slow_for))
                moment += rng.expovariate(rate)
        return cls(tuple(faults), seed)

    def targets(self) -> set[str]:
        """Every path the plan targets (with the supervisors ``cancel_restart`` crashes)."""
        paths = {fault.target for fault in self.faults}
        paths.update(
            fault.target.rpartition("/")[0]
            for fault in self.faults
            if fault.kind is FaultKind.CANCEL_RESTART and "/" in fault.target
        )
        return paths


@final
@attrs.frozen
class InjectionRecord:
    """What the injector did with one fault.

    Attributes:
        time: ``trio.current_time()`` when it fired.
        fault: The fault.
        applied: Whether a running target received it.
        note: Why it was not applied, or a detail of how it was.

    Example::

        missed = [record for record in injector.records if not record.applied]
    """

    time: float
    fault: Fault
    applied: bool
    note: str = ""


class _Target:
    """The injector's state for one path: its running incarnations and pending tricks."""

    __slots__ = ("fail_next_start", "fail_next_terminate", "incarnations", "kind", "start_delay")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "worker", "server" or "supervisor"
        self.incarnations: list[_Incarnation] = []
        self.fail_next_start = False
        self.fail_next_terminate = False
        self.start_delay = 0.0


class _Incarnation:
    """One running instance of a target, and the levers the injector holds on it."""

    __slots__ = ("action", "child", "hang", "scope", "server", "slow_delay", "slow_until")

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.action: FaultKind | None = None
        self.child = current_child()
        self.server: GenServer[Any, Any] | None = None
        self.hang = False
        self.slow_until = -math.inf
        self.slow_delay = 0.0


_KICK = object()
"""The info the injector sends a server so that a fault takes effect at once."""


@final
class FaultInjector:
    """Applies a :class:`FaultPlan` to a tree: instrument the specs, then run the schedule.

    Example::

        injector = otp.testing.FaultInjector(plan)
        children = injector.instrument(children)
        async with otp.open_supervisor(children, hooks=[recorder]) as sup:
            async with trio.open_nursery() as nursery:
                await nursery.start(injector.run)
        print(injector.records)
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.records: list[InjectionRecord] = []
        self._targets: dict[str, _Target] = {}

    # --- instrumenting the tree ---------------------------------------------------------------

    def instrument(self, children: Sequence[ChildSpec]) -> tuple[ChildSpec, ...]:
        """The same tree with every targeted child wrapped so that faults can reach it.

        Raises:
            ValueError: A target is not a child of this tree, or a kind does not apply to
                it (``slow`` needs a server), naming the target and the paths available.
        """
        paths: dict[str, str] = {}
        instrumented = self._instrument(tuple(children), "", paths)
        for fault in self.plan.faults:
            kind = paths.get(fault.target)
            if kind is None:
                available = ", ".join(sorted(paths)) or "(none)"
                msg = f"fault target {fault.target!r} is not in the tree (paths: {available})"
                raise ValueError(msg)
            if fault.kind in _SERVER_ONLY and kind != "server":
                msg = f"fault {fault.kind.value!r} needs a server, but {fault.target!r} is a {kind}"
                raise ValueError(msg)
        return instrumented

    def _instrument(
        self, children: tuple[ChildSpec, ...], prefix: str, paths: dict[str, str]
    ) -> tuple[ChildSpec, ...]:
        targeted = self.plan.targets()
        result = []
        for spec in children:
            path = f"{prefix}{spec.id}"
            result.append(self._instrument_one(spec, path, targeted, paths))
        return tuple(result)

    def _instrument_one(
        self, spec: ChildSpec, path: str, targeted: set[str], paths: dict[str, str]
    ) -> ChildSpec:
        start = spec.start
        if isinstance(start, NestedSupervisor):
            paths[path] = "supervisor"
            inner = self._instrument(start.children, f"{path}/", paths)
            start = attrs.evolve(start, children=inner)
        elif isinstance(start, NestedDynamicSupervisor):
            paths[path] = "supervisor"
            template = self._instrument_one(
                start.template, f"{path}/{start.template.id}", targeted, paths
            )
            start = attrs.evolve(start, template=template)
        server = _server_class(start)
        if server is not None:
            paths[path] = "server"
            if path in targeted:
                self._target(path, "server")
                name = start.name if isinstance(start, ServerStart) else None
                start = ServerStart(self._faulty_server(server, path), name)
        elif not isinstance(start, NestedSupervisor | NestedDynamicSupervisor):
            paths[path] = "worker"
            if path in targeted:
                self._target(path, "worker")
                start = _FaultyStart(spec, self, path)
        elif path in targeted:
            self._target(path, "supervisor")
            start = _FaultyStart(attrs.evolve(spec, start=start), self, path)
        if start is spec.start:
            return spec
        return attrs.evolve(spec, start=start)

    def _target(self, path: str, kind: str) -> _Target:
        target = self._targets.get(path)
        if target is None:
            target = self._targets[path] = _Target(kind)
        return target

    def _faulty_server(
        self, server: type[GenServer[Any, Any]], path: str
    ) -> type[GenServer[Any, Any]]:
        injector = self
        target = self._target(path, "server")

        class Faulty(server):  # type: ignore[valid-type,misc]  # a subclass made at run time
            async def init(self, *args: Any) -> Any:  # noqa: ANN401
                await injector._before_start(target, path)
                incarnation = _Incarnation()
                incarnation.server = self
                self._otp_incarnation = incarnation
                target.incarnations.append(incarnation)
                return await super().init(*args)

            async def handle_call(self, request: Any, caller: Any) -> Any:  # noqa: ANN401
                await _gate(self._otp_incarnation)
                return await super().handle_call(request, caller)

            async def handle_cast(self, message: Any) -> Any:  # noqa: ANN401
                await _gate(self._otp_incarnation)
                return await super().handle_cast(message)

            async def handle_info(self, message: Any) -> Any:  # noqa: ANN401
                await _gate(self._otp_incarnation)
                if message is _KICK:
                    return None
                return await super().handle_info(message)

            async def terminate(self, reason: Any) -> None:  # noqa: ANN401
                incarnation = self._otp_incarnation
                if incarnation in target.incarnations:
                    target.incarnations.remove(incarnation)
                await super().terminate(reason)
                if target.fail_next_terminate:
                    target.fail_next_terminate = False
                    msg = f"injected fault: {path!r} failed in terminate"
                    raise InjectedFault(msg)

        Faulty.__name__ = server.__name__
        Faulty.__qualname__ = server.__qualname__
        Faulty.__module__ = server.__module__
        return Faulty

    async def _before_start(self, target: _Target, path: str) -> None:
        if target.fail_next_start:
            target.fail_next_start = False
            msg = f"injected fault: {path!r} failed to start"
            raise InjectedFault(msg)
        if target.start_delay:
            delay, target.start_delay = target.start_delay, 0.0
            await trio.sleep(delay)

    # --- running the schedule -----------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[FaultInjector] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Fire each fault at its time (relative to now), then return.

        Example::

            async with trio.open_nursery() as nursery:
                await nursery.start(injector.run)
        """
        start = trio.current_time()
        task_status.started(self)
        for fault in self.plan.faults:
            await trio.sleep_until(start + fault.at)
            fired_at = trio.current_time()
            note = self._fire(fault)
            applied = not note
            if fault.kind is FaultKind.CANCEL_RESTART and applied:
                # The crash took; whether its supervisor could be stopped mid-restart is a
                # detail of the same fault, not a second one.
                note = await self._cancel_restart(fault)
            self.records.append(InjectionRecord(fired_at, fault, applied=applied, note=note))

    def _fire(self, fault: Fault) -> str:
        """Apply ``fault``; return why it could not be applied, or ``""``."""
        target = self._targets.get(fault.target)
        if target is None:
            return "the tree was not instrumented for this target"
        kind = fault.kind
        if kind is FaultKind.FAIL_START:
            target.fail_next_start = True
            return ""
        if kind is FaultKind.FAIL_TERMINATE:
            target.fail_next_terminate = True
            return ""
        live = [i for i in target.incarnations if i.child is None or i.child.exit is None]
        if not live:
            return "the target is not running"
        incarnation = live[0]
        if kind is FaultKind.CANCEL_RESTART:
            target.start_delay = fault.delay
            kind = FaultKind.CRASH
        if incarnation.server is not None:
            if kind is FaultKind.SLOW:
                incarnation.slow_until = trio.current_time() + fault.duration
                incarnation.slow_delay = fault.delay
                return ""
            incarnation.action = kind
            incarnation.hang = kind is FaultKind.HANG
            incarnation.server.ref.send(_KICK)
            return ""
        incarnation.action = kind
        incarnation.scope.cancel()
        return ""

    async def _cancel_restart(self, fault: Fault) -> str:
        """Halfway through the target's slowed restart, crash its supervisor.

        A crash, not an admin stop and start from above: the supervisor's parent then
        restarts it by its own rules (retrying a start that fails, or giving up and
        escalating), so the tree ends in a state a real fault could leave. Returns a note
        when that part could not be done.
        """
        parent_path = fault.target.rpartition("/")[0]
        if not parent_path:
            return "only crashed: its supervisor is the root, which has no parent to restart it"
        await trio.sleep(fault.delay / 2)
        parent = self._targets.get(parent_path)
        live = [] if parent is None else [i for i in parent.incarnations if i.action is None]
        if not live:
            return "only crashed: its supervisor was not running halfway through the restart"
        incarnation = live[0]
        incarnation.action = FaultKind.CRASH
        incarnation.scope.cancel()
        return ""


async def _gate(incarnation: _Incarnation) -> None:
    """Where a server's faults take effect: before it handles a message."""
    action = incarnation.action
    if action is not None:
        incarnation.action = None
        if action is FaultKind.CRASH:
            msg = "injected fault: crash"
            raise InjectedFault(msg)
        if action is FaultKind.EXIT:
            raise Stop
    if incarnation.hang:
        await trio.sleep_forever()
    if trio.current_time() < incarnation.slow_until:
        await trio.sleep(incarnation.slow_delay)


def _server_class(start: object) -> type[GenServer[Any, Any]] | None:
    if isinstance(start, ServerStart):
        return start.server
    if isinstance(start, type) and issubclass(start, GenServer):
        return start
    return None


@final
@attrs.frozen
class _FaultyStart:
    """A worker's (or supervisor's) start, wrapped so that the injector can reach it."""

    spec: ChildSpec = attrs.field(eq=False)
    injector: FaultInjector = attrs.field(eq=False)
    path: str

    async def __call__(self, *args: object, task_status: trio.TaskStatus[Any]) -> None:
        target = self.injector._target(self.path, "worker")
        await self.injector._before_start(target, self.path)
        incarnation = _Incarnation()
        target.incarnations.append(incarnation)
        spec = self.spec
        try:
            with incarnation.scope:
                if spec.takes_task_status:
                    await spec.runner(*args, task_status=task_status)
                else:
                    task_status.started()
                    await spec.runner(*args)
        except trio.Cancelled:
            child = incarnation.child
            if target.fail_next_terminate and child is not None and child._terminating:
                # Its supervisor is stopping it (this Cancelled is the child's own): fail the
                # way a child whose cleanup raises does.
                target.fail_next_terminate = False
                msg = f"injected fault: {self.path!r} failed in terminate"
                raise InjectedFault(msg)  # noqa: B904  (the Cancelled stays as __context__)
            raise
        finally:
            if incarnation in target.incarnations:
                target.incarnations.remove(incarnation)
        action = incarnation.action
        if action is FaultKind.CRASH or action is FaultKind.CANCEL_RESTART:
            msg = f"injected fault: {self.path!r} crashed"
            raise InjectedFault(msg)
        if action is FaultKind.HANG:
            target.incarnations.append(incarnation)
            try:
                await trio.sleep_forever()  # alive, silent, useless: what a hang looks like
            finally:
                target.incarnations.remove(incarnation)

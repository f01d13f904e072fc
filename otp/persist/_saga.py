"""Sagas: steps with compensations, their progress persisted, resumed after a crash.

The coordinator records every step boundary in one stream of the store (a saga started, a
step completed with its result, a step failed, a step compensated, a saga ended) before it
goes on. After a crash its restart reads that stream back and carries on each saga that had
not ended: forward from the first step not recorded as completed, or, once a step failed,
backwards through the compensations not recorded yet. A step (or compensation) cut short by
the crash runs again: actions and compensations run *at least once*, so make them idempotent
(key their effects by the saga id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, final

import attrs
import trio

from ._codec import JsonCodec
from ._errors import SagaError
from ._store import EventStore

__all__ = ["Saga", "SagaContext", "SagaCoordinator", "SagaOutcome", "Step", "saga_coordinator"]

COMPLETED = "completed"
COMPENSATED = "compensated"
STUCK = "stuck"


@final
@attrs.frozen
class SagaContext:
    """What a step's action and compensation get: the saga, its input, earlier results.

    Example::

        async def reserve(context: otp.persist.SagaContext) -> str:
            return await inventory.reserve(context.input["item"], key=context.saga_id)
    """

    saga_id: str
    input: Any
    results: Mapping[str, Any]
    """Each completed step's result (JSON values), by step name."""


Action = Callable[[SagaContext], Awaitable[Any]]
Compensation = Callable[[SagaContext], Awaitable[None]]


def _timeout(_: object, __: attrs.Attribute[float | None], value: object) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    ):
        msg = f"Step.timeout must be a number of seconds > 0 or None (got {value!r})"
        raise ValueError(msg)


@final
@attrs.frozen
class Step:
    """One step of a saga: an action, what undoes it, and how long it may take.

    The action's result must be a JSON value (it is persisted). A step that raises or takes
    longer than ``timeout`` seconds fails the saga; its own compensation does not run (only
    those of the steps completed before it), so an action must leave nothing behind when it
    fails, or its undo must be part of the previous step's compensation.

    Example::

        otp.persist.Step("charge", charge_card, refund_card, timeout=10.0)
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    action: Action = attrs.field(validator=attrs.validators.is_callable())
    compensation: Compensation | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.is_callable())
    )
    timeout: float | None = attrs.field(default=None, validator=_timeout)


def _steps(_: object, __: object, value: tuple[object, ...]) -> None:
    if not value:
        msg = "a saga needs at least one step"
        raise SagaError(msg)
    for step in value:
        if not isinstance(step, Step):
            msg = f"saga steps are otp.persist.Step values (got {step!r})"
            raise SagaError(msg)
    names = [step.name for step in value if isinstance(step, Step)]
    for step in value:
        assert isinstance(step, Step)
        if names.count(step.name) > 1:
            msg = f"two steps are named {step.name!r}"
            raise SagaError(msg)


@final
@attrs.frozen
class Saga:
    """A named sequence of steps.

    Example::

        order = otp.persist.Saga("order", [reserve_step, charge_step, ship_step])
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    steps: tuple[Step, ...] = attrs.field(converter=tuple, validator=_steps)


@final
@attrs.frozen
class SagaOutcome:
    """How a saga ended.

    Attributes:
        saga_id: Its id.
        status: ``"completed"`` (every step), ``"compensated"`` (a step failed; the steps
            before it were compensated, in reverse order) or ``"stuck"`` (a compensation
            failed too: a person must look).
        results: The results of the steps that completed.
        error: Why a step (or compensation) failed, or ``None``.

    Example::

        outcome = await coordinator.run("order", "order-17", {"item": "book"})
        if outcome.status != "completed":
            print(outcome.error)
    """

    saga_id: str
    status: str
    results: Mapping[str, Any]
    error: str | None = None


@attrs.define
class _Progress:
    saga: str
    input: Any
    results: dict[str, Any] = attrs.field(factory=dict)
    completed: list[int] = attrs.field(factory=list)
    failed: str | None = None
    compensated: set[int] = attrs.field(factory=set)


_CODEC = JsonCodec()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@final
class SagaCoordinator:
    """The handle of a running coordinator: start sagas and wait for their outcomes.

    Example::

        coordinator = await nursery.start(otp.persist.saga_coordinator, store, [order])
        outcome = await coordinator.run("order", "order-17", {"item": "book"})
    """

    def __init__(self, store: EventStore, sagas: Iterable[Saga], stream: str) -> None:
        self._store = store
        self._stream = stream
        self._sagas = {saga.name: saga for saga in sagas}
        self._sequence = 0
        self._lock = trio.Lock()
        self._running: dict[str, _Progress] = {}
        self._outcomes: dict[str, SagaOutcome] = {}
        self._ended: dict[str, trio.Event] = {}
        self._nursery: trio.Nursery | None = None

    def __repr__(self) -> str:
        return f"<otp.persist.SagaCoordinator {self._stream!r}, {len(self._running)} running>"

    @property
    def running(self) -> list[str]:
        """The ids of the sagas that have not ended."""
        return list(self._running)

    async def start(self, saga: str, saga_id: str, input: Any = None) -> None:  # noqa: A002, ANN401
        """Start saga ``saga`` as ``saga_id``; return once its start is persisted.

        Raises:
            SagaError: No saga of that name, or the id is in the log already.
        """
        if saga not in self._sagas:
            msg = f"no saga named {saga!r} (known: {sorted(self._sagas)})"
            raise SagaError(msg)
        if saga_id in self._running or saga_id in self._outcomes:
            msg = f"the saga id {saga_id!r} is taken"
            raise SagaError(msg)
        if self._nursery is None:
            msg = "the saga coordinator is not running"
            raise SagaError(msg)
        await self._record({"kind": "started", "id": saga_id, "saga": saga, "input": input})
        self._running[saga_id] = _Progress(saga, input)
        self._ended[saga_id] = trio.Event()
        self._nursery.start_soon(self._run, saga_id)

    async def wait(self, saga_id: str) -> SagaOutcome:
        """Wait for saga ``saga_id`` to end; it may have been started before a restart.

        Raises:
            SagaError: No saga of that id is in the log.
        """
        if saga_id not in self._ended:
            msg = f"no saga {saga_id!r} in the log {self._stream!r}"
            raise SagaError(msg)
        await self._ended[saga_id].wait()
        return self._outcomes[saga_id]

    async def run(self, saga: str, saga_id: str, input: Any = None) -> SagaOutcome:  # noqa: A002, ANN401
        """:meth:`start`, then :meth:`wait`."""
        await self.start(saga, saga_id, input)
        return await self.wait(saga_id)

    # --- inside -------------------------------------------------------------------------------

    async def _record(self, entry: dict[str, Any]) -> None:
        async with self._lock:
            data = _CODEC.encode(entry)
            self._sequence = await self._store.append(self._stream, [data], expected=self._sequence)

    async def _recover(self) -> None:
        while True:
            page = await self._store.read(self._stream, after=self._sequence, limit=1000)
            for record in page:
                self._fold(_CODEC.decode(record))
                self._sequence = record.sequence
            if len(page) < 1000:
                break
        for saga_id, progress in self._running.items():
            if progress.saga not in self._sagas:
                msg = f"saga {saga_id!r} in the log is a {progress.saga!r}, which is not given"
                raise SagaError(msg)
            self._ended[saga_id] = trio.Event()

    def _fold(self, entry: Any) -> None:  # noqa: ANN401
        saga_id = entry["id"]
        kind = entry["kind"]
        if kind == "started":
            self._running[saga_id] = _Progress(entry["saga"], entry["input"])
            return
        progress = self._running[saga_id]
        if kind == "completed":
            progress.completed.append(entry["step"])
            progress.results[entry["name"]] = entry["result"]
        elif kind == "failed":
            progress.failed = entry["error"]
        elif kind == "compensated":
            progress.compensated.add(entry["step"])
        elif kind == "ended":
            del self._running[saga_id]
            outcome = SagaOutcome(saga_id, entry["status"], progress.results, entry["error"])
            self._outcomes[saga_id] = outcome
            self._ended[saga_id] = ended = trio.Event()
            ended.set()

    async def _run(self, saga_id: str) -> None:
        progress = self._running[saga_id]
        steps = self._sagas[progress.saga].steps

        def context() -> SagaContext:
            return SagaContext(saga_id, progress.input, dict(progress.results))

        if progress.failed is None:
            for index in range(len(progress.completed), len(steps)):
                step = steps[index]
                error = None
                timeout = step.timeout if step.timeout is not None else float("inf")
                with trio.move_on_after(timeout) as scope:
                    try:
                        result = await step.action(context())
                    except Exception as exc:  # noqa: BLE001  (a failed step: compensate)
                        error = f"step {step.name!r} failed: {_describe(exc)}"
                if scope.cancelled_caught:
                    error = f"step {step.name!r} timed out after {step.timeout:g} s"
                if error is not None:
                    await self._record({"kind": "failed", "id": saga_id, "error": error})
                    progress.failed = error
                    break
                entry = {"id": saga_id, "step": index, "name": step.name, "result": result}
                await self._record({"kind": "completed", **entry})
                progress.completed.append(index)
                progress.results[step.name] = result
        if progress.failed is None:
            await self._end(saga_id, progress, COMPLETED, None)
            return
        for index in reversed(progress.completed):
            if index in progress.compensated:
                continue
            compensation = steps[index].compensation
            if compensation is not None:
                try:
                    await compensation(context())
                except Exception as exc:  # noqa: BLE001  (recorded: the saga is stuck)
                    error = f"{progress.failed}; compensating {steps[index].name!r} failed: "
                    await self._end(saga_id, progress, STUCK, error + _describe(exc))
                    return
            await self._record({"kind": "compensated", "id": saga_id, "step": index})
            progress.compensated.add(index)
        await self._end(saga_id, progress, COMPENSATED, progress.failed)

    async def _end(self, saga_id: str, progress: _Progress, status: str, error: str | None) -> None:
        await self._record({"kind": "ended", "id": saga_id, "status": status, "error": error})
        del self._running[saga_id]
        self._outcomes[saga_id] = SagaOutcome(saga_id, status, dict(progress.results), error)
        self._ended[saga_id].set()


async def saga_coordinator(
    store: EventStore,
    sagas: Iterable[Saga],
    *,
    stream: str = "otp.sagas",
    task_status: trio.TaskStatus[SagaCoordinator] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run sagas, recording their progress in ``stream``; resume the unfinished ones first.

    A start-able child: ``task_status.started(coordinator)`` once the log has been read and
    every unfinished saga resumed. A store error crashes the coordinator (and the sagas it
    runs); its restart resumes them all from the log. Only one coordinator may use a stream
    (a second one's first write is a :class:`otp.persist.ConcurrencyConflict`).

    Example::

        children = [otp.ChildSpec("sagas", functools.partial(
            otp.persist.saga_coordinator, store, [order]))]
    """
    coordinator = SagaCoordinator(store, list(sagas), stream)
    await coordinator._recover()
    try:
        async with trio.open_nursery() as nursery:
            coordinator._nursery = nursery
            for saga_id in list(coordinator._running):
                nursery.start_soon(coordinator._run, saga_id)
            task_status.started(coordinator)
            await trio.sleep_forever()
    finally:
        coordinator._nursery = None

"""The health monitor: a child that runs the checks, watches the tree and reports changes."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, final

import trio

import otp

from ._check import Check, CheckResult, run_check
from ._derived import TreeTracker, readings
from ._errors import HealthDeclarationError
from ._report import HealthChanged, HealthReport, changes, statuses
from ._status import Finding, HealthStatus, SubtreeHealth, aggregate

__all__ = ["HealthMonitor", "OnChange"]

logger = logging.getLogger("otp.health")

T = TypeVar("T")

OnChange = Callable[[HealthChanged], object]
"""A change callback: called with each :class:`HealthChanged`, from the monitor's task."""


def _path(option: str, path: object) -> str:
    if not isinstance(path, str) or path.startswith("/") or path.endswith("/"):
        msg = (
            f"HealthMonitor: {option} keys must be tree paths such as 'root/db' "
            f"('' for the whole tree), got {path!r}"
        )
        raise HealthDeclarationError(msg)
    return path


def _several(option: str, path: str, value: object, kind: type[T]) -> tuple[T, ...]:
    items = (value,) if isinstance(value, kind) else value
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        items = (items,)
    for item in items:
        if not isinstance(item, kind):
            msg = (
                f"HealthMonitor: {option}[{path!r}] must hold otp.{kind.__qualname__}"
                f" objects (got {item!r})"
            )
            if kind is Check:
                msg = msg.replace("otp.Check", "otp.health.Check")
            raise HealthDeclarationError(msg)
    return tuple(items)


def _mapping(option: str, value: object) -> Mapping[object, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        msg = f"HealthMonitor: {option} must be a mapping of paths (got {value!r})"
        raise HealthDeclarationError(msg)
    return value


def _callbacks(value: object) -> tuple[OnChange, ...]:
    if callable(value):
        value = (value,)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = f"HealthMonitor: on_change must be a sequence of callables (got {value!r})"
        raise HealthDeclarationError(msg)
    for callback in value:
        if not callable(callback):
            msg = f"HealthMonitor: on_change must hold callables (got {callback!r})"
            raise HealthDeclarationError(msg)
    return tuple(value)


def _interval(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        msg = f"HealthMonitor: poll_interval must be a finite number > 0 (got {value!r})"
        raise HealthDeclarationError(msg)
    return float(value)


@final
class HealthMonitor:
    """Runs health checks, follows the tree's reports, and says when a status changes.

    Declare it, pass :meth:`hook` to the supervisor at the root of what it watches (nested
    supervisors inherit it), and run :meth:`run` as a child of an ordinary supervisor
    (:meth:`child_spec`). It runs every check once before it reports started, then each
    every ``interval`` seconds; it reads the watched breakers and detectors every
    ``poll_interval`` seconds (and at once when a breaker given :meth:`breaker_hook` changes
    state). After each change it works out the status of every path (see
    :func:`aggregate` for the rule), keeps the latest :attr:`report`, and calls each
    ``on_change`` callback with one :class:`HealthChanged` per path whose status changed.

    The monitor also reads ``which_children()`` of the supervisor it runs under, and of the
    supervisors below it, so a child in the ``restarting`` state counts even without the hook.
    Place it beside the subtree it watches (not inside it), so it outlives a subtree that
    gives up and can report it.

    Args:
        checks: Checks per child path (``""`` for checks of the whole tree).
        breakers: Circuit breakers per path (one, or a sequence).
        detectors: Phi-accrual detectors per path (one, or a sequence).
        on_change: Callables given each :class:`HealthChanged`; one that raises is logged to
            the ``otp.health`` logger and the others still run.
        poll_interval: Seconds between two readings of the breakers and detectors (``> 0``).
        tree: The supervisor whose ``started`` report makes the tree ready; defaults to the
            one the monitor runs under.

    Raises:
        HealthDeclarationError: A bad path, check, breaker, detector, callback or interval.

    Example::

        monitor = otp.health.HealthMonitor(
            {"root/db": [otp.health.Check("ping", ping_db, timeout=1)]},
            on_change=[print],
        )
        tree = [otp.ChildSpec("db", db_worker), monitor.child_spec()]
        sup = await nursery.start(
            functools.partial(otp.supervisor, tree, name="root", hooks=[monitor.hook])
        )
    """

    def __init__(
        self,
        checks: Mapping[str, Check | Sequence[Check]] | None = None,
        *,
        breakers: Mapping[str, otp.CircuitBreaker | Sequence[otp.CircuitBreaker]] | None = None,
        detectors: Mapping[str, otp.PhiAccrualDetector | Sequence[otp.PhiAccrualDetector]]
        | None = None,
        on_change: Sequence[OnChange] = (),
        poll_interval: float = 1.0,
        tree: str | None = None,
    ) -> None:
        self._checks: list[tuple[str, Check]] = []
        for path, declared in _mapping("checks", checks).items():
            key = _path("checks", path)
            self._checks.extend((key, check) for check in _several("checks", key, declared, Check))
        names = [(path, check.name) for path, check in self._checks]
        duplicates = sorted({f"{p!r}: {n!r}" for p, n in names if names.count((p, n)) > 1})
        if duplicates:
            msg = f"HealthMonitor: two checks share a name at one path ({', '.join(duplicates)})"
            raise HealthDeclarationError(msg)
        self._breakers: list[tuple[str, otp.CircuitBreaker]] = []
        for path, value in _mapping("breakers", breakers).items():
            key = _path("breakers", path)
            found = _several("breakers", key, value, otp.CircuitBreaker)
            self._breakers.extend((key, breaker) for breaker in found)
        self._detectors: list[tuple[str, otp.PhiAccrualDetector]] = []
        for path, value in _mapping("detectors", detectors).items():
            key = _path("detectors", path)
            seen = _several("detectors", key, value, otp.PhiAccrualDetector)
            self._detectors.extend((key, detector) for detector in seen)
        self._on_change = _callbacks(on_change)
        self._poll_interval = _interval(poll_interval)
        given: object = tree
        if given is not None and not isinstance(given, str):
            msg = f"HealthMonitor: tree must be a supervisor name (got {given!r})"
            raise HealthDeclarationError(msg)
        self._tree = tree
        self._tracker = TreeTracker()
        self._results: dict[tuple[str, str], CheckResult] = {}
        self._health: dict[str, SubtreeHealth] = {}
        self._report = HealthReport(0.0, HealthStatus.HEALTHY, (), started=False)
        self._wakeup: trio.Event | None = None
        self._home: otp.Supervisor | otp.DynamicSupervisor | None = None
        self._running = self._polling = False
        self._nursery: trio.Nursery | None = None
        self._reported = trio.Event()

    def __repr__(self) -> str:
        return f"<otp.health.HealthMonitor {len(self._checks)} checks, {self._report.status}>"

    @property
    def report(self) -> HealthReport:
        """The latest report (all Healthy and not started before the monitor first ran)."""
        return self._report

    async def wait_for(self, predicate: Callable[[HealthReport], object]) -> HealthReport:
        """Wait until the latest report satisfies ``predicate``, and return it.

        Looks at the report now, then after each new one (bound the wait with
        :func:`trio.fail_after` or :func:`trio.move_on_after`).

        Example::

            report = await monitor.wait_for(lambda report: report.ready)
        """
        while not predicate(self._report):
            await self._reported.wait()
        return self._report

    def hook(self, event: otp.SupervisorEvent) -> None:
        """A supervisor hook: pass it in the root supervisor's ``hooks``.

        Example::

            otp.supervisor(tree, hooks=[monitor.hook])
        """
        self._tracker(event)
        self._poke()

    def breaker_hook(self, event: otp.BreakerEvent) -> None:
        """A breaker hook: re-read the breakers as soon as one changes state.

        Example::

            breaker = otp.CircuitBreaker("db", hooks=[monitor.breaker_hook])
        """
        if isinstance(event, otp.BreakerStateChanged):
            self._poke()

    def watch(self, path: str, source: otp.CircuitBreaker | otp.PhiAccrualDetector) -> None:
        """Watch one more breaker or detector at ``path`` (as the constructor's options do).

        For a breaker made after the monitor, so that it can take :meth:`breaker_hook`.

        Example::

            monitor = otp.health.HealthMonitor()
            breaker = otp.CircuitBreaker("db", hooks=[monitor.breaker_hook])
            monitor.watch("root/api", breaker)
        """
        key = _path("watch", path)
        given: object = source
        if isinstance(given, otp.CircuitBreaker):
            self._breakers.append((key, given))
        elif isinstance(given, otp.PhiAccrualDetector):
            self._detectors.append((key, given))
        else:
            msg = (
                "HealthMonitor.watch: source must be an otp.CircuitBreaker or an "
                f"otp.PhiAccrualDetector (got {source!r})"
            )
            raise HealthDeclarationError(msg)
        if self._nursery is not None:
            self._start_polling(self._nursery)
            self._poke()

    def child_spec(self, id: str = "health", **options: Any) -> otp.ChildSpec:  # noqa: A002, ANN401
        """A child spec running this monitor (``options`` go to :class:`otp.ChildSpec`).

        Example::

            tree = [otp.ChildSpec("db", db_worker), monitor.child_spec()]
        """
        return otp.ChildSpec(id, self.run, **options)

    async def run(
        self, *, task_status: trio.TaskStatus[HealthMonitor] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the monitor until cancelled; ``task_status.started(self)`` after one round.

        Example::

            monitor = await nursery.start(monitor.run)
        """
        if self._running:
            msg = "this HealthMonitor is already running; declare one per tree"
            raise RuntimeError(msg)
        self._running = True
        try:
            child = otp.current_child()
            self._home = child.supervisor if child is not None else None
            if self._tree is None and self._home is not None:
                self._tree = self._home.name
            self._wakeup = trio.Event()
            async with trio.open_nursery() as nursery:
                began = trio.current_time()
                async with trio.open_nursery() as first_round:
                    for path, check in self._checks:
                        first_round.start_soon(self._run_once, path, check)
                self._evaluate()
                for path, check in self._checks:
                    nursery.start_soon(self._keep_checking, path, check, began)
                self._nursery = nursery
                if self._breakers or self._detectors:
                    self._start_polling(nursery)
                task_status.started(self)
                while True:
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
                    self._evaluate()
        finally:
            self._wakeup = self._nursery = None
            self._polling = self._running = False

    # --- inside the monitor's task ----------------------------------------------------------

    def _poke(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def _run_once(self, path: str, check: Check) -> None:
        self._results[path, check.name] = await run_check(check, path)
        self._poke()

    async def _keep_checking(self, path: str, check: Check, began: float) -> None:
        while True:
            began += check.interval
            await trio.sleep_until(began)
            await self._run_once(path, check)
            began = max(began, trio.current_time() - check.interval)  # no catch-up burst

    def _start_polling(self, nursery: trio.Nursery) -> None:
        if not self._polling:
            self._polling = True
            nursery.start_soon(self._keep_polling)

    async def _keep_polling(self) -> None:
        while True:
            await trio.sleep(self._poll_interval)
            self._poke()

    def _from_children(self) -> Iterator[Finding]:
        # The supervisors' own view: restarting children, hook or no hook.
        pending = [self._home] if self._home is not None else []
        while pending:
            sup = pending.pop()
            if not sup.running:
                continue
            for info in sup.which_children():
                path = f"{sup.name}/{info.id}"
                self._tracker.known.setdefault(path)
                if info.state is otp.ChildState.RESTARTING:
                    yield Finding(path, "restarting", HealthStatus.DEGRADED, "restart pending")
                value = info.child.value if info.child is not None else None
                if isinstance(value, otp.Supervisor | otp.DynamicSupervisor):
                    pending.append(value)

    def _findings(self) -> list[Finding]:
        found = [result.finding for result in self._results.values()]
        found.extend(self._tracker.findings())
        found.extend(readings(self._breakers, self._detectors))
        said = {f.path for f in found if f.status is not HealthStatus.HEALTHY}
        found.extend(f for f in self._from_children() if f.path not in said)
        return found

    def _evaluate(self) -> None:
        now = trio.current_time()
        found = self._findings()
        paths = [*self._tracker.known, *(f.path for f in found)]
        health = statuses(found, paths)
        whole = aggregate(found)
        started = self._tree is not None and self._tracker.started(self._tree)
        if self._tree is None:
            started = True  # not under a supervisor: the monitor's own start is the tree's
        self._report = HealthReport(
            now,
            whole.status,
            whole.reasons,
            started=started,
            checks=tuple(self._results[key] for key in sorted(self._results)),
            findings=tuple(found),
            subtrees=tuple(health[path] for path in sorted(health)),
        )
        self._reported.set()
        self._reported = trio.Event()
        before, self._health = self._health, health
        for change in changes(before, health, now):
            for callback in self._on_change:
                try:
                    callback(change)
                except Exception:  # a broken callback must not stop the monitor: log it
                    logger.exception("health on_change callback %r failed on %s", callback, change)

"""One run: start the tree, inject the plan, drive the workload, stop, look for orphans.

The sequence, inside one ``trio.run``:

1. the root supervisor starts the (instrumented) tree, with the event log as its hook;
2. the fault injector starts, and the workload with it: both count time from that moment;
3. the workload issues its calls for ``duration`` seconds, then waits for the last ones (each
   ends within its timeout);
4. the injector is cancelled if it still has faults to fire, every child that is not running
   is noted (:class:`DownChild`: was that a supervisor's decision, or is part of the tree
   dead without anyone having decided it?), the tree is stopped, and
   :func:`otp.testing.library_tasks` looks for any task of the library still alive.

On virtual time every source of randomness is seeded from the run's seed: the plan, the
clients' choice of targets, the backoff jitter, Python's ``random`` (which a tree file's
supervisors use for their jitter) and Trio's scheduler, whose batches of runnable tasks are
run in a randomly reversed order. With all of them fixed, and time advancing only when every
task waits, a run is a pure function of its arguments: the same counts every time.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import attrs
import trio
import trio.testing

import otp
from otp.testing import FaultInjector, FaultPlan, InjectionRecord, library_tasks

from ._layout import BenchTree, Layout
from ._metrics import EventLog, Metrics, compute
from ._progress import NoProgress, Progress
from ._workload import Target, Workload

__all__ = ["DownChild", "RunConfig", "RunResult", "TreeStartError", "peak_memory", "run"]


@attrs.frozen
class RunConfig:
    """What to run, and how (times in seconds, rate in calls per second)."""

    tree: BenchTree
    layout: Layout
    plan: FaultPlan
    targets: tuple[Target, ...]
    duration: float
    rate: float
    timeout: float
    clients: int
    seed: int
    virtual_time: bool
    jitter: Callable[[], float] | None = None


@attrs.frozen
class DownChild:
    """A child that was not running when the run ended.

    ``decided`` says which supervisor rule left it down (a restart pending, or a restart
    type that does not restart it after that exit), or is ``None``: a permanent child down
    with no supervisor having decided it, a dead subtree the run must not hide.
    """

    path: str
    state: str
    restart: str
    decided: str | None


@attrs.frozen
class RunResult:
    """What a run measured, and how it ended."""

    metrics: Metrics
    records: tuple[InjectionRecord, ...]
    orphans: tuple[str, ...]
    tree_failure: str | None
    peak_memory: int | None
    wall_seconds: float
    down: tuple[DownChild, ...] = ()
    own_restarts: Mapping[str, int] = attrs.field(factory=dict)
    """Restarts per supervisor name as the supervisors counted them (``Supervisor.restarts``,
    summed over every incarnation): the report's counts, from events, must equal these."""


class TreeStartError(Exception):
    """The tree did not start (a child failed to start): there was nothing to measure."""


@attrs.define
class _State:
    root: otp.Supervisor | None = None
    start: float = 0.0
    during: int = 0
    stopping: bool = False
    failure: str | None = None
    start_failure: str | None = None
    down: tuple[DownChild, ...] = ()
    supervisors: list[otp.Supervisor | otp.DynamicSupervisor] = attrs.field(factory=list)


def peak_memory() -> int | None:
    """The process's peak resident set size in bytes (``None`` where it is unknown).

    Example::

        print(f"{peak_memory() / 2**20:.1f} MiB")
    """
    try:
        import resource  # noqa: PLC0415  (POSIX only)
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


@contextlib.contextmanager
def _quiet_otp_logs() -> Iterator[None]:
    # Every crash is injected on purpose and measured from the hooks; the loggers would add
    # a traceback per fault on stderr, and the time to format them to every figure.
    logger = logging.getLogger("otp")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _seeded(seed: int, *, enabled: bool) -> Iterator[None]:
    """Seed Python's and Trio's random generators for the run; restore them afterwards."""
    if not enabled:
        yield
        return
    # Trio reverses each batch of runnable tasks at random (trio._core._run._r), so that no
    # program comes to rely on an order it does not promise. Seeding it is what makes two
    # virtual-time runs schedule alike; the attribute is private, so it is used if present.
    trio_random = getattr(getattr(trio, "_core", None), "_run", None)
    scheduler = getattr(trio_random, "_r", None)
    saved_scheduler = scheduler.getstate() if isinstance(scheduler, random.Random) else None
    saved_global = random.getstate()
    if isinstance(scheduler, random.Random):
        scheduler.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved_global)
        if isinstance(scheduler, random.Random) and saved_scheduler is not None:
            scheduler.setstate(saved_scheduler)


def run(config: RunConfig, progress: Progress | None = None) -> RunResult:
    """Run the benchmark once (a blocking call: it runs Trio) and compute its metrics.

    Example::

        result = run(config)
        print(result.metrics.availability)
    """
    progress = progress if progress is not None else NoProgress()
    injector = FaultInjector(config.plan)
    children = injector.instrument(config.tree.children)
    events = EventLog()
    workload = Workload(
        config.targets,
        rate=config.rate,
        duration=config.duration,
        timeout=config.timeout,
        clients=config.clients,
        seed=config.seed,
        events=events,
        on_progress=progress.update,
    )
    state = _State()
    clock = trio.testing.MockClock(autojump_threshold=0) if config.virtual_time else None
    began = time.perf_counter()
    with _quiet_otp_logs(), _seeded(config.seed, enabled=config.virtual_time):
        orphans: list[str] = trio.run(
            functools.partial(
                _main,
                config=config,
                children=children,
                injector=injector,
                events=events,
                workload=workload,
                state=state,
            ),
            clock=clock,
        )
    wall = time.perf_counter() - began
    if state.start_failure is not None:
        raise TreeStartError(state.start_failure)
    metrics = compute(
        layout=config.layout,
        plan=config.plan,
        records=injector.records,
        events=events.events,
        calls=workload.log,
        start=state.start,
        during=state.during,
        duration=config.duration,
    )
    return RunResult(
        metrics=metrics,
        records=tuple(injector.records),
        orphans=tuple(orphans),
        tree_failure=state.failure,
        peak_memory=peak_memory(),
        wall_seconds=wall,
        down=state.down,
        own_restarts=own_restarts(state.supervisors),
    )


async def _main(
    *,
    config: RunConfig,
    children: tuple[otp.ChildSpec, ...],
    injector: FaultInjector,
    events: EventLog,
    workload: Workload,
    state: _State,
) -> list[str]:
    async with trio.open_nursery() as nursery:
        try:
            root: otp.Supervisor = await nursery.start(
                functools.partial(_run_root, config, children, events, state)
            )
        except (otp.StartError, otp.ChildSpecError) as exc:
            state.start_failure = f"the tree failed to start: {exc}"
            return []
        state.root = root
        state.supervisors.insert(0, root)
        injecting = trio.CancelScope()
        await nursery.start(_inject, injector, injecting)
        state.start = trio.current_time()
        await workload.run(root, state.start)
        state.during = len(events.events)  # what comes after is the tree's shutdown
        injecting.cancel()  # faults planned after the end of the run are not fired
        state.stopping = True
        if root.running:
            state.down = tuple(down_children(root))
            await root.stop()
    # Everything the run started has returned; whatever otp task is still alive is an orphan.
    return sorted(task.name for task in library_tasks())


async def _inject(
    injector: FaultInjector,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[FaultInjector] = trio.TASK_STATUS_IGNORED,
) -> None:
    with scope:
        await injector.run(task_status=task_status)


async def _run_root(
    config: RunConfig,
    children: tuple[otp.ChildSpec, ...],
    events: EventLog,
    state: _State,
    *,
    task_status: trio.TaskStatus[otp.Supervisor] = trio.TASK_STATUS_IGNORED,
) -> None:
    tree = config.tree
    started: list[otp.SupervisorStarted] = []

    def note_started(event: otp.SupervisorEvent) -> None:
        if isinstance(event, otp.SupervisorStarted) and event.supervisor == tree.name:
            started.append(event)
        elif isinstance(event, otp.ChildStarted):
            value = event.child.value
            if isinstance(value, otp.Supervisor | otp.DynamicSupervisor):
                state.supervisors.append(value)  # each incarnation, for its own count

    try:
        await otp.supervisor(
            children,
            strategy=tree.strategy,
            intensity=tree.intensity,
            period=tree.period,
            backoff=tree.backoff,
            auto_shutdown=tree.auto_shutdown,
            name=tree.name,
            hooks=[events, note_started],
            random=config.jitter,
            task_status=task_status,
        )
    except Exception as exc:
        if not started:
            raise  # a failed start: nursery.start raises it to the command
        at = trio.current_time() - state.start
        if isinstance(exc, otp.RestartIntensityExceeded):
            state.failure = f"the root supervisor {tree.name!r} gave up at {at:.2f} s: {exc}"
        else:
            state.failure = (
                f"the root supervisor {tree.name!r} failed at {at:.2f} s: "
                f"{type(exc).__name__}: {exc}"
            )
        return
    if not state.stopping:
        at = trio.current_time() - state.start
        state.failure = f"the root supervisor {tree.name!r} stopped by itself at {at:.2f} s"


def down_children(sup: otp.Supervisor | otp.DynamicSupervisor) -> list[DownChild]:
    """Every child of the running tree under ``sup`` that is not running, in start order."""
    down: list[DownChild] = []
    for info in reversed(sup.which_children()):  # which_children is newest first
        path = f"{sup.name}/{info.id}"
        if isinstance(sup, otp.DynamicSupervisor):
            restart = sup.template.restart
        else:
            restart = sup.get_childspec(info.id).restart
        if info.state is otp.ChildState.RUNNING:
            value = info.child.value if info.child is not None else None
            if isinstance(value, otp.Supervisor | otp.DynamicSupervisor) and value.running:
                down.extend(down_children(value))
            continue
        if info.state is otp.ChildState.RESTARTING:
            decided: str | None = f"{sup.name}: restart pending"
        elif restart is not otp.Restart.PERMANENT:
            decided = f"{sup.name}: a {restart.value} child is not restarted after its exit"
        else:
            decided = None
        down.append(DownChild(path, info.state.value, restart.value, decided))
    return down


def own_restarts(supervisors: Iterable[otp.Supervisor | otp.DynamicSupervisor]) -> dict[str, int]:
    """Restarts per supervisor name, summed over the incarnations given."""
    counts: dict[str, int] = {}
    for sup in supervisors:
        counts[sup.name] = counts.get(sup.name, 0) + sup.restarts
    return counts

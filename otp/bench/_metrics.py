"""What a run measured, computed from the tree's events, the calls and the injections.

Definitions (the docs page repeats them):

* **Availability**: calls served / calls issued. Every call ends as exactly one of served
  (it got its reply), timed out (no reply within the per-call timeout) or failed (any other
  error: the server exited, no server, a session could not be opened).
* **Restart latency**: for each restart, the time from the child going down (its
  ``ChildExited``, or its ``ChildTerminated`` when a strategy stopped it with a sibling) to the
  ``ChildStarted(restart=True)`` that brought it back. Failed attempts in between count
  towards the same restart.
* **Effect**: a fault takes effect when it is injected, except the two *latent* kinds:
  ``fail_start`` and ``fail_terminate`` only arm the target, and take effect when its next
  start (or stop) fails because of them, which its supervisor reports. One that has not
  taken effect by the end of the workload is *dormant*.
* **Recovery time** of a fault that took effect: for a named server, the time from the effect
  to the first reply to a call issued after it; for any other target (a worker, or a server
  made from a dynamic supervisor's template), the time from the effect to its supervisor's
  next ``ChildStarted`` for it. A fault whose target was not seen to recover before the end
  of the run is counted as unrecovered.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict, deque
from collections.abc import Hashable, Mapping, Sequence
from enum import IntEnum
from typing import final

import attrs
import trio

import otp
from otp.testing import Fault, FaultKind, FaultPlan, InjectedFault, InjectionRecord

from ._layout import Layout

__all__ = [
    "LATENT",
    "CallLog",
    "EventLog",
    "FaultResult",
    "Metrics",
    "Outcome",
    "Summary",
    "compute",
    "percentile",
]


LATENT = frozenset({FaultKind.FAIL_START, FaultKind.FAIL_TERMINATE})
"""The kinds that take effect later, when the target next starts (or stops)."""

_EFFECT_EVENT = {
    FaultKind.FAIL_START: "child.start_failed",
    FaultKind.FAIL_TERMINATE: "child.terminated",
}


class Outcome(IntEnum):
    """How one call ended."""

    SERVED = 0
    FAILED = 1
    TIMED_OUT = 2


@final
class CallLog:
    """Every call of the workload: when it was issued and ended, its target and outcome.

    Kept as parallel lists of plain numbers: a long run at a high rate logs many calls.
    """

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = tuple(targets)
        self.issued: list[float] = []
        self.ended: list[float] = []
        self.target: list[int] = []
        self.outcome: list[Outcome] = []
        self.errors: Counter[str] = Counter()

    def record(
        self, issued: float, ended: float, target: int, outcome: Outcome, error: str | None
    ) -> None:
        """Log one finished call (``error`` names the exception type of a failed one)."""
        self.issued.append(issued)
        self.ended.append(ended)
        self.target.append(target)
        self.outcome.append(outcome)
        if error is not None:
            self.errors[error] += 1

    def __len__(self) -> int:
        return len(self.issued)


@attrs.frozen
class Event:
    """The part of a supervisor event the metrics need (the event itself holds a child)."""

    time: float
    name: str
    supervisor: str
    child_id: Hashable = None
    restart: bool = False
    hung: bool = False
    injected: bool = False
    """A failed start or stop caused by an injected fault (:class:`InjectedFault`)."""


@final
class EventLog:
    """The hook given to the root supervisor: it hears the whole tree.

    It keeps a compact copy of each event (not the event, which would keep every ended
    child alive) and wakes the clients waiting for a part of the tree to come back.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = trio.lowlevel.ParkingLot()

    def __call__(self, event: otp.SupervisorEvent) -> None:
        """Record ``event`` (called by the supervisors)."""
        child_id: Hashable = getattr(event, "child_id", None)
        restart = bool(getattr(event, "restart", False))
        hung = isinstance(event, otp.ChildExited) and event.reason.kind is otp.ExitKind.HUNG
        error: BaseException | None = None
        if isinstance(event, otp.ChildStartFailed):
            error = event.error
        elif isinstance(event, otp.ChildTerminated):
            error = event.reason.exception
        injected = isinstance(error, InjectedFault)
        self.events.append(
            Event(event.time, event.name, event.supervisor, child_id, restart, hung, injected)
        )
        if isinstance(event, otp.ChildStarted | otp.SupervisorStarted):
            self.changed.unpark_all()

    def gave_up(self, supervisor: str) -> Event | None:
        """The give-up of ``supervisor``, if it gave up."""
        for event in self.events:
            if event.name == "supervisor.gave_up" and event.supervisor == supervisor:
                return event
        return None


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in ``(0, 1]``); NaN for no values.

    Nearest rank returns a value that was observed, not an interpolation.

    Example::

        assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)])


@attrs.frozen
class Summary:
    """Percentiles of a set of durations, in seconds (NaN when there are none)."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise ``values``."""
        return cls(
            len(values),
            percentile(values, 0.50),
            percentile(values, 0.90),
            percentile(values, 0.99),
            max(values) if values else math.nan,
        )


@attrs.frozen
class FaultResult:
    """One planned fault and what came of it (times relative to the start of the run).

    ``fired`` is ``None`` for a fault planned after the end of the run, ``effective`` for one
    that did not take effect (not applied, or latent and dormant), ``recovery`` for one whose
    target was not seen to recover.
    """

    fault: Fault
    fired: float | None
    applied: bool
    note: str
    effective: float | None
    recovery: float | None


@attrs.frozen
class Metrics:
    """Everything a run measured (times in seconds, relative to the start of the workload)."""

    issued: int
    served: int
    failed: int
    timed_out: int
    errors: Mapping[str, int]
    restart_latency: Summary
    restarts: Mapping[str, int]
    escalations: Mapping[str, int]
    faults: tuple[FaultResult, ...]
    recovery: Mapping[FaultKind, Summary]
    seconds: int
    series_issued: tuple[int, ...]
    series_served: tuple[int, ...]
    series_failed: tuple[int, ...]
    series_timed_out: tuple[int, ...]
    series_restarts: tuple[int, ...]

    @property
    def availability(self) -> float:
        """Calls served / calls issued (NaN if none were issued)."""
        return self.served / self.issued if self.issued else math.nan

    @property
    def total_restarts(self) -> int:
        """Restarts across the tree."""
        return sum(self.restarts.values())

    @property
    def total_escalations(self) -> int:
        """Give-ups across the tree."""
        return sum(self.escalations.values())


def restart_latencies(events: Sequence[Event]) -> list[float]:
    """Per restart: from the child going down to its ``ChildStarted(restart=True)``.

    Children are keyed by (supervisor, id). A dynamic supervisor's children share the
    template's id, so each key holds a queue: its restarts are matched first in, first out,
    which is the order a dynamic supervisor restarts them in.
    """
    down: defaultdict[tuple[str, Hashable], deque[float]] = defaultdict(deque)
    hung: Counter[tuple[str, Hashable]] = Counter()
    latencies: list[float] = []
    for event in events:
        key = (event.supervisor, event.child_id)
        if event.name == "child.exited":
            down[key].append(event.time)
            if event.hung:
                hung[key] += 1  # its ChildTerminated follows: the same going-down
        elif event.name == "child.terminated":
            if hung[key]:
                hung[key] -= 1
            else:
                down[key].append(event.time)
        elif event.name == "child.started":
            if event.restart and down[key]:
                latencies.append(event.time - down[key].popleft())
            elif not event.restart:
                down[key].clear()  # a fresh start: whatever went down before is moot
        elif event.name == "supervisor.stopped":
            # Its children went down with it; they come back as fresh starts, if at all.
            for stale in [k for k in down if k[0] == event.supervisor]:
                del down[stale]
    return latencies


def compute(
    *,
    layout: Layout,
    plan: FaultPlan,
    records: Sequence[InjectionRecord],
    events: Sequence[Event],
    calls: CallLog,
    start: float,
    during: int,
    duration: float,
) -> Metrics:
    """All the metrics of a run whose workload started at ``start`` (trio time).

    ``events[:during]`` are those reported while the workload ran; the rest, the tree's
    shutdown.
    """
    outcomes = Counter(calls.outcome)
    restarts: dict[str, int] = dict.fromkeys(layout.supervisors, 0)
    escalations: dict[str, int] = dict.fromkeys(layout.supervisors, 0)
    for event in events:
        if event.name == "child.started" and event.restart:
            restarts[event.supervisor] = restarts.get(event.supervisor, 0) + 1
        elif event.name == "supervisor.gave_up":
            escalations[event.supervisor] = escalations.get(event.supervisor, 0) + 1
    faults = _fault_results(
        layout=layout,
        plan=plan,
        records=records,
        events=events[:during],
        calls=calls,
        start=start,
    )
    recovery = {
        kind: Summary.of(
            [r.recovery for r in faults if r.fault.kind is kind and r.recovery is not None]
        )
        for kind in FaultKind
    }
    seconds = max(1, math.ceil(duration))
    issued = [0] * seconds
    served = [0] * seconds
    failed = [0] * seconds
    timed_out = [0] * seconds
    for when, outcome in zip(calls.issued, calls.outcome, strict=True):
        second = min(seconds - 1, max(0, int(when - start)))
        issued[second] += 1
        if outcome is Outcome.SERVED:
            served[second] += 1
        elif outcome is Outcome.FAILED:
            failed[second] += 1
        else:
            timed_out[second] += 1
    restarts_series = [0] * seconds
    for event in events:
        if event.name == "child.started" and event.restart and event.time >= start:
            restarts_series[min(seconds - 1, int(event.time - start))] += 1
    return Metrics(
        issued=len(calls),
        served=outcomes[Outcome.SERVED],
        failed=outcomes[Outcome.FAILED],
        timed_out=outcomes[Outcome.TIMED_OUT],
        errors=dict(sorted(calls.errors.items())),
        restart_latency=Summary.of(restart_latencies(events)),
        restarts=restarts,
        escalations=escalations,
        faults=tuple(faults),
        recovery=recovery,
        seconds=seconds,
        series_issued=tuple(issued),
        series_served=tuple(served),
        series_failed=tuple(failed),
        series_timed_out=tuple(timed_out),
        series_restarts=tuple(restarts_series),
    )


def _fault_results(
    *,
    layout: Layout,
    plan: FaultPlan,
    records: Sequence[InjectionRecord],
    events: Sequence[Event],
    calls: CallLog,
    start: float,
) -> list[FaultResult]:
    # The injector may log a fault twice: a cancel_restart whose crash was applied but
    # whose supervisor could not be stopped gets a second, not-applied record. The first
    # record says whether the target was hit; the notes of both are kept.
    fired: dict[int, tuple[float, bool, list[str]]] = {}
    for record in records:
        key = id(record.fault)
        if key in fired:
            fired[key][2].append(record.note)
        else:
            fired[key] = (record.time, record.applied, [record.note] if record.note else [])
    served_by_target = _served_calls_by_target(calls)
    starts = _starts_by_child(events)
    results = []
    for fault in plan.faults:
        entry = fired.get(id(fault))
        if entry is None:
            results.append(
                FaultResult(
                    fault, None, applied=False, note="not fired", effective=None, recovery=None
                )
            )
            continue
        time, applied, notes = entry
        effect: float | None = None
        if applied:
            effect = _effect(layout, fault, time, events)
        recovery = None
        if effect is not None:
            recovery = _recovery(layout, fault.target, effect, served_by_target, starts)
        results.append(
            FaultResult(
                fault,
                time - start,
                applied=applied,
                note="; ".join(notes),
                effective=None if effect is None else effect - start,
                recovery=recovery,
            )
        )
    return results


def _effect(layout: Layout, fault: Fault, fired: float, events: Sequence[Event]) -> float | None:
    """When an applied fault took effect (trio time), or ``None`` if it stayed dormant.

    ``events`` are those of the run, before the tree's shutdown: a latent fault that only
    takes effect as the tree stops cannot be seen to recover.
    """
    if fault.kind not in LATENT:
        return fired
    info = layout.info(fault.target)
    if info is None:
        return None
    name = _EFFECT_EVENT[fault.kind]
    for event in events:
        if (
            event.time >= fired
            and event.injected
            and event.name == name
            and event.supervisor == info.supervisor
            and event.child_id == info.child_id
        ):
            return event.time
    return None


def _served_calls_by_target(calls: CallLog) -> dict[str, list[tuple[float, float]]]:
    """Per target path: (issued, ended) of each served call, by time of issue."""
    served: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for issued, ended, target, outcome in zip(
        calls.issued, calls.ended, calls.target, calls.outcome, strict=True
    ):
        if outcome is Outcome.SERVED:
            served[calls.targets[target]].append((issued, ended))
    for rows in served.values():
        rows.sort()
    return served


def _starts_by_child(events: Sequence[Event]) -> dict[tuple[str, Hashable], list[float]]:
    starts: dict[tuple[str, Hashable], list[float]] = defaultdict(list)
    for event in events:
        if event.name == "child.started":
            starts[(event.supervisor, event.child_id)].append(event.time)
    return starts


def _recovery(
    layout: Layout,
    target: str,
    fired: float,
    served: Mapping[str, list[tuple[float, float]]],
    starts: Mapping[tuple[str, Hashable], list[float]],
) -> float | None:
    info = layout.info(target)
    if info is None:
        return None
    if info.kind == "server" and info.server_name is not None and not info.template:
        rows = served.get(target, [])
        # Calls issued strictly after the injection: one queued before it may be answered
        # before the fault takes effect, which says nothing about recovery.
        index = bisect.bisect_right(rows, (fired, math.inf))
        ends = [ended for _, ended in rows[index:]]
        return min(ends) - fired if ends else None
    times = starts.get((info.supervisor, info.child_id), [])
    index = bisect.bisect_left(times, fired)
    return times[index] - fired if index < len(times) else None

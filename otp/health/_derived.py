"""Findings derived from the tree itself: supervisor reports, breakers and detectors.

:class:`TreeTracker` is pure: fed every :class:`otp.SupervisorEvent` (through a supervisor
hook), it keeps what each report says about each path until a later report says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import otp

from ._status import Finding, HealthStatus, within

__all__ = ["TreeTracker", "breaker_finding", "detector_finding"]

DEGRADED = HealthStatus.DEGRADED
UNHEALTHY = HealthStatus.UNHEALTHY


def _path(supervisor: str, child_id: object) -> str:
    return f"{supervisor}/{child_id}"


class TreeTracker:
    """What the supervisor reports say about each child and supervisor, as findings.

    * a child that exited and is being restarted (or whose restart failed, or is delayed by a
      backoff) is Degraded ("restarting") until it starts again; one stopped by its liveness
      detector says so ("liveness");
    * a child that exited abnormally and is not restarted is Degraded until it starts again;
    * a supervisor that gave up (or failed to start) is Unhealthy until it starts again; when
      it stops, what was said about its children is forgotten (they are gone with it).
    """

    def __init__(self) -> None:
        self._children: dict[str, Finding] = {}
        self._supervisors: dict[str, Finding] = {}
        self._started: set[str] = set()
        self.known: dict[str, None] = {}  # every path seen, in the order first seen

    def started(self, supervisor: str) -> bool:
        """Whether ``supervisor`` reported started (and has not stopped since)."""
        return supervisor in self._started

    def findings(self) -> Iterator[Finding]:
        """Every current finding."""
        yield from self._supervisors.values()
        yield from self._children.values()

    def __call__(self, event: otp.SupervisorEvent) -> None:
        """Take in one supervisor report."""
        match event:
            case otp.ChildStarted(supervisor=sup, child_id=child_id):
                path = _path(sup, child_id)
                self.known.setdefault(path)
                self._children.pop(path, None)
            case otp.ChildExited(supervisor=sup, child_id=child_id, reason=reason):
                path = _path(sup, child_id)
                if event.restarting:
                    hung = reason.kind is otp.ExitKind.HUNG
                    source = "liveness" if hung else "restarting"
                    text = f"hung, restarting: {reason}" if hung else f"exited: {reason}"
                    self._children[path] = Finding(path, source, DEGRADED, text)
                elif reason.abnormal:
                    text = f"exited: {reason}; not restarted"
                    self._children[path] = Finding(path, "exited", DEGRADED, text)
                else:
                    self._children.pop(path, None)
            case otp.ChildRestartScheduled(supervisor=sup, child_id=child_id, delay=delay):
                path = _path(sup, child_id)
                if path not in self._children:
                    text = f"restarts in {delay:.3g} s"
                    self._children[path] = Finding(path, "restarting", DEGRADED, text)
            case otp.ChildStartFailed(supervisor=sup, child_id=child_id):
                path = _path(sup, child_id)
                self.known.setdefault(path)
                source = "restarting" if event.restart else "start failed"
                text = event.describe().removeprefix(f"child {child_id!r} ")
                self._children[path] = Finding(path, source, DEGRADED, text)
            case otp.SupervisorGaveUp(supervisor=sup):
                self._supervisors[sup] = Finding(sup, "gave up", UNHEALTHY, event.describe())
            case otp.SupervisorStarted(supervisor=sup):
                self.known.setdefault(sup)
                self._started.add(sup)
                self._supervisors.pop(sup, None)
            case otp.SupervisorStopped(supervisor=sup, reason=reason):
                self._started.discard(sup)
                for path in [p for p in self._children if within(p, sup) and p != sup]:
                    del self._children[path]
                if reason == "start_failed":
                    text = "a child failed to start"
                    self._supervisors[sup] = Finding(sup, "start failed", UNHEALTHY, text)
            case _:
                pass


def breaker_finding(path: str, breaker: otp.CircuitBreaker) -> Finding:
    """A breaker's state now: Degraded while open or half-open, else Healthy."""
    state = breaker.state
    source = f"breaker {breaker.name!r}"
    if state is otp.BreakerState.OPEN:
        return Finding(path, source, DEGRADED, "open")
    if state is otp.BreakerState.HALF_OPEN:
        return Finding(path, source, DEGRADED, "half-open (trial calls)")
    return Finding(path, source, HealthStatus.HEALTHY)


def detector_finding(path: str, detector: otp.PhiAccrualDetector) -> Finding:
    """A phi-accrual detector's verdict now: Degraded while it suspects its peer."""
    if detector.is_available():
        return Finding(path, "liveness", HealthStatus.HEALTHY)
    text = f"suspected (phi {detector.phi():.3g} >= threshold {detector.threshold:g})"
    return Finding(path, "liveness", DEGRADED, text)


def readings(
    breakers: Iterable[tuple[str, otp.CircuitBreaker]],
    detectors: Iterable[tuple[str, otp.PhiAccrualDetector]],
) -> Iterator[Finding]:
    """The findings of every watched ``(path, breaker)`` and ``(path, detector)``, read now."""
    for path, breaker in breakers:
        yield breaker_finding(path, breaker)
    for path, detector in detectors:
        yield detector_finding(path, detector)

"""The monitor's snapshot of the tree's health, and the record of one change of status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, final

import attrs

from ._check import CheckResult
from ._status import Finding, HealthStatus, SubtreeHealth, aggregate

__all__ = ["HealthChanged", "HealthReport", "changes", "statuses"]

_FATAL = frozenset({"gave up", "start failed"})


@final
@attrs.frozen
class HealthChanged:
    """The status of one path changed (given to each ``on_change`` callback).

    A path not seen before counts as having been Healthy. The whole tree is path ``""``.

    Attributes:
        path: The subtree whose status changed.
        old: Its status before.
        new: Its status now.
        reasons: Why it is not healthy now (empty when it is).
        time: ``trio.current_time()`` when the change was seen.

    Example::

        def on_change(change):
            if change.path == "":
                print("tree:", change.old, "->", change.new, *change.reasons)
    """

    path: str
    old: HealthStatus
    new: HealthStatus
    reasons: tuple[str, ...]
    time: float

    def __str__(self) -> str:
        where = repr(self.path) if self.path else "the tree"
        text = f"health of {where}: {self.old} -> {self.new}"
        return f"{text} ({'; '.join(self.reasons)})" if self.reasons else text


@final
@attrs.frozen
class HealthReport:
    """The health of the tree at one moment, as the monitor last worked it out.

    Attributes:
        time: ``trio.current_time()`` when it was made.
        status: The whole tree's status.
        reasons: Why it is not healthy (empty when it is), worst first.
        started: Whether the tree reported started (and has not stopped since).
        checks: The latest result of every declared check.
        findings: Everything found, healthy or not (checks, reports, breakers, detectors).
        subtrees: The health of every path the monitor knows, in path order.

    Example::

        report = monitor.report
        if not report.ready:
            print(report.status, report.reasons)
    """

    time: float
    status: HealthStatus
    reasons: tuple[str, ...]
    started: bool = attrs.field(kw_only=True)
    checks: tuple[CheckResult, ...] = attrs.field(default=(), kw_only=True)
    findings: tuple[Finding, ...] = attrs.field(default=(), kw_only=True)
    subtrees: tuple[SubtreeHealth, ...] = attrs.field(default=(), kw_only=True)

    @property
    def alive(self) -> bool:
        """Whether no supervisor gave up (or failed to start), as ``/healthz`` answers.

        Everything else heals by itself (restarts, breakers closing, checks passing again).
        """
        return not any(f.source in _FATAL for f in self.findings)

    @property
    def ready(self) -> bool:
        """Whether the tree started and is not Unhealthy, as ``/readyz`` answers."""
        return self.started and self.status is not HealthStatus.UNHEALTHY

    def subtree(self, path: str) -> SubtreeHealth:
        """The health of the subtree at ``path`` (Healthy if nothing is known about it).

        Example::

            assert report.subtree("root/db").status is otp.health.HealthStatus.HEALTHY
        """
        return aggregate(self.findings, path)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what the HTTP endpoint serves).

        Example::

            json.dumps(monitor.report.to_dict())
        """
        return {
            "status": self.status.value,
            "alive": self.alive,
            "ready": self.ready,
            "started": self.started,
            "time": self.time,
            "reasons": list(self.reasons),
            "subtrees": {
                health.path: {"status": health.status.value, "reasons": list(health.reasons)}
                for health in self.subtrees
            },
            "checks": [
                {
                    "path": result.path,
                    "check": result.check,
                    "passed": result.passed,
                    "critical": result.critical,
                    "reason": result.reason,
                    "time": result.time,
                    "duration": result.duration,
                }
                for result in self.checks
            ],
        }


def with_ancestors(paths: Iterable[str]) -> list[str]:
    """``paths``, every path above them and ``""`` (the whole tree), sorted."""
    every = {""}
    for path in paths:
        parts = path.split("/")
        every.update("/".join(parts[: n + 1]) for n in range(len(parts)))
    return sorted(every)


def statuses(findings: Iterable[Finding], paths: Iterable[str]) -> dict[str, SubtreeHealth]:
    """The health of each of ``paths`` (and the paths above them) under ``findings``."""
    found = list(findings)
    return {path: aggregate(found, path) for path in with_ancestors(paths)}


def changes(
    before: Mapping[str, SubtreeHealth], after: Mapping[str, SubtreeHealth], time: float
) -> list[HealthChanged]:
    """Every path whose status differs between ``before`` and ``after``, in path order.

    A path missing from either side counts as Healthy there.
    """
    healthy = HealthStatus.HEALTHY
    found = []
    for path in sorted(before.keys() | after.keys()):
        old = before[path].status if path in before else healthy
        now = after.get(path)
        new = now.status if now is not None else healthy
        if old is not new:
            found.append(HealthChanged(path, old, new, now.reasons if now else (), time))
    return found

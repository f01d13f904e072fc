"""Health statuses and the pure rule that folds findings into the status of a subtree.

The rule: a subtree's status is the worst status any finding under it reports, and Healthy
when nothing is reported. What each source reports is fixed where the finding is made:

* a failing critical check: Unhealthy; a failing non-critical check: Degraded;
* a supervisor that gave up: Unhealthy;
* a child restarting, hung (its liveness detector declared it), or exited abnormally and not
  restarted; a circuit breaker open or half-open; a phi-accrual detector suspecting its peer:
  Degraded.

Paths are the supervisors' own: ``"root/workers/db"`` is child ``db`` of supervisor
``root/workers``. A subtree is a path and every path below it (``"root/db"`` is not below
``"root/d"``); the empty path ``""`` is the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import final

import attrs

__all__ = ["Finding", "HealthStatus", "SubtreeHealth", "aggregate", "within"]


class HealthStatus(StrEnum):
    """How well a subtree is doing, from best to worst.

    Statuses compare by severity: ``HEALTHY < DEGRADED < UNHEALTHY``.

    Example::

        assert otp.health.HealthStatus.DEGRADED < otp.health.HealthStatus.UNHEALTHY
        assert max(statuses, default=otp.health.HealthStatus.HEALTHY) is worst
    """

    HEALTHY = "healthy"
    """Nothing is wrong."""
    DEGRADED = "degraded"
    """Still serving, but something non-critical is failing or recovering."""
    UNHEALTHY = "unhealthy"
    """A critical check is failing or a supervisor gave up."""

    @property
    def severity(self) -> int:
        """0 for healthy, 1 for degraded, 2 for unhealthy."""
        return _SEVERITY[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, HealthStatus):
            return NotImplemented
        return self.severity < other.severity

    def __le__(self, other: object) -> bool:
        if not isinstance(other, HealthStatus):
            return NotImplemented
        return self.severity <= other.severity

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, HealthStatus):
            return NotImplemented
        return self.severity > other.severity

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, HealthStatus):
            return NotImplemented
        return self.severity >= other.severity


_SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@final
@attrs.frozen
class Finding:
    """What one source says is wrong (or right) at one path.

    Attributes:
        path: The child's (or supervisor's) path; ``""`` for the whole tree.
        source: What made it: ``"check 'ping'"``, ``"restarting"``, ``"gave up"``,
            ``"breaker 'db'"``, ``"liveness"``...
        status: What it means for the path.
        reason: A one-line account, empty for a healthy finding.

    Example::

        finding = otp.health.Finding("root/db", "breaker 'db'", DEGRADED, "open")
        assert str(finding) == "root/db: breaker 'db': open"
    """

    path: str
    source: str
    status: HealthStatus
    reason: str = ""

    def __str__(self) -> str:
        where = self.path or "tree"
        return (
            f"{where}: {self.source}: {self.reason}" if self.reason else f"{where}: {self.source}"
        )


@final
@attrs.frozen
class SubtreeHealth:
    r"""The status of one subtree and why.

    Attributes:
        path: The subtree's path (``""`` is the whole tree).
        status: The worst status of its findings (Healthy if none).
        reasons: Every finding under it that is not healthy, worst first, as text.

    Example::

        health = otp.health.aggregate(findings, "root/db")
        if health.status is not otp.health.HealthStatus.HEALTHY:
            print(*health.reasons, sep="\\n")
    """

    path: str
    status: HealthStatus
    reasons: tuple[str, ...] = ()


def within(path: str, subtree: str) -> bool:
    """Whether ``path`` is ``subtree`` or below it (``""`` holds every path).

    Example::

        >>> within("root/db", "root"), within("root/dbx", "root/db"), within("root", "")
        (True, False, True)
    """
    return not subtree or path == subtree or path.startswith(subtree + "/")


def aggregate(findings: Iterable[Finding], path: str = "") -> SubtreeHealth:
    """Fold ``findings`` into the health of the subtree at ``path`` (a pure function).

    The status is the worst among the findings at or below ``path``, Healthy when there are
    none; the reasons are those findings that are not healthy, worst first, then by path.

    Example::

        findings = [
            otp.health.Finding("root/db", "check 'ping'", UNHEALTHY, "timed out after 1 s"),
            otp.health.Finding("root/web", "restarting", DEGRADED, "exited: crash"),
        ]
        assert otp.health.aggregate(findings).status is UNHEALTHY
        assert otp.health.aggregate(findings, "root/web").status is DEGRADED
    """
    bad = [f for f in findings if f.status is not HealthStatus.HEALTHY and within(f.path, path)]
    bad.sort(key=lambda f: (-f.status.severity, f.path, f.source))
    status = bad[0].status if bad else HealthStatus.HEALTHY
    return SubtreeHealth(path, status, tuple(str(f) for f in bad))

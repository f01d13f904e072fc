"""Health of a supervision tree: checks, findings from the tree itself, one status, HTTP.

Declare :class:`Check` objects per child path, run a :class:`HealthMonitor` as a child of an
ordinary supervisor and give it the supervisor's reports through :meth:`HealthMonitor.hook`.
It folds check results, restarting children, supervisors that gave up, open circuit breakers
and suspicious liveness detectors into a Healthy / Degraded / Unhealthy status per subtree
(:func:`aggregate`), keeps the latest :class:`HealthReport` and calls ``on_change``
callbacks with a :class:`HealthChanged` for every path whose status changes.
:func:`serve_http` (extra ``otp[http]``) answers ``/healthz``, ``/readyz`` and ``/health``.

It uses only the public ``otp`` API; the kernel knows nothing of it.

Example::

    monitor = otp.health.HealthMonitor(
        {"root/db": [otp.health.Check("ping", ping_db, timeout=1, interval=5)]},
        on_change=[print],
    )
    tree = [otp.ChildSpec("db", db_worker), monitor.child_spec()]
    await nursery.start(functools.partial(otp.supervisor, tree, hooks=[monitor.hook]))
"""

import contextlib as _contextlib

from ._check import Check as Check
from ._check import CheckFunction as CheckFunction
from ._check import CheckResult as CheckResult
from ._check import Failing as Failing
from ._derived import TreeTracker as TreeTracker
from ._errors import HealthDeclarationError as HealthDeclarationError
from ._http import health_app as health_app
from ._http import serve_http as serve_http
from ._monitor import HealthMonitor as HealthMonitor
from ._monitor import OnChange as OnChange
from ._report import HealthChanged as HealthChanged
from ._report import HealthReport as HealthReport
from ._status import Finding as Finding
from ._status import HealthStatus as HealthStatus
from ._status import SubtreeHealth as SubtreeHealth
from ._status import aggregate as aggregate
from ._status import within as within

__all__ = [
    "Check",
    "CheckFunction",
    "CheckResult",
    "Failing",
    "Finding",
    "HealthChanged",
    "HealthDeclarationError",
    "HealthMonitor",
    "HealthReport",
    "HealthStatus",
    "OnChange",
    "SubtreeHealth",
    "TreeTracker",
    "aggregate",
    "health_app",
    "serve_http",
    "within",
]


def _fixup_module_metadata() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("otp.health._"):
            with _contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "otp.health"


_fixup_module_metadata()
del _fixup_module_metadata

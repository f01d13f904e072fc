"""Random fault plans over the default tree, on virtual time: the tree always holds.

After every plan: every permanent child is running, or a supervisor decided otherwise (gave
up, or a restart is pending); the report's restart counts equal the supervisors' own; no task
of the library outlived the tree; and no caller was left waiting.
"""

from __future__ import annotations

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otp.bench import _cli, _report, _runner
from otp.testing import Fault, FaultKind, FaultPlan

BASE = _cli.prepare(
    _cli.build_parser().parse_args(["--virtual-time", "--duration", "4", "--faults", "none"])
)
LAYOUT = BASE.config.layout
WORKERS_AND_SERVERS = [info.path for info in LAYOUT.fault_targets()]
SERVERS = [info.path for info in LAYOUT.fault_targets() if info.kind == "server"]
NESTED = [path for path in WORKERS_AND_SERVERS if "/" in path]

SERVER_ONLY = {FaultKind.SLOW}


@st.composite
def faults(draw: st.DrawFn) -> Fault:
    kind = draw(st.sampled_from(list(FaultKind)))
    if kind in SERVER_ONLY:
        targets = SERVERS
    elif kind is FaultKind.CANCEL_RESTART:
        targets = NESTED
    else:
        targets = WORKERS_AND_SERVERS
    return Fault(
        at=draw(st.floats(0.0, 3.5).map(lambda t: round(t, 2))),
        kind=kind,
        target=draw(st.sampled_from(targets)),
        delay=draw(st.sampled_from([0.1, 0.5])),
        duration=draw(st.sampled_from([0.5, 1.0])),
    )


def run_plan(plan: FaultPlan) -> _report.Report:
    config = attrs.evolve(BASE.config, plan=plan)
    return _report.Report(config, _runner.run(config), "drawn")


def check(report: _report.Report) -> None:
    result = report.result
    metrics = result.metrics
    assert report.dead == [], result.down
    assert result.tree_failure is None or "gave up" in result.tree_failure
    reported = {name: count for name, count in metrics.restarts.items() if count}
    own = {name: count for name, count in result.own_restarts.items() if count}
    assert reported == own
    assert result.orphans == ()
    # Every call issued ended one way or another: nobody is still waiting.
    assert metrics.served + metrics.failed + metrics.timed_out == metrics.issued


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(faults(), max_size=8))
def test_random_fault_plans_never_leave_the_tree_broken(drawn: list[Fault]) -> None:
    check(run_plan(FaultPlan(tuple(sorted(drawn, key=lambda f: f.at)), seed=0)))


def test_the_plan_that_once_left_a_dead_subtree() -> None:
    plan = FaultPlan(
        (
            Fault(1.0, FaultKind.FAIL_START, "services/svc-2"),
            Fault(2.0, FaultKind.CANCEL_RESTART, "services/svc-3"),
        ),
        seed=0,
    )
    check(run_plan(plan))

"""The pure rule folding findings into statuses, checked against a small model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otp.health import CheckResult, Finding, HealthStatus, SubtreeHealth, aggregate, within
from otp.health._report import changes, statuses, with_ancestors

HEALTHY, DEGRADED, UNHEALTHY = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY

PATHS = ["root", "root/db", "root/dbx", "root/web", "root/web/h1", "root/web/h2", ""]
DERIVED = {
    "restarting": DEGRADED,
    "liveness": DEGRADED,
    "breaker 'db'": DEGRADED,
    "gave up": UNHEALTHY,
}

check_results = st.builds(
    CheckResult,
    path=st.sampled_from(PATHS),
    check=st.sampled_from(["ping", "disk", "lag"]),
    passed=st.booleans(),
    reason=st.sampled_from(["", "timed out after 1 s", "boom"]),
    critical=st.booleans(),
    time=st.just(0.0),
    duration=st.just(0.0),
)
derived = st.tuples(st.sampled_from(PATHS), st.sampled_from(sorted(DERIVED)))


def model_status(results: list[CheckResult], conditions: list[tuple[str, str]], at: str) -> str:
    # The documented rule, written out plainly: a critical failing check or a supervisor that
    # gave up makes a subtree unhealthy; any other failing check or derived condition makes it
    # degraded; otherwise it is healthy.
    def under(path: str) -> bool:
        return at == "" or path == at or path.startswith(at + "/")

    failing = [r for r in results if under(r.path) and not r.passed]
    found = [source for path, source in conditions if under(path)]
    if any(r.critical for r in failing) or "gave up" in found:
        return "unhealthy"
    if failing or found:
        return "degraded"
    return "healthy"


def findings_of(results: list[CheckResult], conditions: list[tuple[str, str]]) -> list[Finding]:
    found = [result.finding for result in results]
    found += [Finding(path, source, DERIVED[source], "why") for path, source in conditions]
    return found


@given(
    results=st.lists(check_results, max_size=12),
    conditions=st.lists(derived, max_size=6),
    at=st.sampled_from(PATHS),
)
def test_aggregate_matches_the_model(
    results: list[CheckResult], conditions: list[tuple[str, str]], at: str
) -> None:
    health = aggregate(findings_of(results, conditions), at)
    assert health.status.value == model_status(results, conditions, at)
    assert health.path == at
    bad = [f for f in findings_of(results, conditions) if f.status is not HEALTHY]
    # Worst first, then by path (and source), as the rule says.
    expected = sorted(
        (f for f in bad if within(f.path, at)), key=lambda f: (-f.status.severity, f.path, f.source)
    )
    assert list(health.reasons) == [str(f) for f in expected]


@given(results=st.lists(check_results, max_size=12), conditions=st.lists(derived, max_size=6))
def test_a_subtree_is_never_worse_than_the_tree_above_it(
    results: list[CheckResult], conditions: list[tuple[str, str]]
) -> None:
    found = findings_of(results, conditions)
    for path in PATHS:
        for ancestor in with_ancestors([path]):
            if within(path, ancestor):
                assert aggregate(found, path).status <= aggregate(found, ancestor).status


@given(
    before=st.lists(derived, max_size=5),
    after=st.lists(derived, max_size=5),
)
def test_changes_name_exactly_the_paths_whose_status_moved(
    before: list[tuple[str, str]], after: list[tuple[str, str]]
) -> None:
    old = statuses(findings_of([], before), PATHS)
    new = statuses(findings_of([], after), PATHS)
    found = changes(old, new, 7.0)
    moved = [p for p in sorted(old.keys() | new.keys()) if old[p].status is not new[p].status]
    assert [c.path for c in found] == moved
    for change in found:
        assert (change.old, change.new) == (old[change.path].status, new[change.path].status)
        assert change.reasons == new[change.path].reasons
        assert change.time == 7.0
    assert changes(new, new, 8.0) == []


def test_nothing_found_is_healthy_and_unknown_paths_count_as_healthy() -> None:
    assert aggregate([]) == SubtreeHealth("", HEALTHY, ())
    appeared = {"root/db": SubtreeHealth("root/db", DEGRADED, ("root/db: restarting: x",))}
    [change] = changes({}, appeared, 1.0)
    assert (change.path, change.old, change.new) == ("root/db", HEALTHY, DEGRADED)
    [gone] = changes(appeared, {}, 2.0)
    assert (gone.old, gone.new, gone.reasons) == (DEGRADED, HEALTHY, ())


def test_paths_are_matched_by_segment_not_by_prefix() -> None:
    assert within("root/db", "root")
    assert within("root/db", "root/db")
    assert not within("root/dbx", "root/db")
    assert within("anything", "")
    found = [Finding("root/dbx", "restarting", DEGRADED, "x")]
    assert aggregate(found, "root/db").status is HEALTHY
    assert aggregate(found, "root").status is DEGRADED


def test_with_ancestors_adds_the_whole_tree_and_every_level() -> None:
    assert with_ancestors(["root/web/h1", "other"]) == [
        "",
        "other",
        "root",
        "root/web",
        "root/web/h1",
    ]


def test_statuses_order_by_severity() -> None:
    assert HEALTHY < DEGRADED < UNHEALTHY
    assert max([DEGRADED, UNHEALTHY, HEALTHY]) is UNHEALTHY
    assert UNHEALTHY >= DEGRADED >= HEALTHY
    assert HEALTHY <= HEALTHY


def test_finding_and_change_text() -> None:
    assert str(Finding("root/db", "breaker 'db'", DEGRADED, "open")) == (
        "root/db: breaker 'db': open"
    )
    assert str(Finding("", "check 'disk'", HEALTHY)) == "tree: check 'disk'"

"""The burst limit on logged reports: the pure limiter against a model, and under supervisors."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from functools import partial
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

import otp
from otp._burst import BurstLimiter

from .harness import Recorder

# --- the pure limiter ----------------------------------------------------------------------


def test_limiter_docstring_example() -> None:
    limiter = BurstLimiter(otp.ReportLimit(max_reports=2, window=1.0))
    assert [limiter.admit(0.1), limiter.admit(0.2), limiter.admit(0.3)] == [True, True, False]
    assert limiter.drop("c", "crashed", logging.ERROR, "ValueError()") is True
    assert limiter.drop("c", "crashed", logging.ERROR, "KeyError()") is False
    assert limiter.due(0.9) == []
    [summary] = limiter.due(1.1)
    assert summary == otp.DroppedReports("c", "crashed", 2, logging.ERROR, "KeyError()", 0.1, 1.1)
    assert limiter.due(1.2) == []
    assert limiter.admit(1.2) is True


def _offer(limiter: BurstLimiter, now: float, key: str) -> tuple[list[Any], bool]:
    """What the reporter does with one report: flush what is due, then admit or drop."""
    flushed = limiter.due(now) if now >= limiter.window_end else []
    if limiter.admit(now):
        return flushed, True
    limiter.drop(key, "crashed", logging.ERROR, f"error at {now}")
    return flushed, False


@given(
    max_reports=st.integers(1, 5),
    window=st.sampled_from([0.5, 1.0, 2.0]),
    steps=st.lists(
        st.tuples(st.sampled_from([0.0, 0.01, 0.3, 0.7, 1.5]), st.sampled_from("abc")),
        max_size=60,
    ),
)
def test_limiter_matches_a_model_of_fixed_windows(
    max_reports: int, window: float, steps: list[tuple[float, str]]
) -> None:
    limiter = BurstLimiter(otp.ReportLimit(max_reports=max_reports, window=window))
    # The model: a window opens at the first report after the last one ended; within it the
    # first max_reports reports are logged and the rest counted per key.
    window_start = -math.inf
    in_window = 0
    now = 0.0
    model_dropped: Counter[str] = Counter()
    summarised: Counter[str] = Counter()
    last_error: dict[str, str] = {}
    for gap, key in steps:
        now += gap
        flushed, admitted = _offer(limiter, now, key)
        if now >= window_start + window:
            expected_flush = dict(model_dropped)
            assert {d.child_id: d.count for d in flushed} == expected_flush
            for dropped in flushed:
                assert dropped.last == last_error[dropped.child_id]
                assert dropped.since == window_start
                assert dropped.until == window_start + window
            model_dropped.clear()
            window_start, in_window = now, 0
        else:
            assert flushed == []
        for dropped in flushed:
            summarised[dropped.child_id] += dropped.count
        expected_admit = in_window < max_reports
        assert admitted is expected_admit
        if admitted:
            in_window += 1
        else:
            model_dropped[key] += 1
            last_error[key] = f"error at {now}"
    final = limiter.flush(now + 0.001)
    assert {d.child_id: d.count for d in final} == dict(model_dropped)
    for dropped in final:
        summarised[dropped.child_id] += dropped.count
    assert limiter.flush(now + 1) == []
    total_dropped = sum(summarised.values())
    assert total_dropped == len(steps) - _admitted_count(max_reports, window, steps)


def _admitted_count(max_reports: int, window: float, steps: list[tuple[float, str]]) -> int:
    start, count, admitted, now = -math.inf, 0, 0, 0.0
    for gap, _ in steps:
        now += gap
        if now >= start + window:
            start, count = now, 0
        if count < max_reports:
            count += 1
            admitted += 1
    return admitted


def test_summaries_beyond_ten_children_are_one_line() -> None:
    limiter = BurstLimiter(otp.ReportLimit(max_reports=1))
    limiter.admit(0.0)
    for index in range(13):
        limiter.drop(index, "crashed", logging.WARNING if index else logging.ERROR, "x")
    limiter.drop(12, "crashed", logging.WARNING, "x")
    summaries = limiter.flush(0.25)
    assert [d.child_id for d in summaries] == [*range(10), None]
    rest = summaries[-1]
    assert (rest.count, rest.level) == (4, logging.WARNING)
    assert str(rest) == "4 more reports about other children in the last 0.25 s"


def test_dropped_reports_text() -> None:
    crash = otp.DroppedReports("c", "crashed", 1234, logging.ERROR, "ValueError: boom", 0.0, 1.0)
    assert str(crash) == (
        "child 'c' crashed 1,234 more times in the last 1 s; last error: ValueError: boom"
    )
    once = otp.DroppedReports("w", "restarted", 1, logging.INFO, None, 2.0, 2.5)
    assert str(once) == "child 'w' restarted 1 more time in the last 0.5 s"
    stop = otp.DroppedReports("w", "was terminated", 2, logging.INFO, "shutdown", 0.0, 1.0)
    assert str(stop).endswith("; last reason: shutdown")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_reports": 0}, "max_reports must be an int >= 1 (got 0)"),
        ({"max_reports": True}, "max_reports must be an int >= 1 (got True)"),
        ({"max_reports": 2.5}, "max_reports must be an int >= 1 (got 2.5)"),
        ({"window": 0}, "window must be a finite number of seconds > 0 (got 0)"),
        ({"window": math.inf}, "window must be a finite number of seconds > 0 (got inf)"),
        ({"window": "1"}, "window must be a finite number of seconds > 0 (got '1')"),
    ],
)
def test_bad_report_limits_name_the_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(otp.ChildSpecError, match=f"^{re.escape('ReportLimit: ' + message)}$"):
        otp.ReportLimit(**kwargs)


@pytest.mark.parametrize(
    "declare",
    [
        lambda limit: otp.supervisor_spec("s", [], report_limit=limit),
        lambda limit: otp.dynamic_supervisor_spec(
            "d", otp.ChildSpec("t", trio.sleep_forever), report_limit=limit
        ),
        lambda limit: otp.Tree([], report_limit=limit),
    ],
)
def test_a_report_limit_that_is_not_one_is_rejected_at_declaration(declare: Any) -> None:
    with pytest.raises(otp.ChildSpecError, match=r"report_limit must be an otp.ReportLimit"):
        declare(100)


async def test_a_supervisor_rejects_a_bad_report_limit_before_starting() -> None:
    with pytest.raises(otp.ChildSpecError, match=r"got 100"):
        async with otp.open_supervisor([], report_limit=100):  # type: ignore[arg-type]
            pass  # pragma: no cover


# --- under a supervisor, on virtual time ----------------------------------------------------


async def crash_after(delay: float, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep(delay)
    raise ValueError("boom")


class CrashTimes:
    """A child that crashes right after starting its first ``count`` times, then stays up."""

    def __init__(self, count: int, gap: float = 0.001) -> None:
        self.left = count
        self.gap = gap

    async def __call__(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        if self.left <= 0:
            await trio.sleep_forever()
        self.left -= 1
        await trio.sleep(self.gap)
        raise ValueError("boom")


def _crash_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if hasattr(r, "otp_event") and r.levelno == logging.ERROR]


def _summaries(caplog: pytest.LogCaptureFixture) -> list[otp.DroppedReports]:
    return [r.otp_dropped for r in caplog.records if hasattr(r, "otp_dropped")]  # type: ignore[attr-defined]


async def test_a_crash_loop_logs_the_limit_then_one_summary_per_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    recorder = Recorder()
    spec = otp.ChildSpec("c", crash_after, (0.01,))
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(
            partial(
                otp.supervisor,
                [spec],
                intensity=10**6,
                name="root",
                hooks=[recorder],
                report_limit=otp.ReportLimit(max_reports=3, window=1.0),
            )
        )
        await trio.sleep(2.995)  # about 299 crashes, across three windows
        await sup.stop()
    crashes = recorder.of(otp.ChildExited)
    assert len(crashes) == sup.restarts  # hooks and counts see every crash
    logged = _crash_records(caplog)
    summaries = _summaries(caplog)
    assert len(logged) == 9  # three per window
    assert len(logged) + sum(d.count for d in summaries) == len(crashes)
    assert [(d.child_id, d.what) for d in summaries] == [("c", "crashed")] * 3
    assert all(d.last == "ValueError: boom" and d.level == logging.ERROR for d in summaries)
    # A summary goes out at its window's end (the last at stop), after its window's reports.
    times = [d.until for d in summaries]
    assert times[:2] == pytest.approx([1.0, 2.0], abs=0.02)
    messages = [r.getMessage() for r in caplog.records]
    first = messages.index(f"supervisor 'root': {summaries[0]}")
    assert sum(1 for m in messages[:first] if "exited: abnormal" in m) == 3
    assert "crashed 97 more times in the last 1 s" in messages[first]


async def test_the_summary_comes_at_the_window_end_when_the_storm_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    spec = otp.ChildSpec("c", CrashTimes(10))
    limit = otp.ReportLimit(max_reports=4, window=1.0)
    async with otp.open_supervisor([spec], intensity=100, report_limit=limit, name="root"):
        await trio.sleep(0.5)
        assert len(_crash_records(caplog)) == 4
        assert _summaries(caplog) == []
        await trio.sleep(0.6)  # past the window's end: flushed by the supervisor's timer
        [summary] = _summaries(caplog)
        assert summary.count == 6
        assert summary.until == pytest.approx(summary.since + 1.0)
        await trio.sleep(5)
    assert len(_summaries(caplog)) == 1  # nothing more was dropped, nothing more to say


async def test_drops_left_at_stop_are_summarised_before_the_stopped_report(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="otp")
    spec = otp.ChildSpec("c", CrashTimes(5))
    limit = otp.ReportLimit(max_reports=2, window=60.0)
    async with otp.open_supervisor([spec], intensity=100, report_limit=limit, name="root"):
        await trio.sleep(1)
    summaries = _summaries(caplog)
    # Two reports got through (the first start and crash); the rest is summarised.
    assert {(d.what, d.count) for d in summaries} == {
        ("crashed", 5 - 1),
        ("restarted", 5),
        ("was terminated", 1),
    }
    messages = [r.getMessage() for r in caplog.records]
    assert messages[-1] == "supervisor 'root': stopped (normal)"
    assert "supervisor 'root': started with 1 child" in messages  # never limited


async def test_supervisor_events_pass_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    spec = otp.ChildSpec("c", crash_after, (0.001,))
    limit = otp.ReportLimit(max_reports=1)
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([spec], intensity=5, report_limit=limit, name="root"):
            await trio.sleep_forever()
    messages = [r.getMessage() for r in caplog.records]
    gave_up = next(i for i, m in enumerate(messages) if "reached max restart intensity" in m)
    assert "crashed 5 more times" in messages[gave_up - 1]  # the summary comes first
    assert sum(d.count for d in _summaries(caplog)) == 5  # six crashes, one logged


async def test_no_limit_logs_every_report(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    spec = otp.ChildSpec("c", CrashTimes(300, gap=0.0))
    async with otp.open_supervisor([spec], intensity=1000, report_limit=None):
        await trio.sleep(1)
    assert len(_crash_records(caplog)) == 300
    assert _summaries(caplog) == []


async def test_the_default_limit_is_100_reports_a_second(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    spec = otp.ChildSpec("c", CrashTimes(300, gap=0.0))
    async with otp.open_supervisor([spec], intensity=1000):
        await trio.sleep(0.5)
    assert len(_crash_records(caplog)) == 100
    assert sum(d.count for d in _summaries(caplog)) == 200


async def test_each_supervisor_has_its_own_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    limit = otp.ReportLimit(max_reports=2)
    inner = [otp.ChildSpec("w", CrashTimes(5, gap=0.0))]
    tree = [
        otp.ChildSpec("c", CrashTimes(5, gap=0.0)),
        otp.supervisor_spec("inner", inner, intensity=100, report_limit=limit),
    ]
    async with otp.open_supervisor(tree, intensity=100, report_limit=limit, name="root"):
        await trio.sleep(0.5)
    by_supervisor = Counter(r.otp_event.supervisor for r in _crash_records(caplog))  # type: ignore[attr-defined]
    assert by_supervisor == {"root": 2, "root/inner": 2}
    assert {(d.child_id, d.count) for d in _summaries(caplog)} == {("c", 3), ("w", 3)}


async def test_a_dynamic_supervisor_limits_its_reports(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="otp")
    template = otp.ChildSpec("job", CrashTimes(8, gap=0.0))
    limit = otp.ReportLimit(max_reports=3)
    async with otp.open_dynamic_supervisor(template, intensity=100, report_limit=limit) as sup:
        await sup.start_child()
        await trio.sleep(0.5)
    assert len(_crash_records(caplog)) == 3
    assert [(d.child_id, d.count) for d in _summaries(caplog)] == [("job", 5)]


async def test_logging_off_builds_and_drops_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="otp")
    spec = otp.ChildSpec("c", CrashTimes(50, gap=0.0))
    async with otp.open_supervisor([spec], intensity=100, report_limit=otp.ReportLimit(1)):
        await trio.sleep(0.5)
    assert caplog.records == []


# --- trees as data --------------------------------------------------------------------------


def test_a_tree_saves_and_loads_its_report_limits() -> None:
    nested = otp.supervisor_spec("inner", [], report_limit=None)
    dynamic = otp.dynamic_supervisor_spec(
        "jobs", otp.ChildSpec("job", trio.sleep_forever), report_limit=otp.ReportLimit(7, 0.5)
    )
    tree = otp.Tree([nested, dynamic], report_limit=otp.ReportLimit(max_reports=20))
    data = tree.to_dict()
    assert data["report_limit"] == {"max_reports": 20}
    assert data["children"][0]["report_limit"] == {"max_reports": "infinity"}
    assert data["children"][1]["report_limit"] == {"max_reports": 7, "window": 0.5}
    assert otp.Tree.from_dict(data) == tree
    assert otp.Tree.from_toml(tree.to_toml()) == tree
    assert "report_limit" not in otp.Tree([]).to_dict()
    assert otp.Tree.from_dict({"report_limit": {"window": 2}}).report_limit == otp.ReportLimit(
        100, 2.0
    )


def test_a_bad_report_limit_in_a_tree_names_its_key() -> None:
    data = {
        "report_limit": {"max_reports": "lots", "windw": 1},
        "children": [{"id": "w", "start": "trio:sleep_forever", "report_limit": {}}],
    }
    with pytest.raises(otp.TreeError) as info:
        otp.Tree.from_dict(data)
    assert sorted(info.value.problems) == [
        (
            "children[0].report_limit: only a nested supervisor (a child with 'children' or "
            "a 'template') takes this key"
        ),
        "report_limit.max_reports: must be an int >= 1 or 'infinity' (got 'lots')",
        "report_limit.windw: unknown key (did you mean 'window'?)",
    ]

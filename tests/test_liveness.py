"""Supervisors that restart hung children: heartbeats, the phi detector, the hung exit."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

import otp

from .harness import Recorder, settle

# With the defaults scaled to a 1 s interval (pause 3 s, first estimate 1 s, so a std of
# 0.25 s after the first beat), phi crosses 8 at y = 5.226: 1 + 3 + 5.226 * 0.25 s.
SILENT_AFTER_START = 1 + 3 + 5.2259 * 0.25


class Beater:
    """Children that beat every ``period`` seconds until told to hang (once: a restarted
    child beats again)."""

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}
        self.hang: set[str] = set()
        self.hang_always: set[str] = set()

    async def run(self, name: str, period: float, *, task_status: Any) -> None:
        self.starts[name] = self.starts.get(name, 0) + 1
        task_status.started()
        while True:
            await trio.sleep(period)
            if name in self.hang or name in self.hang_always:
                self.hang.discard(name)
                await trio.sleep_forever()
            otp.heartbeat()

    def spec(self, name: str, period: float = 1.0, **options: Any) -> otp.ChildSpec:
        liveness = options.pop("liveness", otp.Heartbeat(interval=1.0))
        return otp.ChildSpec(name, self.run, (name, period), liveness=liveness, **options)


async def test_a_beating_child_is_never_declared_hung() -> None:
    beater = Beater()
    recorder = Recorder()
    async with otp.open_supervisor([beater.spec("a")], hooks=[recorder]):
        await trio.sleep(1000)
    assert beater.starts == {"a": 1}
    assert recorder.of(otp.ChildExited) == []


async def test_a_child_that_stops_beating_is_stopped_and_restarted_as_hung() -> None:
    beater = Beater()
    recorder = Recorder()
    async with otp.open_supervisor(
        [beater.spec("a"), beater.spec("b")], hooks=[recorder], name="root"
    ) as sup:
        await trio.sleep(10.5)
        beater.hang.add("a")
        await trio.sleep(30)
        beater.hang.clear()
        [exited] = recorder.of(otp.ChildExited)
        assert exited.child_id == "a"
        assert exited.reason.kind is otp.ExitKind.HUNG
        assert exited.reason.abnormal
        error = exited.reason.exception
        assert isinstance(error, otp.ChildHung)
        assert error.phi >= 8.0
        assert str(error).startswith("child 'a' sent no heartbeat for ")
        assert exited.restarting
        assert beater.starts == {"a": 2, "b": 1}
        # The same detector, fed the same beats (at start, then every second up to 10 s),
        # says exactly when a: the supervisor acted at that very moment.
        twin = otp.PhiAccrualDetector(
            first_heartbeat_estimate=1.0,
            acceptable_heartbeat_pause=3.0,
            min_std_deviation=0.1,
            clock=iter(float(t) for t in range(11)).__next__,
        )
        for _ in range(11):
            twin.heartbeat()
        assert exited.time == pytest.approx(twin.unavailable_at(), abs=1e-6)
        assert 14.5 < exited.time < 14.6
        assert sup.get_child("a") is not None
        [terminated] = recorder.of(otp.ChildTerminated)
        assert terminated.child_id == "a"


async def test_a_child_that_never_beats_is_hung_after_the_first_estimate() -> None:
    async def silent(*, task_status: Any) -> None:
        task_status.started()
        await trio.sleep_forever()

    recorder = Recorder()
    spec = otp.ChildSpec("s", silent, liveness=otp.Heartbeat(interval=1.0), restart="temporary")
    async with otp.open_supervisor([spec], hooks=[recorder]) as sup:
        await trio.sleep(100)
        assert sup.which_children() == []
    [exited] = recorder.of(otp.ChildExited)
    assert exited.time == pytest.approx(SILENT_AFTER_START, abs=1e-3)
    assert not exited.restarting


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        ("one_for_one", {"a": 1, "b": 2, "c": 1}),
        ("one_for_all", {"a": 2, "b": 2, "c": 2}),
        ("rest_for_one", {"a": 1, "b": 2, "c": 2}),
    ],
)
async def test_hung_children_are_restarted_per_strategy(
    strategy: str, restarted: dict[str, int]
) -> None:
    beater = Beater()
    async with otp.open_supervisor([beater.spec(name) for name in "abc"], strategy=strategy):
        await trio.sleep(5)
        beater.hang.add("b")
        await trio.sleep(9)
        beater.hang.clear()
        await trio.sleep(20)
        assert beater.starts == restarted


async def test_hangs_count_toward_intensity_and_give_up() -> None:
    beater = Beater()
    beater.hang_always.add("a")
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([beater.spec("a")], intensity=2, period=30.0) as sup:
            await sup.wait()
    assert beater.starts == {"a": 3}


async def test_hung_restarts_use_the_backoff() -> None:
    beater = Beater()
    beater.hang_always.add("a")
    recorder = Recorder()
    async with otp.open_supervisor(
        [beater.spec("a")],
        intensity=100,
        period=1.0,
        backoff=otp.Backoff(min=10.0, max=10.0),
        hooks=[recorder],
    ):
        await trio.sleep(60)
    delays = [e.delay for e in recorder.of(otp.ChildRestartScheduled)]
    assert delays
    assert set(delays) == {10.0}


async def test_a_hung_child_is_stopped_under_its_shutdown_rules() -> None:
    async def stuck(*, task_status: Any) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with otp.cleanup_scope():
                await trio.sleep(100)

    spec = otp.ChildSpec(
        "s", stuck, liveness=otp.Heartbeat(interval=1.0), shutdown=2.0, restart="transient"
    )
    recorder = Recorder()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([spec], hooks=[recorder], intensity=0) as sup:
            await sup.wait()
    [terminated] = recorder.of(otp.ChildTerminated)
    assert terminated.reason.kind is otp.ExitKind.KILLED  # its cleanup was cut at 2 s
    assert terminated.time == pytest.approx(SILENT_AFTER_START + 2.0, abs=1e-3)
    [gave_up] = recorder.of(otp.SupervisorGaveUp)
    assert gave_up.reason.kind is otp.ExitKind.HUNG


class Slow(otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        await trio.sleep(request)
        return request


async def test_an_idle_server_is_not_hung_but_a_stuck_handler_is() -> None:
    recorder = Recorder()
    spec = Slow.child_spec(id="slow", liveness=otp.Heartbeat(interval=1.0))
    async with otp.open_supervisor([spec], hooks=[recorder]) as sup:
        await trio.sleep(1000)  # idle for a long time: fine
        child = sup.get_child("slow")
        assert child is not None
        ref = child.value
        assert await ref.call(0.5) == 0.5  # a quick handler: fine
        with pytest.raises(otp.ServerExited) as info:
            await ref.call(1000, timeout=None)  # stuck inside one handler
        assert info.value.reason.kind is otp.ExitKind.SHUTDOWN  # stopped by its supervisor
        [exited] = recorder.of(otp.ChildExited)
        assert exited.reason.kind is otp.ExitKind.HUNG
        await settle()
        assert sup.get_child("slow") is not None


async def test_heartbeat_outside_a_child_is_a_no_op() -> None:
    otp.heartbeat()

    async def plain(*, task_status: Any) -> None:
        task_status.started()
        otp.heartbeat()  # no liveness configured: nothing to do

    async with otp.open_supervisor([otp.ChildSpec("p", plain, restart="temporary")]):
        await settle()


async def test_dynamic_children_are_watched_too() -> None:
    beater = Beater()
    template = beater.spec("w", liveness=otp.Heartbeat(interval=1.0), restart="transient")
    recorder = Recorder()
    async with otp.open_dynamic_supervisor(template, hooks=[recorder]) as pool:
        await pool.start_child()
        await trio.sleep(3)
        beater.hang.add("w")
        await trio.sleep(7)
        beater.hang.clear()
        await trio.sleep(5)
        [exited] = recorder.of(otp.ChildExited)
        assert exited.reason.kind is otp.ExitKind.HUNG
        assert pool.count_children().active == 1
        assert beater.starts == {"w": 2}


def test_heartbeat_validation() -> None:
    beat = otp.Heartbeat(interval=2.0)
    assert (beat.acceptable_pause, beat.min_std_deviation, beat.threshold) == (6.0, 0.2, 8.0)
    for bad in (0, -1, math.inf, math.nan, True, "1"):
        with pytest.raises(otp.ChildSpecError, match="interval must be a finite number"):
            otp.Heartbeat(interval=bad)  # type: ignore[arg-type]
    with pytest.raises(otp.ChildSpecError, match="max_sample_size must be an int >= 1"):
        otp.Heartbeat(max_sample_size=0)
    with pytest.raises(otp.ChildSpecError, match=r"liveness must be an otp\.Heartbeat"):
        otp.ChildSpec("x", Slow, liveness=1.0)  # type: ignore[arg-type]


def test_an_int_beyond_any_float_is_no_interval() -> None:
    with pytest.raises(otp.ChildSpecError, match="interval must be a finite number"):
        otp.Heartbeat(interval=10**400)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": 1e13}, r"interval must be a finite number of seconds > 0 and <= 1e\+12"),
        ({"interval": 10**13}, r"interval must be a finite number of seconds > 0 and <= 1e\+12"),
        ({"interval": 5e11}, r"interval must be <= 3.33333e\+11 s when acceptable_pause defaults"),
        (
            {"acceptable_pause": 1e13},
            r"acceptable_pause must be .* <= 1e\+12 \(got 10000000000000.0\)",
        ),
        ({"min_std_deviation": 2e12}, r"min_std_deviation must be .* <= 1e\+12"),
        ({"threshold": math.inf}, r"threshold must be a finite number > 0"),
    ],
)
def test_heartbeat_limits_are_the_detectors_and_checked_at_declaration(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(otp.ChildSpecError, match=message):
        otp.Heartbeat(**options)


def test_a_heartbeat_at_the_detectors_bounds_builds_its_detector() -> None:
    beat = otp.Heartbeat(interval=1e12, acceptable_pause=1e12, min_std_deviation=1e12)
    detector = beat.detector(lambda: 0.0)
    detector.heartbeat()
    assert detector.is_available()


@given(
    interval=st.floats(min_value=1e-9, max_value=1e12),
    pause=st.none() | st.floats(min_value=0.0, max_value=1e12),
    spread=st.none() | st.floats(min_value=1e-9, max_value=1e12),
    threshold=st.floats(min_value=1e-3, max_value=1e6),
)
def test_every_accepted_heartbeat_builds_a_working_detector(
    interval: float, pause: float | None, spread: float | None, threshold: float
) -> None:
    try:
        beat = otp.Heartbeat(
            interval, acceptable_pause=pause, min_std_deviation=spread, threshold=threshold
        )
    except otp.ChildSpecError as error:
        assert "acceptable_pause defaults" in str(error)  # noqa: PT017
        return
    now = iter([0.0, interval, 2 * interval])
    detector = beat.detector(lambda: next(now))
    detector.heartbeat()
    detector.heartbeat()
    assert detector.unavailable_at() >= interval

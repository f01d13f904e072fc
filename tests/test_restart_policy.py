"""Restart intensity, backoff and auto_shutdown, as a running supervisor applies them."""

from __future__ import annotations

import functools
import itertools

import pytest
import trio

import otp

from .harness import Harness, Recorder, settle

# --- intensity ---------------------------------------------------------------------------


async def crash_at(harness: Harness, child_id: str, times: list[float]) -> None:
    for moment in times:
        await trio.sleep_until(moment)
        harness.crash(child_id)
        await settle()


@pytest.mark.parametrize("intensity", [0, 1, 3])
async def test_exactly_intensity_restarts_are_allowed_and_one_more_gives_up(
    intensity: int,
) -> None:
    harness = Harness()
    recorder = Recorder()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor(
            [harness.spec("x"), harness.spec("y")],
            intensity=intensity,
            period=5,
            hooks=[recorder],
        ) as sup:
            await crash_at(harness, "x", [0.5 * n for n in range(intensity)])
            assert sup.running
            assert harness.starts["x"] == intensity + 1
            harness.crash("x")
            await sup.wait()
    assert harness.starts["x"] == intensity + 1  # the one too many is not performed
    [gave_up] = recorder.of(otp.SupervisorGaveUp)
    assert gave_up.child_id == "x"
    assert gave_up.intensity == intensity
    assert harness.starts_and_stops()[-1] == ("stop", "y")
    assert recorder.of(otp.SupervisorStopped)[-1].reason == "gave_up"


async def test_the_window_slides() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("x")], intensity=2, period=1.0) as sup:
        # Three crashes a little more than half a period apart: never two in one period.
        await crash_at(harness, "x", [0.0, 0.51, 1.02, 1.53, 2.04, 2.55])
        assert sup.running
        assert harness.starts["x"] == 7


async def test_the_window_is_closed_at_exactly_period() -> None:
    harness = Harness()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([harness.spec("x")], intensity=1, period=1.0) as sup:
            await crash_at(harness, "x", [0.0, 1.0])
            await sup.wait()


async def test_restarts_just_beyond_the_window_are_fine() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("x")], intensity=1, period=1.0) as sup:
        await crash_at(harness, "x", [0.0, 1.001, 2.002])
        assert sup.running


async def test_non_restarted_exits_are_not_charged() -> None:
    harness = Harness()
    specs = [harness.spec("t", restart="temporary"), harness.spec("tr", restart="transient")]
    async with otp.open_supervisor(specs, intensity=0) as sup:
        harness.crash("t")
        harness.finish("tr")
        await settle()
        assert sup.running


async def test_restarts_are_counted_per_supervisor_not_per_child() -> None:
    harness = Harness()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([harness.spec("a"), harness.spec("b")], intensity=1) as sup:
            harness.crash("a")
            await settle()
            harness.crash("b")
            await sup.wait()


async def test_a_permanently_failing_child_gets_exactly_the_remaining_attempts() -> None:
    harness = Harness()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([harness.spec("x")], intensity=4) as sup:
            harness.fail_starts["x"] = 1000
            harness.crash("x")
            await sup.wait()
    # Erlang, verified: 5 factory calls including the first start.
    assert harness.starts["x"] == 5


# --- backoff -----------------------------------------------------------------------------


async def test_backoff_delays_restarts_exponentially_and_reports_them() -> None:
    harness = Harness()
    recorder = Recorder()
    backoff = otp.Backoff(min=1.0, max=4.0, reset_after=100.0)
    async with otp.open_supervisor(
        [harness.spec("x")], intensity=100, backoff=backoff, hooks=[recorder]
    ) as sup:
        for _ in range(4):
            harness.crash("x")
            await settle()
            assert sup.which_children()[0].state is otp.ChildState.RESTARTING
            await trio.sleep(10)
        exits = [e.time for e in recorder.of(otp.ChildExited)]
        starts = [e.time for e in recorder.of(otp.ChildStarted) if e.restart]
        assert [start - end for start, end in zip(starts, exits, strict=True)] == [
            1.0,
            2.0,
            4.0,
            4.0,
        ]
        scheduled = recorder.of(otp.ChildRestartScheduled)
        assert [(e.delay, e.attempt, e.group) for e in scheduled] == [
            (1.0, 0, ("x",)),
            (2.0, 1, ("x",)),
            (4.0, 2, ("x",)),
            (4.0, 3, ("x",)),
        ]


async def test_backoff_resets_after_a_long_enough_run() -> None:
    harness = Harness()
    recorder = Recorder()
    backoff = otp.Backoff(min=1.0, max=8.0, reset_after=10.0)
    async with otp.open_supervisor(
        [harness.spec("x")], intensity=100, backoff=backoff, hooks=[recorder]
    ):
        harness.crash("x")
        await trio.sleep(1.5)  # restarted after 1 s, runs 0.5 s
        harness.crash("x")
        await trio.sleep(2.5)  # restarted after 2 s, runs 0.5 s
        await trio.sleep(10)  # now it has run for 10.5 s: the next restart is attempt 0
        harness.crash("x")
        await settle()
    delays = [e.delay for e in recorder.of(otp.ChildRestartScheduled)]
    assert delays == [1.0, 2.0, 1.0]


async def test_backoff_jitter_uses_the_injected_random_source() -> None:
    harness = Harness()
    recorder = Recorder()
    values = itertools.cycle([0.5, 0.25])
    backoff = otp.Backoff(min=2.0, max=2.0, jitter=1.0)
    async with otp.open_supervisor(
        [harness.spec("x")],
        intensity=100,
        backoff=backoff,
        hooks=[recorder],
        random=lambda: next(values),
    ):
        for _ in range(2):
            harness.crash("x")
            await trio.sleep(10)
    assert [e.delay for e in recorder.of(otp.ChildRestartScheduled)] == [3.0, 2.5]


async def test_a_delayed_restart_does_not_block_the_api_or_other_children() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=30.0, max=30.0)
    async with otp.open_supervisor(
        [harness.spec("slow"), harness.spec("other")], backoff=backoff, intensity=10
    ) as sup:
        harness.crash("slow")
        await settle()
        start = trio.current_time()
        await sup.start_child(harness.spec("new"))
        await sup.terminate_child("other")
        await sup.restart_child("other")
        harness.crash("new")
        await settle()
        assert trio.current_time() == start
        assert sup.which_children()[0].state is otp.ChildState.RESTARTING  # new, too
        await trio.sleep(31)
        assert all(info.child is not None for info in sup.which_children())


async def test_a_delayed_restart_is_charged_once() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=1.0, max=1.0)
    async with otp.open_supervisor([harness.spec("x")], backoff=backoff, intensity=1) as sup:
        harness.crash("x")
        await trio.sleep(2)
        assert sup.get_child("x") is not None
        assert sup._intensity.restarts_in_window(trio.current_time()) == 1


async def test_terminate_child_cancels_a_delayed_restart_at_once() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=30.0, max=30.0)
    async with otp.open_supervisor([harness.spec("x")], backoff=backoff) as sup:
        harness.crash("x")
        await settle()
        await sup.terminate_child("x")
        assert sup.which_children()[0].state is otp.ChildState.STOPPED
        await trio.sleep(60)
        assert harness.starts["x"] == 1
        await sup.restart_child("x")
        assert harness.starts["x"] == 2


async def test_one_for_all_with_backoff_stops_the_group_at_once_and_starts_it_later() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=5.0, max=5.0)
    async with otp.open_supervisor(
        [harness.spec(name) for name in "abc"], strategy="one_for_all", backoff=backoff
    ) as sup:
        harness.clear()
        harness.crash("b")
        await settle()
        assert [e[1] for e in harness.starts_and_stops()] == ["b", "c", "a"]
        # Erlang: the crashed child is restarting; the siblings stopped with it are stopped.
        assert {info.id: info.state.value for info in sup.which_children()} == {
            "a": "stopped",
            "b": "restarting",
            "c": "stopped",
        }
        await trio.sleep(5)
        await settle()
        assert [e for e in harness.starts_and_stops() if e[0] == "start"] == [
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
        ]


async def test_rest_for_one_a_crash_during_a_delay_joins_that_group() -> None:
    harness = Harness()
    recorder = Recorder()
    backoff = otp.Backoff(min=10.0, max=10.0)
    async with otp.open_supervisor(
        [harness.spec(name) for name in "abcd"],
        strategy="rest_for_one",
        backoff=backoff,
        intensity=10,
        hooks=[recorder],
    ) as sup:
        harness.crash("c")  # c and d wait 10 s
        await trio.sleep(4)
        harness.crash("b")  # b's group (b, c, d) takes over; only b's delay matters
        await trio.sleep(9)
        assert harness.starts == {"a": 1, "b": 1, "c": 1, "d": 1}
        await trio.sleep(2)
        assert harness.starts == {"a": 1, "b": 2, "c": 2, "d": 2}
        assert all(info.child is not None for info in sup.which_children())
        groups = [e.group for e in recorder.of(otp.ChildRestartScheduled)]
        assert groups == [("c", "d"), ("b", "c", "d")]


async def test_terminate_child_takes_a_member_out_of_a_pending_group() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=10.0, max=10.0)
    async with otp.open_supervisor(
        [harness.spec(name) for name in "abc"], strategy="one_for_all", backoff=backoff
    ) as sup:
        harness.crash("a")
        await settle()
        await sup.terminate_child("b")
        await trio.sleep(11)
        states = {info.id: info.state.value for info in sup.which_children()}
        assert states == {"a": "running", "b": "stopped", "c": "running"}


async def test_failed_restart_with_backoff_is_retried_after_the_next_delay() -> None:
    harness = Harness()
    recorder = Recorder()
    backoff = otp.Backoff(min=1.0, max=100.0, reset_after=1000.0)
    async with otp.open_supervisor(
        [harness.spec("x")], backoff=backoff, intensity=10, hooks=[recorder]
    ) as sup:
        harness.fail_starts["x"] = 2
        harness.crash("x")
        await trio.sleep(1 + 2 + 4 + 0.5)
        assert sup.get_child("x") is not None
        assert harness.starts["x"] == 4
    assert [e.delay for e in recorder.of(otp.ChildRestartScheduled)] == [1.0, 2.0, 4.0]


# --- auto_shutdown -------------------------------------------------------------------------


async def test_any_significant_shuts_down_on_the_first_significant_exit() -> None:
    harness = Harness()
    recorder = Recorder()
    specs = [
        harness.spec("a"),
        harness.spec("job", restart="transient", significant=True),
        harness.spec("c"),
    ]
    async with otp.open_supervisor(specs, auto_shutdown="any_significant", hooks=[recorder]) as sup:
        harness.finish("job")
        await sup.wait()
    assert harness.starts_and_stops()[-2:] == [("stop", "c"), ("stop", "a")]
    assert recorder.of(otp.SupervisorStopped)[-1].reason == "auto_shutdown"


async def test_all_significant_waits_for_every_significant_child() -> None:
    harness = Harness()
    specs = [
        harness.spec("j1", restart="temporary", significant=True),
        harness.spec("j2", restart="transient", significant=True),
        harness.spec("other"),
    ]
    async with otp.open_supervisor(specs, auto_shutdown="all_significant") as sup:
        harness.crash("j1")
        await settle()
        assert sup.running
        harness.finish("j2")
        await sup.wait()


async def test_a_crashing_transient_significant_child_is_restarted_instead() -> None:
    harness = Harness()
    specs = [harness.spec("job", restart="transient", significant=True)]
    async with otp.open_supervisor(specs, auto_shutdown="any_significant") as sup:
        harness.crash("job")
        await settle()
        assert sup.running
        assert harness.starts["job"] == 2


async def test_terminate_child_and_collateral_stops_never_trigger_auto_shutdown() -> None:
    harness = Harness()
    specs = [
        harness.spec("a"),
        harness.spec("job", restart="transient", significant=True),
        harness.spec("job2", restart="transient", significant=True),
    ]
    async with otp.open_supervisor(
        specs, strategy="one_for_all", auto_shutdown="any_significant"
    ) as sup:
        harness.crash("a")  # job is stopped as a bystander, then restarted
        await settle()
        assert sup.running
        await sup.terminate_child("job")
        await sup.terminate_child("job2")
        await settle()
        assert sup.running


async def test_auto_shutdown_cascades_to_a_parent_with_auto_shutdown() -> None:
    harness = Harness()
    inner = otp.supervisor_spec(
        "inner",
        [harness.spec("job", restart="transient", significant=True)],
        auto_shutdown="any_significant",
        restart="transient",
        significant=True,
    )
    async with otp.open_supervisor(
        [harness.spec("a"), inner], auto_shutdown="any_significant"
    ) as sup:
        harness.finish("job")
        await sup.wait()
    assert ("stop", "a") in harness.starts_and_stops()


async def test_auto_shutdown_of_a_top_level_supervisor_returns_normally() -> None:
    harness = Harness()
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(
            functools.partial(
                otp.supervisor,
                [harness.spec("job", restart="temporary", significant=True)],
                auto_shutdown="all_significant",
            )
        )
        harness.finish("job")
    assert not sup.running


@pytest.mark.parametrize(("restart", "restarted"), [("transient", False), ("permanent", True)])
async def test_a_nested_supervisor_that_auto_shuts_down_exits_shutdown(
    restart: str, restarted: bool
) -> None:
    # Erlang/OTP: the supervisor exits `shutdown`, so a transient parent leaves it down.
    harness = Harness()
    recorder = Recorder()
    inner = otp.supervisor_spec(
        "inner",
        [harness.spec("job", restart="temporary", significant=True)],
        auto_shutdown="any_significant",
        restart=restart,
    )
    async with otp.open_supervisor([harness.spec("a"), inner], hooks=[recorder]) as sup:
        harness.finish("job")
        await settle()
        [exited, *_] = [e for e in recorder.of(otp.ChildExited) if e.child_id == "inner"]
        assert exited.reason.kind is otp.ExitKind.SHUTDOWN
        assert exited.reason.value == "shutdown"
        assert str(exited.reason) == "shutdown"
        assert (sup.get_child("inner") is not None) is restarted

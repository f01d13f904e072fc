"""Shutdown: reverse start order, brutal_kill / timeout / infinity, cleanup scopes, abandonment."""

from __future__ import annotations

import functools
import logging

import pytest
import trio

import otp
from otp.testing import assert_no_orphans

from .harness import Harness, Recorder, settle


async def test_static_children_stop_one_by_one_in_reverse_start_order() -> None:
    harness = Harness()
    for name in "abc":
        harness.cleanup_seconds[name] = 1.0
    specs = [harness.spec(name) for name in "abc"]
    async with otp.open_supervisor(specs):
        harness.clear()
    assert harness.log == [
        ("stop", "c"),
        ("cleanup", "c", 1.0),
        ("stop", "b"),
        ("cleanup", "b", 1.0),
        ("stop", "a"),
        ("cleanup", "a", 1.0),
    ]
    assert trio.current_time() == pytest.approx(3.0)


async def test_timeout_gives_cleanup_exactly_its_limit_then_cuts_it() -> None:
    harness = Harness()
    harness.cleanup_seconds["slow"] = 60.0
    recorder = Recorder()
    async with otp.open_supervisor([harness.spec("slow", shutdown=2.5)], hooks=[recorder]) as sup:
        start = trio.current_time()
        await sup.terminate_child("slow")
        assert trio.current_time() - start == pytest.approx(2.5)
    assert ("cleanup", "slow", 2.5) in harness.log
    [terminated] = recorder.of(otp.ChildTerminated)
    assert terminated.reason.kind is otp.ExitKind.KILLED  # cut short, as Erlang would kill it
    assert recorder.of(otp.ChildAbandoned) == []


async def test_brutal_kill_cuts_cleanup_at_once() -> None:
    harness = Harness()
    harness.cleanup_seconds["k"] = 60.0
    async with otp.open_supervisor([harness.spec("k", shutdown=otp.BRUTAL_KILL)]) as sup:
        start = trio.current_time()
        await sup.terminate_child("k")
        assert trio.current_time() == start
    assert ("cleanup", "k", 0.0) in harness.log


async def test_infinity_waits_for_the_whole_cleanup() -> None:
    harness = Harness()
    harness.cleanup_seconds["db"] = 3600.0
    async with otp.open_supervisor([harness.spec("db", shutdown=otp.INFINITY)]) as sup:
        start = trio.current_time()
        await sup.terminate_child("db")
        assert trio.current_time() - start == pytest.approx(3600.0)


async def test_cleanup_scope_entered_before_termination_gets_its_limit_too() -> None:
    entered = trio.Event()
    finished: list[float] = []

    async def long_flush(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        with otp.cleanup_scope():
            entered.set()
            start = trio.current_time()
            try:
                await trio.sleep(100)
            finally:
                finished.append(trio.current_time() - start)

    async with otp.open_supervisor([otp.ChildSpec("f", long_flush, shutdown=4)]) as sup:
        await entered.wait()
        await trio.sleep(1)
        await sup.terminate_child("f")
    # 1 s before the stop, then the 4 s limit counted from the stop
    assert finished == [pytest.approx(5.0)]


async def test_cleanup_scope_outside_a_child_is_a_plain_shield() -> None:
    with trio.CancelScope() as outer:
        outer.cancel()
        with otp.cleanup_scope():
            await trio.sleep(1)  # not cancelled: shielded
    assert trio.current_time() == pytest.approx(1.0)


async def test_a_child_shielding_itself_past_its_limit_is_abandoned_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    harness.shield_forever.add("stubborn")
    recorder = Recorder()
    async with otp.open_supervisor(
        [harness.spec("stubborn", shutdown=2.0), harness.spec("other")], hooks=[recorder]
    ) as sup:
        start = trio.current_time()
        await sup.terminate_child("stubborn")
        # terminate_child returns after the limit (plus the short unwind grace)...
        assert trio.current_time() - start == pytest.approx(2.0 + otp._child.ABANDON_GRACE)
        # ...and the supervisor goes on serving.
        await sup.terminate_child("other")
        await sup.restart_child("other")
        [abandoned] = recorder.of(otp.ChildAbandoned)
        assert abandoned.child_id == "stubborn"
        [terminated] = [e for e in recorder.of(otp.ChildTerminated) if e.child_id == "stubborn"]
        assert terminated.reason.kind is otp.ExitKind.KILLED
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            "'stubborn'" in r.getMessage() and "shields itself" in r.getMessage() for r in warnings
        )
    # The supervisor's own exit waited for the abandoned task (its shield lasts 3600 s).
    assert trio.current_time() - start >= 3600
    assert_no_orphans()


async def test_shutdown_cancels_a_pending_delayed_restart_at_once() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=100.0, max=100.0)
    async with otp.open_supervisor([harness.spec("x")], backoff=backoff) as sup:
        harness.crash("x")
        await settle()
        assert sup.which_children()[0].state is otp.ChildState.RESTARTING
        start = trio.current_time()
    assert trio.current_time() == start
    assert harness.starts["x"] == 1


async def test_nested_supervisor_shutdown_is_bounded_by_its_own_limit() -> None:
    harness = Harness()
    harness.cleanup_seconds["a"] = 1000.0
    harness.cleanup_seconds["b"] = 1000.0
    inner = otp.supervisor_spec(
        "inner",
        [harness.spec("a", shutdown=otp.INFINITY), harness.spec("b", shutdown=otp.INFINITY)],
        shutdown=10.0,
    )
    async with otp.open_supervisor([inner]) as sup:
        start = trio.current_time()
        await sup.terminate_child("inner")
        # The inner supervisor's 10 s ran out while it waited for b: b's cleanup was cut
        # then, and a (not yet asked to stop) was cancelled at once with it.
        assert trio.current_time() - start == pytest.approx(10.0)
    cleanups = {entry[1]: entry[2] for entry in harness.log if entry[0] == "cleanup"}
    assert cleanups == {"b": pytest.approx(10.0), "a": 0.0}


async def test_stop_is_normal_and_idempotent() -> None:
    harness = Harness()
    recorder = Recorder()
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(
            functools.partial(otp.supervisor, [harness.spec("a")], hooks=[recorder])
        )
        await sup.stop()
        await sup.stop()
        assert not sup.running
    assert [e.reason for e in recorder.of(otp.SupervisorStopped)] == ["normal"]
    with pytest.raises(otp.SupervisorNotRunning):
        await sup.start_child(harness.spec("b"))


async def test_a_child_can_stop_its_own_supervisor() -> None:
    harness = Harness()

    async def quitter(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        child = otp.current_child()
        assert child is not None
        await child.supervisor.stop()

    async with otp.open_supervisor([harness.spec("a"), otp.ChildSpec("q", quitter)]) as sup:
        await sup.wait()
    assert harness.starts_and_stops() == [("start", "a"), ("stop", "a")]


async def test_a_child_can_terminate_itself() -> None:
    recorder = Recorder()

    async def self_terminating(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        child = otp.current_child()
        assert child is not None
        await child.supervisor.terminate_child(child.id)
        await trio.sleep_forever()  # pragma: no cover

    async with otp.open_supervisor([otp.ChildSpec("s", self_terminating)], hooks=[recorder]) as sup:
        await settle()
        [info] = sup.which_children()
        assert info.state is otp.ChildState.STOPPED
        assert [e.child_id for e in recorder.of(otp.ChildTerminated)] == ["s"]
        assert recorder.of(otp.ChildExited) == []


async def test_children_exiting_during_shutdown_are_not_restarted() -> None:
    harness = Harness()
    harness.cleanup_seconds["b"] = 1.0
    async with otp.open_supervisor([harness.spec("a"), harness.spec("b")]):
        pass
    assert harness.starts == {"a": 1, "b": 1}


async def test_dynamic_children_stop_all_at_once_with_one_shared_timer() -> None:
    harness_log: list[tuple[int, str, float]] = []

    async def worker(n: int, *, task_status: trio.TaskStatus[int]) -> None:
        task_status.started(n)
        try:
            await trio.sleep_forever()
        finally:
            with otp.cleanup_scope():
                harness_log.append((n, "stopping", trio.current_time()))
                await trio.sleep(10 * n)

    template = otp.ChildSpec("w", worker, shutdown=15.0)
    async with otp.open_dynamic_supervisor(template) as pool:
        for n in range(3):
            await pool.start_child(n)
        start = trio.current_time()
    assert {entry[2] for entry in harness_log} == {start}  # all asked at the same moment
    assert trio.current_time() - start == pytest.approx(15.0)  # 0 s, 10 s, cut at 15 s


async def test_a_child_being_stopped_by_an_admin_call_keeps_its_limit_on_shutdown() -> None:
    harness = Harness()
    harness.cleanup_seconds["a"] = 5.0
    async with (
        otp.open_supervisor([harness.spec("a", shutdown=10.0)]) as sup,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(sup.terminate_child, "a")
        await settle()
        await sup.stop()  # while terminate_child still waits for a's cleanup
    assert ("cleanup", "a", 5.0) in harness.log


async def test_waiting_for_the_supervisor_from_init_is_refused() -> None:
    errors: list[str] = []

    async def waits_in_init(*, task_status: trio.TaskStatus[None]) -> None:
        child = otp.current_child()
        assert child is not None
        try:
            await child.supervisor.stop()
        except RuntimeError as exc:
            errors.append(str(exc))
        task_status.started()

    async with otp.open_supervisor([otp.ChildSpec("w", waits_in_init, restart="temporary")]):
        pass
    assert len(errors) == 1
    assert "would deadlock" in errors[0]

"""Supervisor reports: event records, the otp.supervisor logger, hooks, and their cost."""

from __future__ import annotations

import logging

import pytest
import trio

import otp
import otp._supervising

from .harness import Crash, Harness, Recorder, settle


async def test_every_step_is_one_event_in_order() -> None:
    harness = Harness()
    recorder = Recorder()
    async with otp.open_supervisor(
        [harness.spec("a"), harness.spec("b")], name="root", hooks=[recorder]
    ) as sup:
        harness.crash("a")
        await settle()
        await sup.terminate_child("b")
    assert recorder.names() == [
        "child.started",
        "child.started",
        "supervisor.started",
        "child.exited",
        "child.started",
        "child.terminated",
        "child.terminated",
        "supervisor.stopped",
    ]
    assert all(event.supervisor == "root" for event in recorder.events)
    exited = recorder.of(otp.ChildExited)[0]
    assert exited.child_id == "a"
    assert exited.reason.kind is otp.ExitKind.ABNORMAL
    assert isinstance(exited.reason.exception, Crash)
    assert str(exited) == "supervisor 'root': child 'a' exited: abnormal (Crash: a); restarting"
    restarted = recorder.of(otp.ChildStarted)[-1]
    assert restarted.restart is True
    assert restarted.child.exit is not None  # that incarnation was stopped at the end


async def test_crash_reports_are_logged_at_error_with_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")], name="root"):
        harness.crash("a")
        await settle()
    [crash] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert crash.name == "otp.supervisor"
    assert (
        crash.getMessage() == "supervisor 'root': child 'a' exited: abnormal (Crash: a); restarting"
    )
    assert crash.exc_info is not None
    assert isinstance(crash.exc_info[1], Crash)
    assert isinstance(crash.otp_event, otp.ChildExited)  # type: ignore[attr-defined]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "supervisor 'root': child 'a' started" in infos
    assert "supervisor 'root': child 'a' restarted" in infos


async def test_normal_and_shutdown_exits_are_not_logged_as_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a"), harness.spec("b")]):
        harness.finish("a")
        harness.shut_down("b")
        await settle()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_failing_hook_is_logged_and_the_supervisor_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: otp.SupervisorEvent) -> None:
        raise ValueError("hook bug")

    recorder = Recorder()
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")], hooks=[broken, recorder]) as sup:
        harness.crash("a")
        await settle()
        assert sup.running
    assert len(recorder.events) == 6  # the second hook still saw every event
    failures = [
        r for r in caplog.records if "hook" in r.getMessage() and "failed" in r.getMessage()
    ]
    assert len(failures) == 6
    assert failures[0].exc_info is not None


async def test_reports_cost_nothing_when_nobody_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    original = otp._supervising.ChildStarted

    class Counting(original):  # type: ignore[misc]
        def __init__(self, *args: object) -> None:
            built.append(args)
            super().__init__(*args)

    monkeypatch.setattr(otp._supervising, "ChildStarted", Counting)
    logging.getLogger("otp").setLevel(logging.CRITICAL)
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]):
        harness.crash("a")
        await settle()
    assert built == []
    logging.getLogger("otp").setLevel(logging.INFO)
    async with otp.open_supervisor([harness.spec("b")]):
        pass
    assert len(built) == 1


async def test_restart_scheduled_and_abandoned_events_describe_themselves() -> None:
    harness = Harness()
    harness.shield_forever.add("s")
    recorder = Recorder()
    async with otp.open_supervisor(
        [harness.spec("s", shutdown=0.5)],
        backoff=otp.Backoff(min=2.0, max=2.0),
        hooks=[recorder],
        name="root",
    ) as sup:
        await sup.terminate_child("s")
    [abandoned] = recorder.of(otp.ChildAbandoned)
    assert abandoned.limit == 0.5
    assert "did not stop within its shutdown limit (0.5 s" in str(abandoned)
    harness2 = Harness()
    async with otp.open_supervisor(
        [harness2.spec("x")], backoff=otp.Backoff(min=2.0, max=2.0), hooks=[recorder], name="r"
    ):
        harness2.crash("x")
        await settle()
    [scheduled] = recorder.of(otp.ChildRestartScheduled)
    assert str(scheduled) == "supervisor 'r': child 'x' restarts in 2 s (attempt 0)"
    assert trio.current_time() >= 3600


async def test_give_up_event_and_message(caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_supervisor([harness.spec("x")], intensity=0, name="root") as sup:
            harness.crash("x")
            await sup.wait()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert messages[-1] == (
        "supervisor 'root': reached max restart intensity (0 in 5 s) after child 'x' "
        "exited: abnormal (Crash: x)"
    )


async def test_a_child_cut_short_is_killed_and_logged_as_a_shutdown_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    harness.cleanup_seconds["slow"] = 10.0
    harness.cleanup_seconds["quick"] = 0.5
    harness.cleanup_seconds["brutal"] = 10.0
    specs = [
        harness.spec("brutal", shutdown=otp.BRUTAL_KILL),
        harness.spec("quick", shutdown=2.0),
        harness.spec("slow", shutdown=2.0),
    ]
    recorder = Recorder()
    async with otp.open_supervisor(specs, hooks=[recorder], name="root"):
        pass
    reasons = {e.child_id: e.reason.kind for e in recorder.of(otp.ChildTerminated)}
    assert reasons == {
        "slow": otp.ExitKind.KILLED,
        "quick": otp.ExitKind.SHUTDOWN,
        "brutal": otp.ExitKind.KILLED,
    }
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["supervisor 'root': child 'slow' terminated: killed"]


async def test_a_child_dying_of_keyboard_interrupt_is_not_reported_as_terminated() -> None:
    async def interrupted(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(1)
        raise KeyboardInterrupt

    recorder = Recorder()
    harness = Harness()
    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        async with otp.open_supervisor(
            [harness.spec("a"), otp.ChildSpec("k", interrupted)], hooks=[recorder]
        ):
            await trio.sleep_forever()
    assert [e.child_id for e in recorder.of(otp.ChildTerminated)] == ["a"]
    assert recorder.of(otp.ChildExited) == []


async def test_hooks_are_inherited_by_nested_supervisors_once() -> None:
    recorder = Recorder()
    harness = Harness()
    tree = [
        otp.supervisor_spec(
            "mid",
            [otp.supervisor_spec("leaf", [harness.spec("x")], hooks=[recorder])],
        ),
        otp.dynamic_supervisor_spec("pool", harness.spec("t")),
    ]
    async with otp.open_supervisor(tree, name="root", hooks=[recorder]):
        pass
    started = [(e.supervisor, e.child_id) for e in recorder.of(otp.ChildStarted)]
    assert started == [
        ("root/mid/leaf", "x"),
        ("root/mid", "leaf"),
        ("root", "mid"),
        ("root", "pool"),
    ]

"""The admin API of a static supervisor, with a distinct error per Erlang/OTP error."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import otp

from .harness import Crash, Harness, Recorder, settle


async def test_start_child_appends_and_returns_the_child() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        child = await sup.start_child(harness.spec("b"))
        assert child is not None
        assert child.value == "b"
        assert [info.id for info in sup.which_children()] == ["b", "a"]
        assert sup.get_child("b") is child


async def test_start_child_errors() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a"), harness.spec("s")]) as sup:
        with pytest.raises(otp.ChildAlreadyStarted) as started:
            await sup.start_child(harness.spec("a"))
        assert started.value.child is sup.get_child("a")
        await sup.terminate_child("s")
        with pytest.raises(otp.ChildAlreadyPresent, match="use restart_child"):
            await sup.start_child(harness.spec("s"))
        with pytest.raises(otp.ChildSpecError, match="start_child takes a ChildSpec"):
            await sup.start_child({"id": "x"})  # type: ignore[arg-type]
        with pytest.raises(otp.ChildSpecError, match="auto_shutdown is 'never'"):
            await sup.start_child(harness.spec("sig", restart="transient", significant=True))


async def test_start_child_failure_raises_start_error_with_the_spec_and_keeps_nothing() -> None:
    harness = Harness()
    harness.fail_starts["bad"] = 1
    async with otp.open_supervisor() as sup:
        spec = harness.spec("bad")
        with pytest.raises(otp.StartError) as info:
            await sup.start_child(spec)
        assert info.value.spec is spec
        assert isinstance(info.value.__cause__, Crash)
        assert sup.which_children() == []
        assert await sup.start_child(spec) is not None  # the id is free again


async def test_terminate_child_keeps_the_spec_and_is_fine_when_not_running() -> None:
    harness = Harness()
    recorder = Recorder()
    async with otp.open_supervisor([harness.spec("a")], hooks=[recorder]) as sup:
        await sup.terminate_child("a")
        await sup.terminate_child("a")
        [info] = sup.which_children()
        assert info.state is otp.ChildState.STOPPED
        assert info.child is None
        assert harness.starts["a"] == 1
        assert sup._intensity.restarts_in_window(trio.current_time()) == 0
        assert recorder.of(otp.ChildExited) == []
        with pytest.raises(otp.ChildNotFound, match="has no child 'nope'"):
            await sup.terminate_child("nope")
        with pytest.raises(otp.ChildNotFound):
            await sup.terminate_child(["unhashable"])


async def test_terminate_child_deletes_a_temporary_spec() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("t", restart="temporary")]) as sup:
        await sup.terminate_child("t")
        assert sup.which_children() == []


async def test_restart_child_only_when_stopped_and_not_charged() -> None:
    harness = Harness()
    recorder = Recorder()
    async with otp.open_supervisor([harness.spec("a")], intensity=0, hooks=[recorder]) as sup:
        with pytest.raises(otp.ChildRunning):
            await sup.restart_child("a")
        await sup.terminate_child("a")
        child = await sup.restart_child("a")
        assert child is not None
        assert sup.get_child("a") is child
        await sup.terminate_child("a")
        await sup.restart_child("a")  # intensity 0, and still fine: manual restarts are free
        assert sup.running
        assert [e.restart for e in recorder.of(otp.ChildStarted)] == [False, True, True]
        with pytest.raises(otp.ChildNotFound):
            await sup.restart_child("nope")


async def test_restart_child_failure_is_not_retried() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        await sup.terminate_child("a")
        harness.fail_starts["a"] = 1
        with pytest.raises(otp.StartError) as info:
            await sup.restart_child("a")
        assert info.value.spec is sup.get_childspec("a")
        await settle()
        assert harness.starts["a"] == 2
        assert sup.which_children()[0].state is otp.ChildState.STOPPED


async def test_restart_child_of_an_ignoring_child_returns_none() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        await sup.terminate_child("a")
        harness.ignore.add("a")
        assert await sup.restart_child("a") is None
        assert sup.which_children()[0].state is otp.ChildState.STOPPED


async def test_delete_child() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a"), harness.spec("b")]) as sup:
        with pytest.raises(otp.ChildRunning):
            await sup.delete_child("a")
        await sup.terminate_child("a")
        await sup.delete_child("a")
        assert [info.id for info in sup.which_children()] == ["b"]
        with pytest.raises(otp.ChildNotFound):
            await sup.delete_child("a")
        with pytest.raises(otp.ChildNotFound):
            sup.get_childspec("a")


async def test_restarting_children_refuse_restart_delete_and_start() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=10.0, max=10.0)
    async with otp.open_supervisor([harness.spec("a")], backoff=backoff) as sup:
        harness.crash("a")
        await settle()
        [info] = sup.which_children()
        assert info.state is otp.ChildState.RESTARTING
        assert info.child is None
        with pytest.raises(otp.ChildRestarting):
            await sup.restart_child("a")
        with pytest.raises(otp.ChildRestarting):
            await sup.delete_child("a")
        # Erlang's already_present: the id is taken by a child that is not running.
        with pytest.raises(otp.ChildAlreadyPresent, match="waiting for its restart"):
            await sup.start_child(harness.spec("a"))
        assert sup.count_children() == otp.ChildCounts(specs=1, active=0, supervisors=0, workers=1)


async def test_which_children_is_newest_first_and_count_children_counts_types() -> None:
    harness = Harness()
    specs = [
        harness.spec("w1"),
        otp.supervisor_spec("sup", [harness.spec("inner")]),
        harness.spec("w2"),
    ]
    async with otp.open_supervisor(specs) as sup:
        await sup.terminate_child("w2")
        infos = sup.which_children()
        assert [(i.id, i.state.value, i.type.value) for i in infos] == [
            ("w2", "stopped", "worker"),
            ("sup", "running", "supervisor"),
            ("w1", "running", "worker"),
        ]
        assert sup.count_children() == otp.ChildCounts(specs=3, active=2, supervisors=1, workers=2)
        assert sup.get_childspec("sup").type is otp.ChildType.SUPERVISOR
        assert sup.get_childspec("sup").shutdown is otp.INFINITY


async def test_admin_calls_after_stop_raise_supervisor_not_running() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        pass
    for call in (
        sup.start_child(harness.spec("b")),
        sup.terminate_child("a"),
        sup.restart_child("a"),
        sup.delete_child("a"),
    ):
        with pytest.raises(otp.SupervisorNotRunning, match="is stopped"):
            await call
    assert "stopped" in repr(sup)


async def test_admin_calls_from_a_child_right_after_started_wait_for_the_rest() -> None:
    seen: list[list[str]] = []

    async def eager(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        child = otp.current_child()
        assert child is not None
        sup = child.supervisor
        assert isinstance(sup, otp.Supervisor)
        await sup.terminate_child("last")  # queued until every sibling has started
        seen.append([info.id for info in sup.which_children() if info.child])

    harness = Harness()
    specs = [otp.ChildSpec("eager", eager, restart="temporary"), harness.spec("last")]
    async with otp.open_supervisor(specs):
        await settle()
    assert seen == [["eager"]]
    assert harness.starts["last"] == 1


async def test_concurrent_admin_calls_are_serialised() -> None:
    harness = Harness()
    harness.cleanup_seconds["a"] = 5.0
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sup.terminate_child, "a")
            await settle()
            # terminate_child holds the admin lock while a cleans up; restart_child waits
            # for it, so it finds a stopped (it would raise ChildRunning otherwise).
            child = await sup.restart_child("a")
            assert child is not None
        assert trio.current_time() == pytest.approx(5.0)


async def test_start_child_of_a_child_in_a_failing_restart_loop_is_already_present() -> None:
    attempts = 0

    async def flaky(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            raise RuntimeError("cannot start again")
        task_status.started()
        raise RuntimeError("crash")

    spec = otp.ChildSpec("a", flaky)
    async with otp.open_supervisor([], intensity=1000, period=1) as sup:
        await sup.start_child(spec)
        for _ in range(100):  # the crash, then restarts that keep failing
            if sup.which_children()[0].state is otp.ChildState.RESTARTING:
                break
            await trio.lowlevel.checkpoint()
        assert sup.which_children()[0].state is otp.ChildState.RESTARTING
        with pytest.raises(otp.ChildAlreadyPresent, match="waiting for its restart"):
            await sup.start_child(spec)
        await sup.terminate_child("a")


async def test_restarts_counts_every_child_started_again() -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abc"]
    async with otp.open_supervisor(specs, strategy="rest_for_one") as sup:
        assert sup.restarts == 0
        harness.crash("b")  # b and c start again
        await settle()
        assert sup.restarts == 2
        await sup.terminate_child("a")
        await sup.restart_child("a")
        assert sup.restarts == 3

"""Starting a supervisor: order, init acknowledgement, ignore, start failures, classification."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

import otp
from otp.testing import assert_no_orphans, library_tasks

from .harness import Crash, Harness, Recorder, settle


async def test_children_start_one_at_a_time_in_list_order() -> None:
    order: list[str] = []

    async def slow_init(name: str, *, task_status: trio.TaskStatus[str]) -> None:
        order.append(f"begin {name}")
        await trio.sleep(1)
        order.append(f"ready {name}")
        task_status.started(name)
        await trio.sleep_forever()

    specs = [otp.ChildSpec(name, slow_init, (name,)) for name in "abc"]
    async with otp.open_supervisor(specs) as sup:
        assert order == ["begin a", "ready a", "begin b", "ready b", "begin c", "ready c"]
        assert trio.current_time() == pytest.approx(3.0)
        assert [info.id for info in sup.which_children()] == ["c", "b", "a"]
        assert [info.child.value for info in sup.which_children() if info.child] == ["c", "b", "a"]


async def test_start_returns_the_handle_only_when_every_child_is_ready() -> None:
    harness = Harness()
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(otp.supervisor, [harness.spec("a"), harness.spec("b")])
        assert isinstance(sup, otp.Supervisor)
        assert harness.starts_and_stops() == [("start", "a"), ("start", "b")]
        assert sup.count_children() == otp.ChildCounts(specs=2, active=2, supervisors=0, workers=2)
        await sup.stop()
    assert harness.starts_and_stops()[-2:] == [("stop", "b"), ("stop", "a")]


async def test_plain_async_function_counts_as_started_at_once() -> None:
    ran = trio.Event()

    async def plain() -> None:
        ran.set()
        await trio.sleep_forever()

    spec = otp.ChildSpec("plain", plain)
    assert not spec.takes_task_status
    async with otp.open_supervisor([spec]) as sup:
        await ran.wait()
        child = sup.get_child("plain")
        assert child is not None
        assert child.value is None


async def test_start_failure_stops_started_children_in_reverse_and_names_the_child() -> None:
    harness = Harness()
    harness.fail_starts["c"] = 1
    recorder = Recorder()
    specs = [harness.spec("a"), harness.spec("b"), harness.spec("c"), harness.spec("d")]
    async with trio.open_nursery() as nursery:
        with pytest.raises(otp.StartError) as info:
            await nursery.start(functools.partial(otp.supervisor, specs, hooks=[recorder]))
    assert info.value.child_id == "c"
    assert info.value.spec is specs[2]
    assert isinstance(info.value.__cause__, Crash)
    assert "child 'c' failed to start: Crash: c failed to start" in str(info.value)
    assert harness.starts_and_stops() == [
        ("start", "a"),
        ("start", "b"),
        ("stop", "b"),
        ("stop", "a"),
    ]
    assert harness.starts["d"] == 0
    assert recorder.of(otp.SupervisorStopped)[-1].reason == "start_failed"


async def test_nested_start_failure_carries_the_inner_cause() -> None:
    harness = Harness()
    harness.fail_starts["deep"] = 1
    tree = [
        harness.spec("first"),
        otp.supervisor_spec("inner", [harness.spec("ok"), harness.spec("deep")]),
    ]
    with pytest.raises(otp.StartError) as info:
        async with otp.open_supervisor(tree):
            pytest.fail("must not start")  # pragma: no cover
    outer = info.value
    assert outer.child_id == "inner"
    inner = outer.__cause__
    assert isinstance(inner, otp.StartError)
    assert inner.child_id == "deep"
    assert isinstance(inner.__cause__, Crash)
    assert harness.starts_and_stops() == [
        ("start", "first"),
        ("start", "ok"),
        ("stop", "ok"),
        ("stop", "first"),
    ]


async def test_returning_without_started_is_a_start_failure() -> None:
    async def forgetful(*, task_status: trio.TaskStatus[None]) -> None:
        return

    with pytest.raises(otp.StartError) as info:
        async with otp.open_supervisor([otp.ChildSpec("f", forgetful)]):
            pass  # pragma: no cover
    assert "returned without calling task_status.started()" in str(info.value.__cause__)


async def test_ignore_keeps_the_spec_with_no_task_and_start_goes_on() -> None:
    harness = Harness()
    harness.ignore.add("b")
    recorder = Recorder()
    specs = [harness.spec("a"), harness.spec("b"), harness.spec("c")]
    async with otp.open_supervisor(specs, hooks=[recorder]) as sup:
        states = {info.id: info.state for info in sup.which_children()}
        assert states == {
            "a": otp.ChildState.RUNNING,
            "b": otp.ChildState.STOPPED,
            "c": otp.ChildState.RUNNING,
        }
        assert sup.count_children() == otp.ChildCounts(3, 2, 0, 3)
        assert [event.child_id for event in recorder.of(otp.ChildIgnored)] == ["b"]


async def test_ignore_drops_a_temporary_spec() -> None:
    harness = Harness()
    harness.ignore.add("t")
    async with otp.open_supervisor([harness.spec("t", restart="temporary")]) as sup:
        assert sup.which_children() == []


async def test_start_child_of_an_ignoring_child_returns_none() -> None:
    harness = Harness()
    harness.ignore.add("x")
    async with otp.open_supervisor() as sup:
        assert await sup.start_child(harness.spec("x")) is None
        assert sup.get_childspec("x").id == "x"
        assert sup.get_child("x") is None
        assert await sup.start_child(harness.spec("y", restart="temporary")) is not None


async def test_child_handle_records_value_and_exit() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        child = sup.get_child("a")
        assert child is not None
        assert child.alive
        assert child.value == "a"
        assert child.supervisor is sup
        assert "running" in repr(child)
        await sup.terminate_child("a")
        assert not child.alive
        assert child.exit is not None
        assert child.exit.kind is otp.ExitKind.SHUTDOWN
        assert await child.wait() == child.exit
        with pytest.raises(TypeError, match="no public constructor"):
            otp.Child()


async def test_handles_have_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="no public constructor"):
        otp.Supervisor()
    with pytest.raises(TypeError, match="no public constructor"):
        otp.DynamicSupervisor()


async def test_calling_the_supervisor_from_init_is_refused_not_deadlocked() -> None:
    seen: list[BaseException] = []

    async def impatient(*, task_status: trio.TaskStatus[None]) -> None:
        child = otp.current_child()
        assert child is not None
        try:
            await child.supervisor.terminate_child("other")
        except RuntimeError as exc:
            seen.append(exc)
        task_status.started()
        await trio.sleep_forever()

    async with otp.open_supervisor([otp.ChildSpec("i", impatient)]):
        pass
    assert len(seen) == 1
    assert "before task_status.started()" in str(seen[0])


async def test_cancelling_whoever_starts_a_child_cancels_its_init() -> None:
    cancelled = trio.Event()

    async def never_ready(*, task_status: trio.TaskStatus[None]) -> None:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()

    async with otp.open_supervisor() as sup:
        with trio.move_on_after(1):
            await sup.start_child(otp.ChildSpec("n", never_ready))
        assert cancelled.is_set()
        assert sup.which_children() == []  # the spec is not kept


async def test_keyboard_interrupt_in_a_child_propagates_and_is_not_restarted() -> None:
    starts = 0

    async def interrupted(*, task_status: trio.TaskStatus[None]) -> None:
        nonlocal starts
        starts += 1
        task_status.started()
        await trio.sleep(1)
        raise KeyboardInterrupt

    harness = Harness()
    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        async with otp.open_supervisor([harness.spec("a"), otp.ChildSpec("k", interrupted)]):
            await trio.sleep_forever()
    assert starts == 1
    # the sibling was stopped in an orderly way, not abandoned
    assert harness.starts_and_stops() == [("start", "a"), ("stop", "a")]
    assert_no_orphans()


async def test_keyboard_interrupt_during_init_propagates_from_start() -> None:
    async def interrupted(*, task_status: trio.TaskStatus[None]) -> None:
        raise KeyboardInterrupt

    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        async with otp.open_supervisor([otp.ChildSpec("k", interrupted)]):
            pass  # pragma: no cover


async def test_foreign_cancellation_is_an_orderly_stop_not_a_crash() -> None:
    harness = Harness()
    recorder = Recorder()
    with trio.move_on_after(10):
        async with otp.open_supervisor(
            [harness.spec("a"), harness.spec("b")], hooks=[recorder]
        ) as sup:
            await sup.wait()
    assert trio.current_time() == pytest.approx(10)
    assert recorder.of(otp.ChildExited) == []
    assert [event.child_id for event in recorder.of(otp.ChildTerminated)] == ["b", "a"]
    assert recorder.of(otp.SupervisorStopped)[-1].reason == "shutdown"
    assert harness.starts == {"a": 1, "b": 1}


async def test_library_tasks_lists_the_running_tree() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]):
        names = sorted(task.name for task in library_tasks())
        assert names == ["otp.child:supervisor/a", "otp.supervisor"]
        with pytest.raises(AssertionError, match="2 otp task"):
            assert_no_orphans()
    assert library_tasks() == []


async def test_a_crashing_child_never_takes_its_siblings_down() -> None:
    harness = Harness()
    async with otp.open_supervisor(
        [harness.spec("a"), harness.spec("b", restart="temporary")]
    ) as sup:
        harness.crash("b")
        await settle()
        assert [info.id for info in sup.which_children()] == ["a"]
        assert harness.starts_and_stops() == [("start", "a"), ("start", "b"), ("stop", "b")]
        assert sup.running

"""The testing kit: fault plans, the injector, and the event recorder."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import otp
from otp.testing import EventRecorder, Fault, FaultInjector, FaultKind, FaultPlan, InjectedFault

from .harness import settle


async def worker(*, task_status: Any) -> None:
    task_status.started()
    while True:
        await trio.sleep(0.5)
        otp.heartbeat()


class Echo(otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        return request


def tree() -> list[otp.ChildSpec]:
    return [
        otp.ChildSpec("w", worker, liveness=otp.Heartbeat(interval=0.5)),
        Echo.child_spec(id="echo", name="echo"),
        otp.supervisor_spec(
            "inner",
            [
                otp.ChildSpec("iw", worker),
                otp.ChildSpec("tw", worker, restart="transient"),
            ],
        ),
        otp.dynamic_supervisor_spec("pool", otp.ChildSpec("job", worker)),
    ]


async def run_plan(
    plan: FaultPlan, until: float, **flags: Any
) -> tuple[EventRecorder, FaultInjector]:
    recorder = EventRecorder()
    injector = FaultInjector(plan)
    children = injector.instrument(tree())
    async with otp.open_supervisor(children, hooks=[recorder], **flags) as sup:
        child = sup.get_child("pool")
        assert child is not None
        await child.value.start_child()
        async with trio.open_nursery() as nursery:
            await nursery.start(injector.run)
        await trio.sleep_until(until)
    return recorder, injector


# --- plans -------------------------------------------------------------------------------------


def test_random_plans_are_reproducible_from_their_seed() -> None:
    rates = {"crash": 0.5, FaultKind.HANG: 0.1}
    first = FaultPlan.random(["a", "b"], seed=3, duration=100, rates=rates)
    assert first == FaultPlan.random(["a", "b"], seed=3, duration=100, rates=rates)
    assert first != FaultPlan.random(["a", "b"], seed=4, duration=100, rates=rates)
    assert first.seed == 3
    times = [fault.at for fault in first.faults]
    assert times == sorted(times)
    crashes = sum(1 for fault in first.faults if fault.kind is FaultKind.CRASH)
    assert 25 <= crashes <= 80  # about 50
    assert {fault.target for fault in first.faults} == {"a", "b"}


def test_fault_and_plan_validation() -> None:
    with pytest.raises(ValueError, match="kind must be one of 'crash'"):
        Fault(1.0, "explode", "a")
    with pytest.raises(ValueError, match="target must be a non-empty path"):
        Fault(1.0, "crash", "")
    with pytest.raises(ValueError, match="at must be a finite number of seconds >= 0"):
        Fault(-1.0, "crash", "a")
    with pytest.raises(ValueError, match="give at least one target"):
        FaultPlan.random([], seed=1, duration=1, rates={"crash": 1})
    with pytest.raises(ValueError, match="rate of 'crash' must be >= 0"):
        FaultPlan.random(["a"], seed=1, duration=1, rates={"crash": -1})


def test_instrument_rejects_unknown_targets_and_misapplied_kinds() -> None:
    with pytest.raises(ValueError, match=r"'nope' is not in the tree \(paths: .*inner/iw"):
        FaultInjector(FaultPlan((Fault(1, "crash", "nope"),))).instrument(tree())
    with pytest.raises(ValueError, match="'slow' needs a server, but 'w' is a worker"):
        FaultInjector(FaultPlan((Fault(1, "slow", "w"),))).instrument(tree())


def test_untargeted_children_are_left_as_they_are() -> None:
    specs = tree()
    instrumented = FaultInjector(FaultPlan((Fault(1, "crash", "inner/iw"),))).instrument(specs)
    assert instrumented[0] is specs[0]
    assert instrumented[1] is specs[1]
    assert instrumented[2] != specs[2]


# --- each kind, as the tree sees it ----------------------------------------------------------


async def test_crash_a_worker_and_a_nested_worker() -> None:
    plan = FaultPlan((Fault(1.0, "crash", "w"), Fault(2.0, "crash", "inner/iw")))
    recorder, injector = await run_plan(plan, until=3.0)
    exits = recorder.of(otp.ChildExited)
    assert [(e.supervisor, e.child_id) for e in exits] == [
        ("supervisor", "w"),
        ("supervisor/inner", "iw"),
    ]
    assert all(isinstance(e.reason.exception, InjectedFault) for e in exits)
    assert [e.time for e in exits] == [1.0, 2.0]
    assert recorder.count(otp.ChildStarted, restart=True) == 2
    assert [r.applied for r in injector.records] == [True, True]


async def test_crash_and_exit_a_server() -> None:
    plan = FaultPlan((Fault(1.0, "crash", "echo"), Fault(2.0, "exit", "echo")))
    recorder, _ = await run_plan(plan, until=3.0)
    kinds = [e.reason.kind for e in recorder.of(otp.ChildExited, child_id="echo")]
    assert kinds == [otp.ExitKind.ABNORMAL, otp.ExitKind.NORMAL]


async def test_exit_a_transient_worker_leaves_it_stopped() -> None:
    recorder, _ = await run_plan(FaultPlan((Fault(1.0, "exit", "inner/tw"),)), until=2.0)
    [exited] = recorder.of(otp.ChildExited)
    assert exited.reason.kind is otp.ExitKind.NORMAL
    assert not exited.restarting


async def test_hang_a_worker_is_caught_by_its_liveness() -> None:
    recorder, _ = await run_plan(FaultPlan((Fault(1.0, "hang", "w"),)), until=10.0)
    [exited] = recorder.of(otp.ChildExited)
    assert exited.reason.kind is otp.ExitKind.HUNG
    assert 1.0 < exited.time < 5.0


async def test_a_hung_server_times_calls_out() -> None:
    injector = FaultInjector(FaultPlan((Fault(1.0, "hang", "echo"),)))
    async with otp.open_supervisor(injector.instrument(tree())):
        assert await otp.named("echo").call("before") == "before"
        async with trio.open_nursery() as nursery:
            await nursery.start(injector.run)
        await settle()
        with pytest.raises(otp.CallTimeout):
            await otp.named("echo").call("after", timeout=2.0)


async def test_slow_a_server() -> None:
    injector = FaultInjector(FaultPlan((Fault(1.0, "slow", "echo", delay=0.5, duration=3.0),)))
    async with otp.open_supervisor(injector.instrument(tree())):
        async with trio.open_nursery() as nursery:
            await nursery.start(injector.run)
        start = trio.current_time()
        await otp.named("echo").call("x")
        assert trio.current_time() - start == pytest.approx(0.5)
        await trio.sleep(5)
        start = trio.current_time()
        await otp.named("echo").call("x")
        assert trio.current_time() == start


async def test_fail_start_makes_the_next_restart_fail_and_be_retried() -> None:
    plan = FaultPlan((Fault(1.0, "fail_start", "w"), Fault(1.5, "crash", "w")))
    recorder, _ = await run_plan(plan, until=3.0)
    [failed] = recorder.of(otp.ChildStartFailed)
    assert failed.child_id == "w"
    assert isinstance(failed.error, InjectedFault)
    assert recorder.count(otp.ChildStarted, child_id="w", restart=True) == 1


async def test_fail_terminate_makes_the_next_stop_fail() -> None:
    recorder = EventRecorder()
    injector = FaultInjector(
        FaultPlan((Fault(1.0, "fail_terminate", "w"), Fault(1.0, "fail_terminate", "echo")))
    )
    async with otp.open_supervisor(injector.instrument(tree()), hooks=[recorder]) as sup:
        async with trio.open_nursery() as nursery:
            await nursery.start(injector.run)
        await sup.terminate_child("w")
        await sup.terminate_child("echo")
    terminated = {e.child_id: e.reason for e in recorder.of(otp.ChildTerminated)}
    assert isinstance(terminated["w"].exception, InjectedFault)
    assert terminated["w"].abnormal
    assert isinstance(terminated["echo"].exception, InjectedFault)


async def test_cancel_restart_stops_the_supervisor_in_the_middle_of_a_restart() -> None:
    plan = FaultPlan((Fault(1.0, "cancel_restart", "inner/iw", delay=2.0),))
    recorder, injector = await run_plan(plan, until=10.0)
    names = [
        (e.name, e.supervisor, getattr(e, "child_id", None))
        for e in recorder.events
        if e.time >= 1.0
    ]
    assert ("child.exited", "supervisor/inner", "iw") in names
    assert ("child.terminated", "supervisor", "inner") in names
    # The interrupted restart never completed; inner was restarted whole by its parent.
    assert recorder.count(otp.ChildStarted, supervisor="supervisor", child_id="inner") == 2
    assert [r.applied for r in injector.records] == [True]


async def test_a_fault_on_a_dynamic_template_hits_a_running_child() -> None:
    recorder, injector = await run_plan(FaultPlan((Fault(1.0, "crash", "pool/job"),)), until=2.0)
    [exited] = recorder.of(otp.ChildExited)
    assert exited.supervisor == "supervisor/pool"
    assert injector.records[0].applied


async def test_a_fault_on_a_target_that_is_not_running_is_recorded_as_not_applied() -> None:
    plan = FaultPlan((Fault(1.0, "exit", "inner/tw"), Fault(2.0, "crash", "inner/tw")))
    _, injector = await run_plan(plan, until=3.0)
    assert [(r.applied, r.note) for r in injector.records] == [
        (True, ""),
        (False, "the target is not running"),
    ]


# --- the recorder ------------------------------------------------------------------------------


async def test_event_recorder_queries_and_waits() -> None:
    recorder = EventRecorder()
    injector = FaultInjector(FaultPlan((Fault(5.0, "crash", "w"),)))
    async with (
        otp.open_supervisor(injector.instrument(tree()), hooks=[recorder]),
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(injector.run)
        event = await recorder.wait_for(otp.ChildExited, child_id="w")
        assert event.time == 5.0
        again = await recorder.wait_for(otp.ChildStarted, lambda e: e.restart, child_id="w")
        assert again.time == 5.0
    assert recorder.count(otp.ChildExited, child_id="w") == 1
    assert recorder.names()[-1] == "supervisor.stopped"
    recorder.clear()
    assert recorder.events == []


def test_an_int_beyond_any_float_is_no_time() -> None:
    with pytest.raises(ValueError, match="at must be a finite number of seconds >= 0"):
        Fault(10**400, "crash", "a")

"""Names (a per-run registry) and monitors (exactly one DOWN per server)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio

import otp

from .harness import Recorder, settle


class Echo(otp.GenServer[Any, Any]):
    async def init(self, tag: str = "") -> None:
        self.tag = tag

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise ValueError("echo crashed")
        return (self.tag, request)

    async def handle_cast(self, message: Any) -> None:
        if message == "crash":
            raise ValueError("echo crashed")


async def test_whereis_and_named_refs() -> None:
    async with otp.open_supervisor([Echo.child_spec("one", name="echo")]) as sup:
        ref = otp.whereis("echo")
        assert ref is not None
        child = sup.get_child("echo")
        assert child is not None
        assert ref == child.value
        assert ref.name == "echo"
        assert await otp.named("echo").call("hi") == ("one", "hi")
        assert otp.named("echo").alive
        assert otp.whereis("nobody") is None
    assert otp.whereis("echo") is None


async def test_a_taken_name_fails_the_start_naming_the_holder() -> None:
    async with trio.open_nursery() as nursery:
        holder = await nursery.start(functools.partial(Echo.start, name="echo"))
        with pytest.raises(otp.NameTaken) as info:
            await nursery.start(functools.partial(Echo.start, name="echo"))
        assert info.value.holder == holder
        assert "'echo' is already taken by <otp.ServerRef 'echo' (Echo) (running)>" in str(
            info.value
        )
        nursery.cancel_scope.cancel()


def test_names_are_per_trio_run() -> None:
    holders: list[Any] = []

    async def run_one(tag: str) -> None:
        assert otp.whereis("same") is None  # nothing leaks from the other run
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(Echo.start, tag, name="same"))
            holders.append(await otp.named("same").call("ping"))
            nursery.cancel_scope.cancel()

    trio.run(run_one, "x")
    trio.run(run_one, "y")
    assert holders == [("x", "ping"), ("y", "ping")]


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
async def test_names_are_released_and_bound_again_across_restarts(strategy: str) -> None:
    specs = [
        Echo.child_spec("a", name="a"),
        Echo.child_spec("b", name="b"),
        Echo.child_spec("c", name="c"),
    ]
    async with otp.open_supervisor(specs, strategy=strategy):
        before = {name: otp.whereis(name) for name in "abc"}
        otp.named("b").cast("crash")
        await settle()
        after = {name: otp.whereis(name) for name in "abc"}
        assert all(ref is not None and ref.alive for ref in after.values())
        restarted = {name for name in "abc" if after[name] != before[name]}
        assert (
            restarted
            == {
                "one_for_one": {"b"},
                "one_for_all": {"a", "b", "c"},
                "rest_for_one": {"b", "c"},
            }[strategy]
        )
        assert before["b"] is not None
        assert not before["b"].alive
        assert await otp.named("b").call("hi") == ("b", "hi")


async def test_a_call_by_name_during_a_restart_fails_fast_or_waits_if_asked() -> None:
    backoff = otp.Backoff(min=2.0, max=2.0)
    async with otp.open_supervisor([Echo.child_spec("v", name="e")], backoff=backoff):
        otp.named("e").cast("crash")
        await settle()
        with pytest.raises(otp.NoProc):
            await otp.named("e").call("now")
        start = trio.current_time()
        assert await otp.named("e").call("later", wait_for_name=True) == ("v", "later")
        assert trio.current_time() - start == pytest.approx(2.0)
        otp.named("e").cast("crash")
        await settle()
        with pytest.raises(otp.CallTimeout, match="no server took the name"):
            await otp.named("e").call("soon", timeout=1.0, wait_for_name=True)


async def test_monitor_delivers_exactly_one_down_with_the_reason() -> None:
    async with otp.open_supervisor([Echo.child_spec(name="e", restart="temporary")]):
        ref = otp.whereis("e")
        assert ref is not None
        mon = otp.monitor(ref)
        assert mon.active
        with pytest.raises(otp.ServerExited):
            await ref.call("crash")
        down = await mon.wait()
        assert down.ref == ref
        assert down.monitor is mon
        assert down.reason.abnormal
        assert isinstance(down.reason.exception, ValueError)
        assert await mon.wait() is down  # the same notification, never a second one
        assert not mon.active
        assert not mon.cancel()
        assert "fired" in repr(mon)


async def test_monitoring_a_dead_server_fires_at_once() -> None:
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Echo.start)
        nursery.cancel_scope.cancel()
    down = await otp.monitor(ref).wait()
    assert down.reason.kind is otp.ExitKind.SHUTDOWN
    nobody = await otp.monitor(otp.named("nobody")).wait()
    assert isinstance(nobody.reason.exception, otp.NoProc)


async def test_demonitor() -> None:
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Echo.start)
        mon = otp.monitor(ref)
        assert otp.demonitor(mon)
        assert "cancelled" in repr(mon)
        with pytest.raises(trio.ClosedResourceError):
            await mon.wait()
        waiting = otp.monitor(ref)
        errors: list[BaseException] = []

        async def wait() -> None:
            try:
                await waiting.wait()
            except trio.ClosedResourceError as exc:
                errors.append(exc)

        nursery.start_soon(wait)
        await settle()
        waiting.cancel()
        await settle()
        assert len(errors) == 1
        nursery.cancel_scope.cancel()
    assert mon.down is None


async def test_names_are_released_before_monitors_hear_of_the_exit() -> None:
    seen: list[Any] = []

    class Watcher(otp.GenServer[Any, Any]):
        async def init(self, target: otp.ServerRef[Any, Any]) -> None:
            self.monitor(target)

        async def handle_info(self, message: Any) -> None:
            assert isinstance(message, otp.Down)
            seen.append((message.reason.kind, otp.whereis("target")))

    async with otp.open_supervisor([Echo.child_spec(name="target", restart="temporary")]) as sup:
        target = otp.whereis("target")
        assert target is not None
        await sup.start_child(Watcher.child_spec(target, id="watcher"))
        target.cast("crash")
        await settle()
        assert seen == [(otp.ExitKind.ABNORMAL, None)]


async def test_monitor_down_from_a_supervised_restart_then_monitor_the_new_one() -> None:
    recorder = Recorder()
    async with otp.open_supervisor([Echo.child_spec(name="e")], hooks=[recorder]):
        first = otp.whereis("e")
        assert first is not None
        mon = otp.monitor(first)
        first.cast("crash")
        down = await mon.wait()
        await settle()
        second = otp.whereis("e")
        assert second is not None
        assert second != first
        assert down.ref == first
        mon2 = otp.monitor(otp.named("e"))
        assert mon2.ref == second
        mon2.cancel()


async def test_waiting_for_a_name_survives_a_holder_that_ends_at_once() -> None:
    # Trio runs ready tasks in a random order, so repeat: before the fix, a caller woken by
    # a short-lived holder raised NoProc about half the time instead of waiting on. Reaching
    # the short-lived holder just before it ends (ServerExited) is fair; NoProc is not.
    outcomes: set[str] = set()

    async def caller(results: list[Any]) -> None:
        try:
            results.append(await otp.named("x").call("hi", timeout=5, wait_for_name=True))
        except otp.ServerExited:
            results.append("exited")

    async def first(short_lived: trio.CancelScope) -> None:
        with short_lived:
            await Echo.start("first", name="x")

    for _ in range(40):
        results: list[Any] = []
        short_lived = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller, results)
            await settle()
            nursery.start_soon(first, short_lived)
            await trio.lowlevel.checkpoint()
            short_lived.cancel()
            await trio.sleep(1)
            await nursery.start(functools.partial(Echo.start, "second", name="x"))
            await settle()
            assert results in ([("second", "hi")], ["exited"], [("first", "hi")])
            outcomes.add(str(results[0]))
            nursery.cancel_scope.cancel()
    assert "('second', 'hi')" in outcomes

"""gen_server: callbacks, calls that never hang, casts, stops, continues, timeouts."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import otp

from .harness import Recorder, settle


class Counter(otp.GenServer[Any, Any]):
    """A counter that can also misbehave on request."""

    events: list[str]

    async def init(self, start: int = 0, events: list[str] | None = None) -> otp.Continue | None:
        self.count = start
        self.events = events if events is not None else []
        self.events.append(f"init {start}")
        self.deferred: list[otp.Caller[Any]] = []
        return None

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        match request:
            case "get":
                return self.count
            case "inc":
                self.count += 1
                return self.count
            case "crash":
                raise ValueError("boom")
            case ("sleep", seconds):
                await trio.sleep(seconds)
                return "slept"
            case ("sleep-then-crash", seconds):
                await trio.sleep(seconds)
                raise RuntimeError("crash after sleeping")
            case "defer":
                self.deferred.append(caller)
                return otp.NoReply
            case ("stop", reply):
                raise otp.Stop("normal", reply=reply)
            case "stop-no-reply":
                raise otp.Stop()
            case ("continue", arg):
                self.request_continue(arg)
                return "continuing"
            case "self-call":
                return await self.ref.call("get")
            case "reply-twice":
                caller.reply(1)
                caller.reply(2)
                return otp.NoReply
            case "reply-and-return":
                caller.reply(1)
                return 2
        raise AssertionError(request)  # pragma: no cover

    async def handle_cast(self, message: Any) -> otp.Continue | None:
        match message:
            case ("add", n):
                self.count += n
            case ("answer", value):
                for caller in self.deferred:
                    caller.reply(value)
                self.deferred.clear()
            case ("continue", arg):
                return otp.Continue(arg)
            case "crash":
                raise RuntimeError("cast crash")
        return None

    async def handle_info(self, message: Any) -> otp.Continue | None:
        self.events.append(f"info {message!r}")
        return None

    async def handle_continue(self, arg: Any) -> otp.Continue | None:
        self.events.append(f"continue {arg}")
        return None

    async def terminate(self, reason: otp.ExitReason) -> None:
        self.events.append(f"terminate {reason.kind.value}")


async def start_counter(
    nursery: trio.Nursery, *args: Any, name: Any = None
) -> otp.ServerRef[Any, Any]:
    ref: otp.ServerRef[Any, Any] = await nursery.start(
        functools.partial(Counter.start, *args, name=name)
    )
    return ref


@asynccontextmanager
async def serving(
    server: type[otp.GenServer[Any, Any]], *args: Any, name: Any = None
) -> AsyncIterator[otp.ServerRef[Any, Any]]:
    """Run one server under a supervisor that lets it die (temporary): a crash stays put."""
    spec = server.child_spec(*args, id="server", name=name, restart="temporary")
    async with otp.open_dynamic_supervisor(spec) as sup:
        child = await sup.start_child()
        assert child is not None
        yield child.value


async def test_call_cast_and_info() -> None:
    events: list[str] = []
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery, 10, events)
        assert await ref.call("inc") == 11
        ref.cast(("add", 5))
        ref.send("hello")
        assert await ref.call("get") == 16
        assert events == ["init 10", "info 'hello'"]
        nursery.cancel_scope.cancel()
    assert events[-1] == "terminate shutdown"
    assert ref.exit_reason is not None
    assert ref.exit_reason.kind is otp.ExitKind.SHUTDOWN


async def test_a_server_class_is_a_child_spec_start() -> None:
    async with otp.open_supervisor([otp.ChildSpec("counter", Counter, (7,))]) as sup:
        child = sup.get_child("counter")
        assert child is not None
        ref = child.value
        assert isinstance(ref, otp.ServerRef)
        assert await ref.call("get") == 7


async def test_init_failure_is_a_start_failure_with_the_real_cause() -> None:
    class Broken(otp.GenServer[Any, Any]):
        async def init(self) -> None:
            raise KeyError("missing config")

    with pytest.raises(otp.StartError) as info:
        async with otp.open_supervisor([otp.ChildSpec("b", Broken)]):
            pass  # pragma: no cover
    assert isinstance(info.value.__cause__, KeyError)
    async with trio.open_nursery() as nursery:
        with pytest.raises(KeyError):
            await nursery.start(Broken.start)


async def test_started_only_after_init_so_start_order_means_ready() -> None:
    order: list[str] = []

    class Slow(otp.GenServer[Any, Any]):
        async def init(self, name: str) -> None:
            await trio.sleep(1)
            order.append(f"ready {name}")

    specs = [otp.ChildSpec("a", Slow, ("a",)), otp.ChildSpec("b", Slow, ("b",))]
    async with otp.open_supervisor(specs):
        assert order == ["ready a", "ready b"]


async def test_ref_is_reachable_from_init() -> None:
    seen: list[Any] = []

    class SelfAware(otp.GenServer[Any, Any]):
        async def init(self) -> None:
            seen.append(self.ref)
            self.ref.cast("hello to myself")

        async def handle_cast(self, message: Any) -> None:
            seen.append(message)

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(SelfAware.start)
        await settle()
        assert seen == [ref, "hello to myself"]
        nursery.cancel_scope.cancel()


async def test_deferred_reply_from_another_task() -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery)
        results: list[Any] = []

        async def ask() -> None:
            results.append(await ref.call("defer"))

        nursery.start_soon(ask)
        nursery.start_soon(ask)
        await settle()
        assert results == []
        ref.cast(("answer", "later"))
        await settle()
        assert results == ["later", "later"]
        nursery.cancel_scope.cancel()


async def test_second_reply_is_an_error_that_crashes_the_server() -> None:
    async with serving(Counter) as ref:
        assert await ref.call("reply-twice") == 1
        await settle()
        reason = ref.exit_reason
        assert reason is not None
        assert isinstance(reason.exception, otp.AlreadyReplied)
        with pytest.raises(otp.NoProc):
            await ref.call("get")


async def test_replying_and_returning_a_value_is_a_double_reply() -> None:
    async with serving(Counter) as ref:
        assert await ref.call("reply-and-return") == 1
        await settle()
        assert ref.exit_reason is not None
        assert isinstance(ref.exit_reason.exception, otp.AlreadyReplied)
        assert "must return otp.NoReply" in str(ref.exit_reason.exception)


async def test_stop_with_reply_runs_terminate_before_the_reply() -> None:
    events: list[str] = []
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery, 0, events)

        reply = await ref.call(("stop", "bye"))
        events.append(f"caller got {reply}")
        assert events[-2:] == ["terminate normal", "caller got bye"]
        assert ref.exit_reason == otp.ExitReason(otp.ExitKind.NORMAL)


async def test_stop_without_a_reply_fails_the_caller_with_the_reason() -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery)
        with pytest.raises(otp.ServerExited) as info:
            await ref.call("stop-no-reply")
        assert info.value.reason.kind is otp.ExitKind.NORMAL


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (None, otp.ExitKind.NORMAL),
        ("normal", otp.ExitKind.NORMAL),
        ("shutdown", otp.ExitKind.SHUTDOWN),
        (otp.Shutdown("drained"), otp.ExitKind.SHUTDOWN),
        (ValueError("bad"), otp.ExitKind.ABNORMAL),
        ("weird", otp.ExitKind.ABNORMAL),
    ],
)
async def test_stop_reasons_become_exit_reasons(reason: object, kind: otp.ExitKind) -> None:
    class Stopper(otp.GenServer[Any, Any]):
        async def handle_cast(self, message: Any) -> None:
            raise otp.Stop(reason)

    recorder = Recorder()
    async with otp.open_supervisor(
        [otp.ChildSpec("s", Stopper, restart="transient")], hooks=[recorder]
    ) as sup:
        child = sup.get_child("s")
        assert child is not None
        child.value.cast("stop")
        await settle()
    [exited] = recorder.of(otp.ChildExited)
    assert exited.reason.kind is kind
    assert exited.restarting is (kind is otp.ExitKind.ABNORMAL)


async def test_continue_from_init_runs_before_the_first_message() -> None:
    events: list[str] = []

    class Loader(otp.GenServer[Any, Any]):
        async def init(self) -> otp.Continue:
            events.append("init")
            return otp.Continue("load")

        async def handle_continue(self, arg: Any) -> None:
            await trio.sleep(1)
            events.append(f"continue {arg}")

        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            events.append(f"call {request}")
            return None

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Loader.start)
        events.append("started")
        await ref.call("first")
        assert events == ["init", "started", "continue load", "call first"]
        nursery.cancel_scope.cancel()


async def test_continue_runs_before_the_next_queued_message() -> None:
    events: list[str] = []
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery, 0, events)
        ref.cast(("continue", "A"))
        ref.send("queued behind the continue")
        assert await ref.call(("continue", "B")) == "continuing"
        ref.send("after B")
        await ref.call("get")
        assert events[1:] == [
            "continue A",
            "info 'queued behind the continue'",
            "continue B",
            "info 'after B'",
        ]
        nursery.cancel_scope.cancel()


async def test_a_callback_crash_fails_every_pending_caller_promptly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with otp.open_supervisor([otp.ChildSpec("c", Counter)]) as sup:
        child = sup.get_child("c")
        assert child is not None
        ref = child.value
        errors: list[otp.ServerExited] = []

        async def call(request: Any) -> None:
            try:
                await ref.call(request, timeout=None)
            except otp.ServerExited as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, ("sleep-then-crash", 1))
            await settle()
            for _ in range(99):  # they queue behind the call that will crash the server
                nursery.start_soon(call, "get")
        assert trio.current_time() == 1  # nobody waited for a timeout
        assert len(errors) == 100
        assert all(isinstance(e.__cause__, RuntimeError) for e in errors)
        assert all(e.reason.abnormal for e in errors)
        await settle()
        new = sup.get_child("c")
        assert new is not None
        assert new.value != ref
        assert await new.value.call("get") == 0
    warnings = [r for r in caplog.records if r.name == "otp.server"]
    assert [r.getMessage() for r in warnings] == [
        "Counter crashed: RuntimeError: crash after sleeping"
    ]


async def test_the_caller_that_crashed_the_server_gets_the_crash() -> None:
    async with serving(Counter) as ref:
        with pytest.raises(otp.ServerExited) as info:
            await ref.call("crash")
        assert isinstance(info.value.__cause__, ValueError)
        assert str(info.value) == "Counter exited: abnormal (ValueError: boom)"


async def test_unsupervised_crash_is_logged_with_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Unsupervised, the crash propagates into the nursery that runs the server.
    with pytest.RaisesGroup(ValueError):
        async with trio.open_nursery() as nursery:
            ref = await start_counter(nursery, name="lonely")
            with pytest.raises(otp.ServerExited):
                await ref.call("crash")
    [record] = [r for r in caplog.records if r.name == "otp.server"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "'lonely' (Counter) crashed: ValueError: boom"
    assert record.exc_info is not None


async def test_caller_timeout_then_late_reply_is_dropped() -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery)
        with pytest.raises(otp.CallTimeout, match="did not reply"):
            await ref.call("defer", timeout=1)
        assert trio.current_time() == 1
        ref.cast(("answer", "too late"))  # replies to a caller that has gone
        assert await ref.call("get") == 0  # a later call gets its own reply
        assert ref.alive
        nursery.cancel_scope.cancel()


async def test_the_callers_deadline_travels_with_the_call() -> None:
    progress: list[str] = []

    class Worker(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            progress.append(f"deadline {caller.deadline}")
            try:
                await trio.sleep(100)
            finally:
                progress.append("handler cancelled")
            return "done"  # pragma: no cover

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Worker.start)
        with trio.move_on_after(3):  # the caller's own deadline, shorter than the timeout
            await ref.call("work", timeout=10)
        await settle()
        assert progress == ["deadline 3.0", "handler cancelled"]
        with pytest.raises(otp.CallTimeout):
            await ref.call("work", timeout=2)
        await settle()
        assert progress[-2:] == ["deadline 5.0", "handler cancelled"]
        assert ref.alive
        nursery.cancel_scope.cancel()


async def test_a_call_that_times_out_while_queued_is_never_handled() -> None:
    handled: list[Any] = []

    class Busy(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            handled.append(request)
            await trio.sleep(5)
            return request

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Busy.start)
        nursery.start_soon(functools.partial(ref.call, "first", timeout=None))
        await settle()
        with pytest.raises(otp.CallTimeout):
            await ref.call("second", timeout=1)
        await trio.sleep(10)
        assert handled == ["first"]
        nursery.cancel_scope.cancel()


async def test_call_errors_noproc_and_calling_self() -> None:
    async with serving(Counter) as ref:
        with pytest.raises(otp.ServerExited) as info:
            await ref.call("self-call")
        assert isinstance(info.value.__cause__, otp.CallingSelf)
        with pytest.raises(otp.NoProc, match="is not running"):
            await ref.call("get")
    with pytest.raises(otp.NoProc, match="no server is registered as 'ghost'"):
        await otp.named("ghost").call("get")


async def test_cast_and_send_never_block_or_fail_even_when_dead() -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery)
        nursery.cancel_scope.cancel()
    ref.cast(("add", 1))
    ref.send("anyone?")
    otp.named("nobody").cast("x")
    otp.named("nobody").send("x")


async def test_many_casts_queue_without_blocking_the_sender() -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery)
        for _ in range(10_000):
            ref.cast(("add", 1))
        stats = ref.mailbox_statistics()
        assert stats.queued == 10_000
        assert await ref.call("get") == 10_000
        stats = ref.mailbox_statistics()
        assert stats == otp.MailboxStatistics(
            queued=0, peak=10_001, received=10_001, dropped=0, maxsize=None
        )
        nursery.cancel_scope.cancel()


async def test_bounded_mailbox_drop_newest() -> None:
    class Small(Counter):
        mailbox_size = 2

    async with trio.open_nursery() as nursery:
        ref: otp.ServerRef[Any, Any] = await nursery.start(Small.start)
        ref.cast(("sleep-first", 0))  # unknown casts are ignored by Counter
        for n in range(5):
            ref.cast(("add", n))
        with pytest.raises(otp.MailboxFull):
            await ref.call("get")
        stats = ref.mailbox_statistics()
        assert stats.dropped == 5  # four casts and the call
        assert stats.maxsize == 2
        nursery.cancel_scope.cancel()


async def test_bounded_mailbox_drop_oldest_fails_an_evicted_call() -> None:
    class Evicting(Counter):
        mailbox_size = 1
        mailbox_overflow = otp.Overflow.DROP_OLDEST

    async with trio.open_nursery() as nursery:
        ref: otp.ServerRef[Any, Any] = await nursery.start(Evicting.start)
        results: list[Any] = []

        async def call() -> None:
            try:
                results.append(await ref.call("get"))
            except otp.MailboxFull as exc:
                results.append(exc)

        nursery.start_soon(ref.call, ("sleep", 1))  # keeps the server busy
        await settle()
        nursery.start_soon(call)
        await settle()  # the call waits in the mailbox
        ref.cast(("add", 1))  # evicts it
        await settle()
        assert len(results) == 1
        assert isinstance(results[0], otp.MailboxFull)
        await trio.sleep(2)  # the server finishes sleeping and takes the cast
        assert await ref.call("get") == 1
        assert ref.mailbox_statistics().dropped == 1
        nursery.cancel_scope.cancel()


async def test_missing_callbacks_behave_as_in_otp(caplog: pytest.LogCaptureFixture) -> None:
    class Bare(otp.GenServer[Any, Any]):
        pass

    async with serving(Bare, name="bare") as ref:
        ref.send("stray")
        await settle()
        assert ref.alive
        warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warning == ["'bare' (Bare) has no handle_info; dropped the info 'stray'"]
        with pytest.raises(otp.ServerExited) as info:
            await ref.call("anything")
        assert "Bare has no handle_call, and got a call: 'anything'" in str(info.value.__cause__)

    async with serving(Bare) as ref:
        ref.cast("x")
        await settle()
        assert ref.exit_reason is not None
        assert isinstance(ref.exit_reason.exception, NotImplementedError)
        assert "Bare has no handle_cast, and got a cast: 'x'" in str(ref.exit_reason.exception)


async def test_missing_handle_continue_crashes_naming_it() -> None:
    class NoContinue(otp.GenServer[Any, Any]):
        async def init(self) -> otp.Continue:
            return otp.Continue("x")

    async with serving(NoContinue) as ref:
        await settle()
        assert ref.exit_reason is not None
        assert "has no handle_continue, and got a continue: 'x'" in str(ref.exit_reason.exception)


async def test_init_takes_no_arguments_by_default() -> None:
    class Plain(otp.GenServer[Any, Any]):
        pass

    async with trio.open_nursery() as nursery:
        with pytest.raises(TypeError, match="takes no arguments"):
            await nursery.start(Plain.start, 1)


async def test_terminate_runs_on_supervisor_shutdown_within_the_limit() -> None:
    events: list[str] = []

    class Flusher(otp.GenServer[Any, Any]):
        async def terminate(self, reason: otp.ExitReason) -> None:
            events.append(f"terminate {reason.kind.value}")
            await trio.sleep(10)
            events.append("flushed")  # pragma: no cover

    specs = [
        otp.ChildSpec("timed", Flusher, shutdown=2.0),
        otp.ChildSpec("brutal", Flusher, shutdown=otp.BRUTAL_KILL),
    ]
    async with otp.open_supervisor(specs):
        pass
    assert events == ["terminate shutdown"]  # brutal_kill skips it; the other is cut at 2 s
    assert trio.current_time() == pytest.approx(2.0)


async def test_terminate_runs_after_a_crash_and_its_own_failure_becomes_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BadTerminate(otp.GenServer[Any, Any]):
        async def handle_cast(self, message: Any) -> None:
            raise ValueError("crash")

        async def terminate(self, reason: otp.ExitReason) -> None:
            raise RuntimeError(f"terminate failed after {reason.kind.value}")

    async with serving(BadTerminate) as ref:
        ref.cast("go")
        await settle()
    assert ref.exit_reason is not None
    # As in Erlang, what terminate raised becomes the exit reason.
    assert isinstance(ref.exit_reason.exception, RuntimeError)
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "BadTerminate: terminate(abnormal (ValueError: crash)) raised "
        "RuntimeError: terminate failed after abnormal"
    ) in messages


async def test_idle_timeout_delivers_an_info() -> None:
    seen: list[Any] = []

    class Idle(otp.GenServer[Any, Any]):
        idle_timeout = 5.0

        async def handle_info(self, message: Any) -> None:
            seen.append((trio.current_time(), message))
            if len(seen) == 2:
                self.idle_timeout = None

        async def handle_cast(self, message: Any) -> None:
            seen.append((trio.current_time(), message))

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Idle.start)
        await trio.sleep(3)
        ref.cast("activity")
        await trio.sleep(100)
        assert seen == [
            (3.0, "activity"),
            (8.0, otp.IdleTimeout(5.0)),
        ]
        nursery.cancel_scope.cancel()


async def test_a_busy_server_still_lets_other_tasks_run() -> None:
    ticks: list[int] = []
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery)

        async def ticker() -> None:
            while True:
                ticks.append(len(ticks))
                await trio.lowlevel.checkpoint()

        for _ in range(1000):
            ref.cast(("add", 1))
        nursery.start_soon(ticker)
        await ref.call("get")
        assert len(ticks) >= 1000 // 64
        nursery.cancel_scope.cancel()


async def test_refs_compare_by_server_and_repr() -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_counter(nursery, name="c")
        assert ref == otp.whereis("c")
        assert hash(ref) == hash(otp.whereis("c"))
        assert ref != otp.named("c")
        assert otp.named("c") == otp.named("c")
        assert repr(ref) == "<otp.ServerRef 'c' (Counter) (running)>"
        assert repr(otp.named("c")) == "<otp.ServerRef named 'c'>"
        with pytest.raises(TypeError, match="no public constructor"):
            otp.ServerRef()
        with pytest.raises(TypeError, match="no public constructor"):
            otp.Caller()
        nursery.cancel_scope.cancel()


def test_no_reply_is_a_singleton() -> None:
    assert repr(otp.NoReply) == "otp.NoReply"
    assert type(otp.NoReply)() is otp.NoReply


def test_a_plain_class_is_not_a_start() -> None:
    class NotAServer:
        pass

    with pytest.raises(otp.ChildSpecError, match=r"only if it is an otp\.GenServer"):
        otp.ChildSpec("x", NotAServer)  # type: ignore[arg-type]


async def test_a_cancelled_caller_without_any_deadline_still_cancels_the_handler() -> None:
    progress: list[str] = []

    class Worker(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            try:
                await trio.sleep(request)
            finally:
                progress.append(f"handler for {request} ended at {trio.current_time()}")
            return request

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Worker.start)
        with trio.CancelScope() as scope:  # no deadline: cancelled from another task
            nursery.start_soon(_cancel_after, scope, 1.0)
            await ref.call(100, timeout=None)
        await settle()
        assert progress == ["handler for 100 ended at 1.0"]
        assert await ref.call(0) == 0  # the server is free again at once
        assert trio.current_time() == 1.0
        nursery.cancel_scope.cancel()


async def _cancel_after(scope: trio.CancelScope, seconds: float) -> None:
    await trio.sleep(seconds)
    scope.cancel()


@pytest.mark.parametrize(
    ("shutdown", "kind"),
    [
        (otp.BRUTAL_KILL, otp.ExitKind.KILLED),
        (1.0, otp.ExitKind.KILLED),  # terminate takes longer than the limit
        (10.0, otp.ExitKind.SHUTDOWN),
    ],
)
async def test_monitors_see_killed_when_the_supervisor_does(
    shutdown: Any, kind: otp.ExitKind
) -> None:
    class SlowTerminate(otp.GenServer[Any, Any]):
        async def terminate(self, reason: otp.ExitReason) -> None:
            await trio.sleep(5)

    recorder = Recorder()
    async with otp.open_supervisor(
        [SlowTerminate.child_spec(id="s", shutdown=shutdown)], hooks=[recorder]
    ) as sup:
        child = sup.get_child("s")
        assert child is not None
        mon = otp.monitor(child.value)
        await sup.terminate_child("s")
        down = await mon.wait()
    assert down.reason.kind is kind
    [terminated] = recorder.of(otp.ChildTerminated)
    assert terminated.reason.kind is kind


async def test_reply_then_stop_with_a_reply_is_a_double_reply_crash() -> None:
    events: list[str] = []

    class Confused(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            caller.reply("first")
            raise otp.Stop(reply="second")

        async def terminate(self, reason: otp.ExitReason) -> None:
            events.append(reason.kind.value)

    async with serving(Confused) as ref:
        assert await ref.call("x") == "first"
        await settle()
        assert ref.exit_reason is not None
        assert isinstance(ref.exit_reason.exception, otp.AlreadyReplied)
    assert events == ["abnormal"]


async def test_supervised_calls_time_out_without_a_scope_of_their_own() -> None:
    async with otp.open_supervisor([Counter.child_spec(id="c", name="c")]) as sup:
        ref = otp.named("c")
        start = trio.current_time()
        with pytest.raises(otp.CallTimeout, match=r"did not reply to 'defer' within 1\.5 s"):
            await ref.call("defer", timeout=1.5)
        assert trio.current_time() - start == 1.5
        # Thousands of answered calls leave no pile of timers behind.
        for _ in range(5000):
            await ref.call("get")
        timeouts = sup._timeouts
        assert timeouts is not None
        assert sum(len(queue) for queue in timeouts._queues.values()) <= 64 + 2
        # The caller's own, shorter deadline is its own scope's business, not a CallTimeout.
        with trio.move_on_after(0.5) as scope:
            await ref.call("defer", timeout=10)
        assert scope.cancelled_caught
        await settle()
        assert ref.alive


async def test_a_server_call_made_while_serving_inherits_the_deadline() -> None:
    seen: list[float] = []

    class Front(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            return await otp.named("back").call(request, timeout=60)

    class Back(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            seen.append(caller.deadline)
            return request

    specs = [Front.child_spec(id="front", name="front"), Back.child_spec(id="back", name="back")]
    async with otp.open_supervisor(specs):
        assert await otp.named("front").call("x", timeout=2) == "x"
    assert seen == [2.0]

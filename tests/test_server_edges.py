"""gen_server at the edges, as Erlang/OTP's gen_server.erl decides them (issue 9)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import otp

from .harness import settle
from .test_server import serving


class Deferring(otp.GenServer[Any, Any]):
    """Keeps every caller for a later answer; crashes or sleeps on request."""

    async def init(self, kept: list[otp.Caller[Any]]) -> None:
        self.kept = kept

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise ValueError("boom")
        if request == "twice":
            caller.reply(1)
            caller.reply(2)
        self.kept.append(caller)
        return otp.NoReply


async def test_a_reply_to_a_caller_failed_by_the_servers_death_is_dropped() -> None:
    kept: list[otp.Caller[Any]] = []
    async with serving(Deferring, kept) as ref, trio.open_nursery() as nursery:

        async def ask() -> None:
            with pytest.raises(otp.ServerExited):
                await ref.call("later")

        nursery.start_soon(ask)
        await settle()
        with pytest.raises(otp.ServerExited):
            await ref.call("crash")
        await settle()
    assert len(kept) == 1
    assert not kept[0].waiting
    kept[0].reply("too late")  # the caller is gone: dropped, no AlreadyReplied


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_reply_to_a_caller_that_gave_up_is_dropped(how: str) -> None:
    kept: list[otp.Caller[Any]] = []
    async with serving(Deferring, kept) as ref:
        if how == "timeout":
            with pytest.raises(otp.CallTimeout):
                await ref.call("later", timeout=1)
        else:
            with trio.move_on_after(1):
                await ref.call("later", timeout=None)
        kept[0].reply("too late")
        with pytest.raises(otp.AlreadyReplied, match="second time"):
            kept[0].reply("and again")  # the handler's own second reply is still a bug
        assert ref.alive


async def test_a_second_reply_says_it_was_the_handlers_second_reply() -> None:
    kept: list[otp.Caller[Any]] = []
    async with serving(Deferring, kept) as ref:
        assert await ref.call("twice") == 1
        await settle()
    assert ref.exit_reason is not None
    error = ref.exit_reason.exception
    assert isinstance(error, otp.AlreadyReplied)
    assert "caller.reply() was called a second time" in str(error)


# --- stopping a server from outside: gen_server:stop/3, and Stop with any reason ----------


class Stoppable(otp.GenServer[Any, Any]):
    """Records its terminate reasons; can be slow to handle or to terminate."""

    async def init(self, log: list[Any], terminate_for: float = 0, fail: bool = False) -> None:
        self.log = log
        self.terminate_for = terminate_for
        self.fail = fail

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        match request:
            case ("sleep", seconds):
                await trio.sleep(seconds)
                return "slept"
            case ("stop", value):
                raise otp.Stop(value, reply="stopping")
            case ("stop-self", ref):
                await ref.stop()
        return request

    async def terminate(self, reason: otp.ExitReason) -> None:
        self.log.append(("terminate", reason.kind.value, reason.value))
        await trio.sleep(self.terminate_for)
        if self.fail:
            raise RuntimeError("terminate failed")
        self.log.append("terminated")


REASONS = [
    ("normal", "normal", False),
    ("shutdown", "shutdown", False),
    (("shutdown", "maintenance"), "shutdown", False),
    ({"error": "bad_state"}, "abnormal", True),
    ("oops", "abnormal", True),
    ("killed", "killed", True),
]


@pytest.mark.parametrize(("value", "kind", "restarted"), REASONS)
async def test_stop_from_outside_runs_terminate_and_the_reason_travels_unchanged(
    value: Any, kind: str, restarted: bool
) -> None:
    log: list[Any] = []
    events: list[otp.SupervisorEvent] = []
    spec = Stoppable.child_spec(log, id="s", name="s", restart="transient")
    async with otp.open_supervisor([spec], hooks=[events.append]) as sup:
        ref = sup.get_child("s").value
        watch = otp.monitor(ref)
        await ref.stop(value)
        # terminate has run by the time stop returns, with the reason given
        assert log == [("terminate", kind, value), "terminated"]
        down = await watch.wait()
        assert down.reason.kind.value == kind
        assert down.reason.value == value
        await settle()
        [exited] = [e for e in events if isinstance(e, otp.ChildExited)]
        assert exited.reason.kind.value == kind
        assert exited.reason.value == value
        assert (sup.get_child("s") is not None) is restarted
        with pytest.raises(otp.NoProc, match="has exited already"):
            await ref.stop()


@pytest.mark.parametrize(("value", "kind", "restarted"), REASONS)
async def test_a_server_stops_itself_with_any_reason_value(
    value: Any, kind: str, restarted: bool
) -> None:
    log: list[Any] = []
    events: list[otp.SupervisorEvent] = []
    spec = Stoppable.child_spec(log, id="s", restart="transient")
    async with otp.open_supervisor([spec], hooks=[events.append]) as sup:
        ref = sup.get_child("s").value
        watch = otp.monitor(ref)
        assert await ref.call(("stop", value)) == "stopping"
        down = await watch.wait()
        assert (down.reason.kind.value, down.reason.value) == (kind, value)
        await settle()
        [exited] = [e for e in events if isinstance(e, otp.ChildExited)]
        assert exited.reason.value == value
        assert (sup.get_child("s") is not None) is restarted


async def test_stop_of_a_server_that_is_not_there_is_noproc() -> None:
    with pytest.raises(otp.NoProc, match="'nobody'"):
        await otp.named("nobody").stop()


async def test_a_server_cannot_stop_itself_through_its_ref() -> None:
    log: list[Any] = []
    async with serving(Stoppable, log) as ref:
        with pytest.raises(otp.ServerExited) as info:
            await ref.call(("stop-self", ref))
    assert isinstance(info.value.reason.exception, otp.CallingSelf)


async def test_a_terminate_that_outlasts_the_timeout_is_killed() -> None:
    log: list[Any] = []
    spec = Stoppable.child_spec(log, 10, id="s", restart="transient")
    async with otp.open_supervisor([spec]) as sup:
        ref = sup.get_child("s").value
        watch = otp.monitor(ref)
        start = trio.current_time()
        with pytest.raises(otp.CallTimeout, match="did not stop within 2 s; it was killed"):
            await ref.stop("normal", timeout=2)
        assert trio.current_time() - start == pytest.approx(2)
        assert log == [("terminate", "normal", "normal")]  # cut short: never "terminated"
        down = await watch.wait()
        assert down.reason.kind is otp.ExitKind.KILLED
        await settle()
        assert sup.get_child("s") is not None  # killed is abnormal: restarted


async def test_a_server_busy_past_the_timeout_is_killed_and_its_caller_told() -> None:
    log: list[Any] = []
    async with serving(Stoppable, log) as ref, trio.open_nursery() as nursery:
        failures: list[BaseException] = []

        async def busy() -> None:
            try:
                await ref.call(("sleep", 100), timeout=None)
            except otp.ServerExited as exc:
                failures.append(exc)

        nursery.start_soon(busy)
        await settle()
        with pytest.raises(otp.CallTimeout):
            await ref.stop(timeout=1)
        await settle()
        assert ref.exit_reason is not None
        assert ref.exit_reason.kind is otp.ExitKind.KILLED
        assert log == []  # killed in the handler: terminate never ran (Erlang's kill)
        assert len(failures) == 1


async def test_stop_reports_a_terminate_that_raised() -> None:
    log: list[Any] = []
    async with serving(Stoppable, log, 0, True) as ref:
        with pytest.raises(otp.ServerExited, match="terminate failed") as info:
            await ref.stop("normal")
        assert info.value.reason.kind is otp.ExitKind.ABNORMAL


async def test_stop_waits_its_turn_but_a_full_mailbox_cannot_refuse_it() -> None:
    class Bounded(Stoppable):
        mailbox_size = 1

    log: list[Any] = []
    async with serving(Bounded, log) as ref, trio.open_nursery() as nursery:
        answers: list[Any] = []

        async def ask(request: Any) -> None:
            answers.append(await ref.call(request, timeout=None))

        nursery.start_soon(ask, ("sleep", 1))
        await settle()
        nursery.start_soon(ask, "queued")  # fills the mailbox
        await settle()
        await ref.stop()
        # Both were answered, not failed: the stop came after what was queued before it.
        # (The two callers wake in the same batch, in an order Trio may shuffle.)
        assert sorted(answers) == ["queued", "slept"]
        assert log == [("terminate", "normal", "normal"), "terminated"]


def test_exit_reason_values() -> None:
    assert otp.exit_reason(otp.Exit("normal")).kind is otp.ExitKind.NORMAL
    assert str(otp.exit_reason(otp.Exit(("shutdown", "x")))) == "shutdown ('x')"
    assert str(otp.exit_reason(otp.Exit({"a": 1}))) == "abnormal ({'a': 1})"
    assert otp.exit_reason(otp.Shutdown("drained")).value == ("shutdown", "drained")
    assert otp.ExitReason(otp.ExitKind.HUNG).value == "hung"
    crash = ValueError("boom")
    assert otp.exit_reason(crash).value is crash
    assert otp.exit_reason(otp.Exit(("other", 1))).kind is otp.ExitKind.ABNORMAL


# --- the one-shot timeout: {noreply, State, Timeout} ---------------------------------------


class Batcher(otp.GenServer[Any, Any]):
    async def init(self, log: list[str], first: float | None = None) -> otp.Timeout | None:
        self.log = log
        return None if first is None else otp.Timeout(first)

    def note(self, text: str) -> None:
        self.log.append(f"{trio.current_time():g}: {text}")

    async def handle_cast(self, message: Any) -> otp.Timeout | None:
        self.note(f"cast {message}")
        return otp.Timeout(1) if message != "no-timeout" else None

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        self.note(f"call {request}")
        self.request_timeout(2)
        return "ok"

    async def handle_info(self, message: Any) -> None:
        self.note(f"info {type(message).__name__}({message.seconds:g})")


async def test_a_one_shot_timeout_fires_once_when_no_message_comes() -> None:
    log: list[str] = []
    async with serving(Batcher, log) as ref:
        ref.cast("a")
        await trio.sleep(10)
    assert log == ["0: cast a", "1: info Timeout(1)"]


async def test_any_message_cancels_the_one_shot_timeout() -> None:
    log: list[str] = []
    async with serving(Batcher, log) as ref:
        ref.cast("a")
        await trio.sleep(0.5)
        ref.cast("no-timeout")
        await trio.sleep(10)
    assert log == ["0: cast a", "0.5: cast no-timeout"]


async def test_handle_call_and_init_ask_for_a_one_shot_timeout() -> None:
    log: list[str] = []
    async with serving(Batcher, log, 3) as ref:
        await trio.sleep(5)
        assert await ref.call("x") == "ok"
        await trio.sleep(5)
    assert log == ["3: info Timeout(3)", "5: call x", "7: info Timeout(2)"]


async def test_the_shorter_of_idle_and_one_shot_timeouts_fires() -> None:
    class Both(Batcher):
        idle_timeout = 1.5

        async def handle_info(self, message: Any) -> None:
            self.note(f"info {type(message).__name__}({message.seconds:g})")

    log: list[str] = []
    async with serving(Both, log) as ref:
        ref.cast("a")  # one-shot 1 s, idle 1.5 s: the one-shot first, then idle for good
        await trio.sleep(4.5)
    assert log == [
        "0: cast a",
        "1: info Timeout(1)",
        "2.5: info IdleTimeout(1.5)",
        "4: info IdleTimeout(1.5)",
    ]


@pytest.mark.parametrize("bad", [-1, True, "1", float("nan")])
def test_a_bad_timeout_is_rejected_when_made(bad: Any) -> None:
    with pytest.raises(ValueError, match="seconds must be a number >= 0"):
        otp.Timeout(bad)


async def test_a_server_registers_its_own_name_once_and_releases_it_at_the_end() -> None:
    class Session(otp.GenServer[Any, Any]):
        async def init(self, user: str) -> None:
            self.register_name(("session", user))

        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            if request == "again":
                self.register_name("other")
            return "hi"

    async with otp.open_supervisor([Session.child_spec("ada", id="s")], intensity=5) as sup:
        ref = sup.get_child("s").value
        assert otp.whereis(("session", "ada")) == ref
        assert await otp.named(("session", "ada")).call("x") == "hi"
        with pytest.raises(otp.StartError) as taken:
            await sup.start_child(Session.child_spec("ada", id="s2"))
        assert isinstance(taken.value.__cause__, otp.NameTaken)
        with pytest.raises(otp.ServerExited, match=r"registered as .* already; a server has one"):
            await ref.call("again")
        await trio.sleep(0.1)  # restarted: the name is released and taken again
        assert otp.whereis(("session", "ada")) not in (None, ref)
    assert otp.whereis(("session", "ada")) is None

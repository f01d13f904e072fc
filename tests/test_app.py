"""The application runner in process, on virtual time: phases, hooks, deadlines, exit codes."""

from __future__ import annotations

import functools
import inspect
import os
import signal

import pytest
import trio

import otp
import otp.app
from otp.app import ExitCode


async def worker(name, log, *, task_status=trio.TASK_STATUS_IGNORED):
    log.append(f"start {name}")
    task_status.started(name)
    try:
        await trio.sleep_forever()
    finally:
        log.append(f"stop {name}")


async def slow_cleanup(name, log, *, task_status=trio.TASK_STATUS_IGNORED):
    task_status.started(name)
    try:
        await trio.sleep_forever()
    finally:
        with otp.cleanup_scope():
            await trio.sleep(100)
            log.append(f"cleaned {name}")  # never, when forced


def tree(log):
    return [
        otp.ChildSpec("db", worker, ("db", log)),
        otp.supervisor_spec(
            "web",
            [otp.ChildSpec("w1", worker, ("w1", log)), otp.ChildSpec("w2", worker, ("w2", log))],
        ),
    ]


async def start(root, **options):
    nursery = options.pop("nursery")
    options.setdefault("signals", False)
    return await nursery.start(functools.partial(otp.app.serve, root, **options))


async def test_started_only_after_every_child_and_stop_in_reverse_order() -> None:
    log: list[str] = []
    events: list[otp.app.AppEvent] = []
    async with trio.open_nursery() as nursery:
        app = await start(tree(log), nursery=nursery, name="shop", on_event=events.append)
        assert log == ["start db", "start w1", "start w2"]
        assert app.state is otp.app.AppState.RUNNING
        assert isinstance(app.root, otp.Supervisor)
        assert app.root.name == "shop"
        started = [e for e in events if isinstance(e, otp.app.AppStarted)]
        assert [(e.app, e.root, e.children) for e in started] == [("shop", "shop", 2)]
        app.stop()
        assert await app.wait() is ExitCode.OK
    assert log[3:] == ["stop w2", "stop w1", "stop db"]
    assert app.state is otp.app.AppState.STOPPED
    assert isinstance(events[-1], otp.app.AppStopped)
    assert events[-1].code is ExitCode.OK


async def test_serve_returns_the_exit_code_and_tree_hooks_hear_only_the_tree() -> None:
    log: list[str] = []
    heard: list[otp.SupervisorEvent] = []
    apps: list[otp.app.App] = []

    async def stopper() -> None:
        await trio.sleep(1)
        apps[0].stop()

    async with trio.open_nursery() as nursery:
        app = await start(tree(log), nursery=nursery, hooks=[heard.append])
        apps.append(app)
        nursery.start_soon(stopper)
    assert app.exit_code is ExitCode.OK
    assert {e.supervisor for e in heard} == {"app", "app/web"}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
async def test_a_signal_stops_the_tree_in_order_with_its_exit_code(signum, code) -> None:
    log: list[str] = []

    async def send() -> None:
        await trio.sleep(5)
        os.kill(os.getpid(), signum)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        result = await otp.app.serve(tree(log))
    assert result == code
    assert log == ["start db", "start w1", "start w2", "stop w2", "stop w1", "stop db"]


async def test_the_deadline_forces_the_rest_down_and_says_so() -> None:
    log: list[str] = []
    events: list[otp.app.AppEvent] = []
    root = [
        otp.ChildSpec("db", worker, ("db", log)),
        otp.ChildSpec("cache", slow_cleanup, ("cache", log), shutdown=otp.INFINITY),
    ]
    async with trio.open_nursery() as nursery:
        app = await start(root, nursery=nursery, shutdown_timeout=10, on_event=events.append)
        began = trio.current_time()
        app.stop()
        assert await app.wait() is ExitCode.FORCED
        assert trio.current_time() - began == pytest.approx(10, abs=0.5)
    forced = [e for e in events if isinstance(e, otp.app.ShutdownForced)]
    assert len(forced) == 1
    assert "deadline of 10 s" in forced[0].why
    assert forced[0].running == ("app/db",)  # cache is already stopping, db is next
    assert "cleaned cache" not in log
    assert "stop db" in log


async def test_a_second_stop_request_forces_at_once() -> None:
    log: list[str] = []
    root = [otp.ChildSpec("cache", slow_cleanup, ("cache", log), shutdown=otp.INFINITY)]
    async with trio.open_nursery() as nursery:
        app = await start(root, nursery=nursery)
        began = trio.current_time()
        app.stop()
        await trio.sleep(1)
        app.stop()
        assert await app.wait() is ExitCode.FORCED
        assert trio.current_time() - began < 2
    assert log == []


async def test_a_second_signal_forces() -> None:
    log: list[str] = []
    root = [otp.ChildSpec("cache", slow_cleanup, ("cache", log), shutdown=otp.INFINITY)]

    async def send() -> None:
        await trio.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
        await trio.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        assert await otp.app.serve(root) is ExitCode.FORCED
        assert trio.current_time() < 3


async def test_the_tree_giving_up_exits_1() -> None:
    async def crasher(*, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        await trio.sleep(1)
        raise RuntimeError("boom")

    events: list[otp.app.AppEvent] = []
    code = await otp.app.serve(
        otp.Tree([otp.ChildSpec("c", crasher)], intensity=1, period=10),
        signals=False,
        on_event=events.append,
    )
    assert code is ExitCode.GAVE_UP
    stops = [e for e in events if isinstance(e, otp.app.StopRequested)]
    assert "the tree stopped" in stops[0].cause


async def test_the_tree_ending_normally_exits_0() -> None:
    async def done(*, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        await trio.sleep(1)

    root = otp.Tree(
        [otp.ChildSpec("job", done, restart="transient", significant=True)],
        auto_shutdown="any_significant",
    )
    assert await otp.app.serve(root, signals=False) is ExitCode.OK


async def test_a_start_failure_names_the_child_path_and_stops_what_started() -> None:
    log: list[str] = []

    async def broken(*, task_status=trio.TASK_STATUS_IGNORED):
        raise ConnectionRefusedError("db down")

    root = [
        otp.ChildSpec("db", worker, ("db", log)),
        otp.supervisor_spec(
            "web", [otp.ChildSpec("w1", worker, ("w1", log)), otp.ChildSpec("w2", broken)]
        ),
    ]
    events: list[otp.app.AppEvent] = []
    after: list[str] = []

    async def flush() -> None:
        after.append("flushed")

    with pytest.raises(otp.app.AppStartError) as info:
        await otp.app.serve(
            root, name="shop", signals=False, on_event=events.append, after_stop=[flush]
        )
    assert info.value.path == "shop/web/w2"
    assert isinstance(info.value.error, ConnectionRefusedError)
    assert "shop/web/w2" in str(info.value)
    assert "db down" in str(info.value)
    assert log == ["start db", "start w1", "stop w1", "stop db"]
    assert after == ["flushed"]
    assert [type(e).__name__ for e in events] == ["AppStartFailed", "AppStopped"]
    assert events[-1].code is ExitCode.START_FAILED


def test_run_returns_start_failed_instead_of_raising() -> None:
    async def broken(*, task_status=trio.TASK_STATUS_IGNORED):
        raise RuntimeError("nope")

    assert otp.app.run([otp.ChildSpec("x", broken)], signals=False) is ExitCode.START_FAILED


async def test_stop_during_startup_stops_the_started_children_in_order() -> None:
    log: list[str] = []
    ready = trio.Event()

    async def hanging(*, task_status=trio.TASK_STATUS_IGNORED):
        ready.set()
        await trio.sleep_forever()

    root = [
        otp.ChildSpec("db", worker, ("db", log)),
        otp.ChildSpec("web", worker, ("web", log)),
        otp.ChildSpec("hang", hanging),
    ]
    async with trio.open_nursery() as nursery:

        async def signal_when_hanging() -> None:
            await ready.wait()
            os.kill(os.getpid(), signal.SIGTERM)

        nursery.start_soon(signal_when_hanging)
        assert await otp.app.serve(root) is ExitCode.SIGTERM
    assert log == ["start db", "start web", "stop web", "stop db"]


async def test_hooks_run_in_phases_and_a_failing_or_late_hook_does_not_stop_the_shutdown() -> None:
    log: list[str] = []
    events: list[otp.app.AppEvent] = []

    async def drain() -> None:
        log.append("drain")

    async def fails() -> None:
        raise ValueError("bad hook")

    async def hangs() -> None:
        await trio.sleep_forever()

    async def flush() -> None:
        log.append("flush")

    before = [
        otp.app.ShutdownHook("fails", fails),
        otp.app.ShutdownHook("hangs", hangs, timeout=2),
        drain,
    ]
    async with trio.open_nursery() as nursery:
        app = await start(
            [otp.ChildSpec("db", worker, ("db", log))],
            nursery=nursery,
            before_stop=before,
            after_stop=[flush],
            on_event=events.append,
        )
        app.stop()
        assert await app.wait() is ExitCode.OK
    assert log == ["start db", "drain", "stop db", "flush"]
    failed = [e for e in events if isinstance(e, otp.app.HookFailed)]
    late = [e for e in events if isinstance(e, otp.app.HookTimedOut)]
    assert [(e.phase, e.hook, type(e.error)) for e in failed] == [
        ("before_stop", "fails", ValueError)
    ]
    assert [(e.hook, e.timeout) for e in late] == [("hangs", 2.0)]


async def test_the_deadline_cuts_a_before_stop_hook_short_and_skips_the_rest() -> None:
    log: list[str] = []

    async def hangs() -> None:
        await trio.sleep_forever()

    async def never() -> None:
        log.append("never")

    async def after() -> None:
        log.append("after")

    async with trio.open_nursery() as nursery:
        app = await start(
            [otp.ChildSpec("db", worker, ("db", log))],
            nursery=nursery,
            shutdown_timeout=3,
            before_stop=[otp.app.ShutdownHook("hangs", hangs, timeout=100), never],
            after_stop=[after],
        )
        app.stop()
        assert await app.wait() is ExitCode.FORCED
        assert trio.current_time() < 4
    assert "never" not in log
    assert "after" not in log  # forcing skips what is left of the hooks
    assert "stop db" in log  # killed children still unwind their finally blocks


async def test_sighup_runs_the_reload_callback_and_its_failure_is_reported() -> None:
    calls: list[int] = []
    events: list[otp.app.AppEvent] = []

    async def reload() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise OSError("bad config")

    async def send() -> None:
        for _ in range(2):
            await trio.sleep(1)
            os.kill(os.getpid(), signal.SIGHUP)
        await trio.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        code = await otp.app.serve(
            [otp.ChildSpec("db", worker, ("db", []))], on_reload=reload, on_event=events.append
        )
    assert code is ExitCode.SIGTERM
    assert calls == [0, 1]
    kinds = [type(e).__name__ for e in events if "Reload" in type(e).__name__]
    assert kinds == ["Reloaded", "ReloadFailed"]


async def test_reload_without_a_callback_is_reported_and_ignored() -> None:
    events: list[otp.app.AppEvent] = []
    async with trio.open_nursery() as nursery:
        app = await start(
            [otp.ChildSpec("db", worker, ("db", []))], nursery=nursery, on_event=events.append
        )
        app.reload_soon()
        app.stop()
    assert [e.why for e in events if isinstance(e, otp.app.ReloadSkipped)] == ["no reload callback"]


async def test_a_dynamic_supervisor_spec_can_be_the_root() -> None:
    log: list[str] = []
    spec = otp.dynamic_supervisor_spec("pool", otp.ChildSpec("w", worker), name="pool")
    async with trio.open_nursery() as nursery:
        app = await start(spec, nursery=nursery)
        assert isinstance(app.root, otp.DynamicSupervisor)
        await app.root.start_child("x", log)
        app.stop()
        assert await app.wait() is ExitCode.OK
    assert log == ["start x", "stop x"]


async def test_a_failing_event_sink_is_logged_and_the_run_goes_on(caplog) -> None:
    def sink(event: otp.app.AppEvent) -> None:
        raise RuntimeError("sink broke")

    async with trio.open_nursery() as nursery:
        app = await start([otp.ChildSpec("db", worker, ("db", []))], nursery=nursery, on_event=sink)
        app.stop()
        assert await app.wait() is ExitCode.OK
    assert "event sink" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shutdown_timeout": 0}, "shutdown_timeout must be a number of seconds > 0"),
        ({"shutdown_timeout": "1"}, "shutdown_timeout must be a number of seconds > 0"),
        ({"before_stop": [print]}, "before_stop[0] must be a ShutdownHook or an async function"),
        ({"on_reload": 3}, "on_reload must be callable or None"),
        ({"name": 5}, "name must be a string or None"),
        ({"hooks": print}, "hooks must be a list of callables"),
    ],
)
def test_bad_options_are_rejected_before_anything_starts(options, message) -> None:
    with pytest.raises(otp.app.AppOptionError) as info:
        otp.app.run([], signals=False, **options)
    assert message in str(info.value)


def test_a_bad_root_is_rejected_naming_what_was_given() -> None:
    with pytest.raises(otp.app.AppOptionError, match="got 42"):
        otp.app.run(42, signals=False)  # type: ignore[arg-type]
    with pytest.raises(otp.app.AppOptionError, match="is a worker"):
        otp.app.run(otp.ChildSpec("w", worker), signals=False)
    with pytest.raises(otp.app.AppOptionError, match="timeout"):
        otp.app.ShutdownHook("h", worker, timeout=-1)


@pytest.mark.parametrize("name", otp.app.__all__)
def test_public_names_have_docstrings_with_examples_and_show_as_otp_app(name) -> None:
    obj = getattr(otp.app, name)
    doc = inspect.getdoc(obj)
    assert doc, f"otp.app.{name} has no docstring"
    assert "Example" in doc or "$ python" in doc, f"otp.app.{name}'s docstring has no example"
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__ == "otp.app"

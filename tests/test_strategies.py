"""Restart types and strategies, with Erlang/OTP's exact ordering."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio

import otp

from .harness import Harness, Recorder, settle


def ids(harness: Harness) -> list[tuple[str, str]]:
    return [(kind, child_id) for kind, child_id, *_ in harness.starts_and_stops()]


@pytest.mark.parametrize(
    ("restart", "how", "restarted"),
    [
        ("permanent", "crash", True),
        ("permanent", "finish", True),
        ("permanent", "shut_down", True),
        ("transient", "crash", True),
        ("transient", "finish", False),
        ("transient", "shut_down", False),
        ("temporary", "crash", False),
        ("temporary", "finish", False),
        ("temporary", "shut_down", False),
    ],
)
async def test_restart_types(restart: str, how: str, restarted: bool) -> None:
    harness = Harness()
    recorder = Recorder()
    async with otp.open_supervisor([harness.spec("x", restart=restart)], hooks=[recorder]) as sup:
        getattr(harness, how)("x")
        await settle()
        assert harness.starts["x"] == (2 if restarted else 1)
        exited = recorder.of(otp.ChildExited)
        assert len(exited) == 1
        assert exited[0].restarting is restarted
        expected_kind = {
            "crash": otp.ExitKind.ABNORMAL,
            "finish": otp.ExitKind.NORMAL,
            "shut_down": otp.ExitKind.SHUTDOWN,
        }[how]
        assert exited[0].reason.kind is expected_kind
        if restart == "temporary":
            assert sup.which_children() == []
        elif not restarted:
            [info] = sup.which_children()
            assert info.state is otp.ChildState.STOPPED
            assert info.child is None


async def test_one_for_one_restarts_only_the_child_that_exited() -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abc"]
    async with otp.open_supervisor(specs):
        harness.clear()
        harness.crash("b")
        await settle()
        assert ids(harness) == [("stop", "b"), ("start", "b")]


async def test_one_for_all_stops_others_in_reverse_then_starts_all_in_order() -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abcd"]
    recorder = Recorder()
    async with otp.open_supervisor(specs, strategy="one_for_all", hooks=[recorder]) as sup:
        harness.clear()
        harness.crash("b")
        await settle()
        assert ids(harness) == [
            ("stop", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]
        assert sup._intensity.restarts_in_window(trio.current_time()) == 1  # one charge
        assert [e.child_id for e in recorder.of(otp.ChildTerminated)] == ["d", "c", "a"]


async def test_rest_for_one_restarts_the_child_and_those_started_after_it() -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abcd"]
    async with otp.open_supervisor(specs, strategy="rest_for_one"):
        harness.clear()
        harness.crash("b")
        await settle()
        assert ids(harness) == [
            ("stop", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]


async def test_rest_for_one_counts_dynamically_added_children_as_later() -> None:
    harness = Harness()
    async with otp.open_supervisor(
        [harness.spec("a"), harness.spec("b")], strategy="rest_for_one"
    ) as sup:
        await sup.start_child(harness.spec("late"))
        harness.clear()
        harness.crash("a")
        await settle()
        assert ids(harness) == [
            ("stop", "a"),
            ("stop", "late"),
            ("stop", "b"),
            ("start", "a"),
            ("start", "b"),
            ("start", "late"),
        ]


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_group_restarts_drop_temporary_bystanders(strategy: str) -> None:
    harness = Harness()
    specs = [harness.spec("a"), harness.spec("t", restart="temporary"), harness.spec("c")]
    async with otp.open_supervisor(specs, strategy=strategy) as sup:
        harness.clear()
        harness.crash("a")
        await settle()
        assert [info.id for info in sup.which_children()] == ["c", "a"]
        assert ("start", "t") not in ids(harness)
        assert ("stop", "t") in ids(harness)


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_group_restarts_also_start_siblings_stopped_by_terminate_child(
    strategy: str,
) -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abc"]
    async with otp.open_supervisor(specs, strategy=strategy) as sup:
        await sup.terminate_child("c")
        harness.clear()
        harness.crash("a")
        await settle()
        assert ("start", "c") in ids(harness)
        assert all(info.state is otp.ChildState.RUNNING for info in sup.which_children())


async def test_transient_normal_exit_in_a_group_restarts_nobody() -> None:
    harness = Harness()
    specs = [harness.spec("a", restart="transient"), harness.spec("b")]
    async with otp.open_supervisor(specs, strategy="one_for_all") as sup:
        harness.clear()
        harness.finish("a")
        await settle()
        assert ids(harness) == [("stop", "a")]
        assert sup._intensity.restarts_in_window(trio.current_time()) == 0


async def test_a_crash_during_a_group_restart_is_not_charged_twice() -> None:
    """A sibling that dies while it is being stopped is part of the same restart."""
    harness = Harness()
    harness.cleanup_seconds["c"] = 1.0  # c takes a second to stop, meanwhile b crashes
    specs = [harness.spec(name) for name in "abc"]
    async with otp.open_supervisor(specs, strategy="one_for_all", intensity=1) as sup:
        harness.crash("a")
        await trio.sleep(0.5)
        harness.crash("b")
        await trio.sleep(2)
        assert sup.running
        assert harness.starts == {"a": 2, "b": 2, "c": 2}


async def test_one_for_all_retries_the_whole_group_when_a_restart_fails() -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abc"]
    recorder = Recorder()
    async with otp.open_supervisor(
        specs, strategy="one_for_all", intensity=5, hooks=[recorder]
    ) as sup:
        harness.fail_starts["b"] = 1
        harness.clear()
        harness.crash("a")
        await settle()
        assert ids(harness) == [
            ("stop", "a"),
            ("stop", "c"),
            ("stop", "b"),
            ("start", "a"),
            # b fails to start: a (already restarted) is stopped, the whole group retried
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
        ]
        assert sup._intensity.restarts_in_window(trio.current_time()) == 2
        assert [e.child_id for e in recorder.of(otp.ChildStartFailed)] == ["b"]


async def test_rest_for_one_retries_from_the_failed_child() -> None:
    harness = Harness()
    specs = [harness.spec(name) for name in "abcd"]
    async with otp.open_supervisor(specs, strategy="rest_for_one", intensity=5) as sup:
        harness.fail_starts["c"] = 1
        harness.clear()
        harness.crash("b")
        await settle()
        assert ids(harness) == [
            ("stop", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("start", "b"),
            # c fails: b stays up, the retry starts from c
            ("start", "c"),
            ("start", "d"),
        ]
        assert sup._intensity.restarts_in_window(trio.current_time()) == 2


async def test_a_failed_restart_shows_restarting_and_is_retried_after_queued_calls() -> None:
    attempts = 0

    async def slow_to_fail(*, task_status: trio.TaskStatus[None]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 2:
            await trio.sleep(1)
            raise RuntimeError("not yet")
        task_status.started()
        await trio.sleep_forever()

    harness = Harness()
    order: list[str] = []
    async with otp.open_supervisor(
        [otp.ChildSpec("a", slow_to_fail), harness.spec("b")], intensity=5
    ) as sup:
        child = sup.get_child("a")
        assert child is not None
        child._scope.cancel()  # ends it normally; it is permanent, so it is restarted
        await settle()  # the supervisor is now inside the restart that will fail
        # An admin call queued now runs between the failed restart and its retry, as a
        # call does in Erlang (the retry is a message the supervisor sends itself).
        await sup.terminate_child("b")
        order.append(sup.which_children()[1].state.value)
        await settle()
        assert order == ["restarting"]
        assert attempts == 3
        assert sup.get_child("a") is not None


async def test_restart_of_an_ignoring_child_leaves_it_stopped() -> None:
    harness = Harness()
    async with otp.open_supervisor([harness.spec("a")]) as sup:
        harness.ignore.add("a")
        harness.crash("a")
        await settle()
        [info] = sup.which_children()
        assert info.state is otp.ChildState.STOPPED
        assert harness.starts["a"] == 2


async def test_nested_supervisor_is_restarted_by_its_parent_like_any_child() -> None:
    harness = Harness()
    tree = [
        harness.spec("a"),
        otp.supervisor_spec("inner", [harness.spec("x"), harness.spec("y")], intensity=0),
        harness.spec("b"),
    ]
    async with otp.open_supervisor(tree, strategy="rest_for_one") as sup:
        inner = sup.get_child("inner")
        assert inner is not None
        assert isinstance(inner.value, otp.Supervisor)
        assert inner.value.name == "supervisor/inner"
        harness.clear()
        harness.crash("x")  # intensity 0: inner gives up at once, its parent restarts it
        await settle()
        assert ids(harness) == [
            ("stop", "x"),
            ("stop", "y"),
            ("stop", "b"),
            ("start", "x"),
            ("start", "y"),
            ("start", "b"),
        ]
        new_inner = sup.get_child("inner")
        assert new_inner is not None
        assert new_inner is not inner
        assert inner.exit is not None
        assert inner.exit.kind is otp.ExitKind.SHUTDOWN
        assert isinstance(inner.exit.exception, otp.RestartIntensityExceeded)


async def test_transient_nested_supervisor_that_gave_up_stays_down() -> None:
    harness = Harness()
    tree = [
        otp.supervisor_spec("inner", [harness.spec("x")], intensity=0, restart="transient"),
        harness.spec("b"),
    ]
    recorder = Recorder()
    async with otp.open_supervisor(tree, hooks=[recorder]) as sup:
        harness.crash("x")
        await settle()
        states = {info.id: info.state for info in sup.which_children()}
        assert states == {"inner": otp.ChildState.STOPPED, "b": otp.ChildState.RUNNING}
        # The root's own report (nested supervisors report to inherited hooks too).
        [exited] = [e for e in recorder.of(otp.ChildExited) if e.supervisor == "supervisor"]
        assert exited.child_id == "inner"
        assert not exited.reason.abnormal
        assert exited.restarting is False


async def test_escalation_climbs_until_a_supervisor_can_restart() -> None:
    harness = Harness()
    tree = [
        otp.supervisor_spec(
            "mid",
            [otp.supervisor_spec("leaf", [harness.spec("x")], intensity=0)],
            intensity=0,
        ),
        harness.spec("sibling"),
    ]
    recorder = Recorder()
    async with otp.open_supervisor(tree, intensity=1, hooks=[recorder]) as sup:
        harness.crash("x")
        await settle()
        # leaf gave up, so mid had to restart it and gave up too; root restarted mid.
        assert harness.starts["x"] == 2
        assert harness.starts["sibling"] == 1
        [exited] = [e for e in recorder.of(otp.ChildExited) if e.supervisor == "supervisor"]
        assert exited.child_id == "mid"
        assert sup.running


async def test_top_level_escalation_raises_out_of_the_tree() -> None:
    harness = Harness()
    tree = [otp.supervisor_spec("leaf", [harness.spec("x")], intensity=0), harness.spec("y")]
    with pytest.RaisesGroup(otp.RestartIntensityExceeded) as info:
        async with otp.open_supervisor(tree, intensity=0, name="root") as sup:
            harness.crash("x")
            await sup.wait()
    error = info.value.exceptions[0]
    assert isinstance(error, otp.RestartIntensityExceeded)
    assert error.supervisor == "root"
    assert error.child_id == "leaf"
    assert isinstance(error.__cause__, otp.RestartIntensityExceeded)
    assert harness.starts_and_stops()[-1] == ("stop", "y")


async def test_supervisor_started_with_nursery_start_raises_bare_escalation() -> None:
    harness = Harness()
    # Exactly one level of group: the nursery's own. The supervisor raised bare.
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(otp.supervisor, [harness.spec("x")], intensity=0))
            harness.crash("x")


@pytest.mark.parametrize("strategy", ["rest_for_one", "one_for_all"])
async def test_a_failing_group_restart_shows_only_the_child_being_restarted_as_restarting(
    strategy: str,
) -> None:
    # Erlang/OTP: while a group restart is retried (try_again), the child being restarted is
    # `restarting` and the siblings it stopped have no pid (`stopped`) until started again.
    failing = True

    async def flaky(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if failing:
            raise RuntimeError("cannot start")
        task_status.started()
        await trio.sleep_forever()

    harness = Harness()
    specs = [harness.spec("a"), harness.spec("b"), otp.ChildSpec("c", flaky), harness.spec("d")]
    backoff = otp.Backoff(min=1.0, max=1.0)
    failing = False
    async with otp.open_supervisor(
        specs, strategy=strategy, backoff=backoff, intensity=100, period=1000
    ) as sup:
        failing = True
        harness.crash("b")
        for _ in range(3):  # the first restart of b's group, then retries from c that fail
            await trio.sleep(1)
            await settle()
            states = {info.id: info.state.value for info in sup.which_children()}
            assert states["c"] == "restarting"
            assert states["d"] == "stopped"
            assert states["a"] == ("running" if strategy == "rest_for_one" else "stopped")
            assert list(states.values()).count("restarting") == 1
        failing = False
        await trio.sleep(1)
        await settle()
        assert {info.state.value for info in sup.which_children()} == {"running"}


async def test_a_stopped_sibling_waiting_in_a_group_restart_can_be_started_by_hand() -> None:
    harness = Harness()
    backoff = otp.Backoff(min=5.0, max=5.0)
    specs = [harness.spec(name) for name in "abc"]
    async with otp.open_supervisor(specs, strategy="rest_for_one", backoff=backoff) as sup:
        harness.crash("b")
        await settle()
        assert sup.which_children()[0].state is otp.ChildState.STOPPED  # c, newest first
        with pytest.raises(otp.ChildRestarting):
            await sup.restart_child("b")  # the child being restarted waits for its turn
        await sup.restart_child("c")
        harness.clear()
        await trio.sleep(5)
        await settle()
        assert [e for e in harness.starts_and_stops() if e[0] == "start"] == [("start", "b")]
        assert {info.state.value for info in sup.which_children()} == {"running"}

"""otp.FilteredHook: hooks that want some events only, and records built only when wanted."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import trio
import trio.testing

import otp
from otp._reports import Reporter

from .harness import Harness


def test_a_filtered_hook_is_given_only_the_types_it_names() -> None:
    seen: list[object] = []
    hook = otp.FilteredHook(seen.append, otp.ChildExited)
    assert hook.events == (otp.ChildExited,)
    assert hook.wants(otp.ChildExited)
    assert not hook.wants(otp.ChildStarted)
    exited = otp.ChildExited("root", 0.0, "db", otp.ExitReason(otp.ExitKind.NORMAL), False)
    hook(otp.SupervisorStopped("root", 0.0, "normal"))
    hook(exited)
    assert seen == [exited]


def test_a_base_class_takes_in_its_subclasses() -> None:
    hook = otp.FilteredHook(print, [otp.SupervisorStarted, otp.BreakerEvent])
    assert hook.wants(otp.BreakerStateChanged)
    assert hook.wants(otp.SupervisorStarted)
    assert not hook.wants(otp.ChildExited)


@pytest.mark.parametrize(
    ("hook", "events", "message"),
    [
        ("print", otp.ChildExited, "hook must be a callable taking an event (got 'print')"),
        (print, [], "events must name at least one event class (got none)"),
        (print, "ChildExited", "events must be event classes (got 'ChildExited')"),
        (print, [otp.ChildExited, 3], "events[1] must be an event class (got 3)"),
    ],
)
def test_bad_filtered_hooks_are_refused_when_made(hook: Any, events: Any, message: str) -> None:
    with pytest.raises(otp.ChildSpecError, match=re.escape(message)):
        otp.FilteredHook(hook, events)


def test_a_record_nobody_wants_is_not_built(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="otp.supervisor")
    reporter = Reporter("root", [otp.FilteredHook(print, otp.ChildExited)])
    assert reporter.wants(otp.ChildExited)
    assert not reporter.wants(otp.ChildStarted)
    assert not reporter.wants(otp.SupervisorEvent)
    caplog.set_level(logging.INFO, logger="otp.supervisor")
    assert reporter.wants(otp.ChildStarted)  # the log wants it now


async def test_supervisors_deliver_only_the_wanted_events() -> None:
    harness = Harness()
    exits: list[otp.SupervisorEvent] = []
    everything: list[otp.SupervisorEvent] = []
    hooks = [otp.FilteredHook(exits.append, otp.ChildExited), everything.append]
    async with otp.open_supervisor([harness.spec("a")], name="root", hooks=hooks) as sup:
        harness.crash("a")
        await trio.testing.wait_all_tasks_blocked()
        [started] = [e for e in everything if isinstance(e, otp.SupervisorStarted)]
        assert started.handle is sup
    assert [type(event) for event in exits] == [otp.ChildExited]
    assert {type(event) for event in everything} >= {otp.ChildStarted, otp.ChildExited}


async def test_a_failing_filtered_hook_is_logged_and_the_tree_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()

    def broken(event: object) -> None:
        raise RuntimeError("hook bug")

    async with otp.open_supervisor(
        [harness.spec("a")], name="root", hooks=[otp.FilteredHook(broken, otp.ChildExited)]
    ) as sup:
        harness.crash("a")
        await trio.testing.wait_all_tasks_blocked()
        assert sup.restarts == 1
    assert any("hook" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)

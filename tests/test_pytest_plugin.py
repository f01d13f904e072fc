"""The opt-in pytest plugin, run the way a user's test suite would run it."""

from __future__ import annotations

import pytest

USER_TESTS = """
import trio
import trio.testing
import otp
from otp.testing import Fault, FaultPlan


async def worker(*, task_status=trio.TASK_STATUS_IGNORED):
    task_status.started()
    await trio.sleep(1)
    raise ValueError("boom")


async def steady(*, task_status=trio.TASK_STATUS_IGNORED):
    task_status.started()
    await trio.sleep_forever()


async def test_a_crash_is_restarted(otp_trees, otp_recorder, autojump_clock):
    await otp_trees.start([otp.ChildSpec("w", worker)], intensity=100)
    event = await otp_recorder.wait_for(otp.ChildStarted, child_id="w", restart=True)
    assert event.time == 1.0


async def test_a_fault_plan(otp_trees, otp_recorder, autojump_clock):
    plan = FaultPlan((Fault(3.0, "crash", "s"),))
    await otp_trees.start([otp.ChildSpec("s", steady)], faults=plan)
    event = await otp_recorder.wait_for(otp.ChildExited, child_id="s")
    assert event.time == 3.0
    assert otp_trees.injectors[0].records[0].applied


async def test_dynamic_trees_are_stopped_too(otp_trees, autojump_clock):
    pool = await otp_trees.start_dynamic(otp.ChildSpec("s", steady))
    await pool.start_child()


async def test_a_leaked_task_is_caught(otp_trees):
    # A tree started where the fixture cannot see it, and left running, is reported.
    async def leak():
        async with otp.open_supervisor([otp.ChildSpec("s", steady)]):
            await trio.sleep_forever()

    trio.lowlevel.spawn_system_task(leak)
    await trio.testing.wait_all_tasks_blocked()
"""


def test_the_plugin_in_a_user_suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["otp.testing.pytest_plugin"]\n')
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    # pytest-trio reports a failing fixture teardown as a failure of the test.
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["*2 otp task(s) still running: otp.child:supervisor/s, otp.supervisor*"]
    )

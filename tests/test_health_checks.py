"""Declared health checks: each outcome of one run, and declarations refused up front."""

from __future__ import annotations

import functools

import pytest
import trio

import otp.health
from otp.health import Check, Failing, HealthDeclarationError, HealthStatus
from otp.health._check import run_check


async def passes() -> bool:
    return True


async def returns_none() -> None:
    await trio.sleep(0.25)


async def returns_false() -> bool:
    return False


async def says_why() -> Failing:
    return Failing("replica 12 s behind")


async def raises() -> None:
    raise ConnectionRefusedError("db refused the connection")


async def raises_several() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(raises)
        nursery.start_soon(raises)


async def hangs() -> None:
    await trio.sleep_forever()


async def swallows_cancellation() -> bool:
    with trio.CancelScope(shield=True):
        await trio.sleep(3)
    return True


async def returns_junk() -> int:
    return 42


@pytest.mark.parametrize(
    ("func", "passed", "reason"),
    [
        (passes, True, ""),
        (returns_none, True, ""),
        (returns_false, False, "returned False"),
        (says_why, False, "replica 12 s behind"),
        (raises, False, "ConnectionRefusedError: db refused the connection"),
        (
            raises_several,
            False,
            (
                "ConnectionRefusedError: db refused the connection; "
                "ConnectionRefusedError: db refused the connection"
            ),
        ),
        (hangs, False, "timed out after 1.5 s"),
        (swallows_cancellation, False, "timed out after 1.5 s"),
        (
            returns_junk,
            False,
            "returned 42; a check returns True, None, False or otp.health.Failing(reason)",
        ),
    ],
)
async def test_one_run_of_a_check(func: object, passed: bool, reason: str) -> None:
    check = Check("probe", func, timeout=1.5)  # type: ignore[arg-type]
    began = trio.current_time()
    result = await run_check(check, "root/db")
    assert (result.passed, result.reason) == (passed, reason)
    assert result.path == "root/db"
    assert result.check == "probe"
    assert result.time == trio.current_time()
    assert result.duration == trio.current_time() - began
    if func is hangs:
        assert result.duration == 1.5  # cut off exactly at its timeout


async def test_a_check_that_times_out_is_cancelled_not_left_running() -> None:
    cancelled = []

    async def notices() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(trio.current_time())
            raise

    result = await run_check(Check("slow", notices, timeout=2), "")
    assert result.reason == "timed out after 2 s"
    assert cancelled == [2.0]


async def test_cancellation_from_outside_is_not_a_failure() -> None:
    with trio.move_on_after(0.5) as scope:
        await run_check(Check("slow", hangs, timeout=5), "root/db")
    assert scope.cancelled_caught


async def test_keyboard_interrupt_is_not_swallowed() -> None:
    async def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await run_check(Check("k", interrupted), "")


async def test_failing_results_become_findings_by_criticality() -> None:
    critical = await run_check(Check("ping", raises), "root/db")
    optional = await run_check(Check("ping", raises, critical=False), "root/db")
    fine = await run_check(Check("ping", passes), "root/db")
    assert critical.finding.status is HealthStatus.UNHEALTHY
    assert optional.finding.status is HealthStatus.DEGRADED
    assert fine.finding.status is HealthStatus.HEALTHY
    assert str(critical.finding) == (
        "root/db: check 'ping': ConnectionRefusedError: db refused the connection"
    )


def test_partials_and_async_callable_objects_are_accepted() -> None:
    class Probe:
        async def __call__(self) -> bool:
            return True

    async def ping(host: str) -> bool:
        return bool(host)

    Check("a", functools.partial(ping, "db"))
    Check("b", Probe())
    check = Check("c", passes, timeout=2, interval=10, critical=False)
    assert (check.timeout, check.interval, check.critical) == (2.0, 10.0, False)
    assert isinstance(check.timeout, float)


def sync_ping() -> bool:
    return True


async def agen() -> object:
    yield True


class SyncProbe:
    def __call__(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "check name must be a non-empty string (got '')"),
        ({"name": 3}, "check name must be a non-empty string (got 3)"),
        (
            {"func": sync_ping},
            (
                "check 'ping': func must be an async function of no arguments "
                "(got sync callable 'sync_ping'); define it with 'async def'"
            ),
        ),
        ({"func": agen}, "(got async generator 'agen')"),
        ({"func": SyncProbe()}, "(got sync callable 'SyncProbe')"),
        ({"func": functools.partial(sync_ping)}, "(got sync callable 'partial')"),
        ({"func": len}, "(got sync callable 'len')"),
        ({"func": "ping"}, "check 'ping': func must be an async function (got 'ping')"),
        ({"timeout": 0}, "check 'ping': timeout must be a number > 0 (got 0)"),
        ({"timeout": -1.0}, "timeout must be a number > 0 (got -1.0)"),
        ({"timeout": float("nan")}, "timeout must be a number > 0 (got nan)"),
        ({"timeout": "1"}, "timeout must be a number > 0 (got '1')"),
        ({"timeout": True}, "timeout must be a number > 0 (got True)"),
        ({"interval": 0}, "interval must be a finite number > 0 (got 0)"),
        ({"interval": float("inf")}, "interval must be a finite number > 0 (got inf)"),
        ({"critical": "yes"}, "check 'ping': critical must be True or False (got 'yes')"),
    ],
)
def test_bad_declarations_are_refused_with_the_problem_named(
    kwargs: dict[str, object], message: str
) -> None:
    options: dict[str, object] = {"name": "ping", "func": passes, **kwargs}
    name, func = options.pop("name"), options.pop("func")
    with pytest.raises(HealthDeclarationError) as caught:
        Check(name, func, **options)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert isinstance(caught.value, otp.OtpError)


def test_an_infinite_timeout_is_allowed() -> None:
    assert Check("ping", passes, timeout=float("inf")).timeout == float("inf")

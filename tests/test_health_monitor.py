"""The monitor under a real supervisor: checks over time, findings from the tree, changes."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
import trio

import otp
import otp.health
from otp.health import Check, Failing, HealthChanged, HealthDeclarationError, HealthMonitor

HEALTHY = otp.health.HealthStatus.HEALTHY
DEGRADED = otp.health.HealthStatus.DEGRADED
UNHEALTHY = otp.health.HealthStatus.UNHEALTHY


class Changes(list[HealthChanged]):
    """An on_change callback that keeps what it is given."""

    def __call__(self, change: HealthChanged) -> None:
        self.append(change)

    def of(self, path: str) -> list[tuple[float, str, str]]:
        return [(c.time, c.old.value, c.new.value) for c in self if c.path == path]


async def crashes_after(delay: float, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep(delay)
    raise RuntimeError("disk on fire")


async def idle(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep_forever()


async def slow_start(delay: float, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    await trio.sleep(delay)
    task_status.started()
    await trio.sleep_forever()


async def test_a_crashing_child_degrades_its_path_until_it_restarts() -> None:
    changes = Changes()
    monitor = HealthMonitor(on_change=[changes])
    tree = [monitor.child_spec(), otp.ChildSpec("db", crashes_after, (3,))]
    async with otp.open_supervisor(
        tree, name="root", hooks=[monitor.hook], backoff=otp.Backoff(2, 2), intensity=10
    ):
        await trio.sleep(4)
        report = monitor.report
        assert report.status is DEGRADED
        assert report.reasons == (
            "root/db: restarting: exited: abnormal (RuntimeError: disk on fire)",
        )
        assert report.subtree("root/db").status is DEGRADED
        assert report.subtree("root/health").status is HEALTHY
        assert report.ready  # degraded is still ready
        await trio.sleep(2)
        assert monitor.report.status is HEALTHY
    # Crash at 3, restarted at 5 (backoff 2): one change per path each way, nothing else.
    assert [(c.path, c.time, c.old.value, c.new.value) for c in changes] == [
        ("", 3.0, "healthy", "degraded"),
        ("root", 3.0, "healthy", "degraded"),
        ("root/db", 3.0, "healthy", "degraded"),
        ("", 5.0, "degraded", "healthy"),
        ("root", 5.0, "degraded", "healthy"),
        ("root/db", 5.0, "degraded", "healthy"),
    ]
    assert changes[0].reasons == (
        "root/db: restarting: exited: abnormal (RuntimeError: disk on fire)",
    )
    assert changes[3].reasons == ()


async def test_a_supervisor_that_gives_up_makes_the_tree_unhealthy_and_not_alive() -> None:
    changes = Changes()
    monitor = HealthMonitor(on_change=[changes])
    workers = otp.supervisor_spec(
        "workers",
        [otp.ChildSpec("w", crashes_after, (1,))],
        intensity=1,
        period=10,
        restart="temporary",
    )
    tree = [monitor.child_spec(), workers]
    async with otp.open_supervisor(tree, name="root", hooks=[monitor.hook]):
        await trio.sleep(5)
        report = monitor.report
        assert report.status is UNHEALTHY
        assert not report.alive
        assert not report.ready
        assert report.subtree("root/workers").status is UNHEALTHY
        assert report.subtree("root/health").status is HEALTHY
        assert report.reasons[0].startswith(
            "root/workers: gave up: reached max restart intensity (1 in 10 s) after child 'w'"
        )
    # Crashed at 1 and restarted at once; crashed at 2 and the supervisor gave up.
    assert changes.of("") == [
        (1.0, "healthy", "degraded"),
        (1.0, "degraded", "healthy"),
        (2.0, "healthy", "unhealthy"),
    ]


async def test_a_hung_child_is_reported_through_liveness() -> None:
    async def beats_then_hangs(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        for _ in range(5):
            await trio.sleep(1)
            otp.heartbeat()
        await trio.sleep_forever()

    changes = Changes()
    monitor = HealthMonitor(on_change=[changes])
    spec = otp.ChildSpec("peer", beats_then_hangs, liveness=otp.Heartbeat(interval=1.0))
    async with otp.open_supervisor(
        [monitor.child_spec(), spec], name="root", hooks=[monitor.hook], backoff=otp.Backoff(5, 5)
    ):
        await trio.sleep(12)
        [reason] = monitor.report.reasons
        assert reason.startswith("root/peer: liveness: hung, restarting: hung")
        assert "sent no heartbeat" in reason
    [(_, old, new), *_] = changes.of("root/peer")
    assert (old, new) == ("healthy", "degraded")


async def test_checks_run_every_interval_and_changes_fire_only_on_a_change() -> None:
    answers = iter([True, True, False, False, Failing("lag 30 s"), True, True])
    runs: list[float] = []

    async def lag() -> bool | Failing:
        runs.append(trio.current_time())
        return next(answers)

    changes = Changes()
    monitor = HealthMonitor({"root/db": Check("lag", lag, interval=10)}, on_change=[changes])
    async with otp.open_supervisor(
        [monitor.child_spec(), otp.ChildSpec("db", idle)], name="root", hooks=[monitor.hook]
    ):
        await trio.sleep(65)
    assert runs == [0, 10, 20, 30, 40, 50, 60]
    assert changes.of("root/db") == [(20.0, "healthy", "unhealthy"), (50.0, "unhealthy", "healthy")]
    [first, *_] = [c for c in changes if c.path == "root/db"]
    assert first.reasons == ("root/db: check 'lag': returned False",)


async def test_a_non_critical_check_only_degrades() -> None:
    async def broken() -> None:
        raise OSError("no space left")

    monitor = HealthMonitor(
        {"root/disk": [Check("free", broken, critical=False)], "": [Check("ok", idle_check)]}
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        assert monitor.report.status is DEGRADED
        assert monitor.report.reasons == ("root/disk: check 'free': OSError: no space left",)
        assert [r.check for r in monitor.report.checks] == ["ok", "free"]
        assert monitor.report.started  # not under a supervisor: its own start counts
        nursery.cancel_scope.cancel()


async def idle_check() -> bool:
    return True


async def test_a_hanging_check_is_cut_off_and_the_monitor_keeps_going() -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    monitor = HealthMonitor({"root/db": [Check("ping", hangs, timeout=1, interval=3)]})
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        assert trio.current_time() == 1.0  # started after the first round
        assert monitor.report.reasons == ("root/db: check 'ping': timed out after 1 s",)
        await trio.sleep(10)
        assert monitor.report.checks[0].time == 10.0  # runs at 0, 3, 6, 9 (each ends 1 s on)
        nursery.cancel_scope.cancel()


async def test_the_tree_is_ready_only_after_it_reported_started() -> None:
    monitor = HealthMonitor()
    tree = [monitor.child_spec(), otp.ChildSpec("slow", slow_start, (5,))]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            functools.partial(otp.supervisor, tree, name="root", hooks=[monitor.hook])
        )
        await trio.sleep(2)
        assert monitor.report.status is HEALTHY
        assert not monitor.report.started
        assert not monitor.report.ready
        await trio.sleep(4)
        assert monitor.report.ready
        nursery.cancel_scope.cancel()


async def test_restarting_children_are_seen_through_which_children_without_the_hook() -> None:
    monitor = HealthMonitor(poll_interval=0.5, breakers={"": otp.CircuitBreaker("x")})
    workers = otp.supervisor_spec(
        "workers", [otp.ChildSpec("w", crashes_after, (1,))], backoff=otp.Backoff(3, 3)
    )
    async with otp.open_supervisor([monitor.child_spec(), workers], name="root"):
        await trio.sleep(2)
        assert monitor.report.reasons == ("root/workers/w: restarting: restart pending",)
        await trio.sleep(2.75)  # restarted at 4, next crash at 5
        assert monitor.report.status is HEALTHY


async def test_an_open_breaker_degrades_at_once_with_the_breaker_hook() -> None:
    changes = Changes()
    monitor = HealthMonitor(poll_interval=1000, on_change=[changes])
    breaker = otp.CircuitBreaker(
        "db", otp.BreakerConfig(reset_timeout=30), hooks=[monitor.breaker_hook]
    )
    monitor.watch("root/api", breaker)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        await trio.sleep(1)
        breaker.open()
        await trio.sleep(0.001)
        assert monitor.report.reasons == ("root/api: breaker 'db': open",)
        breaker.close()
        await trio.sleep(0.001)
        assert monitor.report.status is HEALTHY
        nursery.cancel_scope.cancel()
    assert changes.of("root/api") == [(1.0, "healthy", "degraded"), (1.001, "degraded", "healthy")]


async def test_a_breaker_is_polled_and_goes_half_open_then_closed() -> None:
    breaker = otp.CircuitBreaker("db", otp.BreakerConfig(reset_timeout=5))
    changes = Changes()
    monitor = HealthMonitor(breakers={"root/api": [breaker]}, on_change=[changes])
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        breaker.open()
        await trio.sleep(1.5)
        assert monitor.report.reasons == ("root/api: breaker 'db': open",)
        await trio.sleep(5)
        assert monitor.report.reasons == ("root/api: breaker 'db': half-open (trial calls)",)
        await breaker.call(idle_check)
        await trio.sleep(1)
        assert monitor.report.status is HEALTHY
        nursery.cancel_scope.cancel()
    assert changes.of("root/api") == [(1.0, "healthy", "degraded"), (7.0, "degraded", "healthy")]


async def test_a_suspicious_detector_degrades_its_path() -> None:
    detector = otp.PhiAccrualDetector()
    monitor = HealthMonitor(detectors={"root/peer": detector}, poll_interval=0.5)
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            detector.heartbeat()
            await trio.sleep(1)
        await nursery.start(monitor.run)
        assert monitor.report.status is HEALTHY
        await trio.sleep(30)  # no beats: the detector suspects its peer
        [reason] = monitor.report.reasons
        assert reason.startswith("root/peer: liveness: suspected (phi ")
        assert reason.endswith(">= threshold 8)")
        detector.heartbeat()
        await trio.sleep(0.5)
        assert monitor.report.status is HEALTHY
        nursery.cancel_scope.cancel()


async def test_a_raising_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(change: HealthChanged) -> None:
        raise ValueError("callback bug")

    changes = Changes()

    async def fails() -> bool:
        return False

    monitor = HealthMonitor({"": [Check("f", fails)]}, on_change=[broken, changes])
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        nursery.cancel_scope.cancel()
    assert [c.path for c in changes] == [""]
    [record] = [r for r in caplog.records if r.name == "otp.health"]
    assert record.levelno == logging.ERROR
    assert "on_change callback" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_one_monitor_runs_once_at_a_time() -> None:
    monitor = HealthMonitor()
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)
        with pytest.raises(RuntimeError, match="already running"):
            await monitor.run()
        nursery.cancel_scope.cancel()
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run)  # and again once it stopped
        nursery.cancel_scope.cancel()


async def test_the_monitor_restarts_with_its_state_under_its_supervisor() -> None:
    changes = Changes()
    monitor = HealthMonitor(on_change=[changes])
    async with otp.open_supervisor(
        [monitor.child_spec(), otp.ChildSpec("db", idle)], name="root", hooks=[monitor.hook]
    ) as sup:
        await sup.terminate_child("health")
        await sup.restart_child("health")
        await trio.sleep(1)
        assert monitor.report.ready
    assert changes == []


async def echo_check() -> bool:
    return True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checks": [Check("a", echo_check)]}, "checks must be a mapping of paths (got ["),
        ({"checks": {"/root": [Check("a", echo_check)]}}, "checks keys must be tree paths"),
        ({"checks": {3: [Check("a", echo_check)]}}, "got 3"),
        ({"checks": {"root/db": [echo_check]}}, "checks['root/db'] must hold otp.health.Check"),
        ({"checks": {"root/db": "ping"}}, "must hold otp.health.Check objects (got 'ping')"),
        (
            {"checks": {"r": [Check("a", echo_check), Check("a", echo_check)]}},
            "two checks share a name at one path ('r': 'a')",
        ),
        ({"breakers": {"r": "db"}}, "breakers['r'] must hold otp.CircuitBreaker objects"),
        ({"detectors": {"r": 1}}, "detectors['r'] must hold otp.PhiAccrualDetector objects"),
        ({"on_change": "print"}, "on_change must be a sequence of callables (got 'print')"),
        ({"on_change": [1]}, "on_change must hold callables (got 1)"),
        ({"poll_interval": 0}, "poll_interval must be a finite number > 0 (got 0)"),
        ({"poll_interval": float("inf")}, "(got inf)"),
        ({"tree": 5}, "tree must be a supervisor name (got 5)"),
    ],
)
def test_bad_monitor_declarations_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(HealthDeclarationError) as caught:
        HealthMonitor(**kwargs)
    assert message in str(caught.value)


def test_watch_takes_only_breakers_and_detectors() -> None:
    monitor = HealthMonitor()
    with pytest.raises(HealthDeclarationError, match=r"must be an otp\.CircuitBreaker or an"):
        monitor.watch("root", "db")  # type: ignore[arg-type]
    with pytest.raises(HealthDeclarationError, match="watch keys must be tree paths"):
        monitor.watch("root/", otp.CircuitBreaker("db"))


def test_a_single_callback_or_check_needs_no_list() -> None:
    monitor = HealthMonitor({"r": Check("a", echo_check)}, on_change=print)  # type: ignore[arg-type]
    assert "1 checks" in repr(monitor)

"""otp.tasks: the executor's queue, priorities, timeouts, retries, cancellation and stop."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import otp
import otp.metrics
import otp.tasks
from otp.tasks import JobStatus, Priority, Retry
from otp.tasks._queue import JobQueue

NO_JITTER = Retry(attempts=3, backoff=otp.Backoff(0.1, 30.0))


async def echo(value: object) -> object:
    await trio.lowlevel.checkpoint()
    return value


async def boom(message: str = "boom") -> None:
    await trio.lowlevel.checkpoint()
    raise ValueError(message)


class Flaky:
    """Fails ``failures`` times (recording when), then returns ``"ok"``."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        if len(self.calls) <= self.failures:
            raise self.error(f"failure {len(self.calls)}")
        return "ok"


# --- the basics --------------------------------------------------------------------------------


async def test_a_job_runs_and_its_handle_gives_the_result() -> None:
    async with otp.tasks.open_executor("jobs") as executor:
        handle = await executor.submit(echo, 42)
        assert handle.status is JobStatus.QUEUED
        assert repr(handle) == "<otp.tasks.JobHandle #1 'echo' (queued)>"
        assert await handle == 42
        assert await handle.result() == 42  # again, at once
        assert handle.status is JobStatus.SUCCEEDED
        assert handle.done
        assert handle.attempts == 1
        assert "attempt 1" in repr(handle)


async def test_jobs_run_by_priority_then_in_order_of_submission() -> None:
    ran: list[str] = []
    gate = trio.Event()

    async def job(label: str) -> None:
        ran.append(label)
        await trio.lowlevel.checkpoint()

    async with otp.tasks.open_executor(concurrency=1) as executor:
        await executor.submit(gate.wait)  # holds the only worker while the rest queue
        await trio.testing.wait_all_tasks_blocked()
        for label, priority in [
            ("low", Priority.LOW),
            ("normal-1", Priority.NORMAL),
            ("high", Priority.HIGH),
            ("critical", Priority.CRITICAL),
            ("normal-2", Priority.NORMAL),
            ("high-2", 2),  # a plain int is taken too
        ]:
            await executor.submit(job, label, priority=priority)  # type: ignore[arg-type]
        gate.set()
    assert ran == ["critical", "high", "high-2", "normal-1", "normal-2", "low"]


async def test_concurrency_is_bounded() -> None:
    running = 0
    most = 0

    async def job() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await trio.sleep(1)
        running -= 1

    async with otp.tasks.open_executor(concurrency=3) as executor:
        for _ in range(10):
            executor.submit_nowait(job)
        await trio.testing.wait_all_tasks_blocked()
        assert executor.statistics().running == 3
        assert executor.statistics().queued == 7
    assert most == 3


# --- timeouts and retries ----------------------------------------------------------------------


async def test_an_attempt_past_its_timeout_is_cancelled_and_the_job_times_out() -> None:
    async with otp.tasks.open_executor(timeout=2.0, retry=otp.tasks.NO_RETRY) as executor:
        began = trio.current_time()
        handle = await executor.submit(trio.sleep_forever)
        with pytest.raises(otp.tasks.JobTimedOut, match="1 attempt: TimeoutError") as caught:
            await handle
        assert trio.current_time() - began == pytest.approx(2.0)
        assert isinstance(caught.value.error, TimeoutError)
        assert caught.value.__cause__ is caught.value.error
        assert handle.status is JobStatus.TIMED_OUT
        # The executor is unaffected.
        assert await (await executor.submit(echo, "after")) == "after"
        assert executor.statistics().timed_out == 1


async def test_a_timed_out_attempt_is_retried_and_the_timeout_is_per_attempt() -> None:
    attempts: list[float] = []

    async def slow_then_fast() -> str:
        attempts.append(trio.current_time())
        if len(attempts) == 1:
            await trio.sleep(10)
        return "fast"

    async with otp.tasks.open_executor(retry=NO_JITTER) as executor:
        handle = await executor.submit(slow_then_fast, timeout=1.0)
        assert await handle == "fast"
    assert attempts[1] - attempts[0] == pytest.approx(1.0 + 0.1)


async def test_retries_follow_the_backoff_and_free_the_worker_meanwhile() -> None:
    flaky = Flaky(failures=2)
    others: list[float] = []

    async def other() -> None:
        others.append(trio.current_time())
        await trio.lowlevel.checkpoint()

    async with otp.tasks.open_executor(concurrency=1, retry=NO_JITTER) as executor:
        handle = await executor.submit(flaky)
        await trio.testing.wait_all_tasks_blocked()
        await executor.submit(other)  # runs while the flaky job waits out its backoff
        assert await handle == "ok"
        assert handle.attempts == 3
    start = flaky.calls[0]
    assert [round(t - start, 6) for t in flaky.calls] == [0.0, 0.1, 0.3]
    assert others
    assert others[0] < flaky.calls[1]
    stats = executor.statistics()
    assert (stats.retried, stats.succeeded, stats.failed) == (2, 2, 0)


async def test_jitter_comes_from_the_injected_random_source() -> None:
    flaky = Flaky(failures=1)
    policy = Retry(attempts=2, backoff=otp.Backoff(1.0, 10.0, jitter=0.5))
    async with otp.tasks.open_executor(retry=policy, random=lambda: 0.5) as executor:
        await (await executor.submit(flaky))
    assert flaky.calls[1] - flaky.calls[0] == pytest.approx(1.25)


async def test_an_error_not_declared_retryable_fails_at_once() -> None:
    flaky = Flaky(failures=5, error=KeyError)
    policy = Retry(attempts=5, retry_on=(ConnectionError,))
    async with otp.tasks.open_executor(retry=policy) as executor:
        handle = await executor.submit(flaky, name="lookup")
        with pytest.raises(otp.tasks.JobFailed) as caught:
            await handle
    assert len(flaky.calls) == 1
    assert isinstance(caught.value.error, KeyError)
    assert caught.value.job is handle
    assert "job 'lookup' (#1) of executor 'tasks' failed after 1 attempt: KeyError" in str(
        caught.value
    )


async def test_a_predicate_decides_what_is_retried_and_attempts_are_capped() -> None:
    flaky = Flaky(failures=10)
    policy = Retry(attempts=4, retry_on=lambda exc: "failure" in str(exc))
    async with otp.tasks.open_executor(retry=policy) as executor:
        handle = await executor.submit(flaky)
        with pytest.raises(otp.tasks.JobFailed, match="after 4 attempts: ConnectionError"):
            await handle
    assert len(flaky.calls) == 4
    assert handle.status is JobStatus.FAILED


async def test_an_exception_group_from_a_job_is_its_error_unchanged() -> None:
    async def fail(message: str) -> None:
        raise ValueError(message)  # before any checkpoint: both raise

    async def two_failures() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fail, "one")
            nursery.start_soon(fail, "two")

    async with otp.tasks.open_executor(retry=otp.tasks.NO_RETRY) as executor:
        with pytest.raises(otp.tasks.JobFailed) as caught:
            await (await executor.submit(two_failures))
    assert isinstance(caught.value.error, ExceptionGroup)
    assert len(caught.value.error.exceptions) == 2


# --- a full queue ------------------------------------------------------------------------------


async def test_a_full_queue_rejects_nowait_and_makes_submit_wait() -> None:
    gate = trio.Event()
    async with otp.tasks.open_executor("busy", concurrency=1, queue_size=2) as executor:
        await executor.submit(gate.wait)
        await trio.testing.wait_all_tasks_blocked()
        executor.submit_nowait(echo, 1)
        executor.submit_nowait(echo, 2)
        with pytest.raises(otp.tasks.QueueFull, match=r"'busy': the queue is full \(2 jobs"):
            executor.submit_nowait(echo, 3)
        assert executor.statistics().rejected == 1
        got: list[otp.tasks.JobHandle[object]] = []

        async def waiter() -> None:
            got.append(await executor.submit(echo, 4))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            assert not got  # still waiting for room
            gate.set()
        assert await got[0] == 4


async def test_a_cancelled_submit_takes_nothing() -> None:
    gate = trio.Event()
    async with otp.tasks.open_executor(concurrency=1, queue_size=1) as executor:
        await executor.submit(gate.wait)
        await trio.testing.wait_all_tasks_blocked()
        executor.submit_nowait(echo, 1)
        with trio.move_on_after(1):
            await executor.submit(echo, 2)
        gate.set()
    assert executor.statistics().submitted == 2


# --- cancellation -------------------------------------------------------------------------------


async def test_cancel_a_queued_a_running_and_a_retrying_job() -> None:
    gate = trio.Event()
    async with otp.tasks.open_executor(concurrency=1, queue_size=1, retry=NO_JITTER) as ex:
        running = await ex.submit(gate.wait)
        await trio.testing.wait_all_tasks_blocked()
        queued = ex.submit_nowait(echo, 1)
        queued.cancel()
        assert queued.status is JobStatus.CANCELLED
        ex.submit_nowait(echo, 2)  # the cancelled job's place in the queue is free again
        running.cancel()
        with pytest.raises(otp.tasks.JobCancelled, match="was cancelled"):
            await running
        with pytest.raises(otp.tasks.JobCancelled):
            await queued
        retrying = await ex.submit(Flaky(failures=5))
        await trio.testing.wait_all_tasks_blocked()
        assert retrying.status is JobStatus.RETRYING
        retrying.cancel()
        with pytest.raises(otp.tasks.JobCancelled):
            await retrying
        retrying.cancel()  # a finished job: nothing happens
    assert ex.statistics().cancelled == 3


async def test_cancelling_the_waiter_does_not_cancel_the_job() -> None:
    async with otp.tasks.open_executor() as executor:
        handle = await executor.submit(trio.sleep, 5)
        with trio.move_on_after(1):
            await handle
        assert handle.status is JobStatus.RUNNING
        await handle
        assert handle.status is JobStatus.SUCCEEDED


# --- fire and forget, hooks, statistics, metrics ---------------------------------------------


async def test_a_fire_and_forget_failure_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="otp.tasks")
    async with otp.tasks.open_executor("mail", retry=otp.tasks.NO_RETRY) as executor:
        await executor.start_soon(boom, "smtp down", name="welcome")
        await executor.submit(boom, "awaited")  # its caller owns the error: not logged
        await executor.join()
    [record] = caplog.records
    assert "job 'welcome' (#1) of executor 'mail' failed after 1 attempt" in record.getMessage()
    assert record.exc_info is not None
    assert "smtp down" in caplog.text


async def test_hooks_see_every_end_and_a_raising_hook_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports: list[otp.tasks.JobReport] = []

    def broken(report: otp.tasks.JobReport) -> None:
        raise RuntimeError("hook bug")

    async with otp.tasks.open_executor(
        hooks=[reports.append, broken], retry=otp.tasks.NO_RETRY
    ) as executor:
        await executor.submit(echo, 1)
        await executor.submit(boom)
        await executor.join()
    assert [(r.job_id, r.status, r.attempts) for r in reports] == [
        (1, JobStatus.SUCCEEDED, 1),
        (2, JobStatus.FAILED, 1),
    ]
    assert isinstance(reports[1].error, otp.tasks.JobFailed)
    assert caplog.text.count("a job hook raised") == 2


async def test_statistics_and_metrics_count_each_outcome() -> None:
    metrics = otp.metrics.Metrics()
    async with otp.tasks.open_executor("m", metrics=metrics, retry=NO_JITTER) as executor:
        await executor.submit(echo, 1)
        await executor.submit(Flaky(failures=1))
        await executor.submit(boom, retry=otp.tasks.NO_RETRY)
        await executor.submit(trio.sleep_forever, timeout=1, retry=otp.tasks.NO_RETRY)
        await executor.join()
    stats = executor.statistics()
    assert (stats.submitted, stats.succeeded, stats.failed, stats.timed_out) == (4, 2, 1, 1)
    assert stats.retried == 1
    assert sum(count for _, count in stats.latency) == 4
    assert metrics.value("otp_tasks_jobs_total", executor="m", outcome="succeeded") == 2
    assert metrics.value("otp_tasks_events_total", executor="m", kind="retried") == 1
    assert metrics.value("otp_tasks_jobs", executor="m", state="queued") == 0
    text = metrics.render_prometheus()
    assert 'otp_tasks_job_seconds_count{executor="m"} 4' in text


# --- stopping ----------------------------------------------------------------------------------


async def test_stop_drops_the_queued_lets_running_jobs_finish_and_cuts_the_late_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with trio.open_nursery() as nursery:
        executor = otp.tasks.Executor("w", concurrency=2, shutdown=5.0)
        await nursery.start(executor.run)
        quick = await executor.submit(trio.sleep, 1)
        late = await executor.submit(trio.sleep, 60)
        queued = [await executor.submit(echo, n) for n in range(3)]
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()
        report = await executor.stop()
        assert trio.current_time() - began == pytest.approx(5.0)
    assert report.dropped == tuple(queued)
    assert report.cut_short == (late,)
    assert quick.status is JobStatus.SUCCEEDED
    with pytest.raises(otp.tasks.JobDropped, match="stopped before it ran"):
        await queued[0]
    with pytest.raises(otp.tasks.JobCancelled, match="cut short"):
        await late
    assert executor.last_stop is report
    assert "3 queued or retrying job(s) dropped, 1 running job(s) cut short" in caplog.text
    with pytest.raises(otp.tasks.ExecutorClosed, match="start it first"):
        executor.submit_nowait(echo, 1)
    assert await executor.stop() == otp.tasks.StopReport((), ())


async def test_stop_with_drain_runs_every_accepted_job_first() -> None:
    async with trio.open_nursery() as nursery:
        executor = otp.tasks.Executor(concurrency=1)
        await nursery.start(executor.run)
        handles = [await executor.submit(trio.sleep, 1) for _ in range(4)]
        report = await executor.stop(drain=True)
    assert report == otp.tasks.StopReport((), ())
    assert all(h.status is JobStatus.SUCCEEDED for h in handles)


async def test_a_submitter_waiting_for_room_learns_that_the_executor_stopped() -> None:
    gate = trio.Event()
    outcome: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        executor = otp.tasks.Executor(concurrency=1, queue_size=1)
        await nursery.start(executor.run)
        await executor.submit(gate.wait)
        await trio.testing.wait_all_tasks_blocked()
        executor.submit_nowait(echo, 1)

        async def waiter() -> None:
            try:
                await executor.submit(echo, 2)
            except otp.tasks.ExecutorClosed as exc:
                outcome.append(exc)

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()  # the running job ends during the stop
        await executor.stop()
    assert len(outcome) == 1
    assert "takes no jobs" in str(outcome[0])


async def test_a_retrying_job_is_dropped_at_a_stop() -> None:
    async with trio.open_nursery() as nursery:
        executor = otp.tasks.Executor(retry=NO_JITTER)
        await nursery.start(executor.run)
        handle = await executor.submit(Flaky(failures=5))
        await trio.testing.wait_all_tasks_blocked()
        assert handle.status is JobStatus.RETRYING
        report = await executor.stop()
    assert report.dropped == (handle,)
    with pytest.raises(otp.tasks.JobDropped, match="before it ran again"):
        await handle


async def test_under_a_supervisor_running_jobs_get_the_shutdown_time() -> None:
    executor = otp.tasks.Executor("jobs", shutdown=3.0)
    async with otp.open_supervisor([executor.child_spec()]) as sup:
        assert sup.get_child("jobs").value is executor
        short = await executor.submit(trio.sleep, 2)
        long = await executor.submit(trio.sleep, 10)
        await trio.testing.wait_all_tasks_blocked()
    assert short.status is JobStatus.SUCCEEDED
    assert long.status is JobStatus.CANCELLED
    assert executor.last_stop == otp.tasks.StopReport((), (long,))


async def test_a_stopped_executor_is_not_restarted_and_can_run_again() -> None:
    executor = otp.tasks.Executor("jobs")
    async with otp.open_supervisor([executor.child_spec()]):
        await executor.stop()
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(otp.tasks.ExecutorClosed):  # transient: not started again
            await executor.submit(echo, 1)
    async with trio.open_nursery() as nursery:
        await nursery.start(executor.run)
        assert await (await executor.submit(echo, "again")) == "again"
        with pytest.raises(RuntimeError, match="already running"):
            await nursery.start(executor.run)
        await executor.stop()


async def test_open_executor_raises_the_blocks_error_in_a_group() -> None:
    handles: list[otp.tasks.JobHandle[None]] = []
    with pytest.RaisesGroup(ValueError):
        async with otp.tasks.open_executor() as executor:
            handles.append(await executor.submit(trio.sleep, 100))
            await trio.testing.wait_all_tasks_blocked()
            raise ValueError("block failed")
    assert handles[0].status is JobStatus.CANCELLED


# --- many jobs ----------------------------------------------------------------------------------


async def test_map_keeps_order_and_bounds_its_concurrency() -> None:
    running = 0
    most = 0

    async def square(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await trio.sleep(10 - n)  # later items finish first
        running -= 1
        return n * n

    async with otp.tasks.open_executor(concurrency=50) as executor:
        assert await executor.map(square, range(10), concurrency=3) == [n * n for n in range(10)]
        assert await executor.map(square, []) == []
    assert most == 3


async def test_map_stops_at_the_first_failure_and_cancels_the_rest() -> None:
    async def job(n: int) -> int:
        await trio.sleep(n)
        if n == 2:
            raise ValueError("two")
        return n

    async with otp.tasks.open_executor(retry=otp.tasks.NO_RETRY) as executor:
        with pytest.raises(otp.tasks.JobFailed, match="ValueError: two"):
            await executor.map(job, [5, 2, 9, 1])
        await executor.join()
        stats = executor.statistics()
    assert (stats.succeeded, stats.failed, stats.cancelled) == (1, 1, 2)


async def test_as_completed_yields_handles_as_their_jobs_end() -> None:
    async with otp.tasks.open_executor(retry=otp.tasks.NO_RETRY) as executor:
        handles = [await executor.submit(trio.sleep, n) for n in (3, 1, 2)]
        failing = await executor.submit(boom)
        order = []
        async for handle in otp.tasks.as_completed([*handles, failing, handles[0]]):
            assert handle.done
            order.append(handle)
        assert order == [failing, handles[1], handles[2], handles[0]]
        assert [h async for h in otp.tasks.as_completed([])] == []


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency must be an int >= 1"),
        ({"queue_size": True}, "queue_size must be an int >= 1"),
        ({"timeout": -1}, "timeout must be a number of seconds > 0 or None"),
        ({"shutdown": None}, "shutdown must be a number of seconds > 0"),
        ({"retry": 3}, "retry must be an otp.tasks.Retry"),
        ({"hooks": [1]}, "hooks must be callables"),
        ({"name": ""}, "name must be a non-empty str"),
    ],
)
def test_a_bad_executor_is_refused_naming_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(otp.tasks.TasksDeclarationError, match=message):
        otp.tasks.Executor(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "attempts must be an int >= 1"),
        ({"backoff": 0.1}, "backoff must be an otp.Backoff"),
        ({"retry_on": (ValueError, "x")}, "retry_on must be exception classes"),
    ],
)
def test_a_bad_retry_policy_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(otp.tasks.TasksDeclarationError, match=message):
        Retry(**options)


async def test_a_bad_job_is_refused_at_submit() -> None:
    async with otp.tasks.open_executor() as executor:
        with pytest.raises(otp.tasks.TasksDeclarationError, match="must be an async function"):
            await executor.submit(42)  # type: ignore[arg-type]
        with pytest.raises(otp.tasks.TasksDeclarationError, match="LOW, NORMAL, HIGH, CRITICAL"):
            await executor.submit(echo, 1, priority=7)  # type: ignore[arg-type]
        with pytest.raises(otp.tasks.TasksDeclarationError, match="timeout must be"):
            executor.submit_nowait(echo, 1, timeout=0)
        with pytest.raises(otp.tasks.TasksDeclarationError, match="retry must be"):
            executor.submit_nowait(echo, 1, retry="twice")  # type: ignore[arg-type]
        with pytest.raises(otp.tasks.TasksDeclarationError, match="concurrency must be"):
            await executor.map(echo, [1], concurrency=0)
        assert executor.statistics().submitted == 0


async def test_submitting_before_the_executor_runs_says_how_to_start_it() -> None:
    executor = otp.tasks.Executor("idle")
    with pytest.raises(otp.tasks.ExecutorClosed, match=r"'idle' takes no jobs: start it first"):
        await executor.submit(echo, 1)
    assert repr(executor) == "<otp.tasks.Executor 'idle' (idle, 0 queued, 0 running)>"


def test_every_error_has_a_family() -> None:
    assert otp.error_family(otp.tasks.QueueFull).name == "overload"  # type: ignore[union-attr]
    assert otp.error_family(otp.tasks.JobTimedOut).name == "job"  # type: ignore[union-attr]
    assert otp.error_family(otp.tasks.TasksDeclarationError).name == "declaration"  # type: ignore[union-attr]


# --- models -------------------------------------------------------------------------------------


class QueueMachine(RuleBasedStateMachine):
    """The lazy-deletion queue against a list sorted by (priority desc, arrival)."""

    def __init__(self) -> None:
        super().__init__()
        self.dead: set[int] = set()
        self.queue: JobQueue[int] = JobQueue(4, lambda item: item not in self.dead)
        self.model: list[tuple[int, int]] = []  # (-level, arrival)
        self.arrivals = 0

    @rule(level=st.integers(0, 3))
    def push(self, level: int) -> None:
        self.arrivals += 1
        self.queue.push(self.arrivals, level)
        self.model.append((-level, self.arrivals))

    @rule()
    def pop(self) -> None:
        expected = min(self.model) if self.model else None
        got = self.queue.pop()
        if expected is None:
            assert got is None
        else:
            assert got == expected[1]
            self.model.remove(expected)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self.model))
        self.model.remove(entry)
        self.dead.add(entry[1])
        self.queue.discard()

    @invariant()
    def same_length(self) -> None:
        assert len(self.queue) == len(self.model)


test_the_job_queue_agrees_with_its_model = QueueMachine.TestCase
test_the_job_queue_agrees_with_its_model.settings = settings(max_examples=60, deadline=None)


@settings(max_examples=40, deadline=None)
@given(
    plans=st.lists(st.integers(0, 5), min_size=1, max_size=8),  # failures before success
    attempts=st.integers(1, 4),
    concurrency=st.integers(1, 3),
)
def test_retry_accounting_agrees_with_its_model(
    plans: list[int], attempts: int, concurrency: int
) -> None:
    policy = Retry(attempts=attempts, backoff=otp.Backoff(0.5, 4.0))
    flakies = [Flaky(failures) for failures in plans]

    async def main() -> otp.tasks.ExecutorStatistics:
        async with otp.tasks.open_executor(concurrency=concurrency, retry=policy) as executor:
            handles = [await executor.submit(flaky) for flaky in flakies]
            await executor.join()
        for failures, handle in zip(plans, handles, strict=True):
            ok = failures < attempts
            assert handle.status is (JobStatus.SUCCEEDED if ok else JobStatus.FAILED)
            assert handle.attempts == min(failures + 1, attempts)
        return executor.statistics()

    stats = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert stats.succeeded == sum(f < attempts for f in plans)
    assert stats.failed == sum(f >= attempts for f in plans)
    assert stats.retried == sum(min(f, attempts - 1) for f in plans)
    assert [len(f.calls) for f in flakies] == [min(f + 1, attempts) for f in plans]


def test_the_partial_idiom_passes_keyword_arguments() -> None:
    async def main() -> object:
        async def greet(name: str, *, greeting: str) -> str:
            await trio.lowlevel.checkpoint()
            return f"{greeting}, {name}"

        async with otp.tasks.open_executor() as executor:
            return await (await executor.submit(functools.partial(greet, greeting="hi"), "al"))

    assert trio.run(main) == "hi, al"


async def test_an_idle_worker_whose_last_deadline_passes_still_takes_jobs() -> None:
    async with otp.tasks.open_executor(concurrency=1, timeout=5.0) as executor:
        assert await (await executor.submit(echo, 1)) == 1
        await trio.sleep(60)  # the worker's last deadline passes while it waits for work
        handle = await executor.submit(trio.sleep, 4)  # inside its own 5 s, not the old one
        await handle
        assert handle.status is JobStatus.SUCCEEDED
        assert executor.statistics().timed_out == 0


async def test_cancelling_a_job_that_just_failed_spares_the_workers_next_job() -> None:
    # Between a failed attempt and the start of its backoff, the job holds no scope: the
    # cancel must not reach the scope its worker has moved on with. With one worker, the
    # next job starts at once after the failure and cancels the failed one first thing.
    handles: list[otp.tasks.JobHandle[Any]] = []

    async def next_job() -> str:
        handles[0].cancel()
        await trio.sleep(1)
        return "spared"

    async with otp.tasks.open_executor(concurrency=1, retry=NO_JITTER) as executor:
        handles.append(await executor.submit(Flaky(failures=1)))
        after = await executor.submit(next_job)
        assert await after == "spared"
        assert after.attempts == 1
        with pytest.raises(otp.tasks.JobCancelled):
            await handles[0]
        assert handles[0].attempts == 1

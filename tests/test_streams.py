"""otp.streams: buffers and their overflow policies, stages, crashes, restarts and drains."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

import otp
import otp.streams as streams
from otp.streams import Batch, Buffer, Filter, Map, Overflow, Pipeline, RateLimit, Sink


class Crashes:
    """``fn`` for a Map: crashes ``times[item]`` times on ``item``, then doubles it."""

    def __init__(self, times: dict[int, int]) -> None:
        self.times = dict(times)
        self.calls: list[int] = []

    def __call__(self, item: int) -> int:
        self.calls.append(item)
        if self.times.get(item, 0) > 0:
            self.times[item] -= 1
            raise ValueError(f"crash on {item}")
        return item * 2


async def collect(pipeline: Pipeline) -> list[Any]:
    return [item async for item in pipeline]


# --- declarations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Buffer(0), r"Buffer: size must be an int >= 1 \(got 0\)"),
        (lambda: Buffer(True), "size must be an int"),
        (lambda: Buffer(10, "drop"), "overflow must be one of 'wait', 'drop_newest'.*got 'drop'"),
        (lambda: Map(42), r"Map: fn must be a function taking one item \(got 42\)"),
        (lambda: Map(str, workers=0), r"Map: workers must be an int >= 1 \(got 0\)"),
        (lambda: Filter(bool, attempts=0), "Filter: attempts must be an int >= 1"),
        (lambda: Sink(print, buffer=10), r"Sink: buffer must be an otp.streams.Buffer \(got 10\)"),
        (lambda: Sink(print, name=""), "Sink: name must be a non-empty str"),
        (lambda: Batch(0), "Batch: size must be an int >= 1"),
        (lambda: Batch(10, timeout=0), "Batch: timeout must be a finite number"),
        (lambda: Batch(10, timeout=float("inf")), "Batch: timeout must be a finite number"),
        (lambda: RateLimit(0), r"TokenBucket: rate must be a number > 0 \(got 0\)"),
        (lambda: RateLimit(5, burst=0), "TokenBucket: burst must be an int >= 1"),
        (lambda: Pipeline("", [Sink(print)]), "Pipeline: name must be a non-empty str"),
        (lambda: Pipeline("p", []), "pipeline 'p': stages must be a non-empty list"),
        (lambda: Pipeline("p", "abc"), "stages must be a non-empty list"),  # type: ignore[arg-type]
        (lambda: Pipeline("p", [print]), "stage 0 must be an otp.streams stage"),  # type: ignore[list-item]
        (lambda: Pipeline("p", [Sink(print), Map(str)]), "a Sink must be the last stage"),
        (
            lambda: Pipeline("p", [Sink(print)], output=Buffer()),
            "output is for a pipeline without a Sink",
        ),
        (lambda: Pipeline("p", [Map(str)], output=5), "output must be an otp.streams.Buffer"),  # type: ignore[arg-type]
        (
            lambda: Pipeline("p", [Map(str, name="x"), Sink(print, name="x")]),
            r"stage names must be unique \(repeated: \['x'\]\)",
        ),
        (lambda: Pipeline("p", [Sink(print)], intensity=-1), "intensity must be an int >= 0"),
        (lambda: Pipeline("p", [Sink(print)], period=0), "period must be a number > 0"),
        (lambda: Pipeline("p", [Sink(print)], backoff=1.0), "backoff must be an otp.Backoff"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_declaration_fails_at_once_naming_the_field(make: Any, match: str) -> None:
    with pytest.raises(streams.StreamsDeclarationError, match=match):
        make()


def test_stages_are_named_by_position_and_function_unless_named() -> None:
    def parse(line: str) -> str:
        return line

    pipeline = Pipeline("p", [Map(parse), Batch(5), Sink(print, name="out")])
    assert [stage.name for stage in pipeline.statistics().stages] == ["0-parse", "1-batch", "out"]
    assert repr(pipeline) == "<otp.streams.Pipeline 'p' 3 stages>"


def test_errors_belong_to_their_families() -> None:
    assert otp.error_family(streams.BufferFull).name == "overload"
    assert otp.error_family(streams.BufferOverflow).name == "child failure"
    assert otp.error_family(streams.StreamClosed).name == "misuse"
    assert otp.error_family(streams.StreamsDeclarationError).name == "declaration"


# --- items flow ---------------------------------------------------------------------------------


async def test_items_flow_through_sync_and_async_stages_in_order() -> None:
    async def slow_double(item: int) -> int:
        await trio.sleep(0.01)
        return item * 2

    async def keep_even_tens(item: int) -> bool:
        await trio.lowlevel.checkpoint()
        return item % 4 == 0

    seen: list[int] = []
    stages = [Map(slow_double), Filter(keep_even_tens), Map(str), Sink(seen.append)]
    async with streams.open_pipeline(stages) as pipeline:
        for item in range(10):
            assert await pipeline.send(item) is True
    assert seen == ["0", "4", "8", "12", "16"]  # type: ignore[comparison-overlap]
    stats = pipeline.statistics()
    assert [s.done for s in stats.stages] == [10, 10, 5, 5]
    assert [s.emitted for s in stats.stages] == [10, 5, 5, 0]
    assert stats.buffered == 0
    assert not stats.running


async def test_a_pipeline_without_a_sink_is_read_from_its_output() -> None:
    pipeline = Pipeline("p", [Map(lambda x: x + 1)], output=Buffer(2))
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        for item in range(3):
            await pipeline.send(item)
        pipeline.close()
        assert await collect(pipeline) == [1, 2, 3]
        await pipeline.drained()
    with pytest.raises(trio.EndOfChannel):
        await pipeline.receive()


async def test_workers_share_a_stage_and_every_item_arrives_once() -> None:
    async def work(item: int) -> int:
        await trio.sleep(0.001 * (item % 7))
        return item

    seen: list[int] = []
    async with streams.open_pipeline([Map(work, workers=8), Sink(seen.append)]) as pipeline:
        for item in range(200):
            await pipeline.send(item)
    assert sorted(seen) == list(range(200))
    assert seen != list(range(200))  # the workers overlapped


async def test_a_pipeline_is_a_supervised_child_and_passes_itself_as_its_value() -> None:
    seen: list[int] = []
    pipeline = Pipeline("ingest", [Sink(seen.append)])
    async with otp.open_supervisor([pipeline.child_spec()]) as sup:
        assert sup.get_child("ingest").value is pipeline
        assert pipeline.running
        await pipeline.send(1)
        pipeline.close()
        await pipeline.drained()
        assert seen == [1]
        await trio.sleep(1)
        assert not pipeline.running  # drained ends it, and transient, it stays down


async def test_running_twice_at_once_is_refused() -> None:
    pipeline = Pipeline("p", [Sink(print)])
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        with pytest.raises(RuntimeError, match="already running"):
            await pipeline.run()
        nursery.cancel_scope.cancel()


async def test_misuse_is_refused_clearly() -> None:
    pipeline = Pipeline("p", [Sink(print)])
    with pytest.raises(RuntimeError, match="ends in a Sink; it has no output"):
        await pipeline.receive()
    pipeline.close()
    with pytest.raises(streams.StreamClosed, match="stage '0-print' is closed"):
        await pipeline.send(1)
    with pytest.raises(streams.StreamClosed):
        pipeline.send_nowait(1)


# --- overflow policies --------------------------------------------------------------------------


def stalled(overflow: Overflow | str, size: int = 2) -> Pipeline:
    """A pipeline nobody runs yet, so its first buffer only fills."""
    return Pipeline("p", [Map(lambda x: x, buffer=Buffer(size, overflow))], output=Buffer(100))


async def drain_output(pipeline: Pipeline) -> list[Any]:
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        pipeline.close()
        return await collect(pipeline)


async def test_wait_makes_the_sender_wait_for_room() -> None:
    pipeline = stalled("wait")
    await pipeline.send(1)
    await pipeline.send(2)
    with trio.move_on_after(10) as waited:
        await pipeline.send(3)
    assert waited.cancelled_caught  # blocked, and cancelling the wait took nothing
    with pytest.raises(streams.BufferFull, match=r"stage '0-<lambda>' is full \(2 items\)"):
        pipeline.send_nowait(3)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pipeline.send, 3)
        await trio.sleep(1)
        await nursery.start(pipeline.run)  # the stage makes room; the send gets in
        await trio.sleep(1)
        pipeline.close()
        assert await collect(pipeline) == [1, 2, 3]
    stats = pipeline.statistics().stages[0].buffer
    assert (stats.accepted, stats.refused, stats.high_water) == (3, 1, 2)


async def test_drop_newest_drops_the_incoming_item_and_counts_it() -> None:
    pipeline = stalled(Overflow.DROP_NEWEST)
    assert [await pipeline.send(i) for i in range(5)] == [True, True, False, False, False]
    assert pipeline.statistics().dropped == 3
    assert pipeline.statistics().stages[0].buffer.dropped_newest == 3
    assert await drain_output(pipeline) == [0, 1]


async def test_drop_oldest_makes_room_by_dropping_the_oldest() -> None:
    pipeline = stalled("drop_oldest")
    assert [await pipeline.send(i) for i in range(5)] == [True] * 5
    assert pipeline.statistics().stages[0].buffer.dropped_oldest == 3
    assert await drain_output(pipeline) == [3, 4]


async def test_fail_fast_refuses_the_item_and_the_pipeline_goes_on() -> None:
    pipeline = stalled("fail_fast")
    await pipeline.send(1)
    await pipeline.send(2)
    with pytest.raises(streams.BufferFull, match="overflow='fail_fast'"):
        await pipeline.send(3)
    assert pipeline.statistics().stages[0].buffer.refused == 1
    assert await drain_output(pipeline) == [1, 2]


async def test_fail_refuses_the_item_and_fails_the_running_pipeline_keeping_its_items() -> None:
    release = trio.Event()

    async def held(item: int) -> int:
        await release.wait()
        return item

    pipeline = Pipeline("p", [Map(held, buffer=Buffer(2, "fail"))], output=Buffer(100))

    async def overflow_it() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(pipeline.run)
            for item in range(3):
                await pipeline.send(item)  # 0 is taken by the stage; 1, 2 fill the buffer
            with pytest.raises(streams.BufferOverflow):
                await pipeline.send(3)

    with pytest.raises(ExceptionGroup) as failed:
        await overflow_it()
    assert failed.group_contains(streams.BufferOverflow, match=r"'0-held' overflowed \(2 items")
    # the stage was stopped holding item 0: it went back, before 1 and 2
    release.set()
    assert await drain_output(pipeline) == [0, 1, 2]


async def test_fail_fast_inside_the_pipeline_crashes_the_stage_upstream() -> None:
    release = trio.Event()

    async def slow(items: list[int]) -> None:
        await release.wait()

    pipeline = Pipeline(
        "p",
        [Map(lambda x: x, attempts=10), Sink(slow, buffer=Buffer(1, "fail_fast"))],
        intensity=100,
        backoff=otp.Backoff(0.5, 0.5),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        for item in range(3):
            await pipeline.send(item)
        await trio.sleep(2)
        stats = pipeline.statistics()
        assert stats.stages[0].crashes >= 1  # the upstream stage crashed on BufferFull ...
        assert stats.stages[1].buffer.refused >= 1
        release.set()
        pipeline.close()
        await pipeline.drained()  # ... and nothing was lost once the sink caught up
    assert pipeline.statistics().stages[1].done == 3


# --- crashes and restarts -----------------------------------------------------------------------


async def test_the_item_a_stage_crashed_on_is_retried_first_by_the_restarted_stage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fn = Crashes({3: 1})
    seen: list[int] = []
    async with streams.open_pipeline([Map(fn), Sink(seen.append)]) as pipeline:
        for item in range(6):
            await pipeline.send(item)
    assert seen == [0, 2, 4, 6, 8, 10]  # order kept across the restart
    assert fn.calls == [0, 1, 2, 3, 3, 4, 5]
    stage = pipeline.statistics().stages[0]
    assert (stage.crashes, stage.redelivered, stage.dead) == (1, 1, 0)
    assert "child '0-Crashes' exited: abnormal (ValueError: crash on 3); restarting" in caplog.text


async def test_an_item_that_keeps_crashing_its_stage_becomes_a_dead_letter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fn = Crashes({2: 99})
    seen: list[int] = []
    stages = [Map(fn, attempts=3), Sink(seen.append)]
    async with streams.open_pipeline(stages, intensity=10) as pipeline:
        for item in range(5):
            await pipeline.send(item)
    assert seen == [0, 2, 6, 8]  # the rest kept going
    assert fn.calls.count(2) == 3
    [letter] = pipeline.dead_letters
    assert (letter.stage, letter.item) == ("0-Crashes", 2)
    assert isinstance(letter.error, ValueError)
    assert pipeline.statistics().dead == 1
    assert "gave up on item 2 after it crashed the stage 3 times" in caplog.text


async def test_a_crashing_sink_is_restarted_and_the_rest_keeps_running() -> None:
    stored: list[int] = []

    hiccups = [OSError("disk hiccup")]

    def store(item: int) -> None:
        if item == 1 and hiccups:
            stored.append(-1)  # a side effect of the attempt that crashed
            raise hiccups.pop()
        stored.append(item)

    async with streams.open_pipeline([Map(int), Sink(store)]) as pipeline:
        for item in range(3):
            await pipeline.send(item)
    assert stored == [0, -1, 1, 2]  # at least once: the crashed attempt's effect stays


async def test_a_batch_in_progress_survives_a_crash_downstream() -> None:
    batches: list[list[int]] = []
    crashes = {"left": 1}

    def store(batch: list[int]) -> None:
        if crashes["left"]:
            crashes["left"] -= 1
            raise ConnectionError("db down")
        batches.append(batch)

    async with streams.open_pipeline([Batch(3), Sink(store)]) as pipeline:
        for item in range(7):
            await pipeline.send(item)
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_too_many_crashes_fail_the_pipeline_and_its_buffers_keep_the_items() -> None:
    fn = Crashes({0: 99})
    pipeline = Pipeline("p", [Map(fn, attempts=99)], output=Buffer(10), intensity=2, period=5)
    for item in range(4):
        await pipeline.send(item)
    with pytest.raises(streams.PipelineFailed, match="stage '0-Crashes' crashed more than 2") as e:
        await pipeline.run()
    assert isinstance(e.value.__cause__, otp.RestartIntensityExceeded)
    assert pipeline.statistics().stages[0].buffer.depth == 4  # nothing lost
    fn.times.clear()
    assert await drain_output(pipeline) == [0, 2, 4, 6]


async def test_a_supervisor_restarting_the_pipeline_loses_no_accepted_item() -> None:
    fn = Crashes({1: 3})
    seen: list[int] = []
    pipeline = Pipeline("p", [Map(fn, attempts=10), Sink(seen.append)], intensity=1)
    async with otp.open_supervisor([pipeline.child_spec()], intensity=5):
        for item in range(4):
            await pipeline.send(item)
        pipeline.close()
        await pipeline.drained()
    assert seen == [0, 2, 4, 6]


async def test_a_stopped_pipeline_puts_back_what_its_stages_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def forever(item: int) -> int:
        await trio.sleep_forever()
        raise AssertionError

    pipeline = Pipeline("p", [Map(forever, workers=2)], output=Buffer())
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        for item in range(5):
            await pipeline.send(item)
        await trio.sleep(1)
        assert pipeline.statistics().stages[0].buffer.depth == 3  # two are held
        nursery.cancel_scope.cancel()
    stats = pipeline.statistics().stages[0]
    assert (stats.buffer.depth, stats.crashes, stats.redelivered) == (5, 0, 0)
    assert "pipeline 'p' stopped with 5 items still buffered" in caplog.text


@settings(max_examples=40, deadline=None)
@given(
    crashes=st.dictionaries(st.integers(0, 19), st.integers(1, 4), max_size=6),
    workers=st.integers(1, 3),
    batch=st.integers(1, 5),
)
def test_only_the_items_that_crashed_too_often_are_lost(
    crashes: dict[int, int], workers: int, batch: int
) -> None:
    """The whole loss contract: every item arrives exactly once unless it is a dead letter."""
    attempts = 3
    fn = Crashes(crashes)
    batches: list[list[int]] = []

    async def main() -> Pipeline:
        stages = [
            Map(fn, workers=workers, attempts=attempts),
            Batch(batch, timeout=0.5),
            Sink(batches.append),
        ]
        async with streams.open_pipeline(stages, intensity=100) as pipeline:
            for item in range(20):
                await pipeline.send(item)
        return pipeline

    pipeline = trio.run(main, clock=MockClock(autojump_threshold=0))
    lost = {item for item, times in crashes.items() if times >= attempts}
    arrived = [item for b in batches for item in b]
    assert sorted(arrived) == sorted(2 * i for i in range(20) if i not in lost)
    assert {letter.item for letter in pipeline.dead_letters} == lost
    assert all(len(b) <= batch for b in batches)


# --- batching and rate limiting -----------------------------------------------------------------


async def test_a_batch_goes_out_full_or_after_its_timeout_whichever_first() -> None:
    arrivals: list[tuple[float, list[int]]] = []

    def record(items: list[int]) -> None:
        arrivals.append((trio.current_time(), items))

    start = trio.current_time()
    async with streams.open_pipeline([Batch(3, timeout=1.0), Sink(record)]) as pipeline:
        for item in range(4):
            await pipeline.send(item)  # 0..2 fill a batch; 3 waits for the timeout
        await trio.sleep(5)
        await pipeline.send(4)
    assert [(round(t - start, 3), b) for t, b in arrivals] == [
        (0.0, [0, 1, 2]),
        (1.0, [3]),
        (5.0, [4]),  # the drain sends the partial batch at once
    ]


async def test_rate_limit_spaces_items_after_a_burst() -> None:
    times: list[float] = []
    start = trio.current_time()
    stages = [RateLimit(rate=4, burst=2), Sink(lambda _: times.append(trio.current_time()))]
    async with streams.open_pipeline(stages) as pipeline:
        for item in range(6):
            await pipeline.send(item)
    assert [round(t - start, 3) for t in times] == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0]


def test_the_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = streams.TokenBucket(rate=10.0, burst=3, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.1)]
    assert bucket.tokens(0.1) == pytest.approx(0.0)
    assert bucket.tokens(100.0) == 3.0  # never more than the burst
    assert bucket.reserve(100.0) == 0.0


@given(
    rate=st.floats(0.5, 100.0),
    burst=st.integers(1, 10),
    gaps=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50),
)
def test_reserved_tokens_never_exceed_rate_times_time_plus_burst(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = streams.TokenBucket(rate, burst, now=0.0)
    now = 0.0
    uses: list[float] = []
    for gap in gaps:
        now += gap
        uses.append(now + bucket.reserve(now))
    assert uses == sorted(uses)
    for index, used in enumerate(uses):
        assert index + 1 <= burst + rate * used + 1e-6


async def test_logs_name_the_pipeline_when_unsupervised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otp")
    async with streams.open_pipeline([Map(Crashes({0: 1})), Sink(print)], name="ingest") as p:
        await p.send(0)
    assert "supervisor 'pipeline ingest': child '0-Crashes' exited: abnormal" in caplog.text

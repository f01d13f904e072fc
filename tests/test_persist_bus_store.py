"""otp.persist.BusStore: an event bus whose log lives in a persistence store."""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import otp
import otp.events
import otp.persist
from otp.events import EventBus
from otp.persist import BusStore, EventData, MemoryStore, StoredEvent

ROOT = Path(__file__).resolve().parent.parent


class Gate:
    """Holds the tasks that pass it while closed; opening lets every one of them through."""

    def __init__(self) -> None:
        self.is_open = True
        self._opened = trio.Event()

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            self._opened = trio.Event()

    def open(self) -> None:
        self.is_open = True
        self._opened.set()

    async def wait(self) -> None:
        while not self.is_open:
            await self._opened.wait()


class GatedStore:
    """A MemoryStore whose appends and reads can be held, and whose appends can fail."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.appends = Gate()
        self.reads = Gate()
        self.failures: list[Exception] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def append(
        self, stream: str, events: Sequence[EventData], *, expected: int | None
    ) -> int:
        await self.appends.wait()
        if self.failures:
            raise self.failures.pop(0)
        return await self.inner.append(stream, events, expected=expected)

    async def read(
        self, stream: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        await self.reads.wait()
        return await self.inner.read(stream, after=after, limit=limit)


def payloads(events: Sequence[otp.events.Event]) -> list[Any]:
    return [event.payload for event in events]


async def test_events_survive_the_bus_and_a_new_bus_numbers_after_them(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    async with otp.persist.SqliteStore.open(path) as store:
        async with BusStore.open(store) as log:
            bus = EventBus(store=log)
            bus.publish_nowait("order.placed", {"total": 12}, source="shop/orders")
            bus.publish_nowait("order.paid", [1, "two", None], correlation_id="o-1")
            await log.flush()
            assert log.statistics().stored == 2
            bus.publish_nowait("order.shipped", "by post", causation_id=2)
        # Written at the end of the block, without a flush.
        assert log.statistics().pending == 0
    async with otp.persist.SqliteStore.open(path) as store, BusStore.open(store) as log:
        assert log.last_id() == 3
        bus = EventBus(store=log)
        assert bus.publish_nowait("order.closed").id == 4
        past = await bus.replay()
        assert [e.id for e in past] == [1, 2, 3, 4]
        types = ["order.placed", "order.paid", "order.shipped", "order.closed"]
        assert [e.type for e in past] == types
        assert payloads(past) == [{"total": 12}, [1, "two", None], "by post", None]
        assert past[0].source == "shop/orders"
        assert past[1].correlation_id == "o-1"
        assert past[2].causation_id == 2
        assert payloads(await bus.replay(after_id=2)) == ["by post", None]


async def test_a_replay_sees_the_events_not_yet_written() -> None:
    store = GatedStore()
    async with BusStore.open(store) as log:
        bus = EventBus(store=log)
        bus.publish_nowait("a", 1)
        await log.flush()
        store.appends.close()
        bus.publish_nowait("b", 2)
        bus.publish_nowait("c", 3)
        await trio.sleep(1)
        assert log.statistics().pending == 2
        assert payloads(await bus.replay()) == [1, 2, 3]
        assert payloads(await bus.replay(after_id=2)) == [3]
        store.appends.open()
    assert [r.type for r in await store.inner.read("otp.events")] == ["a", "b", "c"]


async def test_a_commit_during_a_replay_neither_loses_nor_doubles_an_event() -> None:
    store = GatedStore()
    async with BusStore.open(store) as log:
        bus = EventBus(store=log)
        bus.publish_nowait("a", 1)
        store.appends.close()
        bus.publish_nowait("b", 2)
        store.reads.close()
        result: list[otp.events.Event] = []

        async def replay() -> None:
            result.extend(await bus.replay())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(replay)
            await trio.sleep(1)  # the replay has taken what waits, and waits on the store
            store.appends.open()
            await log.flush()  # "b" is committed now, and still in the replay's copy
            store.reads.open()
        assert payloads(result) == [1, 2]


async def test_a_subscription_from_the_past_joins_live_without_gap_or_repeat() -> None:
    store = GatedStore()
    async with BusStore.open(store) as log:
        bus = EventBus(store=log)
        for n in range(3):
            bus.publish_nowait("tick", n)
        await log.flush()
        store.reads.close()
        seen: list[int] = []

        async def subscriber(task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            async with bus.subscribe(types="tick", replay_after=1) as events:
                async for event in events:
                    seen.append(event.payload)
                    if event.payload == 5:
                        return

        async with trio.open_nursery() as nursery:
            await nursery.start(subscriber)
            await trio.sleep(1)  # joined, and reading the past
            bus.publish_nowait("tick", 3)
            bus.publish_nowait("other", None)
            store.reads.open()
            await trio.sleep(1)
            bus.publish_nowait("tick", 4)
            bus.publish_nowait("tick", 5)
        assert seen == [1, 2, 3, 4, 5]


async def test_replay_from_a_time_and_from_every_id_after_dropped_events() -> None:
    store = GatedStore()
    async with BusStore.open(store, max_pending=3, batch_size=2) as log:
        bus = EventBus(store=log)
        store.appends.close()
        for n in range(1, 9):  # 1 waits in a commit, 2 and 3 behind it; 4 to 8 find it full
            bus.publish_nowait("t", n)
            await trio.sleep(1)
        assert log.statistics().dropped == 5
        store.appends.open()
        await log.flush()
        for n in range(9, 13):
            bus.publish_nowait("t", n)
            await trio.sleep(1)
    kept = [1, 2, 3, 9, 10, 11, 12]
    async with BusStore.open(store, batch_size=2) as log:
        assert log.last_id() == 12
        bus = EventBus(store=log)
        for after in range(14):
            assert payloads(await bus.replay(after_id=after)) == [n for n in kept if n > after]
        assert payloads(await bus.replay(since=9.5)) == [11, 12]  # published at 10 s and 11 s


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(st.sampled_from(["publish", "publish", "hold", "release"]), max_size=40),
    batch_size=st.integers(1, 4),
    max_pending=st.integers(1, 5),
)
def test_what_is_kept_is_what_was_published_less_what_was_dropped(
    plan: list[str], batch_size: int, max_pending: int
) -> None:
    async def main() -> None:
        store = GatedStore()
        published: list[int] = []
        async with BusStore.open(store, max_pending=max_pending, batch_size=batch_size) as log:
            bus = EventBus(store=log)
            for step in plan:
                if step == "publish":
                    published.append(bus.publish_nowait("t").id)
                elif step == "hold":
                    store.appends.close()
                else:
                    store.appends.open()
                await trio.sleep(0.1)
            store.appends.open()
        dropped = log.statistics().dropped
        async with BusStore.open(store, batch_size=batch_size) as again:
            kept = [e.id for e in await again.read()]
            assert len(kept) == len(published) - dropped
            assert set(kept) <= set(published)
            assert kept == sorted(kept)
            for after in {0, *published}:
                assert [e.id for e in await again.read(after_id=after)] == [
                    n for n in kept if n > after
                ]

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_a_failing_store_is_retried_and_loses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = GatedStore()
    store.failures = [otp.persist.StoreFull("disk full"), otp.persist.StoreError("locked")]
    async with BusStore.open(store, retry=otp.Backoff(min=1.0, max=4.0)) as log:
        bus = EventBus(store=log)
        bus.publish_nowait("a", 1)
        started = trio.current_time()
        await log.flush()
        assert trio.current_time() - started == pytest.approx(3.0)  # 1 s, then 2 s
        statistics = log.statistics()
        assert (statistics.stored, statistics.write_failures) == (1, 2)
    warnings = [r.getMessage() for r in caplog.records if r.name == "otp.persist"]
    assert len(warnings) == 2
    assert "writing 1 events of stream 'otp.events' failed (disk full)" in warnings[0]
    assert "trying again in 1.00 s" in warnings[0]


async def test_an_error_that_is_not_the_stores_is_not_retried() -> None:
    store = GatedStore()
    store.failures = [RuntimeError("a bug in the store")]
    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="a bug in the store")):
        async with BusStore.open(store) as log:
            EventBus(store=log).publish_nowait("a")
            await trio.sleep_forever()


async def test_a_late_failure_of_a_commit_that_landed_does_not_double_it() -> None:
    class CommitsThenFails(GatedStore):
        async def append(
            self, stream: str, events: Sequence[EventData], *, expected: int | None
        ) -> int:
            if self.failures:
                await self.inner.append(stream, events, expected=expected)
            return await super().append(stream, events, expected=expected)

    store = CommitsThenFails()
    store.failures = [otp.persist.StoreError("connection lost after commit")]
    async with BusStore.open(store, retry=otp.Backoff(min=1.0, max=1.0)) as log:
        bus = EventBus(store=log)
        bus.publish_nowait("a", 1)
        bus.publish_nowait("b", 2)
        await log.flush()
        bus.publish_nowait("c", 3)
    assert [r.type for r in await store.inner.read("otp.events")] == ["a", "b", "c"]
    assert log.statistics().stored == 3


async def test_a_second_writer_on_the_stream_is_a_conflict() -> None:
    store = MemoryStore()
    with pytest.RaisesGroup(
        pytest.RaisesExc(otp.persist.ConcurrencyConflict, match="another writer"),
        flatten_subgroups=True,
    ):
        async with BusStore.open(store) as first, BusStore.open(store) as second:
            EventBus(store=first).publish_nowait("a")
            await first.flush()
            EventBus(store=second).publish_nowait("b")
            await trio.sleep_forever()
    assert [r.type for r in await store.read("otp.events")] == ["a"]


async def test_the_block_writes_what_waits_even_when_cancelled() -> None:
    store = GatedStore()

    async def release_later() -> None:
        await trio.sleep(1)
        store.appends.open()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(release_later)
        with trio.CancelScope() as scope:
            async with BusStore.open(store) as log:
                store.appends.close()
                EventBus(store=log).publish_nowait("a")
                scope.cancel()
                await trio.sleep_forever()
    assert scope.cancelled_caught
    assert [r.type for r in await store.inner.read("otp.events")] == ["a"]


async def test_a_store_that_keeps_failing_is_given_up_on_at_the_end_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = GatedStore()
    store.failures = [otp.persist.StoreFull("disk full")] * 100
    retry = otp.Backoff(min=1.0, max=1.0)
    async with BusStore.open(store, flush_timeout=2.5, retry=retry) as log:
        bus = EventBus(store=log)
        bus.publish_nowait("a")
        bus.publish_nowait("b")
        await trio.sleep(10.5)  # failures at 0, 1, ..., 10 s
        closed_at = trio.current_time()
    # One more try at once, then at 1 s and 2 s; the next would be past the 2.5 s.
    assert trio.current_time() - closed_at == pytest.approx(2.0)
    assert log.statistics().write_failures == 11 + 3
    assert log.statistics().pending == 2
    assert any(
        "2 events of stream 'otp.events' were not stored "
        "(the store kept failing for flush_timeout=2.5 s)" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR
    )
    with pytest.raises(trio.ClosedResourceError, match="is closed"):
        await log.flush()


async def test_the_end_of_the_block_waits_for_a_write_in_progress(tmp_path: Path) -> None:
    # SQLite commits in a worker thread; on the autojumping clock, time leaps meanwhile.
    async with otp.persist.SqliteStore.open(tmp_path / "e.db") as store:
        async with BusStore.open(store, flush_timeout=0) as log:
            bus = EventBus(store=log)
            for n in range(50):
                bus.publish_nowait("t", n)
                await trio.sleep(0.001)
        assert log.statistics().stored == 50
        assert len(await store.read("otp.events")) == 50


async def test_a_full_writer_drops_new_events_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = GatedStore()
    async with BusStore.open(store, max_pending=2) as log:
        store.appends.close()
        bus = EventBus(store=log)
        for _ in range(5):
            bus.publish_nowait("t")
        assert log.statistics().dropped == 3
        store.appends.open()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert messages == [
        "otp.persist.BusStore: the writer of stream 'otp.events' is 2 events behind; "
        f"new events are not kept ({n} so far)"
        for n in (1, 2)
    ]


@attrs.frozen
class Order:
    number: int


async def test_payloads_json_cannot_hold_come_back_as_their_type_and_repr() -> None:
    store = MemoryStore()
    async with BusStore.open(store) as log:
        bus = EventBus(store=log)
        bus.publish_nowait("a", Order(7), correlation_id=("order", 7))
        bus.publish_nowait("b", {"nan": math.inf, "ok": True})
        assert log.statistics().unencoded == 1
    async with BusStore.open(store) as log:
        first, second = await log.read()
    assert first.payload == otp.persist.UnencodedPayload("Order", "Order(number=7)")
    assert first.correlation_id == otp.persist.UnencodedPayload("tuple", "('order', 7)")
    assert second.payload == {"nan": math.inf, "ok": True}


async def test_a_default_turns_payloads_into_json() -> None:
    store = MemoryStore()
    async with BusStore.open(store, default=attrs.asdict) as log:
        EventBus(store=log).publish_nowait("a", Order(7))
        assert log.statistics().unencoded == 0
        (event,) = await log.read()
    assert event.payload == {"number": 7}


async def test_report_events_of_a_tree_are_kept() -> None:
    async def worker(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    store = MemoryStore()
    async with BusStore.open(store) as log:
        bus = EventBus(store=log)
        async with otp.open_supervisor(
            [otp.ChildSpec("w", worker)], hooks=[otp.events.report_to(bus)]
        ):
            pass
    async with BusStore.open(store) as log:
        kept = await log.read()
    assert "child.started" in [e.type for e in kept]
    started = next(e for e in kept if e.type == "child.started")
    assert isinstance(started.payload, otp.persist.UnencodedPayload)
    assert started.payload.type == "ChildStarted"


async def test_rows_it_cannot_read_are_clear_errors() -> None:
    store = MemoryStore()
    await store.append("otp.events", [EventData("a", 2, "{}")], expected=0)
    with pytest.raises(otp.persist.SchemaVersionError, match="layout version 2"):
        async with BusStore.open(store):
            pass  # pragma: no cover
    await store.append("other", [EventData("a", 1, "not json")], expected=0)
    with pytest.raises(otp.persist.EventDecodeError, match="sequence 1: not a bus event"):
        async with BusStore.open(store, stream="other"):
            pass  # pragma: no cover


async def test_an_event_numbered_below_the_log_is_refused() -> None:
    async with BusStore.open(MemoryStore()) as log:
        EventBus(store=log).publish_nowait("a")
        with pytest.raises(ValueError, match="event id 1 is not above the last kept, 1"):
            log.append(otp.events.Event(1, 0.0, "b", ""))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"store": object()}, TypeError, "store must be an otp.persist.EventStore"),
        ({"stream": ""}, ValueError, "stream must be a non-empty str (got '')"),
        ({"max_pending": 0}, ValueError, "max_pending must be an int >= 1 (got 0)"),
        ({"batch_size": True}, ValueError, "batch_size must be an int >= 1 (got True)"),
        ({"flush_timeout": -1}, ValueError, "flush_timeout must be a number >= 0 (got -1)"),
        ({"retry": 1.0}, TypeError, "retry must be an otp.Backoff (got 1.0)"),
        ({"default": 3}, TypeError, "default must be callable or None (got 3)"),
    ],
)
async def test_bad_arguments_name_the_argument(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments = {"store": MemoryStore(), **arguments}
    with pytest.raises(error, match=re.escape(message)):
        async with BusStore.open(**arguments):
            pass  # pragma: no cover


async def test_the_bus_asks_an_async_store_to_be_awaited() -> None:
    async with BusStore.open(MemoryStore()) as log:
        bus = EventBus(store=log)
        with pytest.raises(otp.events.EventsError, match=r"use await bus\.replay"):
            bus.replay_nowait()
    with pytest.raises(TypeError, match=r"use BusStore\.open"):
        BusStore()

    class Negative:
        def append(self, event: otp.events.Event) -> None: ...
        def read(self, *, after_id: int = 0, since: float = -math.inf) -> list[Any]:
            return []

        def last_id(self) -> int:
            return -1

    with pytest.raises(otp.events.EventsError, match=r"last_id\(\) must give an int >= 0"):
        EventBus(store=Negative())


PUBLISHER = textwrap.dedent(
    """
    import sys
    import trio
    import otp.events, otp.persist

    async def main():
        async with otp.persist.SqliteStore.open(sys.argv[1]) as store:
            async with otp.persist.BusStore.open(store, batch_size=7) as log:
                bus = otp.events.EventBus(store=log)
                while True:
                    for _ in range(10):
                        bus.publish_nowait("tick", {"n": bus.statistics().published + 1})
                        await trio.sleep(0)
                    await log.flush()
                    print(bus.statistics().published, flush=True)

    trio.run(main)
    """
)


def test_sigkill_loses_no_flushed_event(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    flushed = 0
    try:
        assert process.stdout is not None
        safety = time.monotonic() + 60  # a bound on a hang, not a performance limit
        while flushed < 200 and time.monotonic() < safety:
            line = process.stdout.readline()
            if not line:
                break
            flushed = int(line)
        assert flushed >= 200, "the publisher stopped early"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        # Printed before the kill landed; a last line cut short by it is not counted.
        for line in process.stdout.read().split(b"\n")[:-1]:
            flushed = int(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()

    async def check() -> None:
        async with otp.persist.SqliteStore.open(path) as store, BusStore.open(store) as log:
            kept = await log.read()
            assert [e.id for e in kept] == list(range(1, len(kept) + 1))
            assert [e.payload["n"] for e in kept] == [e.id for e in kept]
            assert len(kept) >= flushed
            assert EventBus(store=log).publish_nowait("after").id == len(kept) + 1

    trio.run(check)

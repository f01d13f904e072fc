"""otp.events: publishing, filters, overflow policies, replay, and reports as events."""

from __future__ import annotations

import math
import re
from collections import deque
from functools import partial
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

import otp
import otp.events
from otp.events import Event, EventBus, EventFilter, MemoryEventStore, Overflow

from .harness import Harness


def drain(subscription: otp.events.Subscription) -> list[Event]:
    events = []
    while True:
        try:
            events.append(subscription.receive_nowait())
        except trio.WouldBlock:
            return events


async def test_an_event_carries_id_time_type_source_payload_and_ids() -> None:
    bus = EventBus()
    bus.publish_nowait("before", source="x")  # nobody subscribed: seen by nobody
    await trio.sleep(2)
    async with bus.subscribe() as events:
        first = bus.publish_nowait("order.placed", {"total": 12}, source="shop/orders")
        second = await bus.publish(
            "order.paid", None, source="shop/pay", correlation_id="o-1", causation_id=first.id
        )
        assert await events.receive() == first
        assert await events.receive() == second
    assert (first.id, first.time, first.type, first.source) == (
        2,
        2.0,
        "order.placed",
        "shop/orders",
    )
    assert first.payload == {"total": 12}
    assert (second.correlation_id, second.causation_id) == ("o-1", 2)
    caused = second.caused(9, 3.0, "order.shipped", "shop/ship", None)
    assert (caused.correlation_id, caused.causation_id) == ("o-1", 3)
    assert bus.statistics() == otp.events.BusStatistics(published=3, subscriptions=0, dropped=0)


@pytest.mark.parametrize(
    ("glob", "source", "matches"),
    [
        ("root/workers/*", "root/workers/w1", True),
        ("root/workers/*", "root/workers/w1/x", False),
        ("root/workers/*", "root/db", False),
        ("root/**", "root", True),
        ("root/**", "root/a/b/c", True),
        ("root/**", "rooted/a", False),
        ("**/w1", "w1", True),
        ("**/w1", "root/workers/w1", True),
        ("**/w1", "root/workers/w10", False),
        ("root/**/w1", "root/w1", True),
        ("root/**/w1", "root/a/b/w1", True),
        ("**", "", True),
        ("root/w*", "root/workers", True),
        ("root/w*", "root/db", False),
        ("a.b/[x]", "a.b/[x]", True),
        ("a.b/[x]", "aXb/x", False),
    ],
)
def test_source_globs(glob: str, source: str, matches: bool) -> None:
    event = Event(1, 0.0, "t", source)
    assert EventFilter(source=glob).matches(event) is matches


@pytest.mark.parametrize(
    ("types", "event_type", "matches"),
    [
        ("child.exited", "child.exited", True),
        ("child.exited", "child.started", False),
        (["child.*"], "child.started", True),
        (["child.*"], "children.started", False),
        (["child.*", "supervisor.gave_up"], "supervisor.gave_up", True),
        (["child.*", "supervisor.gave_up"], "supervisor.started", False),
    ],
)
def test_type_filters(types: Any, event_type: str, matches: bool) -> None:
    assert EventFilter(types).matches(Event(1, 0.0, event_type, "")) is matches


async def test_filters_combine_and_a_raising_predicate_skips_only_its_subscription(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()

    def picky(event: Event) -> bool:
        if event.payload == "bad":
            raise ValueError("cannot judge")
        return bool(event.payload)

    async with (
        bus.subscribe(types="job.*", source="root/**", where=picky) as judged,
        bus.subscribe() as everything,
    ):
        bus.publish_nowait("job.done", "yes", source="root/a")
        bus.publish_nowait("job.done", "bad", source="root/a")
        bus.publish_nowait("job.done", "", source="root/a")
        bus.publish_nowait("job.done", "yes", source="other")
        bus.publish_nowait("mail.sent", "yes", source="root/a")
        assert [e.id for e in drain(judged)] == [1]
        assert len(drain(everything)) == 5
        assert judged.statistics().filter_errors == 1
    [record] = [r for r in caplog.records if r.name == "otp.events"]
    assert "raised" in record.getMessage()
    assert isinstance(record.exc_info[1], ValueError)  # type: ignore[index]


async def test_drop_oldest_and_drop_newest_keep_what_they_say_and_count_drops() -> None:
    bus = EventBus()
    async with (
        bus.subscribe(buffer=2, overflow="drop_oldest") as latest,
        bus.subscribe(buffer=2, overflow=Overflow.DROP_NEWEST) as earliest,
        bus.subscribe(buffer=math.inf) as all_of_them,
    ):
        for n in range(5):
            bus.publish_nowait("tick", n)
        assert [e.payload for e in drain(latest)] == [3, 4]
        assert [e.payload for e in drain(earliest)] == [0, 1]
        assert [e.payload for e in drain(all_of_them)] == [0, 1, 2, 3, 4]
        stats = latest.statistics()
        assert (stats.received, stats.delivered, stats.dropped, stats.peak) == (5, 2, 3, 2)
        assert bus.statistics().dropped == 6


async def test_a_slow_subscriber_never_holds_up_the_publisher_or_the_others() -> None:
    bus = EventBus()
    got: list[int] = []
    async with bus.subscribe(buffer=10) as slow, trio.open_nursery() as nursery:

        async def fast_reader(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            async with bus.subscribe(buffer=math.inf) as fast:
                task_status.started()
                async for event in fast:
                    got.append(event.payload)
                    if event.payload == 999:
                        return

        await nursery.start(fast_reader)
        for n in range(1000):
            await bus.publish("tick", n)  # the slow one never reads: drop_oldest, no wait
        assert slow.statistics().dropped == 990  # and the publisher never waited for it
    assert got == list(range(1000))


async def test_block_makes_publish_wait_and_publish_nowait_drop() -> None:
    bus = EventBus()
    async with bus.subscribe(buffer=2, overflow="block") as careful:
        await bus.publish("a", 1)
        await bus.publish("a", 2)
        bus.publish_nowait("a", 3)  # would have to wait: dropped and counted
        assert careful.statistics().dropped == 1
        published = []
        async with trio.open_nursery() as nursery:

            async def publisher() -> None:
                published.append((await bus.publish("a", 4)).payload)

            nursery.start_soon(publisher)
            await trio.testing.wait_all_tasks_blocked()
            assert published == []  # waiting for room
            assert (await careful.receive()).payload == 1
        assert published == [4]
        assert [e.payload for e in drain(careful)] == [2, 4]


async def test_a_publisher_blocked_on_a_subscription_that_closes_goes_on() -> None:
    bus = EventBus()
    # A publisher left blocked would keep the nursery open: fail instead of hanging.
    with trio.fail_after(1):
        await _publish_past_a_closing_subscription(bus)


async def _publish_past_a_closing_subscription(bus: EventBus) -> None:
    async with trio.open_nursery() as nursery:
        subscription = bus.subscribe(buffer=1, overflow="block")
        async with subscription as careful:
            await bus.publish("a", 1)
            nursery.start_soon(partial(bus.publish, "a", 2))
            await trio.testing.wait_all_tasks_blocked()
        # closing the subscription released the publisher; its event went nowhere
    assert careful.statistics().received == 1


async def test_leaving_the_block_unsubscribes_and_iteration_ends_after_the_buffer() -> None:
    bus = EventBus()
    async with bus.subscribe() as events:
        bus.publish_nowait("a", 1)
        events.close()
        bus.publish_nowait("a", 2)  # after close: not received
        assert [e.payload async for e in events] == [1]
        with pytest.raises(trio.EndOfChannel):
            events.receive_nowait()
        assert bus.statistics().subscriptions == 0


async def test_a_subscriber_that_raises_leaves_the_bus_and_the_others_working() -> None:
    bus = EventBus()
    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="subscriber bug")):
        async with trio.open_nursery() as nursery:

            async def buggy() -> None:
                async with bus.subscribe() as events:
                    async for _ in events:
                        raise RuntimeError("subscriber bug")

            nursery.start_soon(buggy)
            await trio.testing.wait_all_tasks_blocked()
            bus.publish_nowait("a")
    assert bus.statistics().subscriptions == 0
    async with bus.subscribe() as events:
        bus.publish_nowait("b")
        assert (await events.receive()).type == "b"


async def test_a_cancelled_reader_loses_nothing() -> None:
    bus = EventBus()
    async with bus.subscribe() as events:
        with trio.move_on_after(1):
            await events.receive()
        bus.publish_nowait("a")
        assert (await events.receive()).type == "a"


async def test_replay_from_an_id_or_a_time_then_live_without_gap_or_repeat() -> None:
    bus = EventBus(store=MemoryEventStore(max_events=100))
    for n in range(5):
        bus.publish_nowait("tick", n)
        await trio.sleep(1)
    assert [e.payload for e in await bus.replay(after_id=3)] == [3, 4]
    assert [e.payload for e in await bus.replay(since=2.0)] == [2, 3, 4]
    async with bus.subscribe(types="tick", replay_after=2) as events:
        bus.publish_nowait("tick", 5)
        bus.publish_nowait("other", None)
        assert [e.payload for e in drain(events)] == [2, 3, 4, 5]
    async with bus.subscribe(replay_since=4.0) as recent:
        assert [e.payload for e in drain(recent)] == [4, 5, None]


def test_the_memory_store_keeps_the_last_events() -> None:
    store = MemoryEventStore(max_events=3)
    for n in range(1, 6):
        store.append(Event(n, float(n), "t", ""))
    assert [e.id for e in store.read()] == [3, 4, 5]
    assert [e.id for e in store.read(after_id=4)] == [5]
    assert [e.id for e in store.read(after_id=1)] == [3, 4, 5]
    assert len(store) == 3
    assert MemoryEventStore().read() == []


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda bus: bus.subscribe(buffer=0), "buffer must be an int >= 1 or math.inf (got 0)"),
        (lambda bus: bus.subscribe(buffer=2.5), "buffer must be an int >= 1"),
        (lambda bus: bus.subscribe(overflow="drop_all"), "overflow must be one of 'drop_oldest'"),
        (lambda bus: bus.subscribe(types=[1]), "types must be a string (got 1 of type int)"),
        (lambda bus: bus.subscribe(source=3), "source must be a string"),
        (lambda bus: bus.subscribe(where="x"), "where must be a callable"),
        (lambda bus: bus.subscribe(replay_after=1), "replay_since=) needs a bus with a store"),
    ],
)
async def test_bad_subscriptions_are_rejected_naming_the_argument(
    declare: Any, message: str
) -> None:
    bus = EventBus()
    with pytest.raises(otp.events.EventsError, match=re.escape(message)):
        async with declare(bus):
            pass  # pragma: no cover
    assert bus.statistics().subscriptions == 0


async def test_bad_publishes_and_stores_are_rejected() -> None:
    bus = EventBus()
    with pytest.raises(otp.events.EventsError, match="type must be a non-empty string"):
        bus.publish_nowait("")
    with pytest.raises(otp.events.EventsError, match="source must be a string"):
        await bus.publish("a", source=None)  # type: ignore[arg-type]
    with pytest.raises(otp.events.EventsError, match="store must have append"):
        EventBus(store=object())  # type: ignore[arg-type]
    with pytest.raises(otp.events.EventsError, match="max_events must be an int >= 1"):
        MemoryEventStore(max_events=0)
    assert bus.statistics().published == 0
    assert otp.error_family(otp.events.EventsError).name == "declaration"  # type: ignore[union-attr]


# --- reports as events ------------------------------------------------------------------------


async def test_supervisor_reports_are_published_with_their_tree_path() -> None:
    bus = EventBus()
    harness = Harness()
    inner = otp.supervisor_spec("workers", [harness.spec("w1")], intensity=1, period=10)
    async with bus.subscribe(types=["child.*", "supervisor.gave_up"], source="root/**") as seen:
        async with otp.open_supervisor(
            [harness.spec("db"), inner], name="root", hooks=[otp.events.report_to(bus)]
        ):
            harness.crash("w1")
            await trio.testing.wait_all_tasks_blocked()
            harness.crash("w1")
            await trio.testing.wait_all_tasks_blocked()
        events = drain(seen)
    summary = [(e.type, e.source) for e in events]
    assert ("child.exited", "root/workers/w1") in summary
    assert ("supervisor.gave_up", "root/workers") in summary
    assert ("child.exited", "root/workers") in summary  # the nested supervisor, in its parent
    exited = next(e for e in events if e.type == "child.exited")
    assert isinstance(exited.payload, otp.ChildExited)
    assert exited.time == exited.payload.time


async def test_breaker_events_are_published() -> None:
    bus = EventBus()
    breaker = otp.CircuitBreaker(
        "db", otp.BreakerConfig(failure_threshold=1), hooks=[otp.events.report_to(bus)]
    )

    async def fail() -> None:
        raise ConnectionError("down")

    async with bus.subscribe(types="breaker.state_changed") as changes:
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
        [opened] = drain(changes)
    assert opened.source == "breaker/db"
    assert opened.payload.new is otp.BreakerState.OPEN


# --- against a model --------------------------------------------------------------------------


@given(
    size=st.integers(1, 4),
    policy=st.sampled_from([Overflow.DROP_OLDEST, Overflow.DROP_NEWEST]),
    steps=st.lists(st.booleans(), max_size=60),
)
def test_a_bounded_subscription_matches_a_bounded_queue(
    size: int, policy: Overflow, steps: list[bool]
) -> None:
    async def scenario() -> None:
        bus = EventBus()
        model: deque[int] = deque()
        dropped = 0
        async with bus.subscribe(buffer=size, overflow=policy) as events:
            for n, publish in enumerate(steps):
                if publish:
                    bus.publish_nowait("e", n)
                    if len(model) < size:
                        model.append(n)
                    else:
                        dropped += 1
                        if policy is Overflow.DROP_OLDEST:
                            model.popleft()
                            model.append(n)
                elif model:
                    assert events.receive_nowait().payload == model.popleft()
                else:
                    with pytest.raises(trio.WouldBlock):
                        events.receive_nowait()
            assert [e.payload for e in drain(events)] == list(model)
            assert events.statistics().dropped == dropped

    trio.run(scenario)


async def test_an_application_and_its_tree_report_on_one_bus() -> None:
    import otp.app  # noqa: PLC0415  (the app layer sits above this one)

    bus = EventBus(store=MemoryEventStore())
    hook = otp.events.report_to(bus)
    tree = [otp.ChildSpec("db", trio.sleep_forever)]
    async with trio.open_nursery() as nursery:
        app = await nursery.start(
            partial(otp.app.serve, tree, name="shop", signals=False, hooks=[hook], on_event=hook)
        )
        app.stop()
        await app.wait()
    seen = [(e.type, e.source) for e in await bus.replay()]
    assert ("child.started", "shop/db") in seen
    assert seen[-1] == ("app.stopped", "shop")
    assert any(kind == "app.started" for kind, _ in seen)

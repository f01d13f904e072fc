"""Projections: fed from the log, resumable from the stored offset, at least once."""

from __future__ import annotations

import functools
import inspect

import pytest
import trio

import otp
import otp.persist
from otp.persist import EventData
from tests.persist_helpers import FaultyStore


def event(value: int) -> EventData:
    return EventData("json", 1, str(value))


async def test_a_projection_sees_every_event_in_order_and_new_ones_at_once() -> None:
    store = otp.persist.MemoryStore()
    await store.append("a", [event(1), event(2)], expected=0)
    seen: list[tuple[str, int]] = []

    async def handler(envelope: otp.persist.Envelope) -> None:
        seen.append((envelope.stream, envelope.event))  # type: ignore[arg-type]

    async with trio.open_nursery() as nursery:
        projection = await nursery.start(otp.persist.run_projection, "p", store, handler)
        await store.append("b", [event(3)], expected=0)
        start = trio.current_time()
        await projection.wait_for(await store.last_position())
        assert trio.current_time() == start  # woken by the append, not by the poll
        nursery.cancel_scope.cancel()
    assert seen == [("a", 1), ("a", 2), ("b", 3)]
    assert await store.load_offset("p") == 3


async def test_a_crashed_projection_resumes_from_its_offset_at_least_once() -> None:
    store = otp.persist.MemoryStore()
    await store.append("a", [event(n) for n in range(1, 8)], expected=0)
    handled: list[int] = []
    crash_on = {5}

    async def handler(envelope: otp.persist.Envelope) -> None:
        value = envelope.event
        assert isinstance(value, int)
        if value in crash_on:
            crash_on.discard(value)
            raise RuntimeError("read model unavailable")
        handled.append(value)

    spec = otp.persist.projection_spec("p", store, handler, batch_size=3)
    async with otp.open_supervisor([spec]) as sup:
        await trio.sleep(1)
        projection = sup.get_child("p").value
        await projection.wait_for(7)
    # Batch 4-6 crashed at 5 after handling 4: 4 comes again (at least once), nothing is lost.
    assert handled == [1, 2, 3, 4, 4, 5, 6, 7]
    assert await store.load_offset("p") == 7


class Deaf(FaultyStore):
    """Never hears of appends: as when another process writes to the database."""

    async def wait_for_append(self, *args: object, **kwargs: object) -> None:
        await trio.sleep_forever()


async def test_a_projection_polls_for_appends_it_was_not_told_about() -> None:
    inner = otp.persist.MemoryStore()
    seen: list[object] = []

    async def handler(envelope: otp.persist.Envelope) -> None:
        seen.append(envelope.event)

    start = functools.partial(otp.persist.run_projection, poll_interval=2.0)
    async with trio.open_nursery() as nursery:
        projection = await nursery.start(start, "p", Deaf(inner), handler)
        began = trio.current_time()
        await inner.append("a", [event(1)], expected=0)
        await projection.wait_for(1)
        assert trio.current_time() - began == pytest.approx(2.0)
        nursery.cancel_scope.cancel()
    assert seen == [1]


def test_bad_projection_options_are_refused() -> None:
    async def handler(envelope: otp.persist.Envelope) -> None:
        return None

    async def main() -> None:
        with pytest.raises(ValueError, match="batch_size"):
            await otp.persist.run_projection("p", otp.persist.MemoryStore(), handler, batch_size=0)

    trio.run(main)


@pytest.mark.parametrize("name", otp.persist.__all__)
def test_persist_names_are_documented_with_examples_and_show_as_otp_persist(name: str) -> None:
    obj = getattr(otp.persist, name)
    doc = inspect.getdoc(obj)
    assert doc, name
    assert "Example" in doc, name
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__ == "otp.persist"

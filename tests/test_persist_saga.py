"""Sagas: compensation in reverse order, timeouts, and a crash at every step boundary."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio

import otp
import otp.persist
from otp.persist import Saga, SagaContext, Step
from tests.persist_helpers import Crash, FaultyStore


class World:
    """The effects of the steps, keyed so that running a step twice changes nothing."""

    def __init__(self, fail_at: str | None = None, hang_at: str | None = None) -> None:
        self.fail_at = fail_at
        self.hang_at = hang_at
        self.applied: dict[str, str] = {}
        self.log: list[str] = []

    def saga(self) -> Saga:
        return Saga("order", [self.step(name) for name in ("reserve", "charge", "ship")])

    def step(self, name: str) -> Step:
        async def action(context: SagaContext) -> str:
            await trio.sleep(1)
            if name == self.hang_at:
                await trio.sleep_forever()
            if name == self.fail_at:
                raise ValueError(f"{name} refused")
            self.applied[name] = context.saga_id
            self.log.append(f"do {name}")
            return f"{name}-ok"

        async def compensation(context: SagaContext) -> None:
            assert context.results[name] == f"{name}-ok"
            self.applied.pop(name, None)
            self.log.append(f"undo {name}")

        return Step(name, action, compensation, timeout=5)


async def test_a_saga_completes_every_step() -> None:
    world = World()
    async with trio.open_nursery() as nursery:
        coordinator = await nursery.start(
            otp.persist.saga_coordinator, otp.persist.MemoryStore(), [world.saga()]
        )
        outcome = await coordinator.run("order", "o-1", {"item": "book"})
        nursery.cancel_scope.cancel()
    assert outcome.status == "completed"
    assert outcome.results == {"reserve": "reserve-ok", "charge": "charge-ok", "ship": "ship-ok"}
    assert world.log == ["do reserve", "do charge", "do ship"]


async def test_a_failed_step_compensates_the_completed_ones_in_reverse_order() -> None:
    world = World(fail_at="ship")
    async with trio.open_nursery() as nursery:
        coordinator = await nursery.start(
            otp.persist.saga_coordinator, otp.persist.MemoryStore(), [world.saga()]
        )
        outcome = await coordinator.run("order", "o-1")
        nursery.cancel_scope.cancel()
    assert outcome.status == "compensated"
    assert outcome.error == "step 'ship' failed: ValueError: ship refused"
    assert world.log == ["do reserve", "do charge", "undo charge", "undo reserve"]
    assert world.applied == {}


async def test_a_step_that_times_out_fails_the_saga() -> None:
    world = World(hang_at="charge")
    async with trio.open_nursery() as nursery:
        coordinator = await nursery.start(
            otp.persist.saga_coordinator, otp.persist.MemoryStore(), [world.saga()]
        )
        start = trio.current_time()
        outcome = await coordinator.run("order", "o-1")
        nursery.cancel_scope.cancel()
    assert outcome.status == "compensated"
    assert outcome.error == "step 'charge' timed out after 5 s"
    assert trio.current_time() - start == pytest.approx(1 + 5)
    assert world.log == ["do reserve", "undo reserve"]


async def test_a_failing_compensation_leaves_the_saga_stuck() -> None:
    async def ok(context: SagaContext) -> int:
        return 1

    async def broken(context: SagaContext) -> None:
        raise RuntimeError("refund service down")

    async def fail(context: SagaContext) -> None:
        raise ValueError("no")

    saga = Saga("s", [Step("a", ok, broken), Step("b", fail)])
    async with trio.open_nursery() as nursery:
        coordinator = await nursery.start(
            otp.persist.saga_coordinator, otp.persist.MemoryStore(), [saga]
        )
        outcome = await coordinator.run("s", "x")
        nursery.cancel_scope.cancel()
    assert outcome.status == "stuck"
    assert "compensating 'a' failed: RuntimeError: refund service down" in str(outcome.error)


def test_bad_saga_definitions_are_refused_at_declaration() -> None:
    async def act(context: SagaContext) -> None:
        return None

    with pytest.raises(otp.persist.SagaError, match="at least one step"):
        Saga("s", [])
    with pytest.raises(otp.persist.SagaError, match="two steps are named 'a'"):
        Saga("s", [Step("a", act), Step("a", act)])
    with pytest.raises(ValueError, match=r"Step\.timeout"):
        Step("a", act, timeout=0)


async def test_unknown_sagas_and_taken_ids_are_refused() -> None:
    world = World()
    async with trio.open_nursery() as nursery:
        coordinator = await nursery.start(
            otp.persist.saga_coordinator, otp.persist.MemoryStore(), [world.saga()]
        )
        with pytest.raises(otp.persist.SagaError, match="no saga named 'nope'"):
            await coordinator.start("nope", "1")
        await coordinator.start("order", "1")
        with pytest.raises(otp.persist.SagaError, match="taken"):
            await coordinator.start("order", "1")
        nursery.cancel_scope.cancel()


# Appends of one saga: started, 3 x completed (or failed), compensations, ended.
BOUNDARIES = {None: 5, "charge": 5, "ship": 7}


@pytest.mark.parametrize("after_commit", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("fail_at", [None, "charge", "ship"])
async def test_a_saga_crashed_at_every_step_boundary_resumes_or_compensates(
    fail_at: str | None, after_commit: bool
) -> None:
    # The start itself is append 1: a crash there means the saga never started.
    for crash_at in range(2, BOUNDARIES[fail_at] + 1):
        store = otp.persist.MemoryStore()
        world = World(fail_at=fail_at)
        faulty = FaultyStore(store, at=crash_at, after_commit=after_commit)
        with pytest.RaisesGroup(Crash, flatten_subgroups=True):
            async with trio.open_nursery() as nursery:
                coordinator = await nursery.start(
                    otp.persist.saga_coordinator, faulty, [world.saga()]
                )
                await coordinator.run("order", "o-1")
        async with trio.open_nursery() as nursery:  # the restart, on the same store
            coordinator = await nursery.start(otp.persist.saga_coordinator, store, [world.saga()])
            ended_already = after_commit and crash_at == BOUNDARIES[fail_at]
            assert coordinator.running == ([] if ended_already else ["o-1"])
            outcome = await coordinator.wait("o-1")
            nursery.cancel_scope.cancel()
        if fail_at is None:
            assert outcome.status == "completed", crash_at
            assert world.applied == {"reserve": "o-1", "charge": "o-1", "ship": "o-1"}
        else:
            assert outcome.status == "compensated", crash_at
            assert world.applied == {}, crash_at
            undone = [entry for entry in world.log if entry.startswith("undo")]
            # Reverse order; a compensation cut short by the crash may run twice.
            assert list(dict.fromkeys(undone)) == sorted(
                set(undone), key=["undo ship", "undo charge", "undo reserve"].index
            )
        assert len(await store.read("otp.sagas")) <= BOUNDARIES[fail_at] + 1


async def test_a_supervised_coordinator_resumes_by_itself() -> None:
    store = otp.persist.MemoryStore()
    world = World()
    faulty = FaultyStore(store, at=3)
    start = functools.partial(otp.persist.saga_coordinator, faulty, [world.saga()])
    async with otp.open_supervisor([otp.ChildSpec("sagas", start)]) as sup:
        coordinator: Any = sup.get_child("sagas").value
        await coordinator.start("order", "o-1")
        await trio.sleep(10)
        coordinator = sup.get_child("sagas").value
        assert (await coordinator.wait("o-1")).status == "completed"
    assert world.applied == {"reserve": "o-1", "charge": "o-1", "ship": "o-1"}

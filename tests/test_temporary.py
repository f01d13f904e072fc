"""Temporary children leave nothing behind once they exit (Erlang deletes their spec)."""

from __future__ import annotations

import collections
import gc
import logging
import weakref
from typing import Any

import attrs
import pytest
import trio

import otp

from .harness import settle


class Payload:
    """An argument, a started value or a result the supervisor must not keep."""


async def temporary_job(
    arg: Payload, how: str, *, task_status: Any = trio.TASK_STATUS_IGNORED
) -> Payload:
    task_status.started(Payload())
    await trio.sleep(1)
    if how == "crash":
        raise ValueError(arg)  # the exception holds the argument, as a last message would
    return Payload()


@pytest.fixture(autouse=True)
def _no_log_records(caplog: pytest.LogCaptureFixture) -> None:
    # pytest keeps every log record, and a record keeps its event and traceback: silence
    # the loggers so that only the supervisor itself could be holding on to anything.
    caplog.set_level(logging.CRITICAL + 1, "otp")


def alive(refs: list[weakref.ref[Payload]]) -> int:
    gc.collect()
    return sum(ref() is not None for ref in refs)


@pytest.mark.parametrize("how", ["return", "crash"])
async def test_a_static_supervisor_forgets_an_exited_temporary_child(how: str) -> None:
    refs: list[weakref.ref[Payload]] = []
    async with otp.open_supervisor([]) as sup:
        for index in range(20):
            arg = Payload()
            refs.append(weakref.ref(arg))
            child = await sup.start_child(
                otp.ChildSpec(f"job-{index}", temporary_job, (arg, how), restart="temporary")
            )
            assert child is not None
            refs.append(weakref.ref(child.value))
            del arg, child
        await trio.sleep(2)
        await settle()
        assert sup.which_children() == []
        assert sup.count_children() == otp.ChildCounts(specs=0, active=0, supervisors=0, workers=0)
        with pytest.raises(otp.ChildNotFound):
            sup.get_childspec("job-0")
        assert alive(refs) == 0


@pytest.mark.parametrize("how", ["return", "crash"])
async def test_a_dynamic_supervisor_forgets_an_exited_temporary_child(how: str) -> None:
    refs: list[weakref.ref[Payload]] = []
    template = otp.ChildSpec("job", temporary_job, restart="temporary")
    async with otp.open_dynamic_supervisor(template) as sup:
        for _ in range(20):
            arg = Payload()
            refs.append(weakref.ref(arg))
            child = await sup.start_child(arg, how)
            assert child is not None
            refs.append(weakref.ref(child.value))
            del arg, child
        await trio.sleep(2)
        await settle()
        assert sup.which_children() == []
        assert sup.count_children() == otp.ChildCounts(specs=1, active=0, supervisors=0, workers=0)
        assert alive(refs) == 0


@pytest.mark.parametrize("kind", ["static", "dynamic"])
async def test_memory_does_not_grow_with_the_number_of_temporary_children_run(kind: str) -> None:
    template = otp.ChildSpec("job", temporary_job, restart="temporary")

    async def run_batch(sup: Any, batch: int) -> None:
        for index in range(100):
            if kind == "static":
                spec = attrs.evolve(template, id=(batch, index), args=(Payload(), "crash"))
                await sup.start_child(spec)
            else:
                await sup.start_child(Payload(), "crash")
        await trio.sleep(2)
        await settle()

    def tracked() -> collections.Counter[str]:
        gc.collect()
        return collections.Counter(type(o).__qualname__ for o in gc.get_objects())

    opener = otp.open_supervisor([]) if kind == "static" else otp.open_dynamic_supervisor(template)
    async with opener as sup:
        await run_batch(sup, 0)  # warm up caches
        before = tracked()
        for batch in range(1, 4):
            await run_batch(sup, batch)
        after = tracked()
    assert after["Payload"] == 0
    assert after["Child"] <= before["Child"]  # other tests' children may be about; none of ours
    # 300 more children ran: anything kept per child would add 300 objects of some type.
    grown = {
        name: after[name] - before[name] for name in after if after[name] - before[name] >= 100
    }
    assert grown == {}

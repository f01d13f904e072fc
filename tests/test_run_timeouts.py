"""Calls to servers no supervisor runs are timed by the run's own timer, not a scope each."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import otp
import otp._timeouts

from .harness import settle


class Slow(otp.GenServer[Any, Any]):
    """Answers ``("sleep", s)`` after ``s`` seconds; notes when a handler is cancelled."""

    async def init(self, notes: list[str]) -> None:
        self.notes = notes

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        _, seconds = request
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            self.notes.append(f"cancelled at {trio.current_time():g}")
            raise
        return seconds


def _run_timer() -> otp._timeouts.CallTimeouts | None:
    try:
        return otp._timeouts._RUN_TIMEOUTS.get()
    except LookupError:
        return None


async def test_an_unsupervised_call_times_out_and_cancels_its_handler() -> None:
    notes: list[str] = []
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Slow.start, notes)
        with pytest.raises(otp.CallTimeout, match=r"did not reply to \('sleep', 10\) within 2 s"):
            await ref.call(("sleep", 10), timeout=2)
        assert trio.current_time() == 2
        await settle()
        assert notes == ["cancelled at 2"]
        assert await ref.call(("sleep", 1), timeout=2) == 1  # the server goes on
        nursery.cancel_scope.cancel()


async def test_one_timer_serves_every_unsupervised_server_of_the_run() -> None:
    assert _run_timer() is None  # started only by the first call that needs it
    async with trio.open_nursery() as first, trio.open_nursery() as second:
        a = await first.start(Slow.start, [])
        b = await second.start(Slow.start, [])
        await a.call(("sleep", 0), timeout=None)
        assert _run_timer() is None
        await a.call(("sleep", 0), timeout=1)
        timer = _run_timer()
        assert timer is not None
        assert timer.running
        await b.call(("sleep", 0), timeout=1)
        assert _run_timer() is timer
        results: list[object] = []

        async def ask(ref: otp.ServerRef[Any, Any], seconds: float, limit: float) -> None:
            try:
                results.append(await ref.call(("sleep", seconds), timeout=limit))
            except otp.CallTimeout:
                results.append(f"timeout at {trio.current_time():g}")

        async with trio.open_nursery() as callers:
            callers.start_soon(ask, a, 5, 3)
            callers.start_soon(ask, b, 1, 3)
        assert sorted(map(str, results)) == ["1", "timeout at 3"]
        first.cancel_scope.cancel()
        second.cancel_scope.cancel()


def test_each_run_has_a_timer_of_its_own() -> None:
    async def one_call() -> int:
        async with trio.open_nursery() as nursery:
            ref = await nursery.start(Slow.start, [])
            assert _run_timer() is None  # nothing left over from an earlier run
            answer: int = await ref.call(("sleep", 0.5), timeout=1)
            timers.append(_run_timer())
            nursery.cancel_scope.cancel()
        return answer

    timers: list[object] = []
    for _ in range(2):
        assert trio.run(one_call, clock=trio.testing.MockClock(autojump_threshold=0)) == 0.5
    first, second = timers
    assert first is not None
    assert second is not None
    assert first is not second
    assert not first.running  # type: ignore[attr-defined]  # cancelled when its run ended


async def test_a_cancelled_unsupervised_caller_cancels_the_handler() -> None:
    notes: list[str] = []
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Slow.start, notes)
        with trio.move_on_after(1):
            await ref.call(("sleep", 10), timeout=5)
        await settle()
        assert notes == ["cancelled at 1"]
        # The expiry it registered comes and goes without touching a later call.
        assert await ref.call(("sleep", 6), timeout=7) == 6
        nursery.cancel_scope.cancel()


async def test_the_server_dying_fails_an_unsupervised_caller_at_once() -> None:
    class Dies(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            await trio.sleep(1)
            raise ValueError("boom")

    with pytest.RaisesGroup(ValueError):
        async with trio.open_nursery() as nursery:
            ref = await nursery.start(Dies.start)
            with pytest.raises(otp.ServerExited):
                await ref.call("x", timeout=5)
            assert trio.current_time() == 1

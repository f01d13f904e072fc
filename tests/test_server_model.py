"""Hypothesis: calls, casts, crashes and restarts interleaved; every call ends, correctly.

Each example drives a supervised server with a random schedule of calls (answered at once,
after a delay, or later from another task), casts that crash it, and waits. Each call
carries a unique token that the server echoes; at the end every call must have ended, with
its own token or with one of the documented errors, and never with another call's token.
"""

from __future__ import annotations

import itertools
from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otp


class Echo(otp.GenServer[Any, Any]):
    async def init(self) -> None:
        self.deferred: list[otp.Caller[Any]] = []

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        token, how, delay = request
        if how == "sleep":
            await trio.sleep(delay)
            return token
        if how == "defer":
            self.deferred.append(caller)
            self.ref.send(("answer later", delay))
            return otp.NoReply
        return token

    async def handle_info(self, message: Any) -> None:
        _, delay = message
        caller = self.deferred.pop(0)
        await trio.sleep(delay)
        caller.reply(caller.request[0])

    async def handle_cast(self, message: Any) -> None:
        if message == "crash":
            raise RuntimeError("injected")


EXPECTED_ERRORS = (otp.CallTimeout, otp.ServerExited, otp.NoProc)


def run_schedule(data: st.DataObject) -> None:
    tokens = itertools.count()
    outcomes: dict[int, object] = {}
    issued: list[int] = []

    async def caller(token: int, how: str, delay: float, limit: float) -> None:
        try:
            outcomes[token] = await otp.named("echo").call((token, how, delay), timeout=limit)
        except EXPECTED_ERRORS as exc:
            outcomes[token] = exc

    async def main() -> None:
        async with (
            otp.open_supervisor([Echo.child_spec(name="echo")], intensity=1000) as sup,
            trio.open_nursery() as callers,
        ):
            for _ in range(data.draw(st.integers(1, 30), label="steps")):
                action = data.draw(st.sampled_from(["call", "call", "call", "crash", "wait"]))
                if action == "call":
                    token = next(tokens)
                    issued.append(token)
                    how = data.draw(st.sampled_from(["now", "sleep", "defer"]))
                    delay = data.draw(st.sampled_from([0.0, 0.5, 1.0, 3.0]))
                    timeout = data.draw(st.sampled_from([0.25, 1.0, 2.0, 10.0]))
                    callers.start_soon(caller, token, how, delay, timeout)
                elif action == "crash":
                    otp.named("echo").cast("crash")
                else:
                    await trio.sleep(data.draw(st.sampled_from([0.0, 0.1, 1.0, 2.5])))
            # Every caller ends within its own timeout, however the server fared.
        assert not sup.running
        assert trio.current_time() < 1000

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert sorted(outcomes) == issued
    for token, result in outcomes.items():
        if not isinstance(result, BaseException):
            assert result == token, f"call {token} got someone else's reply: {result!r}"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_every_call_ends_with_its_own_reply_or_an_error(data: Any) -> None:
    run_schedule(data)

"""Middleware around server handlers: order, changes, answers, rejections, crashes, built-ins."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import otp
import otp.middleware

Trail = list[str]


class Mark(otp.Middleware):
    """Records when it sees a message go in and its result come out."""

    def __init__(self, label: str, trail: Trail) -> None:
        self.label = label
        self.trail = trail

    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        self.trail.append(f"{self.label}>{message.kind.value}:{message.payload}")
        result = await handler(message)
        self.trail.append(f"{self.label}<{result}")
        return result


@asynccontextmanager
async def serving(cls: type[otp.GenServer[Any, Any]]) -> AsyncIterator[otp.ServerRef[Any, Any]]:
    async with otp.open_supervisor([cls.child_spec(name="s")], intensity=10) as sup:
        yield sup.get_child("s").value


TRAIL: Trail = []


class Echo(otp.GenServer[Any, Any]):
    middleware = (Mark("outer", TRAIL), Mark("inner", TRAIL))

    async def init(self) -> None:
        self.casts: list[object] = []

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "casts":
            return self.casts
        if request == "later":
            self.caller = caller
            return otp.NoReply
        if request == "answer":
            self.caller.reply("late")
        if request == "refuse":
            raise otp.Rejected("the handler said no")
        return f"echo {request}"

    async def handle_cast(self, message: Any) -> None:
        self.casts.append(message)

    async def handle_info(self, message: Any) -> None:
        self.casts.append(("info", message))


@pytest.fixture(autouse=True)
def _fresh_trail() -> None:
    TRAIL.clear()


async def test_the_chain_runs_outermost_first_around_every_kind_of_message() -> None:
    async with serving(Echo) as ref:
        assert await ref.call("hi") == "echo hi"
        ref.cast("c")
        ref.send("i")
        assert await ref.call("casts") == ["c", ("info", "i")]
    assert TRAIL[:4] == ["outer>call:hi", "inner>call:hi", "inner<echo hi", "outer<echo hi"]
    assert TRAIL[4:8] == ["outer>cast:c", "inner>cast:c", "inner<None", "outer<None"]
    assert TRAIL[8:10] == ["outer>info:i", "inner>info:i"]


async def test_deferred_replies_and_rejections_from_the_handler_pass_through() -> None:
    async with serving(Echo) as ref, trio.open_nursery() as nursery:
        replies: list[object] = []

        async def wait_for_later() -> None:
            replies.append(await ref.call("later"))

        nursery.start_soon(wait_for_later)
        await trio.sleep(0.1)
        assert await ref.call("answer") == "echo answer"
        await trio.sleep(0.1)
        assert replies == ["late"]
        with pytest.raises(otp.Rejected, match="the handler said no"):
            await ref.call("refuse")


class Gate(otp.GenServer[Any, Any]):
    @staticmethod
    async def gate(message: otp.Message, handler: otp.Handler) -> object:
        payload = message.payload
        if payload == "secret":
            raise otp.Rejected("secrets are not served")
        if payload == "cached":
            return "from the cache"  # answered without the handler
        if payload == "bug":
            raise KeyError("a bug in the middleware")
        if isinstance(payload, str):
            message = message.replace(payload.strip().upper())
        return await handler(message)

    middleware = (gate,)

    async def init(self) -> None:
        self.seen: list[object] = []

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        self.seen.append(request)
        return list(self.seen) if request == "SEEN" else request

    async def handle_cast(self, message: Any) -> None:
        self.seen.append(message)


async def test_middleware_changes_answers_and_rejects_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(Gate) as ref:
        assert await ref.call("  hello ") == "HELLO"
        assert await ref.call("cached") == "from the cache"
        with pytest.raises(otp.Rejected) as rejected:
            await ref.call("secret")
        assert str(rejected.value) == "'s' (Gate) rejected call 'secret': secrets are not served"
        assert rejected.value.reason == "secrets are not served"
        assert isinstance(rejected.value.__cause__, otp.Rejected)
        ref.cast("secret")
        ref.cast(" ok ")
        assert await ref.call("seen") == ["HELLO", "OK", "SEEN"]
    assert "'s' (Gate) rejected cast 'secret': secrets are not served" in caplog.text
    assert otp.error_family(otp.Rejected).name == "call"


async def test_a_middleware_bug_crashes_the_server_like_a_handler_bug() -> None:
    async with serving(Gate) as ref:
        with pytest.raises(otp.ServerExited, match="KeyError"):
            await ref.call("bug")
        await trio.sleep(0.1)
        assert await otp.named("s").call("after") == "AFTER"  # restarted, fresh


async def test_without_middleware_nothing_is_installed() -> None:
    class Plain(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            return "handle_call" in vars(self)

    async with serving(Plain) as ref:
        assert await ref.call("?") is False  # the class's own method, looked up as always
    async with serving(Gate) as ref:
        assert await ref.call("x") == "X"


def test_subclasses_inherit_the_chain_or_replace_it() -> None:
    class Child(Gate):
        pass

    class Bare(Gate):
        middleware = ()

    assert Child.middleware == Gate.middleware
    assert Bare.middleware == ()


@pytest.mark.parametrize(
    ("chain", "match"),
    [
        (Mark, r"must be a tuple of middleware \(got <class"),
        (
            [Mark],
            r"Bad.middleware\[0\] must be an otp.Middleware .* \(an instance, not the class\?\)",
        ),
        ((42,), r"Bad.middleware\[0\] must be an otp.Middleware or an async function"),
        ("log", "must be a tuple of middleware"),
    ],
)
def test_a_bad_chain_fails_when_the_class_is_defined(chain: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):

        class Bad(otp.GenServer[Any, Any]):
            middleware = chain  # type: ignore[assignment]


# --- the ready-made links ----------------------------------------------------------------------


def order(request: object) -> dict[str, Any]:
    if not isinstance(request, dict) or "sku" not in request:
        raise ValueError(f"an order needs a 'sku' (got {request!r})")
    return {**request, "quantity": int(request.get("quantity", 1))}


TIMING = otp.middleware.Timing()


class Shop(otp.GenServer[Any, Any]):
    middleware = (
        otp.middleware.LogMessages(level=logging.INFO),
        TIMING,
        otp.middleware.Authorize(lambda m: m.payload != {"sku": "forbidden"}, reason="no"),
        otp.middleware.Validate(call=order),
    )

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request["sku"] == "crash":
            raise RuntimeError("out of stock handling bug")
        return request


async def test_logging_timing_authorization_and_validation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="otp.messages")
    async with serving(Shop) as ref:
        assert await ref.call({"sku": "a", "quantity": "2"}) == {"sku": "a", "quantity": 2}
        with pytest.raises(otp.Rejected, match=r"invalid call: an order needs a 'sku' \(got 5\)"):
            await ref.call(5)
        with pytest.raises(otp.Rejected, match=re.escape("rejected call {'sku': 'forbidden'}: no")):
            await ref.call({"sku": "forbidden"})
        with pytest.raises(otp.ServerExited):
            await ref.call({"sku": "crash"})
    lines = [r.getMessage() for r in caplog.records if r.name == "otp.messages"]
    assert lines[0].startswith("'s' (Shop): call {'sku': 'a', 'quantity': '2'} -> {'sku': 'a'")
    assert "call 5 rejected in" in lines[1]
    assert lines[3].startswith("'s' (Shop): call {'sku': 'crash'} raised RuntimeError in")
    calls = TIMING.statistics()[otp.MessageKind.CALL]
    assert (calls.count, calls.rejected, calls.failed) == (4, 2, 1)
    assert calls.maximum >= calls.mean >= 0.0
    assert TIMING.statistics()[otp.MessageKind.CAST].count == 0


async def test_rate_limit_rejects_beyond_the_burst_and_refills_with_time() -> None:
    limit = otp.middleware.RateLimit(rate=2, burst=3, kinds=["call"])

    class Search(otp.GenServer[Any, Any]):
        middleware = (limit,)

        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            return request

    async def attempt(ref: otp.ServerRef[Any, Any], n: int) -> object:
        try:
            return await ref.call(n)
        except otp.Rejected as error:
            return error.reason

    async with serving(Search) as ref:
        first = [await attempt(ref, n) for n in range(4)]
        await trio.sleep(1.0)  # two more tokens
        second = [await attempt(ref, n) for n in range(3)]
    over = "over the rate limit of 2 a second"
    assert first == [0, 1, 2, over]
    assert second == [0, 1, over]
    assert limit.rejected == 2


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: otp.middleware.RateLimit(0), "rate must be a number > 0"),
        (lambda: otp.middleware.RateLimit(1, kinds=["calls"]), "kinds must be among"),
        (otp.middleware.Validate, "at least one of call, cast or info"),
        (lambda: otp.middleware.Validate(call=5), "Validate: call must be a function"),
        (lambda: otp.middleware.Authorize(5), "allow must be a function"),
        (lambda: otp.middleware.Authorize(bool, reason=""), "reason must be a non-empty str"),
        (lambda: otp.middleware.LogMessages(logger=5), "logger must be a name"),
        (lambda: otp.middleware.LogMessages(level="x"), "level must be a logging level"),
        (lambda: otp.middleware.Timing(observe=5), "observe must be a function"),
    ],
)
def test_bad_options_of_the_ready_made_links_fail_clearly(make: Any, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        make()

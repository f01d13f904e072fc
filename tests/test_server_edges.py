"""gen_server at the edges, as Erlang/OTP's gen_server.erl decides them (issue 9)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import otp

from .harness import settle
from .test_server import serving


class Deferring(otp.GenServer[Any, Any]):
    """Keeps every caller for a later answer; crashes or sleeps on request."""

    async def init(self, kept: list[otp.Caller[Any]]) -> None:
        self.kept = kept

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise ValueError("boom")
        if request == "twice":
            caller.reply(1)
            caller.reply(2)
        self.kept.append(caller)
        return otp.NoReply


async def test_a_reply_to_a_caller_failed_by_the_servers_death_is_dropped() -> None:
    kept: list[otp.Caller[Any]] = []
    async with serving(Deferring, kept) as ref, trio.open_nursery() as nursery:

        async def ask() -> None:
            with pytest.raises(otp.ServerExited):
                await ref.call("later")

        nursery.start_soon(ask)
        await settle()
        with pytest.raises(otp.ServerExited):
            await ref.call("crash")
        await settle()
    assert len(kept) == 1
    assert not kept[0].waiting
    kept[0].reply("too late")  # the caller is gone: dropped, no AlreadyReplied


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_reply_to_a_caller_that_gave_up_is_dropped(how: str) -> None:
    kept: list[otp.Caller[Any]] = []
    async with serving(Deferring, kept) as ref:
        if how == "timeout":
            with pytest.raises(otp.CallTimeout):
                await ref.call("later", timeout=1)
        else:
            with trio.move_on_after(1):
                await ref.call("later", timeout=None)
        kept[0].reply("too late")
        with pytest.raises(otp.AlreadyReplied, match="second time"):
            kept[0].reply("and again")  # the handler's own second reply is still a bug
        assert ref.alive


async def test_a_second_reply_says_it_was_the_handlers_second_reply() -> None:
    kept: list[otp.Caller[Any]] = []
    async with serving(Deferring, kept) as ref:
        assert await ref.call("twice") == 1
        await settle()
    assert ref.exit_reason is not None
    error = ref.exit_reason.exception
    assert isinstance(error, otp.AlreadyReplied)
    assert "caller.reply() was called a second time" in str(error)

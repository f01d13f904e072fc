"""A tree across three node processes and a real broker: kills, pauses and a broker restart.

Node ``a`` is this test's process (its supervisor owns the cache); nodes ``b`` and ``c`` are
``python -m otp.dist node`` processes of role ``cache``. Heartbeats every second, as a
deployment would have them. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio

import otp
import otp.dist
from otp.dist import open_node, remote_child_spec

from .nats_broker import nats_server
from .node_processes import start_node, stop_node
from .test_dist_remote import placed

BEAT = 1.0
BUDGET = 5.0  # the bound from SIGKILL to the children running elsewhere


def run_for(limit: float, fn: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        with trio.fail_after(limit):
            return await fn()

    return trio.run(bounded)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with nats_server() as (address, _):
        yield address


@contextlib.contextmanager
def hosts(url: str, *names: str) -> Iterator[dict[str, subprocess.Popen[str]]]:
    processes: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in names:
            processes[name] = start_node(url, name, "--role", "cache", heartbeat=BEAT)
        yield processes
    finally:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)
            stop_node(process)


def cache_spec() -> otp.ChildSpec:
    return remote_child_spec(
        "cache",
        "examples.cluster:Cache",
        node="b",
        role="cache",
        name="cache",
        global_name="cache",
    )


def where(sup: otp.Supervisor) -> str | None:
    child = placed(sup)
    return None if child is None else child.node


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    while not await check():  # noqa: ASYNC110  (polling another process, bounded by run_for)
        await trio.sleep(0.05)


async def heard(a: otp.dist.Node, *names: str) -> None:
    async def up() -> bool:
        return all(n in a.peers() and a.peers()[n].state == "up" for n in names)

    await until(up)


def exits(events: list[otp.SupervisorEvent]) -> list[str]:
    return [str(e.reason) for e in events if isinstance(e, otp.ChildExited)]


def test_a_killed_node_s_child_is_restarted_on_another_and_pending_callers_fail_fast(
    url: str,
) -> None:
    with hosts(url, "b", "c") as processes:

        async def main() -> dict[str, Any]:
            events: list[otp.SupervisorEvent] = []
            outcomes: list[tuple[str, float]] = []
            async with open_node(url, "a", heartbeat_interval=BEAT) as a:
                await heard(a, "b", "c")
                async with otp.open_supervisor([cache_spec()], hooks=[events.append]) as sup:
                    cache = a.global_ref("cache")
                    first = await cache.call("whoami")

                    async def pending() -> None:
                        try:
                            await cache.call(["sleep", 30], timeout=20)
                            outcomes.append(("replied", trio.current_time()))
                        except otp.dist.NodeDown as error:
                            outcomes.append((f"NodeDown {error.node}", trio.current_time()))

                    async with trio.open_nursery() as callers:
                        for _ in range(3):
                            callers.start_soon(pending)
                        await trio.sleep(0.3)  # in flight on b
                        killed = trio.current_time()
                        processes["b"].kill()

                        async def moved() -> bool:
                            if where(sup) != "c":
                                return False
                            with contextlib.suppress(otp.NoProc):
                                return await cache.call("whoami", timeout=1) == "c"  # type: ignore[no-any-return]
                            return False

                        await until(moved)
                        restarted = trio.current_time() - killed
                    return {
                        "first": first,
                        "restarted": restarted,
                        "callers": sorted({what for what, _ in outcomes}),
                        "callers waited": max(at - killed for _, at in outcomes),
                        "exits": exits(events),
                    }

        seen = run_for(30, main)
    assert seen["first"] == "b"
    assert seen["restarted"] < BUDGET, seen
    assert seen["callers"] == ["NodeDown b"]  # every pending caller, a clear error...
    assert seen["callers waited"] < BUDGET  # ...when b was judged down, not at the timeout
    assert len(seen["exits"]) == 1
    assert "node 'b'" in seen["exits"][0]
    assert "went down" in seen["exits"][0]


def test_a_short_pause_changes_nothing(url: str) -> None:
    with hosts(url, "b", "c") as processes:

        async def main() -> tuple[list[str], str]:
            events: list[otp.SupervisorEvent] = []
            async with open_node(url, "a", heartbeat_interval=BEAT) as a:
                await heard(a, "b", "c")
                async with otp.open_supervisor([cache_spec()], hooks=[events.append]):
                    await trio.sleep(3 * BEAT)  # a rhythm to judge by
                    os.kill(processes["b"].pid, signal.SIGSTOP)
                    await trio.sleep(1.0)  # well under the phi budget
                    os.kill(processes["b"].pid, signal.SIGCONT)
                    await trio.sleep(4 * BEAT)
                    return exits(events), await a.global_ref("cache").call("whoami")

        assert run_for(30, main) == ([], "b")  # no restart, no storm


def test_a_long_pause_makes_one_restart_and_the_stale_child_is_stopped(url: str) -> None:
    with hosts(url, "b", "c") as processes:

        async def main() -> dict[str, Any]:
            events: list[otp.SupervisorEvent] = []
            async with open_node(url, "a", heartbeat_interval=BEAT) as a:
                await heard(a, "b", "c")
                async with otp.open_supervisor([cache_spec()], hooks=[events.append]) as sup:
                    await trio.sleep(3 * BEAT)
                    os.kill(processes["b"].pid, signal.SIGSTOP)

                    async def moved() -> bool:
                        return where(sup) == "c"

                    await until(moved)
                    await trio.sleep(1.0)
                    os.kill(processes["b"].pid, signal.SIGCONT)

                    async def b_is_clean() -> bool:
                        with contextlib.suppress(otp.dist.DistError):
                            info = await a.node_info("b")
                            return not info["children"] and not info["names"]
                        return False

                    await until(b_is_clean)
                    owner = await a.whereis_global("cache")
                    answers = {await a.global_ref("cache").call("whoami") for _ in range(10)}
                    return {
                        "exits": len(exits(events)),
                        "owner": None if owner is None else owner.node,
                        "answers": answers,
                        "placed": where(sup),
                        "b": a.peers()["b"].state.value,
                    }

        seen = run_for(40, main)
    assert seen == {"exits": 1, "owner": "c", "answers": {"c"}, "placed": "c", "b": "up"}


def test_after_a_broker_restart_nodes_reconnect_names_return_and_calls_resume() -> None:
    with nats_server() as (address, broker):
        port = address.rsplit(":", 1)[1]
        with contextlib.ExitStack() as restarted, hosts(address, "b", "c"):

            async def main() -> dict[str, Any]:
                events: list[otp.SupervisorEvent] = []
                async with open_node(address, "a", heartbeat_interval=BEAT) as a:
                    await heard(a, "b", "c")
                    async with otp.open_supervisor([cache_spec()], hooks=[events.append]):
                        cache = a.global_ref("cache")
                        await cache.call(["put", "k", "kept"])
                        broker.kill()
                        await trio.to_thread.run_sync(broker.wait)
                        await trio.sleep(0.5)
                        restarted.enter_context(nats_server("-p", port))

                        async def registered() -> bool:
                            with contextlib.suppress(otp.dist.DistError):
                                return await a.whereis_global("cache") is not None
                            return False

                        await until(registered)
                        owner = await a.whereis_global("cache")
                        return {
                            "owner": None if owner is None else owner.node,
                            "value": await cache.call(["get", "k"]),  # the same server
                            "exits": exits(events),
                        }

            seen = run_for(40, main)
    assert seen == {"owner": "b", "value": "kept", "exits": []}

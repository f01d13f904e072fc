"""Remote children, global names, broadcasts and remote monitors: several nodes, one process.

The nodes share a real nats-server; the faults that need separate processes (SIGKILL,
SIGSTOP, a broker restart) are in test_dist_cluster.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio

import otp
import otp.dist
from otp.dist import open_node, remote_child_spec
from otp.dist._remote import declare

from .nats_broker import nats_server
from .test_dist_client import run

BEAT = 0.2
CACHE = "examples.cluster:Cache"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with nats_server() as (address, _):
        yield address


@contextlib.asynccontextmanager
async def node(url: str, name: str, **options: Any) -> AsyncIterator[otp.dist.Node]:
    async with open_node(url, name, heartbeat_interval=BEAT, **options) as opened:
        yield opened


async def heard(observer: otp.dist.Node, *names: str) -> None:
    while not set(names) <= {n for n, p in observer.peers().items() if p.state == "up"}:  # noqa: ASYNC110
        await trio.sleep(0.02)


def single(error: BaseException) -> BaseException:
    # The node blocks are nurseries: a failure inside them comes out in (nested) groups of one.
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


async def node_in_task(
    nursery: trio.Nursery, url: str, name: str, **options: Any
) -> trio.CancelScope:
    """Run a node in its own task (so that this task's current node stays its own)."""

    async def serve(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            async with node(url, name, **options):
                task_status.started(scope)
                await trio.sleep_forever()

    scope: trio.CancelScope = await nursery.start(serve)
    return scope


def placed(sup: Any) -> otp.dist.RemoteChild | None:
    child = sup.which_children()[0].child
    return None if child is None else child.value  # type: ignore[no-any-return]


def cache(**options: Any) -> otp.ChildSpec:
    options.setdefault("name", "cache")
    options.setdefault("global_name", "cache")
    return remote_child_spec("cache", CACHE, **options)


# --- declarations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"start": CACHE}, "needs a placement: a node, a role or both"),
        ({"start": CACHE, "node": "b", "colour": 1}, "unknown key 'colour'"),
        ({"start": "not a path", "node": "b"}, "start must be an import path"),
        ({"start": CACHE, "node": "b", "global_name": "c"}, "global_name 'c' needs a name"),
        ({"start": CACHE, "node": "b c"}, "node must be letters"),
        ({"start": "examples.cluster:Nothing", "node": "b"}, "cannot import"),
        ({"start": CACHE, "node": "b", "start_timeout": 0}, "start_timeout must be"),
        ({"start": CACHE, "node": "b", "shutdown": -1}, "shutdown"),
        ("examples.cluster:Cache", "must be a table of keys"),
    ],
)
def test_a_bad_remote_child_fails_at_declaration(spec: Any, problem: str) -> None:
    with pytest.raises(otp.dist.DistDeclarationError, match=problem):
        declare(spec)


def test_remote_child_spec_checks_at_once() -> None:
    with pytest.raises(otp.dist.DistDeclarationError, match="needs a placement"):
        remote_child_spec("cache", CACHE)
    spec = cache(node="b", shutdown=3.0)
    assert spec.start is otp.dist.remote_child
    assert spec.shutdown == 5.0  # the remote limit and a margin for the round trip


def test_a_remote_child_outside_a_node_says_where_it_must_run() -> None:
    async def main() -> None:
        async with otp.open_supervisor([cache(node="b")]):
            pass

    with pytest.raises(otp.StartError, match=r"inside an `async with otp\.dist\.open_node"):
        trio.run(main)


# --- remote children ----------------------------------------------------------------------


def test_a_remote_child_runs_on_its_node_and_is_called_by_global_name(url: str) -> None:
    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with node(url, "b", roles=["cache"]), node(url, "a") as a:
            await heard(a, "b")
            async with otp.open_supervisor([cache(node="b")]) as sup:
                seen["placed"] = placed(sup).node  # type: ignore[union-attr]
                ref = a.global_ref("cache")
                seen["whoami"] = await ref.call("whoami")
                await ref.call(["put", "k", 1])
                seen["get"] = await ref.call(["get", "k"])
                seen["owner"] = (await a.whereis_global("cache")).node  # type: ignore[union-attr]
                seen["hosted"] = [c["id"] for c in (await a.node_info("b"))["children"]]
            seen["after"] = (await a.node_info("b"))["children"]
            seen["owner after"] = await a.whereis_global("cache")
        return seen

    assert run(main) == {
        "placed": "b",
        "whoami": "b",
        "get": 1,
        "owner": "b",
        "hosted": ["cache"],
        "after": [],  # stopping the supervisor stopped the child on b...
        "owner after": None,  # ...and released its global name
    }


def test_a_remote_crash_is_restarted_by_the_local_supervisor(url: str) -> None:
    async def main() -> tuple[list[str], str]:
        events: list[str] = []

        def hook(event: otp.SupervisorEvent) -> None:
            if isinstance(event, otp.ChildExited):
                events.append(type(event.reason.exception).__name__)

        async with node(url, "b", roles=["cache"]), node(url, "a") as a:
            await heard(a, "b")
            async with otp.open_supervisor([cache(node="b")], hooks=[hook]) as sup:
                first = placed(sup)
                with pytest.raises(otp.dist.RemoteError, match="asked to crash"):
                    await a.global_ref("cache").call("crash")
                while placed(sup) in (None, first):  # noqa: ASYNC110  (polling, bounded)
                    await trio.sleep(0.02)
                return events, await a.global_ref("cache").call("whoami")

    events, where = run(main)
    assert events == ["RemoteChildFailed"]
    assert where == "b"


def test_a_child_whose_node_leaves_is_restarted_on_another_of_its_role(url: str) -> None:
    async def main() -> list[str]:
        places = []
        async with (
            node(url, "c", roles=["cache"]),
            node(url, "a") as a,
            trio.open_nursery() as nursery,
        ):
            b = await node_in_task(nursery, url, "b", roles=["cache"])
            await heard(a, "b", "c")
            async with otp.open_supervisor([cache(node="b", role="cache")]) as sup:
                places.append(placed(sup).node)  # type: ignore[union-attr]
                b.cancel()  # b leaves: its child stops there, and is restarted (permanent)
                while places[-1] == "b":
                    now = placed(sup)
                    if now is not None and now.node != "b":
                        places.append(now.node)
                    await trio.sleep(0.02)
                places.append(await a.global_ref("cache").call("whoami"))
        return places

    assert run(main) == ["b", "c", "c"]


def test_no_node_of_the_role_fails_the_start_with_a_clear_error(url: str) -> None:
    async def main() -> None:
        async with node(url, "a"):
            spec = cache(role="gpu", placement_timeout=0.3)
            async with otp.open_supervisor([spec]):
                pass

    with pytest.raises(BaseException) as failed:  # noqa: PT011  (unwrapped below)
        run(main)
    error = single(failed.value)
    assert isinstance(error, otp.StartError)
    assert isinstance(error.__cause__, otp.dist.NoNodeAvailable)
    assert "no node is up for role 'gpu' (up: a; waited 0.3 s)" in str(error)


def test_a_start_that_fails_on_the_host_is_reported_with_its_reason(url: str) -> None:
    async def main() -> None:
        async with node(url, "b"), node(url, "a") as a:
            await heard(a, "b")
            spec = remote_child_spec("bad", "examples.cluster:Cache", ("surplus",), node="b")
            async with otp.open_supervisor([spec]):
                pass

    with pytest.raises(BaseException) as failed:  # noqa: PT011  (unwrapped below)
        run(main)
    cause = single(failed.value).__cause__
    assert isinstance(cause, otp.dist.RemoteChildFailed)
    assert str(cause) == (
        "could not start 'examples.cluster:Cache' on node 'b': TypeError: "
        "Cache.init() takes 1 positional argument but 2 were given"
    )


# --- global names -------------------------------------------------------------------------


class Named(otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        return ["named", request]


def test_a_global_name_has_one_owner_and_is_released_when_its_server_ends(url: str) -> None:
    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with (
            otp.open_supervisor([Named.child_spec(name="one")]) as sup,
            node(url, "a") as a,
            node(url, "b") as b,
        ):
            await a.register_global("leader", "one")
            with pytest.raises(otp.dist.NameTaken, match="'leader' is registered by"):
                await b.register_global("leader", "one")
            seen["call"] = await b.global_ref("leader").call("hi")
            seen["owner"] = (await b.whereis_global("leader")).node  # type: ignore[union-attr]
            monitor = await b.monitor_global("leader")
            await sup.terminate_child("one")
            down = await monitor.wait()
            seen["down"] = (down.target, down.reason)
            seen["owner after"] = await b.whereis_global("leader")
            with pytest.raises(otp.NoProc):
                await b.global_ref("leader").call("hi")
            await sup.restart_child("one")
            await b.register_global("leader", "one")  # free again: b takes it
            seen["now"] = (await a.whereis_global("leader")).node  # type: ignore[union-attr]
            missing = await a.monitor_global("nobody")
            seen["nobody"] = (await missing.wait()).reason
        return seen

    assert run(main) == {
        "call": ["named", "hi"],
        "owner": "a",
        "down": ("leader", "its server ended"),
        "owner after": None,
        "now": "b",
        "nobody": "noproc",
    }


def test_registering_a_server_that_is_not_running_is_refused(url: str) -> None:
    async def main() -> None:
        async with node(url, "a") as a:
            await a.register_global("ghost", "nobody-here")

    with pytest.raises(BaseException) as failed:  # noqa: PT011  (unwrapped below)
        run(main)
    assert isinstance(single(failed.value), otp.NoProc)
    assert "cannot register the global name 'ghost'" in str(single(failed.value))


# --- broadcasts ---------------------------------------------------------------------------


class Member(otp.GenServer[Any, Any]):
    async def init(self, tag: str) -> None:
        self.tag = tag

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if self.tag == "b" and request == "fail":
            raise ValueError("b refuses")
        if self.tag == "c" and request == "fail":
            await trio.sleep(5)
        return [self.tag, request]


def test_a_broadcast_reports_each_members_reply_error_or_silence(url: str) -> None:
    async def main() -> tuple[Any, Any, Any]:
        specs = [Member.child_spec(t, name=f"m{t}") for t in "abc"]
        async with (
            otp.open_supervisor(specs),
            node(url, "a") as a,
            node(url, "b") as b,
            node(url, "c") as c,
        ):
            for member, tag in ((a, "a"), (b, "b"), (c, "c")):
                await member.join("workers", f"m{tag}")
            while a.members("workers") != {"a", "b", "c"}:  # noqa: ASYNC110
                await trio.sleep(0.02)
            good = await a.broadcast("workers", "ping", timeout=2)
            bad = await a.broadcast("workers", "fail", timeout=0.5)
            with pytest.raises(otp.dist.PartialBroadcast, match="2 did not") as partial:
                bad.check()
            return good, bad, partial.value.result

    good, bad, reported = run(main)
    assert good.ok
    assert good.check() is good
    assert good.replies == {"a": ["a", "ping"], "b": ["b", "ping"], "c": ["c", "ping"]}
    assert bad.replies == {"a": ["a", "fail"]}
    assert bad.errors["b"].type == "ServerExited"  # what a local caller would get
    assert bad.missing == {"c"}
    assert reported is bad


# --- monitors -----------------------------------------------------------------------------


def test_a_node_monitor_fires_node_down_when_the_node_is_lost(url: str) -> None:
    async def main() -> tuple[str, str, bool]:
        async with node(url, "a") as a, trio.open_nursery() as nursery:
            b = await node_in_task(nursery, url, "b")
            await heard(a, "b")
            monitor = a.monitor_node("b")
            b.cancel()
            down = await monitor.wait()
            gone = not monitor.active and not monitor.cancel()
            late = a.monitor_node("b")  # judged down already: at once
            return down.reason, (await late.wait()).reason, gone

    assert run(main) == ("node_down", "node_down", True)

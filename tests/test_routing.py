"""otp.routing: strategies, members that die and come back, broadcast, process groups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import otp
import otp.routing
from otp.routing import Strategy
from otp.routing._ring import HashRing

Ref = otp.ServerRef[Any, Any]


class Worker(otp.GenServer[Any, Any]):
    """Replies with its label; ``"crash"`` crashes it, ``("sleep", s)`` takes s seconds."""

    async def init(self, label: str, group: str | None = None) -> None:
        self.label = label
        if group is not None:
            otp.routing.join(group, self.ref)

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise RuntimeError(f"{self.label} crashed")
        if isinstance(request, tuple) and request[0] == "sleep":
            await trio.sleep(request[1])
        return self.label

    async def handle_cast(self, message: Any) -> None:
        if isinstance(message, tuple) and message[0] == "sleep":
            await trio.sleep(message[1])


def workers(count: int, group: str | None = None) -> list[otp.ChildSpec]:
    return [Worker.child_spec(f"w{n}", group, name=f"w{n}") for n in range(count)]


def refs(count: int) -> list[Ref]:
    return [otp.named(f"w{n}") for n in range(count)]


async def test_round_robin_takes_each_live_member_in_turn() -> None:
    async with otp.open_supervisor(workers(3)):
        router = otp.routing.Router(refs(3))
        assert [await router.call("who") for _ in range(6)] == ["w0", "w1", "w2"] * 2
        assert repr(router) == "<otp.routing.Router 'router' (round_robin, members)>"


async def test_random_uses_the_injected_source() -> None:
    draws = iter([0.0, 0.99, 0.5])
    async with otp.open_supervisor(workers(3)):
        router = otp.routing.Router(refs(3), strategy="random", random=lambda: next(draws))
        assert [await router.call("who") for _ in range(3)] == ["w0", "w2", "w1"]


async def test_least_loaded_picks_the_shortest_mailbox() -> None:
    async with otp.open_supervisor(workers(3)):
        w0, w1, w2 = refs(3)
        for _ in range(3):
            w0.cast(("sleep", 10))
        w1.cast(("sleep", 10))
        w1.cast(("sleep", 10))
        await trio.testing.wait_all_tasks_blocked()
        router = otp.routing.Router(refs(3), strategy=Strategy.LEAST_LOADED)
        assert router.pick() == w2
        w2.cast(("sleep", 10))
        w2.cast(("sleep", 10))
        w2.cast(("sleep", 10))
        await trio.testing.wait_all_tasks_blocked()
        assert router.pick() == w1


async def test_consistent_hash_keeps_a_key_on_its_member_and_moves_only_a_dead_ones_keys() -> None:
    async with otp.open_supervisor(workers(4), intensity=10) as sup:
        router = otp.routing.Router(refs(4), strategy="consistent_hash")
        keys = [f"user-{n}" for n in range(200)]
        before = {key: await router.call("who", key=key) for key in keys}
        assert {key: await router.call("who", key=key) for key in keys} == before
        assert len(set(before.values())) == 4  # every member holds some keys
        await sup.terminate_child("w2")
        after = {key: await router.call("who", key=key) for key in keys}
        moved = {key for key in keys if after[key] != before[key]}
        assert moved == {key for key in keys if before[key] == "w2"}
        await sup.restart_child("w2")
        assert {key: await router.call("who", key=key) for key in keys} == before
        with pytest.raises(otp.routing.NoMembers, match="pass key="):
            await router.call("who")


async def test_a_custom_strategy_gets_the_live_members_and_the_key() -> None:
    seen: list[tuple[int, Hashable | None]] = []

    def last(live: Sequence[Ref], key: Hashable | None) -> Ref:
        seen.append((len(live), key))
        return live[-1]

    def outsider(live: Sequence[Ref], key: Hashable | None) -> Ref:
        return otp.named("nobody")

    async with otp.open_supervisor(workers(3)):
        router = otp.routing.Router(refs(3), strategy=last)
        assert await router.call("who", key="k") == "w2"
        assert seen == [(3, "k")]
        assert "custom" in repr(router)
        with pytest.raises(otp.routing.RoutingDeclarationError, match="not a live member"):
            await otp.routing.Router(refs(3), strategy=outsider).call("who")


async def test_a_member_that_dies_is_passed_over_and_comes_back_after_its_restart() -> None:
    async with otp.open_supervisor(workers(3), intensity=10) as sup:
        router = otp.routing.Router(refs(3))
        await sup.terminate_child("w1")
        assert router.members() == [otp.named("w0"), otp.named("w2")]
        assert [await router.call("who") for _ in range(4)] == ["w0", "w2"] * 2
        await sup.restart_child("w1")
        assert len(router.members()) == 3
        replies = Counter([await router.call("who") for _ in range(6)])
        assert replies == Counter({"w0": 2, "w1": 2, "w2": 2})


async def test_a_crash_during_a_call_is_the_callers_and_is_not_repeated_elsewhere() -> None:
    async with otp.open_supervisor(workers(2), intensity=10):
        router = otp.routing.Router(refs(2))
        with pytest.raises(otp.ServerExited):
            await router.call("crash")
        await trio.testing.wait_all_tasks_blocked()  # restarted under its name
        assert len(router.members()) == 2


async def test_with_no_member_alive_a_call_fails_at_once_and_clearly() -> None:
    router = otp.routing.Router(refs(2), name="pool")
    with pytest.raises(otp.routing.NoMembers, match=r"'pool': no member is alive \(2 declared"):
        await router.call("who")
    with pytest.raises(otp.routing.NoMembers):
        router.cast("hello")
    with pytest.raises(otp.routing.NoMembers):
        await router.broadcast("who")


async def test_cast_goes_to_one_member_and_says_which() -> None:
    async with otp.open_supervisor(workers(2)):
        router = otp.routing.Router(refs(2))
        assert router.cast("hello") == otp.named("w0")
        assert router.cast("hello") == otp.named("w1")


async def test_broadcast_reports_each_members_reply_or_failure() -> None:
    async with otp.open_supervisor(workers(3), intensity=10):
        router = otp.routing.Router(refs(3))
        result = await router.broadcast("who")
        assert result.ok
        assert list(result.replies.values()) == ["w0", "w1", "w2"]
        assert result.summary() == "3 of 3 replied"

        slow = await router.broadcast(("sleep", 10), timeout=1.0)
        assert slow.total == 3
        assert not slow.ok
        assert all(isinstance(e, otp.CallTimeout) for e in slow.errors.values())
        assert slow.summary().startswith("0 of 3 replied; failed: ")

        crashed = await router.broadcast("crash")
        assert len(crashed.errors) == 3
        assert all(isinstance(e, otp.ServerExited) for e in crashed.errors.values())


async def test_a_router_over_a_process_group_follows_joins_and_exits() -> None:
    async with otp.open_supervisor(workers(3, group="pool"), intensity=10) as sup:
        router = otp.routing.Router("pool")
        assert "group 'pool'" in repr(router)
        assert len(otp.routing.members("pool")) == 3
        assert sorted([await router.call("who") for _ in range(3)]) == ["w0", "w1", "w2"]
        await sup.terminate_child("w0")
        assert sorted([await router.call("who") for _ in range(2)]) == ["w1", "w2"]
        await sup.restart_child("w0")  # its init joins again
        assert len(otp.routing.members("pool")) == 3
        assert "pool" in otp.routing.which_groups()


async def test_join_and_leave() -> None:
    async with otp.open_supervisor(workers(2)) as sup:
        first = sup.get_child("w0").value
        second = sup.get_child("w1").value
        otp.routing.join("g", first)
        otp.routing.join("g", first)  # once
        otp.routing.join("g", second)
        assert otp.routing.members("g") == [first, second]
        assert otp.routing.leave("g", first)
        assert not otp.routing.leave("g", first)
        assert otp.routing.leave("g", second)
        assert otp.routing.members("g") == []
        assert otp.routing.which_groups() == []
        with pytest.raises(otp.routing.RoutingDeclarationError, match=r"otp\.ServerRef"):
            otp.routing.join("g", "w0")  # type: ignore[arg-type]
        with pytest.raises(otp.routing.RoutingDeclarationError, match="hashable"):
            otp.routing.join(["g"], first)


@pytest.mark.parametrize(
    ("members", "options", "message"),
    [
        ([], {}, r"non-empty list of otp\.ServerRef"),
        (["w0"], {}, r"non-empty list of otp\.ServerRef"),
        ([otp.named("w0")], {"strategy": "fastest"}, "strategy must be one of round_robin"),
        ([otp.named("w0")], {"replicas": 0}, "replicas must be an int >= 1"),
    ],
)
def test_a_bad_router_is_refused(members: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(otp.routing.RoutingDeclarationError, match=message):
        otp.routing.Router(members, **options)


def test_the_stable_hash_is_the_same_in_every_process() -> None:
    # Fixed values: a change would move every key of every ring.
    assert otp.routing.stable_hash("user-1") == otp.routing.stable_hash(b"user-1")
    assert otp.routing.stable_hash(7) == otp.routing.stable_hash("7")
    assert otp.routing.stable_hash("user-1") != otp.routing.stable_hash("user-2")


@settings(max_examples=50, deadline=None)
@given(
    count=st.integers(1, 8),
    dead=st.sets(st.integers(0, 7)),
    keys=st.lists(st.text(max_size=6), min_size=1, max_size=30),
)
def test_the_ring_moves_only_the_keys_of_members_that_are_down(
    count: int, dead: set[int], keys: list[str]
) -> None:
    members = list(range(count))
    ring = HashRing(members, identity=str, replicas=16)
    everyone = {key: ring.pick(key, alive=lambda m: True) for key in keys}
    survivors = {key: ring.pick(key, alive=lambda m: m not in dead) for key in keys}
    for key in keys:
        if everyone[key] not in dead:
            assert survivors[key] == everyone[key]
        elif set(members) - dead:
            assert survivors[key] not in dead
        else:
            assert survivors[key] is None

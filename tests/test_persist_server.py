"""Event-sourced servers: persist before reply, recovery, snapshots, retention, conflicts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otp
import otp.persist
from tests.persist_helpers import Crash, FaultyStore, Ledger


@contextlib.asynccontextmanager
async def open_store(kind: str, tmp_path: Path) -> AsyncIterator[Any]:
    if kind == "memory":
        yield otp.persist.MemoryStore()
    else:
        async with otp.persist.SqliteStore.open(tmp_path / "events.db") as store:
            yield store


STORES = ["memory", "sqlite"]


async def kill(sup: otp.Supervisor, child_id: str) -> None:
    """Stop the child (a cancellation, wherever it is), then start it again."""
    await sup.terminate_child(child_id)
    await sup.restart_child(child_id)


@pytest.mark.parametrize("kind", STORES)
async def test_events_are_persisted_before_the_reply_and_rebuilt_on_restart(
    kind: str, tmp_path: Path
) -> None:
    async with open_store(kind, tmp_path) as store:
        children = [Ledger.child_spec(store, "ledger-1", name="ledger")]
        async with otp.open_supervisor(children) as sup:
            ledger = otp.named("ledger")
            assert await ledger.call(("add", 1), timeout=None) == 1
            assert await ledger.call(("add_two", 2), timeout=None) == 3
            assert await ledger.call(("nonsense",), timeout=None) == ("rejected", ("nonsense",))
            records = await store.read("ledger-1")
            assert [(r.sequence, r.type, r.data) for r in records] == [
                (1, "json", "1"),
                (2, "json", "2"),
                (3, "json", "2"),
            ]
            await kill(sup, "ledger")
            assert await ledger.call("get", timeout=None, wait_for_name=True) == [1, 2, 2]


async def test_two_writers_for_one_persistence_id_the_second_gets_a_conflict() -> None:
    store = otp.persist.MemoryStore()
    children = [
        Ledger.child_spec(store, "shared", id=writer, restart="temporary")
        for writer in ("first", "second")
    ]
    async with otp.open_supervisor(children) as sup:
        first, second = (sup.get_child(writer).value for writer in ("first", "second"))
        assert await first.call(("add", 1)) == 1
        with pytest.raises(otp.ServerExited) as caught:
            await second.call(("add", 2))
        conflict = caught.value.__cause__
        assert isinstance(conflict, otp.persist.ConcurrencyConflict)
        assert (conflict.stream, conflict.expected, conflict.actual) == ("shared", 0, 1)
        assert "another writer" in str(conflict)
        assert [r.data for r in await store.read("shared")] == ["1"]


async def test_a_store_level_conflict_names_the_stream_and_sequences() -> None:
    store = otp.persist.MemoryStore()
    data = otp.persist.EventData("json", 1, "1")
    assert await store.append("s", [data], expected=0) == 1
    with pytest.raises(otp.persist.ConcurrencyConflict, match="append after sequence 0"):
        await store.append("s", [data], expected=0)
    assert await store.append("s", [data], expected=None) == 2


class Counted(Ledger):
    retention = otp.persist.Retention(snapshot_every=3, keep_snapshots=2, delete_events=True)


@pytest.mark.parametrize("kind", STORES)
async def test_snapshots_every_n_events_and_compaction(kind: str, tmp_path: Path) -> None:
    async with open_store(kind, tmp_path) as store, trio.open_nursery() as nursery:
        ledger = await nursery.start(Counted.start, store, "c")
        for value in range(8):
            await ledger.call(("add", value), timeout=None)
        snapshot = await store.load_snapshot("c")
        assert snapshot is not None
        assert snapshot.sequence == 6
        # Two snapshots kept (3 and 6); events up to the older one compacted away.
        assert [r.sequence for r in await store.read("c")] == [4, 5, 6, 7, 8]
        assert await store.last_sequence("c") == 8
        assert await ledger.call(otp.persist.SaveSnapshot, timeout=None) == 8
        nursery.cancel_scope.cancel()
    async with open_store(kind, tmp_path) as store, trio.open_nursery() as nursery:
        if kind == "sqlite":
            ledger = await nursery.start(Counted.start, store, "c")
            assert await ledger.call("get", timeout=None) == list(range(8))
        nursery.cancel_scope.cancel()


async def test_recovery_refuses_a_stream_with_missing_events() -> None:
    store = otp.persist.MemoryStore()
    data = otp.persist.EventData("json", 1, "1")
    await store.append("gap", [data, data, data], expected=0)
    await store.delete_events("gap", up_to=1)  # compacted without a snapshot
    async with trio.open_nursery() as nursery:
        with pytest.raises(otp.persist.StoreCorrupted, match="event 1 is missing"):
            await nursery.start(Ledger.start, store, "gap")


@attrs.frozen
class Deposited:
    schema_version = 2
    amount: int
    currency: str


class Account(otp.persist.EventSourced):
    codec = otp.persist.JsonCodec(
        Deposited, upcasters={("Deposited", 1): lambda old: {**old, "currency": "EUR"}}
    )

    def initial_state(self) -> list[Deposited]:
        return []

    async def handle_command(self, state: Any, command: Any) -> Any:
        return state if command == "get" else otp.persist.Persist(command)

    def apply(self, state: Any, event: Any) -> Any:
        return [*state, event]


async def test_old_versions_are_upcast_and_unknown_versions_refused() -> None:
    store = otp.persist.MemoryStore()
    await store.append("a", [otp.persist.EventData("Deposited", 1, '{"amount": 5}')], expected=0)
    async with trio.open_nursery() as nursery:
        account = await nursery.start(Account.start, store, "a")
        await account.call(Deposited(7, "USD"))
        assert await account.call("get") == [Deposited(5, "EUR"), Deposited(7, "USD")]
        nursery.cancel_scope.cancel()
    assert (await store.read("a"))[1].version == 2
    await store.append("a", [otp.persist.EventData("Deposited", 3, "{}")], expected=2)
    async with trio.open_nursery() as nursery:
        with pytest.raises(otp.persist.SchemaVersionError, match="only up to version 2"):
            await nursery.start(Account.start, store, "a")


async def test_a_crash_before_the_append_loses_nothing_acknowledged() -> None:
    store = FaultyStore(otp.persist.MemoryStore(), at=2)
    async with otp.open_supervisor([Ledger.child_spec(store, "l", name="l")]):
        ledger = otp.named("l")
        assert await ledger.call(("add", 1)) == 1
        with pytest.raises(otp.ServerExited) as caught:
            await ledger.call(("add", 2))
        assert isinstance(caught.value.__cause__, Crash)
        assert await ledger.call("get", wait_for_name=True) == [1]


async def test_a_crash_after_the_commit_leaves_the_event_in_doubt_but_never_doubled() -> None:
    # The store committed but the writer never heard: the caller cannot know. The restarted
    # server has the event exactly once, and a stale writer could not append it again.
    store = FaultyStore(otp.persist.MemoryStore(), at=2, after_commit=True)
    async with otp.open_supervisor([Ledger.child_spec(store, "l", name="l")]):
        ledger = otp.named("l")
        await ledger.call(("add", 1))
        with pytest.raises(otp.ServerExited):
            await ledger.call(("add", 2))
        assert await ledger.call("get", wait_for_name=True) == [1, 2]
        assert await ledger.call(("add", 3)) == 3


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, int]]]:
    values = draw(st.lists(st.integers(0, 99), min_size=1, max_size=12))
    kills = draw(
        st.lists(st.tuples(st.integers(0, len(values) - 1), st.integers(0, 6)), max_size=4)
    )
    return values, kills


async def _kill_scenario(store: Any, values: list[int], kills: list[tuple[int, int]]) -> None:
    acknowledged: list[int] = []
    sent = trio.Event()
    sent_count = 0

    async with otp.open_supervisor([Ledger.child_spec(store, "k", name="k")], intensity=100) as sup:
        ledger = otp.named("k")

        async def killer() -> None:
            for after_command, delay in sorted(kills):
                while sent_count <= after_command:
                    await sent.wait()
                for _ in range(delay):  # land anywhere: in the handler, in the append...
                    await trio.lowlevel.checkpoint()
                with contextlib.suppress(otp.SupervisorError):
                    await kill(sup, "k")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(killer)
            for value in values:
                nonlocal_sent = sent
                sent_count += 1
                sent = trio.Event()
                nonlocal_sent.set()
                try:
                    await ledger.call(("add", value), timeout=None, wait_for_name=True)
                except (otp.ServerExited, otp.NoProc):
                    continue  # killed before it persisted: not acknowledged
                acknowledged.append(value)
            sent_count = len(values) + 1
            sent.set()
        state = await ledger.call("get", timeout=None, wait_for_name=True)
        await kill(sup, "k")
        after_restart = await ledger.call("get", timeout=None, wait_for_name=True)
    assert state == acknowledged
    assert after_restart == acknowledged
    assert [int(r.data) for r in await store.read("k")] == acknowledged


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_killed_at_random_points_the_state_is_the_fold_of_the_acknowledged_events(
    scenario: tuple[list[int], list[tuple[int, int]]],
) -> None:
    values, kills = scenario
    trio.run(
        _kill_scenario,
        otp.persist.MemoryStore(),
        values,
        kills,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_killed_at_random_points_on_sqlite(
    scenario: tuple[list[int], list[tuple[int, int]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    values, kills = scenario
    path = tmp_path_factory.mktemp("kill") / "events.db"

    async def main() -> None:
        async with otp.persist.SqliteStore.open(path) as store:
            await _kill_scenario(store, values, kills)

    trio.run(main)  # the real clock: calls wait for threads without timeouts anyway


def test_bad_declarations_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="snapshot_every must be an int >= 1"):
        otp.persist.Retention(snapshot_every=0)
    with pytest.raises(ValueError, match="keep_snapshots"):
        otp.persist.Retention(keep_snapshots=0)
    with pytest.raises(ValueError, match="share the type name 'Deposited'"):
        otp.persist.JsonCodec(Deposited, Deposited)
    with pytest.raises(ValueError, match="no such older version"):
        otp.persist.JsonCodec(Deposited, upcasters={("Deposited", 2): lambda old: old})
    with pytest.raises(ValueError, match="version must be an int >= 1"):
        otp.persist.EventData("json", 0, "1")


async def test_a_server_needs_a_store_and_a_persistence_id() -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(ValueError, match="persistence id must be a non-empty str"):
            await nursery.start(Ledger.start, otp.persist.MemoryStore(), "")
        with pytest.raises(TypeError, match=r"needs an otp\.persist\.EventStore"):
            await nursery.start(Ledger.start, object(), "l")


async def test_a_snapshot_of_another_state_version_is_skipped_for_the_events() -> None:
    store = otp.persist.MemoryStore()
    data = otp.persist.EventData("json", 1, "5")
    await store.append("l", [data], expected=0)
    await store.save_snapshot(otp.persist.SnapshotData("l", 1, 99, '"garbage"'))
    async with trio.open_nursery() as nursery:
        ledger = await nursery.start(Ledger.start, store, "l")
        assert await ledger.call("get") == [5]
        nursery.cancel_scope.cancel()

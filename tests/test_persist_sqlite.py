"""The SQLite store: group commit, bad files, disk full, and a process killed with SIGKILL."""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import otp
import otp.persist
from otp.persist import EventData
from tests.persist_helpers import Ledger

ROOT = Path(__file__).resolve().parent.parent
ONE = EventData("json", 1, "1")


async def test_concurrent_appends_are_group_committed_in_order(tmp_path: Path) -> None:
    async with otp.persist.SqliteStore.open(tmp_path / "e.db") as store:
        results: dict[str, list[int]] = {}

        async def writer(stream: str) -> None:
            last = 0
            for _ in range(20):
                last = await store.append(stream, [ONE], expected=last)
                results.setdefault(stream, []).append(last)

        async with trio.open_nursery() as nursery:
            for n in range(8):
                nursery.start_soon(writer, f"s{n}")
        assert all(seqs == list(range(1, 21)) for seqs in results.values())
        log = await store.read_all(limit=1000)
        assert len(log) == 160
        assert [r.position for r in log] == sorted(r.position for r in log)
        with pytest.raises(otp.persist.ConcurrencyConflict):
            await store.append("s0", [ONE], expected=3)
        assert await store.last_sequence("s0") == 20


async def test_a_cancelled_append_still_queued_is_withdrawn(tmp_path: Path) -> None:
    async with otp.persist.SqliteStore.open(tmp_path / "e.db") as store:
        scope = trio.CancelScope()

        async def queued() -> None:
            with scope:
                await store.append("b", [ONE], expected=None)

        blocker = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the leader's commit waits for this lock
        async with trio.open_nursery() as nursery:
            nursery.start_soon(functools.partial(store.append, "a", [ONE], expected=None))
            await trio.testing.wait_all_tasks_blocked()  # "a" leads, in its thread
            nursery.start_soon(queued)
            await trio.testing.wait_all_tasks_blocked()  # "b" waits in the queue
            scope.cancel()
            await trio.testing.wait_all_tasks_blocked()
            blocker.execute("COMMIT")
            blocker.close()
        assert scope.cancelled_caught
        assert await store.last_sequence("a") == 1
        assert await store.last_sequence("b") == 0
        assert await store.append("b", [ONE], expected=0) == 1  # the store goes on


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 500)
    with pytest.raises(otp.persist.StoreCorrupted, match="not a valid store"):
        async with otp.persist.SqliteStore.open(path):
            pass


async def _fill(path: Path, events: int) -> None:
    async with otp.persist.SqliteStore.open(path) as store:
        big = EventData("json", 1, '"' + "x" * 500 + '"')
        await store.append("ledger", [big] * events, expected=0)


async def start_ledger(path: Path) -> None:
    async with (
        otp.persist.SqliteStore.open(path) as store,
        otp.open_supervisor([Ledger.child_spec(store, "ledger")]),
    ):
        pass


async def test_a_truncated_file_stops_the_server_from_starting(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    await _fill(path, 2000)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size // 2)
    # Refused when the store opens, or else when the server reads its events: never a
    # server running on half a history.
    with pytest.raises((otp.persist.StoreCorrupted, otp.StartError)) as caught:
        await start_ledger(path)
    error = caught.value
    if isinstance(error, otp.StartError):
        error = error.__cause__
    assert isinstance(error, otp.persist.StoreCorrupted)
    assert "malformed" in str(error)


async def test_integrity_check_on_open_finds_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    await _fill(path, 2000)
    data = bytearray(path.read_bytes())
    data[8192 : 8192 + 4096] = b"\xff" * 4096  # scribble over a page
    path.write_bytes(bytes(data))
    with pytest.raises(otp.persist.StoreCorrupted):
        async with otp.persist.SqliteStore.open(path, integrity_check=True):
            pass


async def test_a_row_with_an_unknown_schema_version_stops_the_server(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    async with otp.persist.SqliteStore.open(path) as store:
        await store.append("ledger", [ONE, EventData("json", 7, "2")], expected=0)
    with pytest.raises(otp.StartError) as caught:
        await start_ledger(path)
    error = caught.value.__cause__
    assert isinstance(error, otp.persist.SchemaVersionError)
    assert "event 2 of 'ledger' has the type 'json'" in str(error)


async def test_disk_full_is_a_clear_error_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    async with otp.persist.SqliteStore.open(path) as store:
        await store.append("warm", [ONE], expected=0)
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    # A database that may not grow: SQLite's own "database or disk is full".
    async with otp.persist.SqliteStore.open(path, pragmas={"max_page_count": pages}) as store:
        children = [Ledger.child_spec(store, "ledger", name="ledger", restart="temporary")]
        async with otp.open_supervisor(children):
            ledger = otp.named("ledger")
            acknowledged = 0

            async def fill() -> None:
                nonlocal acknowledged
                for n in range(10_000):
                    await ledger.call(("add", n), timeout=None)
                    acknowledged += 1

            with pytest.raises(otp.ServerExited) as caught:
                await fill()
        error = caught.value.__cause__
        assert isinstance(error, otp.persist.StoreFull)
        assert "database or disk is full" in str(error)
        assert isinstance(error.__cause__, sqlite3.OperationalError)
        assert await store.last_sequence("ledger") == acknowledged
    async with otp.persist.SqliteStore.open(path) as store, trio.open_nursery() as nursery:
        ledger = await nursery.start(Ledger.start, store, "ledger")
        assert await ledger.call("get", timeout=None) == list(range(acknowledged))
        nursery.cancel_scope.cancel()


CHILD = textwrap.dedent(
    """
    import sys
    import trio
    import otp, otp.persist
    from tests.persist_helpers import Ledger

    async def client(stream):
        ledger = otp.named(stream)
        n = 0
        while True:
            await ledger.call(("add", n), timeout=None)
            print(stream, n, flush=True)
            n += 1

    async def main():
        async with otp.persist.SqliteStore.open(sys.argv[1]) as store:
            streams = [f"s{i}" for i in range(3)]
            children = [Ledger.child_spec(store, s, name=s) for s in streams]
            async with otp.open_supervisor(children), trio.open_nursery() as nursery:
                for s in streams:
                    nursery.start_soon(client, s)

    trio.run(main)
    """
)


@settings(max_examples=4, deadline=None)
@given(acks_before_kill=st.integers(1, 300))
def test_sigkill_of_the_whole_process_loses_no_acknowledged_event(
    acks_before_kill: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("sigkill") / "events.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    acked: dict[str, list[int]] = {}
    try:
        assert process.stdout is not None
        safety = time.monotonic() + 60  # a bound on a hang, not a performance limit
        seen = 0
        while seen < acks_before_kill and time.monotonic() < safety:
            line = process.stdout.readline()
            if not line:
                break
            stream, value = line.decode().split()
            acked.setdefault(stream, []).append(int(value))
            seen += 1
        assert seen == acks_before_kill, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        rest = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
    # Acks printed before the kill landed. A last line cut short by the kill is not counted:
    # that reply came, but the test cannot tell which one (at most one more event is there).
    for line in rest.decode().split("\n")[:-1]:
        stream, value = line.split()
        acked.setdefault(stream, []).append(int(value))

    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()

    async def check() -> None:
        async with otp.persist.SqliteStore.open(path) as store:
            for stream in ("s0", "s1", "s2"):
                records = await store.read(stream)
                assert [r.sequence for r in records] == list(range(1, len(records) + 1))
                values = [int(r.data) for r in records]
                mine = acked.get(stream, [])
                # Every acknowledged event is there, once, in order; at most the one command
                # in flight (committed, its ack not yet printed) is there too.
                assert values[: len(mine)] == mine
                assert values == list(range(len(values)))
                assert len(values) - len(mine) <= 1
                async with trio.open_nursery() as nursery:
                    ledger = await nursery.start(Ledger.start, store, stream)
                    assert await ledger.call("get", timeout=None) == values
                    nursery.cancel_scope.cancel()

    trio.run(check)


async def test_a_conflict_in_a_group_commit_fails_only_its_own_append(tmp_path: Path) -> None:
    async with otp.persist.SqliteStore.open(tmp_path / "e.db") as store:
        outcomes: dict[str, object] = {}

        async def append(label: str, stream: str) -> None:
            try:
                outcomes[label] = await store.append(stream, [ONE], expected=0)
            except otp.persist.ConcurrencyConflict as exc:
                outcomes[label] = exc

        blocker = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the first commit, so the rest queue up
        async with trio.open_nursery() as nursery:
            nursery.start_soon(append, "leader", "x")
            await trio.testing.wait_all_tasks_blocked()
            for label, stream in [("first", "s"), ("second", "s"), ("other", "t")]:
                nursery.start_soon(append, label, stream)
            await trio.testing.wait_all_tasks_blocked()
            blocker.execute("COMMIT")
            blocker.close()
        assert outcomes["leader"] == 1
        # One batch: whichever of the two writers of "s" came first wins, the other alone fails.
        assert sorted(str(type(outcomes[label]).__name__) for label in ("first", "second")) == [
            "ConcurrencyConflict",
            "int",
        ]
        assert outcomes["other"] == 1
        log = [r.stream for r in await store.read_all()]
        assert log[0] == "x"
        assert sorted(log[1:]) == ["s", "t"]


async def test_the_store_refuses_memory_paths_and_bad_pragmas(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        async with otp.persist.SqliteStore.open(":memory:"):
            pass
    with pytest.raises(ValueError, match="pragma names are words"):
        async with otp.persist.SqliteStore.open(tmp_path / "e.db", pragmas={"a;b": 1}):
            pass


async def test_a_second_writer_on_the_same_file_gets_a_conflict(tmp_path: Path) -> None:
    # Each store remembers the last sequence it wrote; the other one's appends must still
    # be seen, through the index, not through that memory.
    async with (
        otp.persist.SqliteStore.open(tmp_path / "e.db") as first,
        otp.persist.SqliteStore.open(tmp_path / "e.db") as second,
    ):
        assert await first.append("s", [ONE], expected=0) == 1
        assert await first.append("s", [ONE], expected=1) == 2
        assert await second.append("s", [ONE], expected=2) == 3
        with pytest.raises(otp.persist.ConcurrencyConflict) as caught:
            await first.append("s", [ONE, ONE], expected=2)
        assert (caught.value.expected, caught.value.actual) == (2, 3)
        # Without an expectation the stale writer appends after the other one's events.
        assert await first.append("s", [ONE, ONE], expected=None) == 5
        assert [e.sequence for e in await second.read("s")] == [1, 2, 3, 4, 5]


async def test_a_conflict_is_seen_even_when_the_other_writer_compacted(tmp_path: Path) -> None:
    async with (
        otp.persist.SqliteStore.open(tmp_path / "e.db") as first,
        otp.persist.SqliteStore.open(tmp_path / "e.db") as second,
    ):
        assert await first.append("s", [ONE], expected=0) == 1
        assert await second.append("s", [ONE, ONE], expected=1) == 3
        await second.delete_events("s", up_to=3)  # sequence 2's row is gone, its mark stays
        with pytest.raises(otp.persist.ConcurrencyConflict) as caught:
            await first.append("s", [ONE], expected=1)
        assert caught.value.actual == 3
        assert await first.append("s", [ONE], expected=3) == 4
        assert [e.sequence for e in await first.read("s")] == [4]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),  # which writer
            st.sampled_from(["s", "t"]),  # which stream
            st.integers(0, 2),  # events
            st.one_of(st.none(), st.integers(-1, 1)),  # expectation: None or last + delta
            st.booleans(),  # compact after
        ),
        max_size=25,
    )
)
def test_two_writers_agree_with_the_memory_store(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str, int, int | None, bool]]
) -> None:
    path = tmp_path_factory.mktemp("model") / "e.db"

    async def run() -> None:
        model = otp.persist.MemoryStore()
        async with (
            otp.persist.SqliteStore.open(path) as a,
            otp.persist.SqliteStore.open(path) as b,
        ):
            writers = {"a": a, "b": b}
            for writer, stream, count, delta, compact in steps:
                last = await model.last_sequence(stream)
                expected = None if delta is None else max(0, last + delta)
                events = [EventData("json", 1, str(n)) for n in range(count)]
                outcomes = []
                for store in (model, writers[writer]):
                    try:
                        outcomes.append(await store.append(stream, events, expected=expected))
                    except otp.persist.ConcurrencyConflict as exc:
                        outcomes.append((exc.expected, exc.actual))
                assert outcomes[0] == outcomes[1]
                if compact:
                    await model.delete_events(stream, up_to=last)
                    await writers[writer].delete_events(stream, up_to=last)
            for stream in ("s", "t"):
                expect = [(e.sequence, e.data) for e in await model.read(stream)]
                for store in (a, b):
                    assert [(e.sequence, e.data) for e in await store.read(stream)] == expect
                    assert await store.last_sequence(stream) == await model.last_sequence(stream)

    trio.run(run)

"""otp.pool: lending, overflow, waiting, crashed users, health checks, idle timeout, stop."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

import otp
from otp.pool import Pool, PoolClosed, PoolExhausted, ResourceFailed


class Conn:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.healthy = True

    def __repr__(self) -> str:
        return f"Conn({self.number})"


class Backend:
    """A fake server: makes numbered connections and records which were closed."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)
        self.made: list[Conn] = []
        self.fail_next = 0

    async def connect(self) -> Conn:
        await trio.sleep(0.01)
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionRefusedError("backend down")
        conn = Conn(next(self.numbers))
        self.made.append(conn)
        return conn

    async def close(self, conn: Conn) -> None:
        await trio.sleep(0.01)
        conn.closed = True

    @property
    def open(self) -> list[int]:
        return [c.number for c in self.made if not c.closed]


async def healthy(conn: Conn) -> bool:
    await trio.lowlevel.checkpoint()
    return conn.healthy


@asynccontextmanager
async def running(backend: Backend, **options: Any) -> AsyncIterator[Pool[Conn]]:
    pool = Pool("db", backend.connect, close=backend.close, **options)
    async with otp.open_supervisor([pool.child_spec()]):
        yield pool
    assert backend.open == []  # every resource closed at the stop


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"factory": 5}, r"factory must be an async function \(got 5\)"),
        ({"close": "x"}, "close must be an async function or None"),
        ({"min_size": -1}, "min_size must be an int >= 0"),
        ({"max_size": 0}, "max_size must be an int >= 1"),
        ({"min_size": 5, "max_size": 2}, r"min_size \(5\) must not exceed max_size \(2\)"),
        ({"acquire_timeout": -1}, "acquire_timeout must be a number of seconds >= 0"),
        ({"idle_timeout": "1"}, "idle_timeout must be a number of seconds >= 0 or None"),
        ({"check_timeout": 0}, "check_timeout must be a number of seconds > 0"),
        ({"check_interval": 1.0}, "check_interval needs a health_check"),
        ({"replace_on_error": 1}, "replace_on_error must be True or False"),
        ({"name": ""}, "name must be a non-empty str"),
    ],
)
def test_a_bad_declaration_fails_at_once(options: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"name": "db", "factory": Backend().connect, **options}
    with pytest.raises(otp.pool.PoolDeclarationError, match=match):
        Pool(arguments.pop("name"), arguments.pop("factory"), **arguments)


async def test_min_size_is_ready_at_start_and_resources_are_reused() -> None:
    backend = Backend()
    async with running(backend, min_size=2) as pool:
        assert backend.open == [1, 2]
        assert pool.supervisor is not None
        assert pool.supervisor.count_children().active == 2  # supervised workers
        async with pool.acquire() as first:
            assert pool.statistics().busy == 1
        async with pool.acquire() as again:
            assert again is first  # the most recently returned is lent first
        stats = pool.statistics()
        assert (stats.size, stats.idle, stats.busy, stats.created) == (2, 2, 0, 2)


async def test_overflow_grows_to_max_then_acquirers_wait_in_turn_then_time_out() -> None:
    backend = Backend()
    got: dict[str, int] = {}
    async with running(backend, min_size=1, max_size=2, acquire_timeout=1.0) as pool:
        done = {label: trio.Event() for label in "abcd"}

        async def user(label: str) -> None:
            async with pool.acquire() as conn:
                got[label] = conn.number
                await done[label].wait()

        async with trio.open_nursery() as nursery:
            for label in "ab":
                nursery.start_soon(user, label)
            await trio.sleep(0.5)
            assert sorted(got.values()) == [1, 2]
            assert pool.statistics().overflow == 1
            with pytest.raises(PoolExhausted, match=r"all 2 resources stayed busy for 1 s"):
                async with pool.acquire():
                    pass
            for label in "cd":
                nursery.start_soon(user, label)
                await trio.sleep(0.1)
            assert pool.statistics().waiting == 2
            done["a"].set()
            await trio.sleep(0.1)
            assert got["c"] == got["a"]  # the first to wait gets the first one back
            assert "d" not in got
            done["b"].set()
            await trio.sleep(0.1)
            assert got["d"] == got["b"]
            done["c"].set()
            done["d"].set()
        assert pool.statistics().exhausted == 1


async def test_a_user_that_crashes_gets_its_resource_replaced() -> None:
    backend = Backend()
    async with running(backend, min_size=1, max_size=1) as pool:
        with pytest.raises(ValueError, match="user bug"):
            async with pool.acquire() as conn:
                raise ValueError("user bug")
        await trio.sleep(0.1)
        assert conn.closed
        async with pool.acquire() as fresh:
            assert fresh.number == 2
        assert pool.statistics().replaced == 1


async def test_a_cancelled_user_gets_its_resource_replaced_too() -> None:
    backend = Backend()
    async with running(backend, min_size=1, max_size=1) as pool:
        with trio.move_on_after(1):
            async with pool.acquire() as conn:
                await trio.sleep_forever()
        await trio.sleep(0.1)
        assert conn.closed
        assert backend.open == [2]


async def test_without_replace_on_error_the_resource_is_given_back() -> None:
    backend = Backend()
    async with running(backend, min_size=1, replace_on_error=False) as pool:
        with pytest.raises(KeyError):
            async with pool.acquire() as conn:
                raise KeyError("x")
        async with pool.acquire() as again:
            assert again is conn
            assert not conn.closed


async def test_a_waiter_cancelled_as_it_is_handed_a_resource_passes_it_on() -> None:
    backend = Backend()
    async with running(backend, min_size=1, max_size=1, acquire_timeout=100) as pool:
        got: list[int] = []

        async def waiter(scope_box: list[trio.CancelScope]) -> None:
            with trio.CancelScope() as scope:
                scope_box.append(scope)
                async with pool.acquire() as conn:
                    got.append(conn.number)

        async with trio.open_nursery() as nursery:
            first: list[trio.CancelScope] = []
            async with pool.acquire():
                nursery.start_soon(waiter, first)
                nursery.start_soon(waiter, [])
                await trio.sleep(1)
                # the block ends: the resource goes to the first waiter, which is
                # cancelled before it runs; the second must get it
                await pool_checkin_and_cancel(first[0])
        assert got == [1]
        assert pool.statistics().busy == 0


async def pool_checkin_and_cancel(scope: trio.CancelScope) -> None:
    scope.cancel()  # same tick as the checkin that follows when the caller's block exits
    await trio.lowlevel.checkpoint_if_cancelled()


async def test_health_checks_on_checkout_retire_bad_resources() -> None:
    backend = Backend()
    async with running(backend, min_size=2, health_check=healthy) as pool:
        backend.made[1].healthy = False  # the one lent first
        async with pool.acquire() as conn:
            assert conn.number == 1
        await trio.sleep(0.1)
        assert backend.open == [1, 3]  # 2 retired and replaced to keep min_size
        assert pool.statistics().failed_checks == 1


async def test_a_check_that_raises_or_hangs_counts_as_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def moody(conn: Conn) -> bool:
        if conn.number == 1:
            raise OSError("ping failed")
        if conn.number == 2:
            await trio.sleep_forever()
        return True

    backend = Backend()
    async with running(
        backend, min_size=0, max_size=3, health_check=moody, check_timeout=1
    ) as pool:
        async with pool.acquire(), pool.acquire():
            pass  # conns 1 and 2 are idle now, 2 returned last
        async with pool.acquire() as conn:
            assert conn.number == 3  # 2 hung past the timeout, then 1 raised
    assert "health check of Conn(1) raised OSError('ping failed')" in caplog.text
    assert "health check of Conn(2) took over 1 s" in caplog.text


async def test_periodic_checks_find_bad_idle_resources() -> None:
    backend = Backend()
    options = {"health_check": healthy, "check_interval": 10.0, "check_on_checkout": False}
    async with running(backend, min_size=2, **options) as pool:
        backend.made[0].healthy = False
        await trio.sleep(11)
        assert backend.open == [2, 3]
        assert pool.statistics().failed_checks == 1


async def test_idle_overflow_resources_are_closed_after_the_idle_timeout() -> None:
    backend = Backend()
    async with running(backend, min_size=1, max_size=3, idle_timeout=30) as pool:
        async with pool.acquire(), pool.acquire(), pool.acquire():
            pass
        assert pool.statistics().size == 3
        await trio.sleep(29)
        assert pool.statistics().size == 3
        await trio.sleep(2)
        assert pool.statistics().size == 1
        assert len(backend.open) == 1


async def test_a_failing_factory_is_reported_to_the_acquirer_and_the_pool_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = Backend()
    async with running(backend, min_size=1, max_size=2) as pool:
        async with pool.acquire():
            backend.fail_next = 1
            with pytest.raises(ResourceFailed, match="backend down") as failed:
                async with pool.acquire():
                    pass
            assert isinstance(failed.value.__cause__, ConnectionRefusedError)
        async with pool.acquire() as conn:
            assert conn.number == 1
        # replacing a retired resource retries until the backend is back
        backend.fail_next = 2
        with pytest.raises(RuntimeError):
            async with pool.acquire():
                raise RuntimeError("user bug")
        await trio.sleep(5)
        assert pool.statistics().size == 1
    assert "could not make a resource" in caplog.text
    assert pool.statistics().factory_failures == 3


async def test_a_pool_that_cannot_make_its_min_size_fails_to_start() -> None:
    backend = Backend()
    backend.fail_next = 1
    pool = Pool("db", backend.connect, min_size=1)
    with pytest.raises(otp.StartError):
        async with otp.open_supervisor([pool.child_spec()]):
            pass


async def test_stopping_closes_everything_and_fails_the_waiters() -> None:
    backend = Backend()
    pool = Pool("db", backend.connect, close=backend.close, max_size=1, acquire_timeout=100)
    outcomes: list[str] = []

    async def wait_for_one() -> None:
        try:
            async with pool.acquire():
                outcomes.append("got one")
        except PoolClosed as error:
            outcomes.append(str(error))

    async with (
        trio.open_nursery() as nursery,
        otp.open_supervisor([pool.child_spec()]) as sup,
        pool.acquire(),
    ):
        nursery.start_soon(wait_for_one)
        await trio.sleep(1)
        await sup.terminate_child("db")
    assert outcomes == ["pool 'db' stopped while this acquire waited"]
    assert backend.open == []
    with pytest.raises(PoolClosed, match="not running; start it"):
        async with pool.acquire():
            pass


@settings(max_examples=30, deadline=None)
@given(
    users=st.lists(
        st.tuples(st.floats(0, 2), st.sampled_from(["ok", "crash", "cancel"])),
        min_size=1,
        max_size=25,
    ),
    max_size=st.integers(1, 4),
)
def test_no_resource_is_ever_leaked_or_lent_twice(
    users: list[tuple[float, str]], max_size: int
) -> None:
    backend = Backend()
    in_use: set[int] = set()

    async def user(hold: float, ending: str, pool: Pool[Conn]) -> None:
        try:
            with trio.move_on_after(hold / 2 if ending == "cancel" else 100):
                async with pool.acquire() as conn:
                    assert conn.number not in in_use
                    assert not conn.closed
                    in_use.add(conn.number)
                    try:
                        await trio.sleep(hold)
                        if ending == "crash":
                            raise ValueError("user bug")
                    finally:
                        in_use.discard(conn.number)
        except (ValueError, PoolExhausted):
            pass

    async def main() -> None:
        pool = Pool("db", backend.connect, close=backend.close, max_size=max_size, min_size=0)
        async with otp.open_supervisor([pool.child_spec()]):
            async with trio.open_nursery() as nursery:
                for hold, ending in users:
                    nursery.start_soon(user, hold, ending, pool)
            await trio.sleep(1)  # retired resources finish closing
            stats = pool.statistics()
            assert stats.busy == 0
            assert stats.waiting == 0
            assert stats.size <= max_size
            assert stats.size == len(backend.open)

    trio.run(main, clock=MockClock(autojump_threshold=0))
    assert backend.open == []

"""A pool of resources, each owned by a supervised worker child, lent out one user at a time.

The path of a resource: ``_create`` asks the pool's dynamic supervisor for a worker
(``_own``), which makes the resource and passes it on; ``acquire`` lends it to one user and
takes it back when the block ends (or retires it, if the block raised); a retired resource's
worker ends, closing it in its cleanup scope. The housekeeping task keeps ``min_size``
resources, closes the extra ones that stay idle, and checks the idle ones periodically.
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar, final

import attrs
import outcome
import trio

import otp

from ._errors import PoolClosed, PoolDeclarationError, PoolExhausted, ResourceFailed

__all__ = ["Pool", "PoolStatistics"]

logger = logging.getLogger("otp.pool")

R = TypeVar("R")

_IDLE, _BUSY, _RETIRED = "idle", "busy", "retired"


class _Slot(Generic[R]):
    """One resource and the worker child that owns it."""

    __slots__ = ("child", "idle_since", "resource", "retire", "state")

    def __init__(self) -> None:
        self.resource: R | None = None
        self.child: otp.Child | None = None
        self.state = _BUSY
        self.idle_since = 0.0
        self.retire = trio.Event()


class _Waiter:
    """An acquirer waiting in line.

    It is rescheduled with a slot, ``None`` (room was made: look again) or an error.
    """

    __slots__ = ("deadline", "task")

    def __init__(self, task: trio.lowlevel.Task, deadline: float) -> None:
        self.task = task
        self.deadline = deadline


class _Lease(Generic[R]):
    """What :meth:`Pool.acquire` returns: lends a resource for an ``async with`` block."""

    __slots__ = ("_pool", "_slot")

    def __init__(self, pool: Pool[R]) -> None:
        self._pool = pool
        self._slot: _Slot[R] | None = None

    async def __aenter__(self) -> R:
        slot = self._slot = await self._pool._checkout()
        return slot.resource  # type: ignore[return-value]

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        slot = self._slot
        assert slot is not None
        self._slot = None
        pool = self._pool
        pool._checkin(slot, broken=exc_type is not None and pool.replace_on_error)


@final
@attrs.frozen
class PoolStatistics:
    """What a pool holds and has done (see :meth:`Pool.statistics`).

    ``size`` counts resources (idle, busy, and being made); ``overflow`` those beyond
    ``min_size``; ``replaced`` those retired because their user raised or a health check
    failed; ``exhausted`` acquires that timed out.

    Example::

        stats = pool.statistics()
        print(f"{stats.busy}/{stats.size} busy, {stats.waiting} waiting")
    """

    size: int
    idle: int
    busy: int
    waiting: int
    overflow: int
    created: int
    closed: int
    replaced: int
    failed_checks: int
    exhausted: int
    factory_failures: int


def _seconds(field: str, value: object, *, allow_none: bool, allow_zero: bool = False) -> None:
    if value is None and allow_none:
        return
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and not math.isnan(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        none = " or None" if allow_none else ""
        msg = f"Pool: {field} must be a number of seconds {bound}{none} (got {value!r})"
        raise PoolDeclarationError(msg)


def _callable(field: str, value: object, *, optional: bool) -> None:
    if (value is None and optional) or callable(value):
        return
    msg = f"Pool: {field} must be an async function{' or None' if optional else ''} (got {value!r})"
    raise PoolDeclarationError(msg)


@final
class Pool(Generic[R]):
    """Resources made by ``factory``, lent to one user at a time, like Erlang's poolboy.

    Each resource is owned by a worker child of the pool's own dynamic supervisor, which
    closes it (``close(resource)``, within the child's shutdown time) when the pool retires
    it or stops. The pool keeps ``min_size`` resources ready and makes more on demand, up
    to ``max_size``; those beyond ``min_size`` (the overflow) are closed after
    ``idle_timeout`` seconds unused. An acquire that finds every resource busy waits, first
    come first served, up to ``acquire_timeout``, then raises :class:`PoolExhausted`.

    A user whose block raises (a crash, or cancellation) may have left the resource half
    way through something, so it is retired and replaced (``replace_on_error=True``) or
    given back as it is. Either way it is never leaked: :meth:`acquire` is a context
    manager, and the pool always gets its resource back.

    Args:
        name: The pool's name, its child id by default.
        factory: ``async () -> resource``; an error from it is :class:`ResourceFailed` for
            an acquirer, and fails the pool's start for the first ``min_size``.
        close: ``async (resource) -> None``, run when a resource is retired.
        min_size: Resources kept ready (made at start, replaced when retired). Default 1.
        max_size: The most resources at once. Default 10.
        acquire_timeout: Seconds an acquire waits for a resource. Default 5.
        idle_timeout: Seconds an overflow resource may stay idle (``None``: forever).
            Default 60.
        health_check: ``async (resource) -> bool``; false, an error or taking longer than
            ``check_timeout`` retires the resource.
        check_on_checkout: Check each idle resource before lending it. Default ``True``
            (with a ``health_check``).
        check_interval: Also check idle resources every so many seconds (``None``: never).
        check_timeout: Seconds a health check may take. Default 5.
        replace_on_error: Retire a resource whose user raised. Default ``True``.
        shutdown: Seconds each worker gets to close its resource. Default 5.

    Example::

        pool = otp.pool.Pool("db", connect, close=disconnect, min_size=2, max_size=10)
        async with otp.open_supervisor([pool.child_spec()]):
            async with pool.acquire() as conn:
                await conn.execute("select 1")
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], Awaitable[R]],
        *,
        close: Callable[[R], Awaitable[object]] | None = None,
        min_size: int = 1,
        max_size: int = 10,
        acquire_timeout: float = 5.0,
        idle_timeout: float | None = 60.0,
        health_check: Callable[[R], Awaitable[bool]] | None = None,
        check_on_checkout: bool = True,
        check_interval: float | None = None,
        check_timeout: float = 5.0,
        replace_on_error: bool = True,
        shutdown: float = 5.0,
    ) -> None:
        given_name: object = name
        if not isinstance(given_name, str) or not given_name:
            msg = f"Pool: name must be a non-empty str (got {name!r})"
            raise PoolDeclarationError(msg)
        _callable("factory", factory, optional=False)
        _callable("close", close, optional=True)
        _callable("health_check", health_check, optional=True)
        sizes: tuple[tuple[str, object, int], ...] = (
            ("min_size", min_size, 0),
            ("max_size", max_size, 1),
        )
        for field, value, least in sizes:
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                msg = f"Pool: {field} must be an int >= {least} (got {value!r})"
                raise PoolDeclarationError(msg)
        if min_size > max_size:
            msg = f"Pool: min_size ({min_size}) must not exceed max_size ({max_size})"
            raise PoolDeclarationError(msg)
        _seconds("acquire_timeout", acquire_timeout, allow_none=False, allow_zero=True)
        _seconds("idle_timeout", idle_timeout, allow_none=True, allow_zero=True)
        _seconds("check_interval", check_interval, allow_none=True)
        _seconds("check_timeout", check_timeout, allow_none=False)
        _seconds("shutdown", shutdown, allow_none=False, allow_zero=True)
        flags: tuple[tuple[str, object], ...] = (
            ("check_on_checkout", check_on_checkout),
            ("replace_on_error", replace_on_error),
        )
        for field, flag in flags:
            if not isinstance(flag, bool):
                msg = f"Pool: {field} must be True or False (got {flag!r})"
                raise PoolDeclarationError(msg)
        if check_interval is not None and health_check is None:
            msg = "Pool: check_interval needs a health_check to run"
            raise PoolDeclarationError(msg)

        self.name = name
        self.factory = factory
        self.close = close
        self.min_size = min_size
        self.max_size = max_size
        self.acquire_timeout = float(acquire_timeout)
        self.idle_timeout = None if idle_timeout is None else float(idle_timeout)
        self.health_check = health_check
        self.check_on_checkout = check_on_checkout and health_check is not None
        self.check_interval = None if check_interval is None else float(check_interval)
        self.check_timeout = float(check_timeout)
        self.replace_on_error = replace_on_error
        self.shutdown = float(shutdown)

        self._supervisor: otp.DynamicSupervisor | None = None
        self._slots: set[_Slot[R]] = set()
        self._idle: list[_Slot[R]] = []  # the most recently returned last: lent first
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._making = 0
        self._changed = trio.Event()
        self._counts = collections.Counter[str]()

    def __repr__(self) -> str:
        return f"<otp.pool.Pool {self.name!r} {len(self._slots)}/{self.max_size}>"

    # -- running -------------------------------------------------------------------------

    def child_spec(self, id: str | None = None, **options: Any) -> otp.ChildSpec:  # noqa: A002, ANN401
        """A child spec running this pool (``options`` go to :class:`otp.ChildSpec`).

        It is a ``supervisor``-type child (its workers are its children), so its shutdown
        defaults to ``infinity``: each worker is bounded by the pool's ``shutdown``.

        Example::

            async with otp.open_supervisor([pool.child_spec()]):
                ...
        """
        options.setdefault("type", "supervisor")
        return otp.ChildSpec(self.name if id is None else id, self.run, **options)

    async def run(
        self, *, task_status: trio.TaskStatus[Pool[R]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the pool: make ``min_size`` resources, then ``started(self)``, until cancelled.

        When it stops, acquirers still waiting get :class:`PoolClosed` and every resource is
        closed by its worker.

        Example::

            pool = await nursery.start(otp.pool.Pool("db", connect).run)
        """
        if self._supervisor is not None:
            msg = f"pool {self.name!r} is already running; run it once at a time"
            raise RuntimeError(msg)
        template = otp.ChildSpec(
            f"{self.name} resource", self._own, restart="temporary", shutdown=self.shutdown
        )
        name = None if otp.current_child() is not None else f"pool {self.name}"
        try:
            async with otp.open_dynamic_supervisor(template, name=name) as supervisor:
                self._supervisor = supervisor
                for _ in range(self.min_size):
                    self._lend_or_keep(await self._create())
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._housekeep)
                    nursery.start_soon(self._expire_waiters)
                    task_status.started(self)
        finally:
            self._supervisor = None
            self._slots.clear()
            self._idle.clear()
            while self._waiters:
                msg = f"pool {self.name!r} stopped while this acquire waited"
                trio.lowlevel.reschedule(
                    self._waiters.popleft().task, outcome.Error(PoolClosed(msg))
                )

    async def _own(self, slot: _Slot[R], *, task_status: trio.TaskStatus[R]) -> None:
        """A worker: make the resource, hold it until it is retired, then close it."""
        resource = await self.factory()
        slot.resource = resource
        task_status.started(resource)
        try:
            await slot.retire.wait()
        finally:
            slot.state = _RETIRED
            self._counts["closed"] += 1
            if self.close is not None:
                with otp.cleanup_scope():
                    await self.close(resource)

    async def _create(self) -> _Slot[R]:
        supervisor = self._running()
        slot: _Slot[R] = _Slot()
        self._making += 1
        try:
            child = await supervisor.start_child(slot)
        except otp.StartError as error:
            self._counts["factory_failures"] += 1
            cause = error.__cause__
            msg = f"pool {self.name!r} could not make a resource: {cause!r}"
            raise ResourceFailed(msg) from cause
        finally:
            self._making -= 1
        assert child is not None
        slot.child = child
        self._slots.add(slot)
        self._counts["created"] += 1
        return slot

    def _running(self) -> otp.DynamicSupervisor:
        if self._supervisor is None:
            msg = f"pool {self.name!r} is not running; start it (child_spec() or run()) first"
            raise PoolClosed(msg)
        return self._supervisor

    # -- lending -------------------------------------------------------------------------

    def acquire(self) -> AbstractAsyncContextManager[R]:
        """Lend one resource for the ``async with`` block.

        Raises :class:`PoolExhausted` after ``acquire_timeout``, :class:`ResourceFailed` if
        a new resource could not be made, :class:`PoolClosed` if the pool is not running.

        Example::

            async with pool.acquire() as conn:
                rows = await conn.fetch(query)
        """
        return _Lease(self)

    async def _checkout(self) -> _Slot[R]:
        await trio.lowlevel.checkpoint_if_cancelled()
        self._running()
        idle = self._idle
        if idle and not self.check_on_checkout:
            slot = idle.pop()
            slot.state = _BUSY
            await trio.lowlevel.cancel_shielded_checkpoint()
            return slot
        deadline = trio.current_time() + self.acquire_timeout
        waited = False
        while True:
            while idle:
                slot = idle.pop()
                slot.state = _BUSY
                if not self.check_on_checkout or await self._healthy(slot):
                    return slot
            if self._size() < self.max_size:
                return await self._create()
            # Back in line at the front if it had waited already: it came first.
            handed = await self._wait(deadline, front=waited)
            if handed is not None:
                return handed
            waited = True

    async def _wait(self, deadline: float, *, front: bool) -> _Slot[R] | None:
        if self.acquire_timeout == 0:
            raise self._exhausted()
        waiter = _Waiter(trio.lowlevel.current_task(), deadline)
        if front:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)

        def abort(_: object) -> trio.lowlevel.Abort:
            self._waiters.remove(waiter)
            return trio.lowlevel.Abort.SUCCEEDED

        handed: _Slot[R] | None = await trio.lowlevel.wait_task_rescheduled(abort)
        return handed

    def _exhausted(self) -> PoolExhausted:
        self._counts["exhausted"] += 1
        msg = (
            f"pool {self.name!r}: all {self.max_size} resources stayed busy for "
            f"{self.acquire_timeout:g} s ({len(self._waiters)} other acquirers waiting)"
        )
        return PoolExhausted(msg)

    async def _expire_waiters(self) -> None:
        """Fail the waiters whose acquire timed out: one timer for all of them.

        Every waiter waits ``acquire_timeout``, so the line's deadlines only grow: the
        first is the next to expire.
        """
        waiters = self._waiters
        while True:
            now = trio.current_time()
            while waiters and waiters[0].deadline <= now:
                waiter = waiters.popleft()
                trio.lowlevel.reschedule(waiter.task, outcome.Error(self._exhausted()))
            await trio.sleep_until(waiters[0].deadline if waiters else now + self.acquire_timeout)

    def _checkin(self, slot: _Slot[R], *, broken: bool) -> None:
        if slot.state is _RETIRED or self._supervisor is None:
            return
        if broken:
            self._counts["replaced"] += 1
            self._retire(slot)
            return
        self._lend_or_keep(slot)

    def _lend_or_keep(self, slot: _Slot[R]) -> None:
        """Hand ``slot`` to the first waiter, or keep it idle."""
        if self._waiters:
            slot.state = _BUSY
            trio.lowlevel.reschedule(self._waiters.popleft().task, outcome.Value(slot))
            return
        slot.state = _IDLE
        slot.idle_since = trio.current_time()
        self._idle.append(slot)
        self._changed.set()

    def _retire(self, slot: _Slot[R]) -> None:
        slot.state = _RETIRED
        self._slots.discard(slot)
        if slot in self._idle:
            self._idle.remove(slot)
        slot.retire.set()
        if self._waiters:  # room for one more: the first waiter makes it
            trio.lowlevel.reschedule(self._waiters.popleft().task, outcome.Value(None))
        self._changed.set()

    async def _healthy(self, slot: _Slot[R]) -> bool:
        """Run the health check on a busy slot; retire it if it fails."""
        check = self.health_check
        assert check is not None
        healthy = False
        with trio.move_on_after(self.check_timeout) as waited:
            try:
                healthy = bool(await check(slot.resource))  # type: ignore[arg-type]
            except Exception as error:  # noqa: BLE001  (a failed check, not a pool crash)
                logger.warning(
                    "pool %r: health check of %r raised %r", self.name, slot.resource, error
                )
        if waited.cancelled_caught:
            logger.warning(
                "pool %r: health check of %r took over %g s",
                self.name,
                slot.resource,
                self.check_timeout,
            )
        if not healthy:
            self._counts["failed_checks"] += 1
            self._counts["replaced"] += 1
            self._retire(slot)
        return healthy

    def _size(self) -> int:
        return len(self._slots) + self._making

    # -- housekeeping --------------------------------------------------------------------

    async def _housekeep(self) -> None:
        next_check = (
            math.inf if self.check_interval is None else trio.current_time() + self.check_interval
        )
        retry_at = math.inf
        while True:
            # A fresh event before the pass: what the pass itself changes wakes the next.
            changed = self._changed = trio.Event()
            now = trio.current_time()
            if now >= retry_at or retry_at is math.inf:
                retry_at = math.inf
                try:
                    await self._refill()
                except ResourceFailed as error:
                    logger.error("%s; trying again in 1 s", error)
                    retry_at = trio.current_time() + 1.0
            self._close_idle_overflow(trio.current_time())
            if trio.current_time() >= next_check:
                await self._check_idle()
                assert self.check_interval is not None
                next_check = trio.current_time() + self.check_interval
            wake = min(next_check, retry_at, self._next_idle_expiry())
            with trio.move_on_at(wake):
                await changed.wait()

    async def _refill(self) -> None:
        while self._size() < self.min_size:
            self._lend_or_keep(await self._create())

    def _next_idle_expiry(self) -> float:
        if self.idle_timeout is None or len(self._slots) <= self.min_size or not self._idle:
            return math.inf
        return min(slot.idle_since for slot in self._idle) + self.idle_timeout

    def _close_idle_overflow(self, now: float) -> None:
        if self.idle_timeout is None:
            return
        for slot in sorted(self._idle, key=lambda s: s.idle_since):
            if len(self._slots) <= self.min_size:
                return
            if now - slot.idle_since >= self.idle_timeout:
                self._retire(slot)

    async def _check_idle(self) -> None:
        for slot in list(self._idle):
            if slot.state is not _IDLE:
                continue
            self._idle.remove(slot)
            slot.state = _BUSY
            if await self._healthy(slot):
                self._lend_or_keep(slot)

    # -- looking inside ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the pool is running."""
        return self._supervisor is not None

    @property
    def supervisor(self) -> otp.DynamicSupervisor | None:
        """The dynamic supervisor of the pool's workers while it runs, else ``None``."""
        return self._supervisor

    def statistics(self) -> PoolStatistics:
        """Counts now and since the pool was made.

        Example::

            assert pool.statistics().busy == 0
        """
        size = self._size()
        idle = len(self._idle)
        return PoolStatistics(
            size=size,
            idle=idle,
            busy=len(self._slots) - idle,
            waiting=len(self._waiters),
            overflow=max(0, size - self.min_size),
            created=self._counts["created"],
            closed=self._counts["closed"],
            replaced=self._counts["replaced"],
            failed_checks=self._counts["failed_checks"],
            exhausted=self._counts["exhausted"],
            factory_failures=self._counts["factory_failures"],
        )

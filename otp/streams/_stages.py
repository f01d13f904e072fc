"""The stages a pipeline is declared from, and the loop each one runs.

Every loop follows one rule: an item a stage has taken from its input buffer is *held* until
what it produced is in the next buffer. If the stage crashes or is cancelled meanwhile, the
held item goes back to the front of its input buffer (:meth:`StageState.release`), so the
restarted stage takes it first.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar, final

import attrs
import trio

from otp._callables import is_async_callable

from ._bucket import TokenBucket
from ._buffer import END, Buffer, Pipe
from ._errors import StreamsDeclarationError

__all__ = ["Batch", "Filter", "Map", "RateLimit", "Sink", "Stage", "StageState"]


@final
class Again:
    """An item put back after it crashed its stage ``crashes`` times."""

    __slots__ = ("crashes", "item")

    def __init__(self, item: object, crashes: int) -> None:
        self.item = item
        self.crashes = crashes


def unwrap(item: object) -> object:
    return item.item if type(item) is Again else item


def _is_cancellation(error: BaseException) -> bool:
    if isinstance(error, trio.Cancelled):
        return True
    if isinstance(error, BaseExceptionGroup):
        rest = error.split(trio.Cancelled)[1]
        return rest is None
    return False


class StageState:
    """One stage's buffers and counters; they outlive the stage's restarts."""

    __slots__ = (
        "attempts",
        "crashes",
        "dead",
        "done",
        "emitted",
        "input",
        "name",
        "on_dead",
        "output",
        "redelivered",
    )

    def __init__(
        self,
        name: str,
        input: Pipe,  # noqa: A002
        output: Pipe | None,
        attempts: int,
        on_dead: Callable[[StageState, object, BaseException], None],
    ) -> None:
        self.name = name
        self.input = input
        self.output = output
        self.attempts = attempts
        self.on_dead = on_dead
        self.done = 0
        self.emitted = 0
        self.crashes = 0
        self.redelivered = 0
        self.dead = 0

    def release(self, held: list[object], error: BaseException) -> None:
        """Put back what a stopped or crashed loop held; an item that crashed too often dies."""
        if not held:
            return
        if _is_cancellation(error):
            self.input.put_back(held)
            return
        again: list[object] = []
        for item in held:
            crashes = item.crashes + 1 if type(item) is Again else 1
            if crashes >= self.attempts:
                self.dead += 1
                self.on_dead(self, unwrap(item), error)
            else:
                again.append(Again(unwrap(item), crashes))
        self.redelivered += len(again)
        self.input.put_back(again)


def _label(fn: object) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return str(getattr(fn, "__name__", type(fn).__name__))


def _int_at_least(owner: str, field: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        msg = f"{owner}: {field} must be an int >= {least} (got {value!r})"
        raise StreamsDeclarationError(msg)
    return value


def _check_common(owner: str, name: object, buffer: object) -> None:
    if name is not None and (not isinstance(name, str) or not name):
        msg = f"{owner}: name must be a non-empty str or None (got {name!r})"
        raise StreamsDeclarationError(msg)
    if not isinstance(buffer, Buffer):
        msg = f"{owner}: buffer must be an otp.streams.Buffer (got {buffer!r})"
        raise StreamsDeclarationError(msg)


def _check_function(owner: str, fn: object) -> None:
    if not callable(fn):
        msg = f"{owner}: fn must be a function taking one item (got {fn!r})"
        raise StreamsDeclarationError(msg)


class Stage:
    """The base of the stage declarations; see :class:`Map`, :class:`Batch` and the others.

    Example::

        stages: list[otp.streams.Stage] = [otp.streams.Map(parse), otp.streams.Sink(store)]
    """

    kind: ClassVar[str]
    emits: ClassVar[bool] = True
    name: str | None
    buffer: Buffer

    @property
    def workers(self) -> int:
        return 1

    @property
    def attempts(self) -> int:
        return 1

    def label(self) -> str:
        return self.kind

    async def work(self, state: StageState) -> None:
        raise NotImplementedError


@attrs.frozen(init=False)
class _FunctionStage(Stage):
    """What Map, Filter and Sink share: a function, workers and attempts."""

    fn: Callable[[Any], object]
    name: str | None
    buffer: Buffer
    _workers: int
    _attempts: int
    is_async: bool

    def __init__(
        self,
        fn: Callable[[Any], object],
        *,
        name: str | None = None,
        buffer: Buffer = Buffer(),  # noqa: B008  (frozen, shared safely)
        workers: int = 1,
        attempts: int = 2,
    ) -> None:
        owner = type(self).__name__
        _check_function(owner, fn)
        _check_common(owner, name, buffer)
        self.__attrs_init__(
            fn,
            name,
            buffer,
            _int_at_least(owner, "workers", workers, 1),
            _int_at_least(owner, "attempts", attempts, 1),
            is_async_callable(fn),
        )

    def label(self) -> str:
        return _label(self.fn)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def attempts(self) -> int:
        return self._attempts


@final
@attrs.frozen(init=False)
class Map(_FunctionStage):
    """A stage that sends ``fn(item)`` on for every item (``fn`` sync or async).

    Args:
        fn: Called with each item; what it returns goes to the next stage.
        name: The stage's name in reports (``"<position>-<fn name>"`` by default).
        buffer: Its input :class:`Buffer` (100 items, ``wait`` by default).
        workers: Items processed at once (``> 1`` may reorder them). Defaults to 1.
        attempts: How many times one item may crash this stage before it is given up as a
            dead letter (logged, counted, kept in :attr:`Pipeline.dead_letters`). Defaults
            to 2: an item is retried once by the restarted stage.

    Example::

        otp.streams.Map(json.loads, buffer=otp.streams.Buffer(1000), workers=4)
    """

    kind: ClassVar[str] = "map"

    async def work(self, state: StageState) -> None:
        get = state.input.get
        out = state.output
        assert out is not None
        put = out.put
        fn = self.fn
        is_async = self.is_async
        while True:
            item = await get()
            if item is END:
                return
            try:
                result = fn(item.item if type(item) is Again else item)
                if is_async:
                    result = await result  # type: ignore[misc]
                await put(result)
            except BaseException as error:
                state.release([item], error)
                raise
            state.done += 1
            state.emitted += 1


@final
@attrs.frozen(init=False)
class Filter(_FunctionStage):
    """A stage that sends on only the items for which ``fn(item)`` is true (sync or async).

    Arguments as for :class:`Map`.

    Example::

        otp.streams.Filter(lambda event: event["level"] >= 30)
    """

    kind: ClassVar[str] = "filter"

    async def work(self, state: StageState) -> None:
        get = state.input.get
        out = state.output
        assert out is not None
        fn = self.fn
        while True:
            item = await get()
            if item is END:
                return
            try:
                value = unwrap(item)
                keep = fn(value)
                if self.is_async:
                    keep = await keep  # type: ignore[misc]
                if keep:
                    await out.put(value)
                    state.emitted += 1
            except BaseException as error:
                state.release([item], error)
                raise
            state.done += 1


@final
@attrs.frozen(init=False)
class Sink(_FunctionStage):
    """The last stage: ``fn(item)`` consumes each item (sync or async); nothing goes on.

    An item is done once ``fn`` returns; if ``fn`` raises, the item is put back and retried
    by the restarted stage (``attempts``, as for :class:`Map`), so ``fn`` should tolerate
    seeing an item again.

    Example::

        otp.streams.Sink(database.insert_many, buffer=otp.streams.Buffer(10))
    """

    kind: ClassVar[str] = "sink"
    emits: ClassVar[bool] = False

    async def work(self, state: StageState) -> None:
        get = state.input.get
        fn = self.fn
        is_async = self.is_async
        while True:
            item = await get()
            if item is END:
                return
            try:
                result = fn(item.item if type(item) is Again else item)
                if is_async:
                    await result  # type: ignore[misc]
            except BaseException as error:
                state.release([item], error)
                raise
            state.done += 1


def _check_timeout(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value > 0
        or math.isinf(value)
    ):
        msg = f"Batch: timeout must be a finite number of seconds > 0 or None (got {value!r})"
        raise StreamsDeclarationError(msg)
    return float(value)


@final
@attrs.frozen(init=False)
class Batch(Stage):
    """A stage that sends on lists of items: ``size`` of them, or fewer after ``timeout``.

    A batch goes out when it holds ``size`` items or ``timeout`` seconds after its first
    item arrived, whichever comes first; the last, partial batch goes out when the pipeline
    is drained. The items of a batch not yet sent are held, so a restart loses none.

    Example::

        otp.streams.Batch(size=100, timeout=0.5)
    """

    kind: ClassVar[str] = "batch"
    size: int
    timeout: float | None
    name: str | None
    buffer: Buffer

    def __init__(
        self,
        size: int,
        timeout: float | None = None,
        *,
        name: str | None = None,
        buffer: Buffer = Buffer(),  # noqa: B008
    ) -> None:
        _check_common("Batch", name, buffer)
        self.__attrs_init__(
            _int_at_least("Batch", "size", size, 1), _check_timeout(timeout), name, buffer
        )

    async def work(self, state: StageState) -> None:
        inp = state.input
        out = state.output
        assert out is not None
        size = self.size
        timeout = math.inf if self.timeout is None else self.timeout
        batch: list[object] = []
        try:
            while True:
                item = await inp.get()
                if item is END:
                    return
                batch.append(item)
                deadline = trio.current_time() + timeout
                ended = False
                while len(batch) < size:
                    with trio.move_on_at(deadline) as waiting:
                        item = await inp.get()
                    if waiting.cancelled_caught:
                        break
                    if item is END:
                        ended = True
                        break
                    batch.append(item)
                await out.put([unwrap(held) for held in batch])
                state.done += len(batch)
                state.emitted += 1
                batch = []
                if ended:
                    return
        except BaseException as error:
            state.release(batch, error)
            raise


@final
@attrs.frozen(init=False)
class RateLimit(Stage):
    """A stage that lets at most ``rate`` items a second through, in bursts of ``burst``.

    A token bucket: it starts full, holds ``burst`` tokens and refills at ``rate`` a second;
    an item waits (holding up the items behind it, which is the backpressure) until it gets
    a token.

    Example::

        otp.streams.RateLimit(rate=50, burst=10)  # an API allowing 50 calls a second
    """

    kind: ClassVar[str] = "rate_limit"
    rate: float
    burst: int
    name: str | None
    buffer: Buffer

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        name: str | None = None,
        buffer: Buffer = Buffer(),  # noqa: B008
    ) -> None:
        _check_common("RateLimit", name, buffer)
        bucket = TokenBucket(rate, burst, now=0.0)  # validates both
        self.__attrs_init__(bucket.rate, bucket.burst, name, buffer)

    async def work(self, state: StageState) -> None:
        get = state.input.get
        out = state.output
        assert out is not None
        bucket = TokenBucket(self.rate, self.burst, now=trio.current_time())
        while True:
            item = await get()
            if item is END:
                return
            try:
                delay = bucket.reserve(trio.current_time())
                if delay > 0.0:
                    await trio.sleep(delay)
                await out.put(unwrap(item))
            except BaseException as error:
                state.release([item], error)
                raise
            state.done += 1
            state.emitted += 1

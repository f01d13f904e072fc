"""A pipeline: buffers it owns, and one supervised child per stage between them."""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, final

import attrs
import trio

import otp

from ._buffer import END, Buffer, BufferStatistics, Pipe
from ._errors import BufferFull, BufferOverflow, PipelineFailed, StreamsDeclarationError
from ._stages import Sink, Stage, StageState, _is_cancellation

__all__ = ["DeadLetter", "Pipeline", "PipelineStatistics", "StageStatistics"]

logger = logging.getLogger("otp.streams")


@final
@attrs.frozen
class DeadLetter:
    """An item given up on: it crashed ``stage`` as many times as the stage's ``attempts``.

    Example::

        for letter in pipeline.dead_letters:
            print(letter.stage, letter.item, repr(letter.error))
    """

    stage: str
    item: object
    error: BaseException


@final
@attrs.frozen
class StageStatistics:
    """One stage's counters, kept across its restarts (see :meth:`Pipeline.statistics`).

    ``done`` counts items it finished with (sent on, filtered out, batched or consumed),
    ``emitted`` what it sent on, ``crashes`` its crashes, ``redelivered`` items put back
    after a crash and ``dead`` items given up on.

    Example::

        parse = pipeline.statistics().stages[0]
        print(parse.name, parse.done, parse.crashes)
    """

    name: str
    kind: str
    buffer: BufferStatistics
    done: int
    emitted: int
    crashes: int
    redelivered: int
    dead: int


@final
@attrs.frozen
class PipelineStatistics:
    """Every stage's :class:`StageStatistics` and, without a sink, the output buffer's.

    Example::

        stats = pipeline.statistics()
        print(stats.buffered, stats.dropped, stats.dead)
    """

    name: str
    running: bool
    stages: tuple[StageStatistics, ...]
    output: BufferStatistics | None

    def _buffers(self) -> list[BufferStatistics]:
        buffers = [stage.buffer for stage in self.stages]
        return buffers if self.output is None else [*buffers, self.output]

    @property
    def buffered(self) -> int:
        """Items waiting in buffers now."""
        return sum(buffer.depth for buffer in self._buffers())

    @property
    def dropped(self) -> int:
        """Items a drop policy discarded, in every buffer."""
        return sum(b.dropped_newest + b.dropped_oldest for b in self._buffers())

    @property
    def dead(self) -> int:
        """Items given up on after crashing their stage too often."""
        return sum(stage.dead for stage in self.stages)


class _Relay:
    """Passes the pipeline, not its inner supervisor, to whoever started it."""

    def __init__(self, task_status: trio.TaskStatus[Pipeline], pipeline: Pipeline) -> None:
        self._task_status = task_status
        self._pipeline = pipeline

    def started(self, value: object = None) -> None:
        self._task_status.started(self._pipeline)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        msg = f"Pipeline: name must be a non-empty str (got {name!r})"
        raise StreamsDeclarationError(msg)


def _check_stages(name: str, stages: object) -> tuple[Stage, ...]:
    if isinstance(stages, str | bytes) or not isinstance(stages, Sequence) or not stages:
        msg = f"pipeline {name!r}: stages must be a non-empty list of stages (got {stages!r})"
        raise StreamsDeclarationError(msg)
    for position, stage in enumerate(stages):
        if not isinstance(stage, Stage):
            msg = (
                f"pipeline {name!r}: stage {position} must be an otp.streams stage such as "
                f"Map or Sink (got {stage!r})"
            )
            raise StreamsDeclarationError(msg)
        if isinstance(stage, Sink) and position != len(stages) - 1:
            msg = f"pipeline {name!r}: a Sink must be the last stage (stage {position} is one)"
            raise StreamsDeclarationError(msg)
    return tuple(stages)


def _check_output(name: str, output: object, *, has_sink: bool) -> None:
    if output is None:
        return
    if has_sink:
        msg = f"pipeline {name!r}: output is for a pipeline without a Sink; drop one of them"
        raise StreamsDeclarationError(msg)
    if not isinstance(output, Buffer):
        msg = f"pipeline {name!r}: output must be an otp.streams.Buffer (got {output!r})"
        raise StreamsDeclarationError(msg)


def _check_backoff(name: str, backoff: object) -> None:
    if backoff is not None and not isinstance(backoff, otp.Backoff):
        msg = f"pipeline {name!r}: backoff must be an otp.Backoff or None (got {backoff!r})"
        raise StreamsDeclarationError(msg)


def _check_number(field: str, value: object, *, least: float, integer: bool) -> None:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or value < least:
        kind = "an int" if integer else "a number"
        msg = f"Pipeline: {field} must be {kind} >= {least:g} (got {value!r})"
        raise StreamsDeclarationError(msg)


@final
class Pipeline:
    """Stages joined by bounded buffers, each stage a supervised child.

    Items go in with :meth:`send`, flow through ``stages`` in order and end in the last
    stage if it is a :class:`Sink`, else in the ``output`` buffer, read with
    :meth:`receive` or ``async for``. The buffers belong to the pipeline, so a stage that
    crashes is restarted (by the pipeline's own supervisor, within ``intensity`` restarts in
    ``period`` seconds) with every accepted item still there, and the item it was working on
    put back in front.

    What can be lost, exactly: an item a drop policy drops (counted), an item refused by a
    ``fail``/``fail_fast`` buffer (its sender gets the error), and an item that crashed its
    stage ``attempts`` times (a :class:`DeadLetter`, logged). A crash can repeat the side
    effects of the attempt that crashed. If the pipeline itself stops or fails, its buffered
    items stay for its next run.

    Args:
        name: The pipeline's name, its child id by default.
        stages: :class:`Map`, :class:`Filter`, :class:`Batch`, :class:`RateLimit`, and
            optionally a :class:`Sink` last.
        output: The output :class:`Buffer` when the last stage is not a sink.
        intensity: Stage restarts allowed within ``period`` seconds before the pipeline
            fails. Defaults to 3.
        period: The intensity window in seconds. Defaults to 5.
        backoff: An optional :class:`otp.Backoff` delaying each stage restart.
        shutdown: Seconds a stage gets to stop when the pipeline stops. Defaults to 5.
        dead_letter_limit: How many dead letters :attr:`dead_letters` keeps (the newest).

    Example::

        pipeline = otp.streams.Pipeline(
            "ingest",
            [otp.streams.Map(parse), otp.streams.Batch(100, timeout=0.5), otp.streams.Sink(store)],
        )
        async with otp.open_supervisor([pipeline.child_spec()]):
            await pipeline.send(raw_line)
    """

    def __init__(
        self,
        name: str,
        stages: Sequence[Stage],
        *,
        output: Buffer | None = None,
        intensity: int = 3,
        period: float = 5.0,
        backoff: otp.Backoff | None = None,
        shutdown: float = 5.0,
        dead_letter_limit: int = 100,
    ) -> None:
        _check_name(name)
        stages = _check_stages(name, stages)
        has_sink = isinstance(stages[-1], Sink)
        _check_output(name, output, has_sink=has_sink)
        _check_number("intensity", intensity, least=0, integer=True)
        _check_number("period", period, least=0, integer=False)
        _check_number("shutdown", shutdown, least=0, integer=False)
        _check_number("dead_letter_limit", dead_letter_limit, least=0, integer=True)
        if period == 0:
            msg = f"Pipeline: period must be a number > 0 (got {period!r})"
            raise StreamsDeclarationError(msg)
        _check_backoff(name, backoff)

        names = [
            stage.name or f"{position}-{stage.label()}" for position, stage in enumerate(stages)
        ]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            msg = f"pipeline {name!r}: stage names must be unique (repeated: {duplicates})"
            raise StreamsDeclarationError(msg)

        self.name = name
        self.stages = stages
        self.intensity = intensity
        self.period = float(period)
        self.backoff = backoff
        self.shutdown = float(shutdown)
        inputs = [
            Pipe(stage_name, stage.buffer) for stage_name, stage in zip(names, stages, strict=True)
        ]
        self._output = None if has_sink else Pipe(f"{name} output", output or Buffer())
        outputs: list[Pipe | None] = [*inputs[1:], self._output]
        self._states = [
            StageState(stage_name, inp, out, stage.attempts, self._give_up)
            for stage_name, stage, inp, out in zip(names, stages, inputs, outputs, strict=True)
        ]
        self._dead_letters: collections.deque[DeadLetter] = collections.deque(
            maxlen=dead_letter_limit
        )
        self._running = False
        self._scope: trio.CancelScope | None = None
        self._failure: BufferOverflow | None = None
        self._drained = trio.Event()

    def __repr__(self) -> str:
        return f"<otp.streams.Pipeline {self.name!r} {len(self.stages)} stages>"

    # -- running -------------------------------------------------------------------------

    def child_spec(self, id: str | None = None, **options: Any) -> otp.ChildSpec:  # noqa: A002, ANN401
        """A child spec running this pipeline (``options`` go to :class:`otp.ChildSpec`).

        Its restart type defaults to ``transient`` (a drained pipeline has ended for good)
        and its ``shutdown`` to the pipeline's plus a second.

        Example::

            async with otp.open_supervisor([pipeline.child_spec()]):
                ...
        """
        options.setdefault("restart", "transient")
        options.setdefault("shutdown", self.shutdown + 1.0)
        return otp.ChildSpec(self.name if id is None else id, self.run, **options)

    async def run(
        self, *, task_status: trio.TaskStatus[Pipeline] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the stages until the pipeline is drained, fails or is cancelled.

        It passes itself to ``task_status.started()`` once every stage runs. It ends
        once :meth:`close` was called and every item has gone through (raising
        :class:`otp.Shutdown` to a supervisor, returning to a nursery), and raises
        :class:`PipelineFailed` when its stages crash too often or
        :class:`BufferOverflow` when a ``fail`` buffer overflows.

        Example::

            pipeline = await nursery.start(otp.streams.Pipeline("p", stages).run)
        """
        if self._running:
            msg = f"pipeline {self.name!r} is already running; run it once at a time"
            raise RuntimeError(msg)
        specs = [
            otp.ChildSpec(
                state.name,
                functools.partial(self._run_stage, stage, state),
                restart="transient",
                significant=True,
                shutdown=self.shutdown,
            )
            for stage, state in zip(self.stages, self._states, strict=True)
        ]
        self._running = True
        self._failure = None
        for state in self._states:
            state.input.on_overflow = self._overflowed
        try:
            with trio.CancelScope() as self._scope:
                await otp.supervisor(
                    specs,
                    intensity=self.intensity,
                    period=self.period,
                    backoff=self.backoff,
                    auto_shutdown="all_significant",
                    name=None if otp.current_child() is not None else f"pipeline {self.name}",
                    task_status=_Relay(task_status, self),
                )
        except otp.RestartIntensityExceeded as error:
            msg = (
                f"pipeline {self.name!r} failed: stage {error.child_id!r} crashed more than "
                f"{self.intensity} times in {self.period:g} s"
            )
            raise PipelineFailed(msg) from error
        except otp.Shutdown:
            # Every stage ended: the supervisor's auto shutdown, raised to our supervisor
            # (as Erlang's exit `shutdown`) so a transient pipeline is left down.
            self._drained.set()
            raise
        finally:
            self._running = False
            self._scope = None
            for state in self._states:
                state.input.on_overflow = None
            left = self.statistics().buffered
            if left:
                logger.warning(
                    "pipeline %r stopped with %d items still buffered; they stay for its next run",
                    self.name,
                    left,
                )
        if self._failure is not None:
            raise self._failure
        self._drained.set()

    async def _run_stage(self, stage: Stage, state: StageState) -> None:
        try:
            if stage.workers == 1:
                await stage.work(state)
            else:
                async with trio.open_nursery() as nursery:
                    for _ in range(stage.workers):
                        nursery.start_soon(stage.work, state)
        except BaseException as error:
            if not _is_cancellation(error):
                state.crashes += 1
            raise
        if state.output is not None:
            state.output.close()

    def _overflowed(self, error: BufferOverflow) -> None:
        if self._failure is None:
            self._failure = error
        if self._scope is not None:
            self._scope.cancel()

    def _give_up(self, state: StageState, item: object, error: BaseException) -> None:
        self._dead_letters.append(DeadLetter(state.name, item, error))
        logger.error(
            "pipeline %r: stage %r gave up on item %r after it crashed the stage %d times",
            self.name,
            state.name,
            item,
            state.attempts,
            exc_info=(type(error), error, error.__traceback__),
        )

    # -- items in and out -----------------------------------------------------------------

    async def send(self, item: object) -> bool:
        """Give ``item`` to the first stage, by its buffer's overflow policy.

        Returns ``True`` once the item is accepted, ``False`` if a ``drop_newest`` buffer
        dropped it. A ``wait`` buffer makes the caller wait for room, a ``fail_fast`` one
        raises :class:`BufferFull`, a ``fail`` one :class:`BufferOverflow`. Items can be sent
        before the pipeline runs and while it restarts; :class:`StreamClosed` after
        :meth:`close`.

        Example::

            if not await pipeline.send(reading):
                metrics.dropped.inc()
        """
        return await self._states[0].input.put(item)

    def send_nowait(self, item: object) -> bool:
        """Like :meth:`send`, but a full ``wait`` buffer raises :class:`BufferFull`.

        Example::

            try:
                pipeline.send_nowait(reading)
            except otp.streams.BufferFull:
                shed(reading)
        """
        pipe = self._states[0].input
        try:
            return pipe.put_nowait(item)
        except trio.WouldBlock:
            pipe.refused += 1
            msg = f"the buffer of stage {pipe.name!r} is full ({pipe.size} items); not taken"
            raise BufferFull(msg) from None

    async def receive(self) -> object:
        """The next item out of the last stage; :class:`trio.EndOfChannel` once drained.

        Only for a pipeline without a :class:`Sink`. Example::

            while True:
                try:
                    batch = await pipeline.receive()
                except trio.EndOfChannel:
                    break
        """
        if self._output is None:
            msg = f"pipeline {self.name!r} ends in a Sink; it has no output to receive from"
            raise RuntimeError(msg)
        item = await self._output.get()
        if item is END:
            raise trio.EndOfChannel
        return item

    async def __aiter__(self) -> AsyncIterator[object]:
        """Iterate over :meth:`receive` until the pipeline is drained.

        Example::

            async for batch in pipeline:
                await upload(batch)
        """
        while True:
            try:
                yield await self.receive()
            except trio.EndOfChannel:
                return

    def close(self) -> None:
        """Take no more items; the pipeline ends once every accepted item went through.

        Example::

            pipeline.close()
            await pipeline.drained()
        """
        self._states[0].input.close()

    async def drained(self) -> None:
        """Wait until a closed pipeline has let every item through and ended.

        Example::

            pipeline.close()
            with trio.fail_after(10):
                await pipeline.drained()
        """
        await self._drained.wait()

    # -- looking inside -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the pipeline's stages are running now."""
        return self._running

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """The newest items given up on (up to ``dead_letter_limit``), oldest first."""
        return tuple(self._dead_letters)

    def statistics(self) -> PipelineStatistics:
        """Counters of every stage and buffer, kept across restarts.

        Example::

            stats = pipeline.statistics()
            assert stats.stages[0].buffer.accepted == sent
        """
        return PipelineStatistics(
            name=self.name,
            running=self._running,
            stages=tuple(
                StageStatistics(
                    name=state.name,
                    kind=stage.kind,
                    buffer=state.input.statistics(),
                    done=state.done,
                    emitted=state.emitted,
                    crashes=state.crashes,
                    redelivered=state.redelivered,
                    dead=state.dead,
                )
                for stage, state in zip(self.stages, self._states, strict=True)
            ),
            output=None if self._output is None else self._output.statistics(),
        )

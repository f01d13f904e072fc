"""A pipeline for the duration of an ``async with`` block, without a supervisor."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import trio

from ._pipeline import Pipeline
from ._stages import Stage

__all__ = ["open_pipeline"]


@contextlib.asynccontextmanager
async def open_pipeline(
    stages: Sequence[Stage],
    name: str = "pipeline",
    **options: Any,  # noqa: ANN401
) -> AsyncIterator[Pipeline]:
    """Run a :class:`Pipeline` of ``stages`` (with ``options``) for an ``async with`` block.

    When the block ends, the pipeline is closed and every accepted item goes through before
    the ``async with`` returns. If the block raises or is cancelled, the stages are stopped
    at once. Like a nursery, errors come out as an exception group.

    Example::

        stages = [otp.streams.Map(str.upper), otp.streams.Sink(print)]
        async with otp.streams.open_pipeline(stages) as pipeline:
            await pipeline.send("hello")
        # HELLO has been printed here
    """
    pipeline = Pipeline(name, stages, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(pipeline.run)
        yield pipeline
        pipeline.close()
        await pipeline.drained()

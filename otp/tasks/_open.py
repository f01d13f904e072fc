"""An executor for the duration of an ``async with`` block, without a supervisor."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import trio

from ._executor import Executor

__all__ = ["open_executor"]


@contextlib.asynccontextmanager
async def open_executor(name: str = "tasks", **options: Any) -> AsyncIterator[Executor]:  # noqa: ANN401
    """Run an :class:`Executor` (made with ``options``) for an ``async with`` block.

    When the block ends, every accepted job still runs to its end (``join``), then the
    executor stops. If the block raises or is cancelled, the executor stops at once: queued
    jobs are dropped and running ones get the ``shutdown`` time. Like a nursery, errors come
    out as an exception group.

    Example::

        async with otp.tasks.open_executor(concurrency=4) as executor:
            for path in paths:
                await executor.start_soon(compress, path)
        # every compress job has ended here
    """
    executor = Executor(name, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(executor.run)
        yield executor
        await executor.stop(drain=True)

"""Projections: read models fed from the global event log, resumable from a stored offset."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, final

import attrs
import trio

from otp import ChildSpec

from ._codec import Codec, JsonCodec
from ._store import EventStore

__all__ = ["Envelope", "Projection", "projection_spec", "run_projection"]


@final
@attrs.frozen
class Envelope:
    """One event as a projection's handler gets it: where it is in the log, and the event.

    Example::

        async def handler(envelope: otp.persist.Envelope) -> None:
            balances[envelope.stream] = balances.get(envelope.stream, 0) + envelope.event
    """

    stream: str
    sequence: int
    position: int
    event: object


Handler = Callable[[Envelope], Awaitable[None]]


@final
class Projection:
    """A running projection: how far it has got, and a way to wait for it.

    Example::

        projection = await nursery.start(otp.persist.run_projection, "balances", store, on_event)
        await projection.wait_for(await store.last_position())
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.position = 0
        """The position of the last event handled."""
        self._moved = trio.Event()

    def __repr__(self) -> str:
        return f"<otp.persist.Projection {self.name!r} at {self.position}>"

    def _advance(self, position: int) -> None:
        self.position = position
        self._moved.set()
        self._moved = trio.Event()

    async def wait_for(self, position: int) -> None:
        """Return once every event up to ``position`` has been handled."""
        while self.position < position:
            await self._moved.wait()
        await trio.lowlevel.checkpoint()


async def run_projection(
    name: str,
    store: EventStore,
    handler: Handler,
    *,
    codec: Codec | None = None,
    batch_size: int = 100,
    poll_interval: float = 1.0,
    task_status: trio.TaskStatus[Projection] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Feed ``handler`` every event of the log, in order, from the stored offset on; forever.

    The offset (the position of the last event handled) is saved after each batch, so after
    a crash or a restart the projection goes on from there: delivery is *at least once*, and
    the events of a batch that was handled but not acknowledged come again. Make the handler
    idempotent (for example, keep the last position applied per stream with the read model).
    A handler that raises crashes the projection; under a supervisor it restarts from the
    stored offset. New events are seen at once when they go through the same store object,
    and within ``poll_interval`` seconds otherwise (another process).

    Example::

        children = [otp.persist.projection_spec("balances", store, on_event, codec=codec)]
    """
    if batch_size < 1:
        msg = f"batch_size must be >= 1 (got {batch_size!r})"
        raise ValueError(msg)
    if not poll_interval > 0:
        msg = f"poll_interval must be > 0 (got {poll_interval!r})"
        raise ValueError(msg)
    codec = codec or JsonCodec()
    projection = Projection(name)
    projection._advance(await store.load_offset(name))
    task_status.started(projection)
    while True:
        batch = await store.read_all(after=projection.position, limit=batch_size)
        if not batch:
            with trio.move_on_after(poll_interval):
                await store.wait_for_append(projection.position)
            continue
        for record in batch:
            event = codec.decode(record)
            await handler(Envelope(record.stream, record.sequence, record.position, event))
        await store.save_offset(name, batch[-1].position)
        projection._advance(batch[-1].position)


def projection_spec(
    name: str,
    store: EventStore,
    handler: Handler,
    *,
    codec: Codec | None = None,
    batch_size: int = 100,
    poll_interval: float = 1.0,
    **spec: Any,  # noqa: ANN401
) -> ChildSpec:
    """A child spec that runs :func:`run_projection` under a supervisor (its id: ``name``).

    Other keyword arguments (``restart``, ``shutdown``...) go to :class:`otp.ChildSpec`.

    Example::

        children = [otp.persist.projection_spec("balances", store, on_event, codec=codec)]
    """
    start = functools.partial(
        run_projection,
        name,
        store,
        handler,
        codec=codec,
        batch_size=batch_size,
        poll_interval=poll_interval,
    )
    return ChildSpec(spec.pop("id", name), start, **spec)

"""A recorder of supervisor events, for assertions on what a tree did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, final

import trio

from .._reports import SupervisorEvent

__all__ = ["EventRecorder"]

EventT = TypeVar("EventT", bound=SupervisorEvent)


@final
class EventRecorder:
    """A supervisor hook that keeps every event, with helpers to query and wait for them.

    Pass it as a hook to the root supervisor: nested supervisors inherit hooks, so it hears
    the whole tree.

    Example::

        recorder = otp.testing.EventRecorder()
        async with otp.open_supervisor(children, hooks=[recorder]):
            ...
            await recorder.wait_for(otp.ChildStarted, child_id="db", restart=True)
        assert recorder.count(otp.ChildExited) == 1
    """

    def __init__(self) -> None:
        self.events: list[SupervisorEvent] = []
        self._changed = trio.lowlevel.ParkingLot()

    def __call__(self, event: SupervisorEvent) -> None:
        self.events.append(event)
        self._changed.unpark_all()

    def of(self, kind: type[EventT], **fields: Any) -> list[EventT]:  # noqa: ANN401
        """The events of type ``kind`` whose attributes equal ``fields``.

        Example::

            crashes = recorder.of(otp.ChildExited, child_id="db")
        """
        return [
            event
            for event in self.events
            if isinstance(event, kind)
            and all(getattr(event, name) == value for name, value in fields.items())
        ]

    def count(self, kind: type[SupervisorEvent], **fields: Any) -> int:  # noqa: ANN401
        """How many events match (see :meth:`of`).

        Example::

            assert recorder.count(otp.ChildStarted, restart=True) == 3
        """
        return len(self.of(kind, **fields))

    def names(self) -> list[str]:
        """The event names in order (``"child.started"``, ``"child.exited"``, ...).

        Example::

            assert recorder.names()[-1] == "supervisor.stopped"
        """
        return [event.name for event in self.events]

    async def wait_for(
        self,
        kind: type[EventT],
        predicate: Callable[[EventT], bool] | None = None,
        **fields: Any,  # noqa: ANN401
    ) -> EventT:
        """Wait for the first event (already recorded or future) that matches.

        Example::

            event = await recorder.wait_for(otp.ChildExited, child_id="db")
        """
        seen = 0
        while True:
            for event in self.events[seen:]:
                if (
                    isinstance(event, kind)
                    and all(getattr(event, name) == value for name, value in fields.items())
                    and (predicate is None or predicate(event))
                ):
                    await trio.lowlevel.checkpoint()
                    return event
            seen = len(self.events)
            await self._changed.park()

    def clear(self) -> None:
        """Forget every event recorded so far."""
        self.events.clear()

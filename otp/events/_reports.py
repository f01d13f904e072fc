"""Supervisor and breaker reports, published on a bus: the hook adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import otp

from ._bus import EventBus


def report_source(record: otp.SupervisorEvent | otp.BreakerEvent) -> str:
    """The source path of a report: the supervisor, plus the child for a ``child.*`` event.

    A breaker's events come from ``"breaker/<name>"``.
    """
    if isinstance(record, otp.BreakerEvent):
        return f"breaker/{record.breaker}"
    if not record.name.startswith("child."):
        return record.supervisor  # its own events (a give-up names a child, but is its own)
    return f"{record.supervisor}/{getattr(record, 'child_id', '')}"


def report_to(bus: EventBus) -> Callable[[Any], None]:
    """A hook that publishes every report it is given on ``bus``.

    Pass it as a supervisor's (or a tree root's) hook, so every supervisor of the tree reports
    through it, and as a circuit breaker's hook. Each report becomes an event whose type is
    the report's name (``"child.exited"``, ``"supervisor.gave_up"``, ``"breaker.state_changed"``),
    whose source is :func:`report_source` and whose payload is the report record itself. The
    supervisor's other hooks and its log are unchanged.

    Example::

        bus = otp.events.EventBus()
        hook = otp.events.report_to(bus)
        async with otp.open_supervisor(children, name="root", hooks=[hook]):
            async with bus.subscribe(types="child.exited") as exits:
                ...
    """

    def publish(record: otp.SupervisorEvent | otp.BreakerEvent) -> None:
        bus.publish_nowait(record.name, record, source=report_source(record))

    return publish

"""Reports of supervisors, breakers and the application runner, published on a bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import otp

from ._bus import EventBus


def report_source(record: object) -> str:
    """The source path of a report.

    A supervisor's own report comes from the supervisor's path, a ``child.*`` report from the
    child's (``"root/workers/w1"``), a circuit breaker's from ``"breaker/<name>"``, and an
    ``otp.app`` runner event from the application's name.

    Example::

        >>> otp.events.report_source(otp.SupervisorStopped("root/workers", 0.0, "normal"))
        'root/workers'
    """
    if isinstance(record, otp.BreakerEvent):
        return f"breaker/{record.breaker}"
    if isinstance(record, otp.SupervisorEvent):
        if not record.name.startswith("child."):
            return record.supervisor  # its own events (a give-up names a child, but is its own)
        return f"{record.supervisor}/{getattr(record, 'child_id', '')}"
    app = getattr(record, "app", None)
    return app if isinstance(app, str) else ""


def report_to(bus: EventBus) -> Callable[[Any], None]:
    """A hook that publishes every report it is given on ``bus``.

    Pass it as a supervisor's (or a tree root's) hook, so every supervisor of the tree reports
    through it, as a circuit breaker's hook, or as ``on_event`` of :func:`otp.app.serve` /
    :func:`otp.app.run`. Each report becomes an event whose type is the report's name
    (``"child.exited"``, ``"supervisor.gave_up"``, ``"breaker.state_changed"``,
    ``"app.started"``), whose source is :func:`report_source` and whose payload is the report
    record itself. The reporter's other hooks and its log are unchanged.

    Example::

        bus = otp.events.EventBus()
        hook = otp.events.report_to(bus)
        async with otp.open_supervisor(children, name="root", hooks=[hook]):
            async with bus.subscribe(types="child.exited") as exits:
                ...
    """

    def publish(record: Any) -> None:  # noqa: ANN401  (any report with a name)
        bus.publish_nowait(record.name, record, source=report_source(record))

    return publish

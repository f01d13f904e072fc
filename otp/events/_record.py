"""The event record every bus carries."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, final

import attrs


@final
@attrs.frozen
class Event:
    """One event on an :class:`EventBus`.

    Attributes:
        id: Its number on the bus: 1, 2, 3... in publish order (replay starts from one).
        time: ``trio.current_time()`` when it was published (virtual time in tests).
        type: What happened, dotted (``"child.exited"``, ``"order.placed"``).
        source: Where, as a tree path (``"root/workers/w1"``); ``""`` if nowhere in a tree.
        payload: Anything; for the events of :func:`report_to`, the report record itself.
        correlation_id: The conversation or request it belongs to, if any.
        causation_id: The id of the event that caused it, if any.

    Example::

        >>> event = otp.events.Event(1, 0.0, "order.placed", "shop/orders", {"total": 12})
        >>> event.caused(2, 0.5, "order.paid", "shop/payments", None).causation_id
        1
    """

    id: int
    time: float
    type: str
    source: str
    payload: Any = attrs.field(eq=False, default=None)
    correlation_id: Hashable | None = None
    causation_id: int | None = None

    def caused(self, id: int, time: float, type: str, source: str, payload: Any) -> Event:  # noqa: A002, ANN401
        """An event caused by this one: same correlation id, this one's id as causation id."""
        return Event(id, time, type, source, payload, self.correlation_id, self.id)

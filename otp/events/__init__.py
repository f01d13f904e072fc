"""An event bus for a supervision tree: typed events, filtered subscriptions, replay.

Publish with :meth:`EventBus.publish_nowait` (never waits) or :meth:`EventBus.publish`
(waits only for subscriptions that asked to block it); subscribe with
``async with bus.subscribe(...) as events: async for event in events``. Each subscription
has a bounded buffer with its own :class:`Overflow` policy, and counts what it drops.
:func:`report_to` turns the reports of supervisors and circuit breakers into events; a
:class:`MemoryEventStore` (or any :class:`EventStore`) keeps them for replay, and
``otp.persist.BusStore`` keeps them in a database across runs (an :class:`AsyncEventStore`).

It uses only the public ``otp`` API; the kernel knows nothing of it.

Example::

    bus = otp.events.EventBus(store=otp.events.MemoryEventStore())
    async with otp.open_supervisor(children, hooks=[otp.events.report_to(bus)]):
        async with bus.subscribe(types="child.*", source="root/**") as events:
            async for event in events:
                print(event.type, event.source)
"""

from ._bus import BusStatistics as BusStatistics
from ._bus import EventBus as EventBus
from ._errors import EventsError as EventsError
from ._filters import EventFilter as EventFilter
from ._filters import Predicate as Predicate
from ._record import Event as Event
from ._reports import report_source as report_source
from ._reports import report_to as report_to
from ._store import AsyncEventStore as AsyncEventStore
from ._store import EventStore as EventStore
from ._store import MemoryEventStore as MemoryEventStore
from ._subscription import Overflow as Overflow
from ._subscription import Subscription as Subscription
from ._subscription import SubscriptionStatistics as SubscriptionStatistics

__all__ = [
    "AsyncEventStore",
    "BusStatistics",
    "Event",
    "EventBus",
    "EventFilter",
    "EventStore",
    "EventsError",
    "MemoryEventStore",
    "Overflow",
    "Predicate",
    "Subscription",
    "SubscriptionStatistics",
    "report_source",
    "report_to",
]

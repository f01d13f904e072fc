"""Persistence: event-sourced servers, snapshots, projections and sagas on a pluggable store.

A layer on the kernel's public API. The path of a command: an :class:`EventSourced` server
(an ``otp.GenServer``) asks ``handle_command`` for events (``_server``), encodes them
(``_codec``) and appends them to its stream in the store (``_store`` is the interface,
``_sqlite`` the default store, ``_memory`` one for tests) before it applies them and replies;
on start it folds the last snapshot and the events after it (``_snapshots`` decides when to
snapshot and what to keep). Projections (``_projection``) read the global log from a stored
offset; sagas (``_saga``) record each step boundary in a stream and resume after a crash.
``_bus_store`` keeps an ``otp.events`` bus's log in one stream of a store.
"""

import contextlib as _contextlib

from ._bus_store import BusStore as BusStore
from ._bus_store import BusStoreStatistics as BusStoreStatistics
from ._bus_store import UnencodedPayload as UnencodedPayload
from ._codec import Codec as Codec
from ._codec import JsonCodec as JsonCodec
from ._errors import ConcurrencyConflict as ConcurrencyConflict
from ._errors import EventDecodeError as EventDecodeError
from ._errors import PersistError as PersistError
from ._errors import SagaError as SagaError
from ._errors import SchemaVersionError as SchemaVersionError
from ._errors import StoreCorrupted as StoreCorrupted
from ._errors import StoreError as StoreError
from ._errors import StoreFull as StoreFull
from ._memory import MemoryStore as MemoryStore
from ._projection import Envelope as Envelope
from ._projection import Projection as Projection
from ._projection import projection_spec as projection_spec
from ._projection import run_projection as run_projection
from ._saga import Saga as Saga
from ._saga import SagaContext as SagaContext
from ._saga import SagaCoordinator as SagaCoordinator
from ._saga import SagaOutcome as SagaOutcome
from ._saga import Step as Step
from ._saga import saga_coordinator as saga_coordinator
from ._server import EventSourced as EventSourced
from ._server import Persist as Persist
from ._server import SaveSnapshot as SaveSnapshot
from ._snapshots import Retention as Retention
from ._sqlite import SqliteStore as SqliteStore
from ._store import EventData as EventData
from ._store import EventStore as EventStore
from ._store import SnapshotData as SnapshotData
from ._store import StoredEvent as StoredEvent

__all__ = [
    "BusStore",
    "BusStoreStatistics",
    "Codec",
    "ConcurrencyConflict",
    "Envelope",
    "EventData",
    "EventDecodeError",
    "EventSourced",
    "EventStore",
    "JsonCodec",
    "MemoryStore",
    "Persist",
    "PersistError",
    "Projection",
    "Retention",
    "Saga",
    "SagaContext",
    "SagaCoordinator",
    "SagaError",
    "SagaOutcome",
    "SaveSnapshot",
    "SchemaVersionError",
    "SnapshotData",
    "SqliteStore",
    "Step",
    "StoreCorrupted",
    "StoreError",
    "StoreFull",
    "StoredEvent",
    "UnencodedPayload",
    "projection_spec",
    "run_projection",
    "saga_coordinator",
]


def _fixup_module_metadata() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("otp.persist._"):
            with _contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "otp.persist"


_fixup_module_metadata()
del _fixup_module_metadata

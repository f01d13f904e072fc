"""The errors ``otp.persist`` raises.

The tree::

    otp.OtpError
    └── PersistError              base of the persistence layer's errors
        ├── ConcurrencyConflict   another writer appended to the stream first
        ├── StoreError            the store failed; the driver's error is ``__cause__``
        │   ├── StoreCorrupted    the database is not a valid store (also a truncated file)
        │   └── StoreFull         the database or the disk is full
        ├── EventDecodeError      a stored event or snapshot cannot be decoded
        │   └── SchemaVersionError  an unknown event type, or a version without upcaster
        └── SagaError             a saga definition or request is invalid
"""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import BASE, CHILD_FAILURE, CONFLICT, DECLARATION, STORE_LOST, classify

__all__ = [
    "ConcurrencyConflict",
    "EventDecodeError",
    "PersistError",
    "SagaError",
    "SchemaVersionError",
    "StoreCorrupted",
    "StoreError",
    "StoreFull",
]


@classify(BASE)
class PersistError(OtpError):
    """Base of every error of ``otp.persist``.

    Example::

        try:
            await store.append("account-1", events, expected=3)
        except otp.persist.PersistError as exc:
            print("persistence failed:", exc)
    """


@classify(CONFLICT)
class ConcurrencyConflict(PersistError):
    """An append expected the stream at one sequence number and found it at another.

    Two writers for one persistence id: the one that commits second gets this, and nothing of
    its append is written. An event-sourced server that gets it crashes (its state is stale);
    its supervisor restarts it, and the new server rebuilds from the store.

    Attributes:
        stream: The persistence id.
        expected: The sequence number the writer expected the stream to be at.
        actual: The sequence number the stream was at.

    Example::

        try:
            await store.append("account-1", events, expected=3)
        except otp.persist.ConcurrencyConflict as exc:
            print(exc.actual)   # somebody else wrote events 4..exc.actual
    """

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream!r}: expected to append after sequence {expected}, but the store "
            f"is at {actual} (another writer for the same persistence id?)"
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual


@classify(CHILD_FAILURE)
class StoreError(PersistError):
    """The store could not carry out an operation; the driver's exception is ``__cause__``.

    Example::

        try:
            await store.append("account-1", events, expected=0)
        except otp.persist.StoreError as exc:
            print("store failed:", exc.__cause__)
    """


@classify(STORE_LOST)
class StoreCorrupted(StoreError):
    """The database file is not a valid store: corrupt, truncated, or another format.

    Example::

        try:
            async with otp.persist.SqliteStore.open("events.db") as store:
                ...
        except otp.persist.StoreCorrupted as exc:
            print("restore events.db from a backup:", exc)
    """


@classify(STORE_LOST)
class StoreFull(StoreError):
    """The database or the disk is full: nothing of the failed write was stored.

    Example::

        try:
            await store.append("account-1", events, expected=0)
        except otp.persist.StoreFull:
            print("free some disk space")
    """


@classify(CHILD_FAILURE)
class EventDecodeError(PersistError):
    """A stored event or snapshot could not be turned back into an object.

    Example::

        try:
            event = codec.decode(record)
        except otp.persist.EventDecodeError as exc:
            print(exc)
    """


@classify(CHILD_FAILURE)
class SchemaVersionError(EventDecodeError):
    """A stored event has a type or schema version the codec does not know how to read.

    Either it was written by a newer program (a version above the codec's), or an upcaster
    from its version is missing.

    Example::

        codec = otp.persist.JsonCodec(Deposited, upcasters={("Deposited", 1): add_currency})
    """


@classify(DECLARATION)
class SagaError(PersistError):
    """A saga definition, or a request to a saga coordinator, is invalid.

    Example::

        try:
            await coordinator.start("no-such-saga", "id-1", {})
        except otp.persist.SagaError as exc:
            print(exc)
    """

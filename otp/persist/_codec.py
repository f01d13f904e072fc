"""Events and states to stored text and back: JSON through cattrs, with upcasters."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, final, runtime_checkable

import cattrs

from ._errors import EventDecodeError, SchemaVersionError
from ._store import EventData, SnapshotData, StoredEvent

__all__ = ["Codec", "JsonCodec"]

Upcaster = Callable[[Any], Any]
"""Turns the JSON payload of one schema version into that of the next one."""


@runtime_checkable
class Codec(Protocol):
    """How a server's events and state become stored text, and come back.

    Example::

        class Account(otp.persist.EventSourced):
            codec = otp.persist.JsonCodec(Deposited, Withdrawn)
    """

    state_version: int

    def encode(self, event: object) -> EventData:
        """The event as stored data."""
        ...

    def decode(self, record: StoredEvent) -> object:
        """The event of a stored record (upcast to the current version)."""
        ...

    def encode_state(self, state: object) -> str:
        """A state for a snapshot."""
        ...

    def decode_state(self, snapshot: SnapshotData) -> object:
        """The state of a snapshot."""
        ...


@final
class JsonCodec:
    """Events as JSON through cattrs: attrs classes, dataclasses, or plain JSON values.

    Each class's type name is its ``event_type`` attribute or else its ``__name__``, and its
    schema version its ``schema_version`` attribute or else 1. An event stored with an older
    version is upcast: ``upcasters[(type, v)]`` turns a payload of version ``v`` into one of
    ``v + 1``, in as many steps as needed. A type the codec does not know, a version above the
    class's, or a missing upcaster is a :class:`otp.persist.SchemaVersionError`. Values that
    are not of a registered class are stored as JSON under the type ``"json"``.

    ``state`` is the type of the state for snapshots (``None``: JSON values as they are), and
    ``state_version`` its version: a snapshot of another version is not used (the state is
    rebuilt from the events).

    Example::

        @attrs.frozen
        class Deposited:
            schema_version = 2
            amount: int
            currency: str

        codec = otp.persist.JsonCodec(
            Deposited, upcasters={("Deposited", 1): lambda old: {**old, "currency": "EUR"}}
        )
    """

    def __init__(
        self,
        *types: object,
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
        state: type | None = None,
        state_version: int = 1,
        converter: cattrs.Converter | None = None,
    ) -> None:
        self._converter = converter or cattrs.Converter()
        self._by_name: dict[str, type] = {}
        self._names: dict[type, str] = {}
        self._versions: dict[str, int] = {}
        for cls in types:
            if not isinstance(cls, type):
                msg = f"JsonCodec takes event classes (got {cls!r})"
                raise TypeError(msg)
            name = getattr(cls, "event_type", cls.__name__)
            version = getattr(cls, "schema_version", 1)
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                msg = f"{cls.__name__}.schema_version must be an int >= 1 (got {version!r})"
                raise ValueError(msg)
            if name in self._by_name or name == "json":
                msg = f"two event classes share the type name {name!r}"
                raise ValueError(msg)
            self._by_name[name] = cls
            self._names[cls] = name
            self._versions[name] = version
        self._upcasters = dict(upcasters or {})
        for name, version in self._upcasters:
            if name not in self._versions or not 1 <= version < self._versions[name]:
                msg = f"upcaster for {name!r} version {version}: no such older version"
                raise ValueError(msg)
        self._state = state
        self.state_version = state_version

    def __repr__(self) -> str:
        return f"<otp.persist.JsonCodec {sorted(self._versions.items())}>"

    def encode(self, event: object) -> EventData:
        """The event as stored data."""
        name = self._names.get(type(event))
        if name is None:
            return EventData("json", 1, json.dumps(event, separators=(",", ":")))
        payload = self._converter.unstructure(event)
        return EventData(name, self._versions[name], json.dumps(payload, separators=(",", ":")))

    def decode(self, record: StoredEvent) -> object:
        """The event of a stored record, upcast to its class's current version."""
        where = f"event {record.sequence} of {record.stream!r}"
        try:
            payload = json.loads(record.data)
        except ValueError as exc:
            msg = f"{where}: its payload is not JSON ({exc})"
            raise EventDecodeError(msg) from exc
        if record.type == "json" and record.version == 1:
            return payload
        current = self._versions.get(record.type)
        if current is None:
            msg = f"{where} has the type {record.type!r}, which this codec does not know"
            raise SchemaVersionError(msg)
        if record.version > current:
            msg = (
                f"{where} is {record.type} version {record.version}, but this codec knows "
                f"{record.type} only up to version {current} (written by a newer program?)"
            )
            raise SchemaVersionError(msg)
        for version in range(record.version, current):
            upcaster = self._upcasters.get((record.type, version))
            if upcaster is None:
                msg = f"{where} is {record.type} version {version}: no upcaster to {version + 1}"
                raise SchemaVersionError(msg)
            payload = upcaster(payload)
        try:
            return self._converter.structure(payload, self._by_name[record.type])
        except Exception as exc:
            msg = f"{where}: {record.type} could not be built from {record.data!r} ({exc})"
            raise EventDecodeError(msg) from exc

    def encode_state(self, state: object) -> str:
        """A state for a snapshot, as JSON."""
        return json.dumps(self._converter.unstructure(state), separators=(",", ":"))

    def decode_state(self, snapshot: SnapshotData) -> object:
        """The state of a snapshot."""
        try:
            payload = json.loads(snapshot.data)
            if self._state is None:
                return payload
            return self._converter.structure(payload, self._state)
        except Exception as exc:
            msg = f"snapshot {snapshot.sequence} of {snapshot.stream!r} is unreadable ({exc})"
            raise EventDecodeError(msg) from exc

"""Pure: when to snapshot, and what to keep afterwards."""

from __future__ import annotations

from typing import final

import attrs

__all__ = ["Retention"]


def _positive_or_none(_: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        msg = f"Retention.{attribute.name} must be an int >= 1 or None (got {value!r})"
        raise ValueError(msg)


def _positive(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"Retention.{attribute.name} must be an int >= 1 (got {value!r})"
        raise ValueError(msg)


@final
@attrs.frozen
class Retention:
    """Snapshots and compaction of an event-sourced server.

    Attributes:
        snapshot_every: Save a snapshot after this many events (``None``: only on demand).
        keep_snapshots: How many of the latest snapshots to keep.
        delete_events: After a snapshot, delete the events up to the oldest kept snapshot
            (compaction; recovery then needs the snapshots, and projections that have not
            read those events yet never will).

    Example::

        class Account(otp.persist.EventSourced):
            retention = otp.persist.Retention(snapshot_every=100, keep_snapshots=2)
    """

    snapshot_every: int | None = attrs.field(default=None, validator=_positive_or_none)
    keep_snapshots: int = attrs.field(default=1, validator=_positive)
    delete_events: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def snapshot_due(self, events_since_snapshot: int) -> bool:
        """Whether enough events have been persisted since the last snapshot."""
        return self.snapshot_every is not None and events_since_snapshot >= self.snapshot_every

    def compact_up_to(self, kept_snapshots: list[int]) -> int | None:
        """The sequence up to which events may go, given the kept snapshots' sequences."""
        if not self.delete_events or not kept_snapshots:
            return None
        return min(kept_snapshots)

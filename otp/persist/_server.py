"""Event-sourced servers: commands become events, events are persisted, then folded into state.

The path of a command: ``handle_call`` (or ``handle_cast``) asks ``handle_command`` what to
do; a :class:`Persist` goes through the codec to the store in one atomic append that expects
the stream at the server's sequence number; only once the store has committed are the events
applied (``apply``) and the reply sent. Nothing awaits between the commit and the reply, so a
server stopped while it persists still replies (the store's append is not interruptible once
committing). A store error or a conflict crashes the server: its state may be stale, and its
supervisor's restart rebuilds it from the last snapshot and the events after it.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, final

import attrs

from otp import Caller, GenServer, NoReply

from ._codec import Codec, JsonCodec
from ._errors import StoreCorrupted
from ._snapshots import Retention
from ._store import EventStore, SnapshotData

__all__ = ["EventSourced", "Persist", "SaveSnapshot"]

logger = logging.getLogger("otp.persist")

_PAGE = 10_000
"""Events read per round trip during recovery."""


@final
@attrs.frozen(init=False)
class Persist:
    """What ``handle_command`` returns to persist events, and the reply to send afterwards.

    ``reply`` is the reply, or, if callable, called with the new state to make the reply.

    Example::

        async def handle_command(self, state, command):
            return otp.persist.Persist(Deposited(10), reply=lambda state: state.balance)
    """

    events: tuple[object, ...]
    reply: object

    def __init__(self, *events: object, reply: object = None) -> None:
        self.__attrs_init__(events, reply)


@final
class _SaveSnapshotType:
    """The type of :data:`otp.persist.SaveSnapshot`: call a server with it to snapshot now.

    Example::

        sequence = await account.call(otp.persist.SaveSnapshot)
    """

    def __repr__(self) -> str:
        return "otp.persist.SaveSnapshot"


SaveSnapshot: Any = _SaveSnapshotType()
"""Call an event-sourced server with this to save a snapshot now; the reply is its sequence.

Example::

    sequence = await account.call(otp.persist.SaveSnapshot)
"""


class EventSourced(GenServer[Any, Any]):
    """A server whose state is the fold of its persisted events.

    Start it with the store and its persistence id (its stream), then any arguments for
    :meth:`initial_state`: ``Account.child_spec(store, "account-1", name="account-1")``.
    Override :meth:`handle_command` (decide: return :class:`Persist`, or a plain reply) and
    :meth:`apply` (fold one event into the state; it must not fail: validate in
    ``handle_command``). Casts are commands whose reply is dropped. ``self.state`` and
    ``self.sequence`` are the state and the last persisted sequence number.

    Class options: ``codec`` (default: a :class:`JsonCodec` with no classes, for JSON events)
    and ``retention`` (:class:`Retention`: snapshots and compaction).

    Example::

        class Counter(otp.persist.EventSourced):
            def initial_state(self):
                return 0

            async def handle_command(self, state, command):
                if command == "increment":
                    return otp.persist.Persist(1, reply=lambda state: state)
                return state

            def apply(self, state, event):
                return state + event
    """

    codec: ClassVar[Codec] = JsonCodec()
    retention: ClassVar[Retention] = Retention()

    store: EventStore
    persistence_id: str
    state: Any
    sequence: int
    _since_snapshot: int

    # --- what a subclass writes ---------------------------------------------------------------

    def initial_state(self, *args: Any) -> Any:  # noqa: ANN401
        """The state before any event (by default ``None``)."""
        if args:
            msg = f"{type(self).__name__} got arguments {args!r}; define initial_state()"
            raise TypeError(msg)
        return None

    async def handle_command(self, state: Any, command: Any) -> Any:  # noqa: ANN401
        """Decide what a command does: return :class:`Persist`, or the reply."""
        msg = f"{type(self).__name__} has no handle_command, and got {command!r}"
        raise NotImplementedError(msg)

    def apply(self, state: Any, event: Any) -> Any:  # noqa: ANN401
        """Fold one event into the state; return the new state."""
        msg = f"{type(self).__name__} has no apply, and got {event!r}"
        raise NotImplementedError(msg)

    # --- the server ----------------------------------------------------------------------------

    async def init(self, store: object, persistence_id: object, *args: Any) -> None:  # noqa: ANN401
        """Rebuild the state: the latest snapshot, then the events after it."""
        if not isinstance(persistence_id, str) or not persistence_id:
            msg = f"the persistence id must be a non-empty str (got {persistence_id!r})"
            raise ValueError(msg)
        if not isinstance(store, EventStore):
            msg = f"{type(self).__name__} needs an otp.persist.EventStore (got {store!r})"
            raise TypeError(msg)
        self.store = store
        self.persistence_id = persistence_id
        await self.recover(*args)

    async def recover(self, *args: Any) -> None:  # noqa: ANN401
        """Load the state from the store (``init`` does it; exposed for subclasses)."""
        codec = self.codec
        snapshot = await self.store.load_snapshot(self.persistence_id)
        if snapshot is not None and snapshot.version != codec.state_version:
            logger.warning(
                "%s: ignoring snapshot %d of version %d (the codec's is %d); replaying events",
                self.persistence_id,
                snapshot.sequence,
                snapshot.version,
                codec.state_version,
            )
            snapshot = None
        if snapshot is None:
            state, sequence = self.initial_state(*args), 0
        else:
            state, sequence = codec.decode_state(snapshot), snapshot.sequence
        while True:
            page = await self.store.read(self.persistence_id, after=sequence, limit=_PAGE)
            for record in page:
                if record.sequence != sequence + 1:
                    msg = (
                        f"stream {self.persistence_id!r}: event {sequence + 1} is missing "
                        f"(found {record.sequence} next): the events were compacted without "
                        "a usable snapshot, or the store is damaged"
                    )
                    raise StoreCorrupted(msg)
                state = self.apply(state, codec.decode(record))
                sequence = record.sequence
            if len(page) < _PAGE:
                break
        last = await self.store.last_sequence(self.persistence_id)
        if last != sequence:
            msg = (
                f"stream {self.persistence_id!r}: the store is at sequence {last}, but its "
                f"events end at {sequence}: events are missing"
            )
            raise StoreCorrupted(msg)
        self.state = state
        self.sequence = sequence
        self._since_snapshot = 0

    async def persist(self, *events: object) -> None:
        """Persist ``events`` atomically, then apply them to ``self.state``.

        Raises:
            ConcurrencyConflict: Another writer appended to this stream.
            StoreError: The store failed (nothing was written).
        """
        encoded = [self.codec.encode(event) for event in events]
        last = await self.store.append(self.persistence_id, encoded, expected=self.sequence)
        # Committed: from here to the reply nothing awaits, so nothing can come between.
        state = self.state
        for event in events:
            state = self.apply(state, event)
        self.state = state
        self.sequence = last
        self._since_snapshot += len(events)

    async def save_snapshot(self) -> int:
        """Save the state as a snapshot now, then apply the retention; return its sequence."""
        snapshot = SnapshotData(
            self.persistence_id,
            self.sequence,
            self.codec.state_version,
            self.codec.encode_state(self.state),
        )
        await self.store.save_snapshot(snapshot)
        self._since_snapshot = 0
        kept = await self.store.delete_snapshots(
            self.persistence_id, keep=self.retention.keep_snapshots
        )
        up_to = self.retention.compact_up_to(kept)
        if up_to is not None:
            await self.store.delete_events(self.persistence_id, up_to=up_to)
        return self.sequence

    async def _command(self, command: object) -> tuple[bool, object]:
        decision = await self.handle_command(self.state, command)
        if not isinstance(decision, Persist):
            return False, decision
        await self.persist(*decision.events)
        reply = decision.reply
        return True, reply(self.state) if callable(reply) else reply

    async def handle_call(self, request: Any, caller: Caller[Any]) -> Any:  # noqa: ANN401
        """Run a command; reply once its events are persisted and applied."""
        if request is SaveSnapshot:
            return await self.save_snapshot()
        persisted, reply = await self._command(request)
        if not (persisted and self.retention.snapshot_due(self._since_snapshot)):
            return reply
        caller.reply(reply)  # the command is done; the snapshot must not delay its reply
        await self.save_snapshot()
        return NoReply

    async def handle_cast(self, message: Any) -> None:  # noqa: ANN401
        """Run a command whose reply nobody waits for."""
        persisted, _ = await self._command(message)
        if persisted and self.retention.snapshot_due(self._since_snapshot):
            await self.save_snapshot()

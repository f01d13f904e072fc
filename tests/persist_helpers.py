"""Shared pieces of the persistence tests: a ledger server and a store that fails on cue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

import otp.persist
from otp.persist import EventData


class Ledger(otp.persist.EventSourced):
    """State: every value added, in order (so a lost or doubled event shows)."""

    def initial_state(self) -> list[int]:
        return []

    async def handle_command(self, state: list[int], command: Any) -> Any:
        match command:
            case ("add", int(value)):
                return otp.persist.Persist(value, reply=len)
            case ("add_two", int(value)):
                return otp.persist.Persist(value, value, reply=len)
            case "get":
                return list(state)
        return ("rejected", command)

    def apply(self, state: list[int], event: Any) -> list[int]:
        return [*state, event]


class Crash(Exception):
    """What the faulty store raises."""


class FaultyStore:
    """Delegates to a store; raises Crash before or after the n-th append (1-based)."""

    def __init__(self, inner: Any, *, at: int | None = None, after_commit: bool = False) -> None:
        self.inner = inner
        self.at = at
        self.after_commit = after_commit
        self.appends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def append(
        self, stream: str, events: Sequence[EventData], *, expected: int | None
    ) -> int:
        self.appends += 1
        if self.appends == self.at and not self.after_commit:
            await trio.lowlevel.checkpoint()
            raise Crash(f"before append {self.appends}")
        result = await self.inner.append(stream, events, expected=expected)
        if self.appends == self.at and self.after_commit:
            raise Crash(f"after append {self.appends}")
        return int(result)

    # The protocol check (isinstance(store, EventStore)) looks for these on the class.
    async def read(self, *a: Any, **k: Any) -> Any:
        return await self.inner.read(*a, **k)

    async def last_sequence(self, *a: Any, **k: Any) -> Any:
        return await self.inner.last_sequence(*a, **k)

    async def read_all(self, *a: Any, **k: Any) -> Any:
        return await self.inner.read_all(*a, **k)

    async def last_position(self) -> Any:
        return await self.inner.last_position()

    async def wait_for_append(self, *a: Any, **k: Any) -> Any:
        return await self.inner.wait_for_append(*a, **k)

    async def save_snapshot(self, *a: Any, **k: Any) -> Any:
        return await self.inner.save_snapshot(*a, **k)

    async def load_snapshot(self, *a: Any, **k: Any) -> Any:
        return await self.inner.load_snapshot(*a, **k)

    async def delete_snapshots(self, *a: Any, **k: Any) -> Any:
        return await self.inner.delete_snapshots(*a, **k)

    async def delete_events(self, *a: Any, **k: Any) -> Any:
        return await self.inner.delete_events(*a, **k)

    async def load_offset(self, *a: Any, **k: Any) -> Any:
        return await self.inner.load_offset(*a, **k)

    async def save_offset(self, *a: Any, **k: Any) -> Any:
        return await self.inner.save_offset(*a, **k)

"""Children whose fate each test decides, and a recorder of what supervisors report."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable
from typing import Any

import trio
import trio.testing

import otp


class Crash(Exception):
    """What a harness child raises when told to crash."""


async def settle() -> None:
    """Let every task run until all are blocked (no virtual time passes)."""
    await trio.testing.wait_all_tasks_blocked()


class Harness:
    """Runs children that wait for orders: crash, return, shut down, or hang in cleanup.

    ``log`` records ("start", id), ("stop", id) and ("cleanup", id, seconds) in order.
    """

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.starts: Counter[Hashable] = Counter()
        self.fail_starts: dict[Hashable, int] = {}
        self.ignore: set[Hashable] = set()
        self.cleanup_seconds: dict[Hashable, float] = {}
        self.shield_forever: set[Hashable] = set()
        self._orders: dict[Hashable, trio.MemorySendChannel[str]] = {}

    def spec(self, child_id: Hashable, **options: Any) -> otp.ChildSpec:
        return otp.ChildSpec(child_id, self.run, (child_id,), **options)

    async def run(self, child_id: Hashable, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self.starts[child_id] += 1
        if self.fail_starts.get(child_id, 0) > 0:
            self.fail_starts[child_id] -= 1
            raise Crash(f"{child_id} failed to start")
        if child_id in self.ignore:
            raise otp.Ignore
        send, receive = trio.open_memory_channel[str](math.inf)
        self._orders[child_id] = send
        self.log.append(("start", child_id))
        task_status.started(child_id)
        try:
            order = await receive.receive()
            if order == "crash":
                raise Crash(child_id)
            if order == "shutdown":
                raise otp.Shutdown(child_id)
        finally:
            self.log.append(("stop", child_id))
            seconds = self.cleanup_seconds.get(child_id)
            if seconds is not None:
                with otp.cleanup_scope():
                    started = trio.current_time()
                    try:
                        await trio.sleep(seconds)
                    finally:
                        self.log.append(("cleanup", child_id, trio.current_time() - started))
            if child_id in self.shield_forever:
                with trio.CancelScope(shield=True):
                    await trio.sleep(3600)

    def crash(self, child_id: Hashable) -> None:
        self._orders[child_id].send_nowait("crash")

    def finish(self, child_id: Hashable) -> None:
        self._orders[child_id].send_nowait("return")

    def shut_down(self, child_id: Hashable) -> None:
        self._orders[child_id].send_nowait("shutdown")

    def starts_and_stops(self) -> list[tuple[Any, ...]]:
        return [entry for entry in self.log if entry[0] in ("start", "stop")]

    def clear(self) -> None:
        self.log.clear()


class Recorder:
    """A supervisor hook that keeps every event."""

    def __init__(self) -> None:
        self.events: list[otp.SupervisorEvent] = []

    def __call__(self, event: otp.SupervisorEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[otp.SupervisorEvent]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def names(self) -> list[str]:
        return [event.name for event in self.events]

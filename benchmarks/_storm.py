"""Shared by the crash-loop benchmarks: a child that crashes at once after every start.

``Storm`` counts the starts; ``storm_child`` crashes at its first checkpoint until it has been
restarted ``restarts`` times, then stays up and sets ``done``. ``otp_storm`` runs it under an
otp supervisor that never runs out of intensity; ``raw_storm`` under a hand-written restart
loop (a wrapper task posts each crash to the parent loop through a memory channel), the
baseline.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import trio

import otp


class Crash(Exception):
    """What the storm's child raises."""


class Storm:
    """The shared state of one storm: how many starts so far, and when it is over."""

    def __init__(self, restarts: int) -> None:
        self.restarts = restarts
        self.starts = 0
        self.done = trio.Event()


async def storm_child(
    storm: Storm, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Start, then crash at the next checkpoint; the start after the last restart stays up."""
    storm.starts += 1
    task_status.started()
    if storm.starts > storm.restarts:
        storm.done.set()
        await trio.sleep_forever()
    await trio.lowlevel.checkpoint()
    raise Crash(f"crash number {storm.starts}")


async def otp_storm(storm: Storm, **options: Any) -> None:
    """The storm under ``otp.supervisor(intensity=10**9, period=1.0, **options)``."""
    spec = otp.ChildSpec("storm", storm_child, (storm,))
    start = functools.partial(otp.supervisor, [spec], intensity=10**9, period=1.0, **options)
    async with trio.open_nursery() as nursery:
        sup: otp.Supervisor = await nursery.start(start)
        await storm.done.wait()
        await sup.stop()


async def raw_storm(storm: Storm, on_crash: Callable[[Crash], object] | None = None) -> None:
    """The storm under a hand-written restart loop; ``on_crash`` sees each crash first."""
    exits_send, exits_receive = trio.open_memory_channel[Crash](math.inf)

    async def wrapper(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await storm_child(storm, task_status=task_status)
        except Crash as exc:
            exits_send.send_nowait(exc)

    async with trio.open_nursery() as nursery:
        await nursery.start(wrapper)
        while not storm.done.is_set():
            crash = await exits_receive.receive()
            if on_crash is not None:
                on_crash(crash)
            await nursery.start(wrapper)
        nursery.cancel_scope.cancel()

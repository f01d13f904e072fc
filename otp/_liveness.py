"""Liveness: heartbeats -> a phi-accrual detector -> a *hung* exit for the supervisor.

Erlang's supervisors notice a child that dies, not one that hangs. A child spec with
``liveness=Heartbeat(...)`` must prove it is alive by beating: :func:`otp.heartbeat` from
inside the child, or automatically for a :class:`otp.GenServer`, whose loop beats each time it
takes a message and is exempt while it waits for one (so a server is only ever "hung" inside a
handler). Each beat feeds the child's :class:`~otp.PhiAccrualDetector`. When the detector
says the child is no longer available, the supervisor treats it as failed with exit kind
``hung`` (abnormal): it stops the child under its shutdown rules and restarts it per its
restart type, strategy, intensity and backoff.

One watcher task per supervisor checks its children at the exact moment each would cross the
phi threshold (a heap of deadlines), so a healthy tree costs no polling.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, final

import trio

from ._child import current_child
from ._exceptions import OtpError
from ._phi import PhiAccrualDetector
from ._taxonomy import CHILD_FAILURE, classify

if TYPE_CHECKING:
    from ._child import Child

__all__ = ["ChildHung", "heartbeat"]


@classify(CHILD_FAILURE)
@final
class ChildHung(OtpError):
    """Why a hung child was stopped: the exception of its ``hung`` exit reason.

    Attributes:
        child_id: The child's id.
        silent_for: Seconds since its last heartbeat.
        phi: The detector's phi when it was declared hung.

    Example::

        if isinstance(event, otp.ChildExited) and event.reason.kind is otp.ExitKind.HUNG:
            print("restarted a hung child:", event.reason.exception)
    """

    def __init__(self, child_id: object, silent_for: float, phi: float, threshold: float) -> None:
        super().__init__(
            f"child {child_id!r} sent no heartbeat for {silent_for:.3g} s "
            f"(phi {phi:.3g} >= threshold {threshold:g})"
        )
        self.child_id = child_id
        self.silent_for = silent_for
        self.phi = phi


class Liveness:
    """The liveness state of one running child: its detector and its place in the watch."""

    __slots__ = ("child", "detector", "expires_at", "scheduled", "suspended", "watcher")

    def __init__(self, child: Child, detector: PhiAccrualDetector, watcher: Watcher) -> None:
        self.child = child
        self.detector = detector
        self.watcher = watcher
        self.suspended = False
        self.expires_at = math.inf
        self.scheduled = math.inf  # the deadline of its entry in the watcher's heap

    def beat(self) -> None:
        """Record a heartbeat (and end a suspension)."""
        if self.suspended:
            # Back from an idle spell: start afresh rather than record the idle gap.
            self.suspended = False
            self.detector.resume()
        else:
            self.detector.heartbeat()
        self.expires_at = self.detector.unavailable_at()
        if self.expires_at < self.scheduled:
            self.watcher.schedule(self)

    def suspend(self) -> None:
        """Stop watching until the next beat (a server waiting for messages is not hung)."""
        self.suspended = True


class Watcher:
    """Wakes at the earliest deadline of the children it watches; declares the hung ones."""

    __slots__ = ("_heap", "_on_hung", "_order", "_wakeup")

    def __init__(self, on_hung: Callable[[Child, ChildHung], None]) -> None:
        self._heap: list[tuple[float, int, Liveness]] = []
        self._order = itertools.count()
        self._wakeup = trio.Event()
        self._on_hung = on_hung

    def schedule(self, liveness: Liveness) -> None:
        liveness.scheduled = liveness.expires_at
        heap = self._heap
        earliest = heap[0][0] if heap else math.inf
        heapq.heappush(heap, (liveness.expires_at, next(self._order), liveness))
        if liveness.expires_at < earliest:
            self._wakeup.set()

    async def run(self) -> None:
        heap = self._heap
        while True:
            if not heap:
                await self._wait(math.inf)
                continue
            deadline, _, liveness = heap[0]
            if deadline > trio.current_time():
                await self._wait(deadline)
                continue
            heapq.heappop(heap)
            if deadline != liveness.scheduled:
                continue  # a stale entry: a later (or earlier) one stands for this child
            liveness.scheduled = math.inf
            child = liveness.child
            if child.exit is not None or child._terminating or liveness.suspended:
                continue
            now = trio.current_time()
            detector = liveness.detector
            if liveness.expires_at > now or detector.is_available():
                # It beat since: look again at its new deadline (never in the past, so this
                # loop always sleeps between two looks at the same child).
                liveness.expires_at = max(detector.unavailable_at(), now + 1e-6)
                self.schedule(liveness)
                continue
            last = detector.last_heartbeat
            silent_for = now - last if last is not None else math.inf
            hung = ChildHung(child.id, silent_for, detector.phi(), detector.threshold)
            self._on_hung(child, hung)

    async def _wait(self, deadline: float) -> None:
        self._wakeup = trio.Event()
        with trio.move_on_at(deadline):
            await self._wakeup.wait()


def heartbeat() -> None:
    """Tell the supervisor that the current child is alive (see :class:`Heartbeat`).

    Cheap, and a no-op outside a supervised child or for a child without ``liveness``.
    Subtasks of a child beat for the child.

    Example::

        async def worker(queue, *, task_status=trio.TASK_STATUS_IGNORED):
            task_status.started()
            async for job in queue:
                await process(job)
                otp.heartbeat()
    """
    child = current_child()
    if child is not None and child._liveness is not None:
        child._liveness.beat()

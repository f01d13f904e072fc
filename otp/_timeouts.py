"""Call timeouts without a cancel scope per call: one timer task per supervisor.

A Trio deadline needs a cancel scope, and entering one costs several times a whole call round
trip. So a call to a supervised server does not open one: it registers its expiry with the
:class:`CallTimeouts` of the server's supervisor, a task in that supervisor's nursery that
sleeps until the earliest expiry and fails the calls still waiting then.

Calls made with the same timeout expire in the order they were made, so each timeout value
gets a FIFO queue and registering a call is an append (no heap, no comparison). Answered
calls leave their queue lazily, when they reach its head, and a queue is compacted when it
holds more answered calls than waiting ones, so it never grows past about twice the number of
calls in flight.

A call to a server that no supervisor runs registers with the run's own timer instead: one
per ``trio.run``, kept in a ``RunVar`` and run as a Trio system task, so it needs no nursery
of the caller's and ends with the run. (A call to the server of a supervisor that is already
stopping still uses a cancel scope of its own: that nursery takes no new task.)
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any, final

import trio

if TYPE_CHECKING:
    from ._server import Caller

__all__ = ["CallTimeouts", "run_timeouts"]


@final
class CallTimeouts:
    """The expiry times of the calls waiting on the servers of one supervisor."""

    __slots__ = ("_queues", "_sleeping_until", "_waiting", "_wakeup", "running")

    def __init__(self) -> None:
        self._queues: dict[float, deque[tuple[float, Caller[Any]]]] = {}
        self._waiting = 0
        """Calls registered and not yet answered, failed or expired."""
        self._wakeup = trio.Event()
        self._sleeping_until = math.inf
        self.running = True
        """False once its task has ended: it expires nothing any more."""

    def add(self, caller: Caller[Any], expires: float, timeout: float) -> None:
        """Fail ``caller`` with a timeout at ``expires``, unless it is answered first."""
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        elif len(queue) > 2 * self._waiting + 64:
            self._compact(queue)
        queue.append((expires, caller))
        self._waiting += 1
        caller._timeouts = self
        if expires < self._sleeping_until:
            self._wakeup.set()

    def answered(self) -> None:
        """One registered call got its answer (or failed) before its expiry."""
        self._waiting -= 1

    @staticmethod
    def _compact(queue: deque[tuple[float, Caller[Any]]]) -> None:
        waiting = [entry for entry in queue if entry[1]._task is not None]
        queue.clear()
        queue.extend(waiting)

    async def run(self) -> None:
        """Expire calls at their expiry times, until cancelled with the supervisor."""
        try:
            await self._run()
        finally:
            self.running = False

    async def _run(self) -> None:
        while True:
            now = trio.current_time()
            earliest = math.inf
            for timeout, queue in self._queues.items():
                while queue and queue[0][0] <= now:
                    _, caller = queue.popleft()
                    if caller._task is not None:
                        caller._expire(timeout)
                if queue and queue[0][0] < earliest:
                    earliest = queue[0][0]
            self._wakeup = trio.Event()
            self._sleeping_until = earliest
            with trio.move_on_at(earliest):
                await self._wakeup.wait()
            self._sleeping_until = -math.inf  # awake: nobody needs to wake it


_RUN_TIMEOUTS: trio.lowlevel.RunVar[CallTimeouts] = trio.lowlevel.RunVar("otp.call_timeouts")


def run_timeouts() -> CallTimeouts:
    """The timer of calls to servers that no supervisor runs (started with the first call)."""
    try:
        timeouts = _RUN_TIMEOUTS.get()
    except LookupError:
        pass
    else:
        if timeouts.running:
            return timeouts
    timeouts = CallTimeouts()
    _RUN_TIMEOUTS.set(timeouts)
    # A system task: it serves every unsupervised server of the run, whichever nursery each
    # runs in, and Trio cancels it when the run's main task is done.
    trio.lowlevel.spawn_system_task(timeouts.run, name="otp.call_timeouts")
    return timeouts

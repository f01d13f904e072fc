"""A small supervision tree that breaks on purpose: ``python -m otp.demo``.

The tree::

    root             rest_for_one: each child depends on the ones before it
    ├── config       worker: the settings the others read
    ├── workers      one_for_one supervisor, at most 3 restarts per second
    │   ├── fetcher
    │   ├── parser
    │   └── indexer
    └── pool         dynamic supervisor of transient jobs

The demo injects four faults, one after the other, and prints what each supervisor did about
them, from the supervisors' hooks:

1. a pool job returns: it is transient, so it stays down;
2. the fetcher crashes: ``workers`` restarts it alone;
3. the parser crashes three times in a row: with the fetcher's, that is a fourth restart
   within a second, so ``workers`` gives up and exits with
   :class:`otp.RestartIntensityExceeded`; ``root`` restarts it, and the pool after it;
4. the config worker crashes: ``root`` restarts it and every child after it.

It takes under a second. ``--virtual-time`` runs it on Trio's ``MockClock`` instead: instantly,
and with the same output every time.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import trio
import trio.testing

import otp
import otp.testing

__all__ = ["Faults", "Log", "main", "run"]

STEP = 0.1
"""The demo's unit of time, in seconds: short, since nothing here does real work."""


class Faults:
    """Crashes workers on demand: each running instance waits for its own trigger."""

    def __init__(self) -> None:
        self._triggers: dict[str, trio.Event] = {}
        self._armed: dict[str, trio.Event] = {}

    def arm(self, name: str) -> trio.Event:
        """Register a new instance of ``name``; return the event that crashes it."""
        trigger = trio.Event()
        self._triggers[name] = trigger
        waiting = self._armed.pop(name, None)
        if waiting is not None:
            waiting.set()  # crash() is waiting for this new instance
        return trigger

    async def crash(self, name: str) -> None:
        """Crash the running ``name`` and wait until a new instance of it is running."""
        self._armed[name] = armed = trio.Event()
        self._triggers.pop(name).set()
        # Every fault here is followed by a restart; if one is not, fail rather than hang.
        with trio.fail_after(10 * STEP):
            await armed.wait()
        # Let the supervisors finish reporting the restart before the next fault.
        await trio.sleep(STEP / 2)


async def worker(
    name: str, faults: Faults, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """A worker that runs until the demo crashes it."""
    trigger = faults.arm(name)
    task_status.started()
    await trigger.wait()
    msg = f"{name}: injected fault"
    raise RuntimeError(msg)


async def config(
    faults: Faults,
    *,
    task_status: trio.TaskStatus[dict[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The config worker: offers its settings as its started value, until it is crashed."""
    trigger = faults.arm("config")
    task_status.started({"batch_size": 100})
    await trigger.wait()
    msg = "config: injected fault"
    raise RuntimeError(msg)


async def job(
    job_id: int, seconds: float, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """A pool job: works for ``seconds``, then returns."""
    task_status.started(job_id)
    await trio.sleep(seconds)


class Log:
    """The supervisors' hook: prints each event as one line and keeps it for the summary."""

    def __init__(self) -> None:
        self.start = trio.current_time()
        self.events: list[otp.SupervisorEvent] = []

    def __call__(self, event: otp.SupervisorEvent) -> None:
        """Print one event (called by the supervisors)."""
        self.events.append(event)
        self._line(event.time, f"{event.supervisor:<12} {event.describe()}")

    def note(self, text: str) -> None:
        """Print what the demo does next."""
        self._line(trio.current_time(), f"-- {text}")

    def _line(self, time: float, text: str) -> None:
        print(f"{time - self.start:5.2f}s  {text}")

    def summary(self, leftover_tasks: int) -> str:
        """One line: what happened over the whole run."""
        exits = [event for event in self.events if isinstance(event, otp.ChildExited)]
        crashes = sum(1 for event in exits if event.reason.abnormal)
        normal = sum(1 for event in exits if event.reason.kind is otp.ExitKind.NORMAL)
        restarts = sum(
            1 for event in self.events if isinstance(event, otp.ChildStarted) and event.restart
        )
        gave_up = sum(1 for event in self.events if isinstance(event, otp.SupervisorGaveUp))
        left = "no task" if leftover_tasks == 0 else _count(leftover_tasks, "task")
        return (
            f"summary: {_count(crashes, 'crash', 'crashes')}, {_count(restarts, 'restart')}, "
            f"{_count(gave_up, 'supervisor')} gave up, {_count(normal, 'normal exit')}; "
            f"tree stopped, {left} left running"
        )


def _pool(root: otp.Supervisor) -> otp.DynamicSupervisor:
    child = root.get_child("pool")
    pool = child.value if child is not None else None
    if not isinstance(pool, otp.DynamicSupervisor):
        msg = f"expected the pool's handle, got {pool!r}"
        raise TypeError(msg)
    return pool


def _states(sup: otp.Supervisor) -> str:
    return ", ".join(f"{info.id} {info.state.value}" for info in reversed(sup.which_children()))


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


async def run() -> str:
    """Build the tree, inject the faults, stop the tree; return the summary line."""
    log = Log()
    faults = Faults()
    tree = [
        otp.ChildSpec("config", config, (faults,)),
        otp.supervisor_spec(
            "workers",
            [
                otp.ChildSpec(name, worker, (name, faults))
                for name in ("fetcher", "parser", "indexer")
            ],
            intensity=3,
            period=1.0,
            hooks=[log],
        ),
        otp.dynamic_supervisor_spec(
            "pool", otp.ChildSpec("job", job, restart="transient"), hooks=[log]
        ),
    ]
    async with otp.open_supervisor(
        tree, strategy="rest_for_one", intensity=3, period=5.0, name="root", hooks=[log]
    ) as root:
        log.note("pool: start job 1 (done in 0.05 s) and job 2 (long-running)")
        await _pool(root).start_child(1, STEP / 2)
        await _pool(root).start_child(2, 3600.0)
        await trio.sleep(STEP)

        log.note("crash the fetcher")
        await faults.crash("fetcher")

        log.note("crash the parser 3 times in a row")
        for _ in range(3):
            await faults.crash("parser")

        log.note("crash the config worker")
        await faults.crash("config")

        log.note(f"root: {_states(root)}")
        log.note("stop the tree")
    return log.summary(len(otp.testing.library_tasks()))


@contextmanager
def _quiet_logger() -> Iterator[None]:
    # The hooks print every event already; the logger would add crash tracebacks on stderr.
    logger = logging.getLogger("otp.supervisor")
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; the command line is ``python -m otp.demo [--virtual-time]``."""
    parser = argparse.ArgumentParser(
        prog="python -m otp.demo",
        description="A small supervision tree that breaks on purpose, and what its supervisors do.",
    )
    parser.add_argument(
        "--virtual-time",
        action="store_true",
        help="run on trio.testing.MockClock: instant and exactly repeatable",
    )
    args = parser.parse_args(argv)
    clock = trio.testing.MockClock(autojump_threshold=0) if args.virtual_time else None
    with _quiet_logger():
        summary = trio.run(run, clock=clock)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Prove that no task started by ``otp`` outlives its tree, by walking Trio's task tree."""

from __future__ import annotations

from pathlib import Path

import trio

__all__ = ["assert_no_orphans", "library_tasks"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _is_library_task(task: trio.lowlevel.Task) -> bool:
    if task.name.startswith("otp.") or task.name.startswith("otp:"):
        return True
    code = getattr(task.coro, "cr_code", None)
    filename = getattr(code, "co_filename", "")
    return bool(filename) and str(Path(filename).resolve()).startswith(_PACKAGE_DIR)


def library_tasks() -> list[trio.lowlevel.Task]:
    """Every live task that ``otp`` started (children, supervisors, timers).

    The calling task and its ancestors are left out, so this can be called from anywhere,
    even from inside a supervised child.

    Example::

        async with otp.open_supervisor(children) as sup:
            assert otp.testing.library_tasks()   # the supervisor and its children
        assert otp.testing.library_tasks() == []
    """
    current = trio.lowlevel.current_task()
    ancestors: set[trio.lowlevel.Task] = set()
    task: trio.lowlevel.Task | None = current
    while task is not None:
        ancestors.add(task)
        nursery = task.parent_nursery
        task = nursery.parent_task if nursery is not None else None
    found: list[trio.lowlevel.Task] = []
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        if task is None:
            continue
        if task not in ancestors and _is_library_task(task):
            found.append(task)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return found


def assert_no_orphans() -> None:
    """Fail if any task started by ``otp`` is still running.

    Call it after a tree has stopped (or at the end of a test): a supervisor must never
    return while one of its tasks is alive, and ``otp`` never starts a task outside the
    nursery of the tree it belongs to.

    Raises:
        AssertionError: Listing the leftover tasks by name.

    Example::

        async with otp.open_supervisor(children) as sup:
            ...
        otp.testing.assert_no_orphans()
    """
    leftovers = library_tasks()
    if leftovers:
        names = ", ".join(sorted(task.name for task in leftovers))
        msg = f"{len(leftovers)} otp task(s) still running: {names}"
        raise AssertionError(msg)

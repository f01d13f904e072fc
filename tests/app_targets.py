"""Trees for the application runner's tests (tests/test_app*.py), importable by path."""

from __future__ import annotations

import sys
from typing import Any

import trio

import otp


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def worker(name: str, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Say when it starts and when it has stopped."""
    say(f"child {name} started")
    task_status.started(name)
    try:
        await trio.sleep_forever()
    finally:
        say(f"child {name} stopped")


async def slow(name: str, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Take a minute to clean up (its shutdown limit allows it): only forcing ends it sooner."""
    say(f"child {name} started")
    task_status.started(name)
    try:
        await trio.sleep_forever()
    finally:
        say(f"child {name} cleaning up")
        with otp.cleanup_scope() as scope:
            await trio.sleep(60)
        say(f"child {name} {'cut short' if scope.cancelled_caught else 'stopped'}")


async def broken(name: str, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    raise RuntimeError(f"{name} cannot connect")


tree = [
    otp.ChildSpec("db", worker, ("db",)),
    otp.supervisor_spec(
        "web", [otp.ChildSpec("w1", worker, ("w1",)), otp.ChildSpec("w2", worker, ("w2",))]
    ),
]

slow_tree = [
    otp.ChildSpec("db", worker, ("db",)),
    otp.ChildSpec("cache", slow, ("cache",), shutdown=120.0),
]

failing_tree = [
    otp.ChildSpec("db", worker, ("db",)),
    otp.supervisor_spec(
        "web", [otp.ChildSpec("w1", worker, ("w1",)), otp.ChildSpec("w2", broken, ("w2",))]
    ),
]


def make_tree() -> otp.Tree:
    return otp.Tree(tree, name="shop")


not_a_tree = 42

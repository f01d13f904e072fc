"""Starts with import paths (``tests.tree_targets:...``) for the tree tests in test_tree.py."""

from __future__ import annotations

import functools
from collections import Counter as _Counter
from typing import Any

import trio

import otp

# --- valid starts ---------------------------------------------------------------------------


async def idle(*args: Any, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Start at once (its started value is its args), then run until stopped."""
    task_status.started(args)
    await trio.sleep_forever()


async def plain(*args: Any) -> None:
    """A start without task_status: started as soon as it is called."""
    await trio.sleep_forever()


async def with_options(
    url: str, pool_size: int = 1, *, task_status: Any = trio.TASK_STATUS_IGNORED
) -> None:
    task_status.started((url, pool_size))
    await trio.sleep_forever()


class Holder:
    @classmethod
    async def start(cls, *args: Any, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """A classmethod start: resolved as a bound method, saved back to the same path."""
        task_status.started(args)
        await trio.sleep_forever()

    async def method(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()


class Counter(otp.GenServer[str, int]):
    async def init(self, start: int = 0) -> None:
        self.count = start

    async def handle_call(self, request: str, caller: otp.Caller[int]) -> int:
        if request == "increment":
            self.count += 1
        return self.count


class AsyncCallable:
    async def __call__(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()


callable_object = AsyncCallable()
"""A module-level object with an async ``__call__``: a valid start, but it has no
``__qualname__``, so a tree holding it cannot be saved."""

partial_start = functools.partial(with_options, "postgres://localhost")
"""A module-level partial: loads, but cannot be saved (a partial has no import path)."""

# --- invalid starts ---------------------------------------------------------------------------


def sync_function() -> None:
    pass


async def async_generator() -> Any:
    yield


class NotAServer:
    pass


CONSTANT = 3

# --- a worker the tests crash on demand ---------------------------------------------------------

STARTS: _Counter[str] = _Counter()
_TRIGGERS: dict[str, trio.Event] = {}


def reset() -> None:
    STARTS.clear()
    _TRIGGERS.clear()


async def crashable(name: str, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Run until :func:`crash` is called with its name, then raise."""
    trigger = _TRIGGERS[name] = trio.Event()
    STARTS[name] += 1
    task_status.started(name)
    await trigger.wait()
    msg = f"{name} crashed on purpose"
    raise RuntimeError(msg)


def crash(name: str) -> None:
    _TRIGGERS[name].set()

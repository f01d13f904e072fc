from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from otp.testing import assert_no_orphans

pytest_plugins = ["pytester"]


def _run_on_virtual_time(
    fn: Callable[[], Awaitable[Any]],
    *,
    clock: trio.abc.Clock | None = None,
    instruments: Any = (),
) -> Any:
    # Tests that ask for no clock of their own run on an autojumping MockClock: time only
    # passes when every task is blocked, so timeouts and backoffs cost no real time.
    return trio.run(fn, clock=clock or MockClock(autojump_threshold=0), instruments=instruments)


@pytest.fixture
async def _no_orphans() -> AsyncIterator[None]:
    yield
    assert_no_orphans()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every async test runs on virtual time and ends with proof that the library left no
    # task behind.
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.add_marker(pytest.mark.trio(run=_run_on_virtual_time), append=False)
            item.fixturenames.append("_no_orphans")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _quiet_otp_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Crash reports are part of what we test; keep them captured rather than printed.
    caplog.set_level(logging.INFO, logger="otp")

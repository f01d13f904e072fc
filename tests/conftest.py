from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator

import pytest

from otp.testing import assert_no_orphans


@pytest.fixture
async def _no_orphans() -> AsyncIterator[None]:
    yield
    assert_no_orphans()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every async test ends with proof that the library left no task behind.
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            item.fixturenames.append("_no_orphans")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _quiet_otp_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Crash reports are part of what we test; keep them captured rather than printed.
    caplog.set_level(logging.INFO, logger="otp")

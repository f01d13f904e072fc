"""An opt-in pytest plugin with fixtures for running trees (add it to ``pytest_plugins``).

Enable it in a ``conftest.py``::

    pytest_plugins = ["otp.testing.pytest_plugin"]

It needs pytest-trio (``trio_mode = true``, or ``@pytest.mark.trio`` on each test). Ask for
pytest-trio's ``autojump_clock`` fixture in a test to run it on virtual time, so that restart
windows, backoffs, liveness deadlines and fault plans cost no real time.

Fixtures:

* ``otp_recorder``: an :class:`~otp.testing.EventRecorder`.
* ``otp_trees``: starts supervisors whose hooks include ``otp_recorder``; at the end of the
  test it stops the ones still running and checks that no task of the library is left.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any, final

import pytest
import trio

from .._dynamic import DynamicSupervisor, dynamic_supervisor
from .._spec import ChildSpec
from .._supervisor import Supervisor, supervisor
from ._faults import FaultInjector, FaultPlan
from ._orphans import assert_no_orphans
from ._recorder import EventRecorder

__all__ = ["TreeRunner", "otp_recorder", "otp_trees"]


@final
class TreeRunner:
    """What the ``otp_trees`` fixture gives a test: start trees that the fixture cleans up.

    Example::

        pytest_plugins = ["otp.testing.pytest_plugin"]

        async def test_db_restarts(otp_trees, otp_recorder, autojump_clock):
            sup = await otp_trees.start([otp.ChildSpec("db", db_worker)])
            ...
            await otp_recorder.wait_for(otp.ChildStarted, child_id="db", restart=True)
    """

    def __init__(self, nursery: trio.Nursery, recorder: EventRecorder) -> None:
        self._nursery = nursery
        self.recorder = recorder
        self.injectors: list[FaultInjector] = []
        self._supervisors: list[Supervisor | DynamicSupervisor] = []

    async def start(
        self,
        children: Sequence[ChildSpec],
        *,
        faults: FaultPlan | None = None,
        **options: Any,  # noqa: ANN401
    ) -> Supervisor:
        """Start a static supervisor (options as for :func:`otp.supervisor`).

        With ``faults``, the tree is instrumented and the plan starts running at once; its
        injector is appended to ``injectors``.
        """
        hooks = (*options.pop("hooks", ()), self.recorder)
        injector: FaultInjector | None = None
        if faults is not None:
            injector = FaultInjector(faults)
            children = injector.instrument(children)
            self.injectors.append(injector)
        sup: Supervisor = await self._nursery.start(
            functools.partial(supervisor, children, hooks=hooks, **options)
        )
        self._supervisors.append(sup)
        if injector is not None:
            await self._nursery.start(injector.run)
        return sup

    async def start_dynamic(
        self,
        template: ChildSpec,
        **options: Any,  # noqa: ANN401
    ) -> DynamicSupervisor:
        """Start a dynamic supervisor (options as for :func:`otp.dynamic_supervisor`)."""
        hooks = (*options.pop("hooks", ()), self.recorder)
        sup: DynamicSupervisor = await self._nursery.start(
            functools.partial(dynamic_supervisor, template, hooks=hooks, **options)
        )
        self._supervisors.append(sup)
        return sup

    async def stop_all(self) -> None:
        """Stop every supervisor started here, newest first."""
        for sup in reversed(self._supervisors):
            await sup.stop()


@pytest.fixture
def otp_recorder() -> EventRecorder:
    """A fresh :class:`~otp.testing.EventRecorder` for the test."""
    return EventRecorder()


@pytest.fixture
async def otp_trees(otp_recorder: EventRecorder) -> AsyncIterator[TreeRunner]:
    """Start supervisors for the test; stop them and check for orphaned tasks at the end."""
    async with trio.open_nursery() as nursery:
        runner = TreeRunner(nursery, otp_recorder)
        yield runner
        await runner.stop_all()
        nursery.cancel_scope.cancel()  # fault plans that have not finished
    assert_no_orphans()

"""Tools for testing code built on ``otp``, for use in your own test suites.

* :func:`assert_no_orphans` proves that no task of the library outlived its tree.
* :class:`EventRecorder` keeps every supervisor event of a tree, for assertions.
* :class:`FaultPlan` and :class:`FaultInjector` inject seeded, reproducible faults (crash,
  exit, hang, slow, fail_start, fail_terminate, cancel_restart) without the children knowing.
* ``pytest_plugins = ["otp.testing.pytest_plugin"]`` adds fixtures that run trees on
  virtual time.

Example::

    from otp.testing import EventRecorder, assert_no_orphans

    async def test_tree_stops_cleanly():
        recorder = EventRecorder()
        async with otp.open_supervisor(children, hooks=[recorder]):
            ...
        assert_no_orphans()
"""

from ._faults import Fault as Fault
from ._faults import FaultInjector as FaultInjector
from ._faults import FaultKind as FaultKind
from ._faults import FaultPlan as FaultPlan
from ._faults import InjectedFault as InjectedFault
from ._faults import InjectionRecord as InjectionRecord
from ._orphans import assert_no_orphans as assert_no_orphans
from ._orphans import library_tasks as library_tasks
from ._recorder import EventRecorder as EventRecorder

__all__ = [
    "EventRecorder",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "FaultPlan",
    "InjectedFault",
    "InjectionRecord",
    "assert_no_orphans",
    "library_tasks",
]

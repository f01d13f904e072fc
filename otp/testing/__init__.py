"""Tools for testing code built on ``otp``: usable in your own test suites.

Example::

    from otp.testing import assert_no_orphans

    async def test_tree_stops_cleanly():
        async with otp.open_supervisor(children):
            ...
        assert_no_orphans()
"""

from ._orphans import assert_no_orphans as assert_no_orphans
from ._orphans import library_tasks as library_tasks

__all__ = ["assert_no_orphans", "library_tasks"]

"""The runner's exit codes, one per way a run can end."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """How a run ended, as a process exit status (``sys.exit(otp.app.run(tree))``).

    Example::

        code = otp.app.run(tree)
        if code is otp.app.ExitCode.FORCED:
            print("some children were killed without their cleanup")
    """

    OK = 0
    """Stopped cleanly: ``App.stop()`` was called, or the tree ended normally by itself."""
    GAVE_UP = 1
    """The tree gave up (:class:`otp.RestartIntensityExceeded`) or its root crashed."""
    USAGE = 2
    """The command line was wrong, or the tree could not be loaded (``python -m otp run``)."""
    START_FAILED = 3
    """A child failed to start; nothing was left running."""
    FORCED = 70
    """The shutdown was cut short by its deadline or a second signal (sysexits' EX_SOFTWARE):
    what was still running was killed without the rest of its cleanup."""
    SIGINT = 130
    """Stopped cleanly after SIGINT (Ctrl-C): 128 + 2."""
    SIGTERM = 143
    """Stopped cleanly after SIGTERM: 128 + 15."""

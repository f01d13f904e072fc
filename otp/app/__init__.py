"""Run a supervision tree as a service: signals, a shutdown deadline, hooks, exit codes.

:func:`run` (sync) and :func:`serve` (async) start a tree, report when every child has
started, and on SIGINT or SIGTERM stop it in order within a deadline; a second signal or
the deadline forces the rest down. SIGHUP calls a reload callback. ``python -m otp run
module:tree`` does the same from the command line (:func:`main`).

Example::

    import sys
    import otp
    import otp.app

    tree = [otp.ChildSpec("db", db_worker), otp.ChildSpec("web", web_worker)]
    sys.exit(otp.app.run(tree, name="shop", shutdown_timeout=10))
"""

import contextlib as _contextlib

from ._cli import main as main
from ._codes import ExitCode as ExitCode
from ._errors import AppError as AppError
from ._errors import AppOptionError as AppOptionError
from ._errors import AppStartError as AppStartError
from ._hooks import ShutdownHook as ShutdownHook
from ._records import AppEvent as AppEvent
from ._records import AppStarted as AppStarted
from ._records import AppStartFailed as AppStartFailed
from ._records import AppStopped as AppStopped
from ._records import HookFailed as HookFailed
from ._records import HookTimedOut as HookTimedOut
from ._records import Reloaded as Reloaded
from ._records import ReloadFailed as ReloadFailed
from ._records import ReloadSkipped as ReloadSkipped
from ._records import ShutdownForced as ShutdownForced
from ._records import ShutdownPhase as ShutdownPhase
from ._records import StopRequested as StopRequested
from ._runner import App as App
from ._runner import AppState as AppState
from ._runner import run as run
from ._runner import serve as serve

__all__ = [
    "App",
    "AppError",
    "AppEvent",
    "AppOptionError",
    "AppStartError",
    "AppStartFailed",
    "AppStarted",
    "AppState",
    "AppStopped",
    "ExitCode",
    "HookFailed",
    "HookTimedOut",
    "ReloadFailed",
    "ReloadSkipped",
    "Reloaded",
    "ShutdownForced",
    "ShutdownHook",
    "ShutdownPhase",
    "StopRequested",
    "main",
    "run",
    "serve",
]


def _fixup_module_metadata() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("otp.app._"):
            with _contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "otp.app"


_fixup_module_metadata()
del _fixup_module_metadata

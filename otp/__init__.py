"""Erlang/OTP-style supervision trees for Trio.

Children are start-able async functions; supervisors keep them running by the rules of
Erlang/OTP (restart types, strategies, restart intensity, shutdown order), with structured
concurrency underneath: a supervisor cannot return while any of its children is alive.

The path of a crash, by module: a child raises inside ``_child.run_child`` (never into the
supervisor's nursery), which classifies how it ended (``_exit``) and posts it to its
supervisor (``_supervising``); the supervisor (``_supervisor`` or ``_dynamic``) asks the
restart type, the intensity window (``_intensity``) and the backoff (``_backoff``) what to do,
and restarts per its strategy or gives up; giving up is a shutdown-class exit of the
supervisor's own ``run_child`` in its parent: the same path, one level up. Every step is one
event record (``_reports``).

The path of a call: ``_server.ServerRef.call`` queues a ``Caller`` in the server's mailbox
(``_mailbox``), its timeout kept by the supervisor's timer (``_timeouts``); the server's loop
(``_server``) runs the handler and the reply reschedules the caller. Names live in a per-run
registry (``_registry``) and monitors (``_monitor``) hear of the end. A child that stops
beating is found by its supervisor's watcher (``_liveness``, ``_phi``) and stopped as hung.
Trees load from files (``_tree``); ``_breaker`` guards calls to flaky dependencies.
"""

import contextlib as _contextlib

from ._backoff import Backoff as Backoff
from ._breaker import Admission as Admission
from ._breaker import BreakerCallCancelled as BreakerCallCancelled
from ._breaker import BreakerCallFailed as BreakerCallFailed
from ._breaker import BreakerCallIgnored as BreakerCallIgnored
from ._breaker import BreakerCallLate as BreakerCallLate
from ._breaker import BreakerCallRejected as BreakerCallRejected
from ._breaker import BreakerCallSucceeded as BreakerCallSucceeded
from ._breaker import BreakerCallTimedOut as BreakerCallTimedOut
from ._breaker import BreakerConfig as BreakerConfig
from ._breaker import BreakerConfigError as BreakerConfigError
from ._breaker import BreakerCore as BreakerCore
from ._breaker import BreakerError as BreakerError
from ._breaker import BreakerEvent as BreakerEvent
from ._breaker import BreakerGuard as BreakerGuard
from ._breaker import BreakerState as BreakerState
from ._breaker import BreakerStateChanged as BreakerStateChanged
from ._breaker import BreakerStatistics as BreakerStatistics
from ._breaker import BreakerTimeout as BreakerTimeout
from ._breaker import CallOutcome as CallOutcome
from ._breaker import CircuitBreaker as CircuitBreaker
from ._breaker import CircuitOpen as CircuitOpen
from ._breaker import Rejection as Rejection
from ._burst import DroppedReports as DroppedReports
from ._burst import ReportLimit as ReportLimit
from ._child import Child as Child
from ._child import cleanup_scope as cleanup_scope
from ._child import current_child as current_child
from ._dynamic import DynamicSupervisor as DynamicSupervisor
from ._dynamic import dynamic_supervisor as dynamic_supervisor
from ._dynamic import dynamic_supervisor_spec as dynamic_supervisor_spec
from ._dynamic import open_dynamic_supervisor as open_dynamic_supervisor
from ._exceptions import AlreadyReplied as AlreadyReplied
from ._exceptions import CallError as CallError
from ._exceptions import CallingSelf as CallingSelf
from ._exceptions import CallTimeout as CallTimeout
from ._exceptions import ChildAlreadyPresent as ChildAlreadyPresent
from ._exceptions import ChildAlreadyStarted as ChildAlreadyStarted
from ._exceptions import ChildNotFound as ChildNotFound
from ._exceptions import ChildRestarting as ChildRestarting
from ._exceptions import ChildRunning as ChildRunning
from ._exceptions import ChildSpecError as ChildSpecError
from ._exceptions import Exit as Exit
from ._exceptions import Ignore as Ignore
from ._exceptions import MailboxFull as MailboxFull
from ._exceptions import MaxChildrenReached as MaxChildrenReached
from ._exceptions import NameTaken as NameTaken
from ._exceptions import NoProc as NoProc
from ._exceptions import OtpError as OtpError
from ._exceptions import RestartIntensityExceeded as RestartIntensityExceeded
from ._exceptions import ServerExited as ServerExited
from ._exceptions import Shutdown as Shutdown
from ._exceptions import StartError as StartError
from ._exceptions import Stop as Stop
from ._exceptions import SupervisorError as SupervisorError
from ._exceptions import SupervisorNotRunning as SupervisorNotRunning
from ._exit import ExitKind as ExitKind
from ._exit import ExitReason as ExitReason
from ._exit import exit_reason as exit_reason
from ._flags import AutoShutdown as AutoShutdown
from ._flags import Strategy as Strategy
from ._heartbeat import Heartbeat as Heartbeat
from ._hooks import FilteredHook as FilteredHook
from ._intensity import RestartIntensity as RestartIntensity
from ._liveness import ChildHung as ChildHung
from ._liveness import heartbeat as heartbeat
from ._mailbox import MailboxStatistics as MailboxStatistics
from ._mailbox import Overflow as Overflow
from ._middleware import Handler as Handler
from ._middleware import Message as Message
from ._middleware import MessageKind as MessageKind
from ._middleware import Middleware as Middleware
from ._middleware import Rejected as Rejected
from ._monitor import Down as Down
from ._monitor import Monitor as Monitor
from ._monitor import demonitor as demonitor
from ._monitor import monitor as monitor
from ._observer import observe_calls as observe_calls
from ._phi import PhiAccrualDetector as PhiAccrualDetector
from ._registry import whereis as whereis
from ._reports import ChildAbandoned as ChildAbandoned
from ._reports import ChildExited as ChildExited
from ._reports import ChildIgnored as ChildIgnored
from ._reports import ChildRestartScheduled as ChildRestartScheduled
from ._reports import ChildStarted as ChildStarted
from ._reports import ChildStartFailed as ChildStartFailed
from ._reports import ChildTerminated as ChildTerminated
from ._reports import SupervisorEvent as SupervisorEvent
from ._reports import SupervisorGaveUp as SupervisorGaveUp
from ._reports import SupervisorStarted as SupervisorStarted
from ._reports import SupervisorStopped as SupervisorStopped
from ._server import Caller as Caller
from ._server import Continue as Continue
from ._server import GenServer as GenServer
from ._server import IdleTimeout as IdleTimeout
from ._server import NoReply as NoReply
from ._server import ServerRef as ServerRef
from ._server import Timeout as Timeout
from ._server import named as named
from ._spec import BRUTAL_KILL as BRUTAL_KILL
from ._spec import INFINITY as INFINITY
from ._spec import ChildSpec as ChildSpec
from ._spec import ChildType as ChildType
from ._spec import Restart as Restart
from ._spec import ShutdownMode as ShutdownMode
from ._spec import check_child_specs as check_child_specs
from ._supervising import ChildCounts as ChildCounts
from ._supervising import ChildInfo as ChildInfo
from ._supervising import ChildState as ChildState
from ._supervisor import Supervisor as Supervisor
from ._supervisor import open_supervisor as open_supervisor
from ._supervisor import supervisor as supervisor
from ._supervisor import supervisor_spec as supervisor_spec
from ._taxonomy import ErrorFamily as ErrorFamily
from ._taxonomy import Recovery as Recovery
from ._taxonomy import Severity as Severity
from ._taxonomy import error_family as error_family
from ._tree import Tree as Tree
from ._tree import TreeError as TreeError
from ._tree import load_tree as load_tree

__version__ = "0.1.0.dev0"

__all__ = [
    "BRUTAL_KILL",
    "INFINITY",
    "Admission",
    "AlreadyReplied",
    "AutoShutdown",
    "Backoff",
    "BreakerCallCancelled",
    "BreakerCallFailed",
    "BreakerCallIgnored",
    "BreakerCallLate",
    "BreakerCallRejected",
    "BreakerCallSucceeded",
    "BreakerCallTimedOut",
    "BreakerConfig",
    "BreakerConfigError",
    "BreakerCore",
    "BreakerError",
    "BreakerEvent",
    "BreakerGuard",
    "BreakerState",
    "BreakerStateChanged",
    "BreakerStatistics",
    "BreakerTimeout",
    "CallError",
    "CallOutcome",
    "CallTimeout",
    "Caller",
    "CallingSelf",
    "Child",
    "ChildAbandoned",
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildCounts",
    "ChildExited",
    "ChildHung",
    "ChildIgnored",
    "ChildInfo",
    "ChildNotFound",
    "ChildRestartScheduled",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildSpecError",
    "ChildStartFailed",
    "ChildStarted",
    "ChildState",
    "ChildTerminated",
    "ChildType",
    "CircuitBreaker",
    "CircuitOpen",
    "Continue",
    "Down",
    "DroppedReports",
    "DynamicSupervisor",
    "ErrorFamily",
    "Exit",
    "ExitKind",
    "ExitReason",
    "FilteredHook",
    "GenServer",
    "Handler",
    "Heartbeat",
    "IdleTimeout",
    "Ignore",
    "MailboxFull",
    "MailboxStatistics",
    "MaxChildrenReached",
    "Message",
    "MessageKind",
    "Middleware",
    "Monitor",
    "NameTaken",
    "NoProc",
    "NoReply",
    "OtpError",
    "Overflow",
    "PhiAccrualDetector",
    "Recovery",
    "Rejected",
    "Rejection",
    "ReportLimit",
    "Restart",
    "RestartIntensity",
    "RestartIntensityExceeded",
    "ServerExited",
    "ServerRef",
    "Severity",
    "Shutdown",
    "ShutdownMode",
    "StartError",
    "Stop",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorEvent",
    "SupervisorGaveUp",
    "SupervisorNotRunning",
    "SupervisorStarted",
    "SupervisorStopped",
    "Timeout",
    "Tree",
    "TreeError",
    "check_child_specs",
    "cleanup_scope",
    "current_child",
    "demonitor",
    "dynamic_supervisor",
    "dynamic_supervisor_spec",
    "error_family",
    "exit_reason",
    "heartbeat",
    "load_tree",
    "monitor",
    "named",
    "observe_calls",
    "open_dynamic_supervisor",
    "open_supervisor",
    "supervisor",
    "supervisor_spec",
    "whereis",
]


def _fixup_module_metadata() -> None:
    # Show public names as ``otp.X`` in reprs, tracebacks and docs, as Trio does.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("otp._"):
            with _contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "otp"


_fixup_module_metadata()
del _fixup_module_metadata

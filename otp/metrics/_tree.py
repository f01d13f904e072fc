"""The standard metrics of a tree: fed by supervisor and breaker reports and call observers."""

from __future__ import annotations

from typing import Any, final

import trio

import otp

from ._instruments import Metrics

_CALL_OUTCOMES: tuple[tuple[type[BaseException], str], ...] = (
    (otp.CallTimeout, "timeout"),
    (otp.NoProc, "noproc"),
    (otp.ServerExited, "exited"),
    (otp.MailboxFull, "mailbox_full"),
    (trio.Cancelled, "cancelled"),
)
_ChildExited = otp.ChildExited
_COUNTED = (
    otp.ChildExited,
    otp.ChildStartFailed,
    otp.SupervisorStarted,
    otp.SupervisorGaveUp,
    otp.BreakerEvent,
)
_BREAKER_STATES = {
    otp.BreakerState.CLOSED: 0.0,
    otp.BreakerState.HALF_OPEN: 1.0,
    otp.BreakerState.OPEN: 2.0,
}


def call_outcome(error: BaseException | None) -> str:
    """A call's ``outcome`` label: ``ok``, ``timeout``, ``noproc``, ``exited``, ...

    Example::

        >>> otp.metrics.call_outcome(otp.CallTimeout("late"))
        'timeout'
    """
    if error is None:
        return "ok"
    for kind, label in _CALL_OUTCOMES:
        if isinstance(error, kind):
            return label
    return "error"


@final
class _ChildLabels:
    """One child's label tuples, made when it is first reported."""

    __slots__ = ("child", "last_exit", "last_kind", "supervisor")

    def __init__(self, supervisor: str, child: str) -> None:
        self.supervisor = (supervisor,)
        self.child = (supervisor, child)
        self.last_kind: otp.ExitKind | None = None
        self.last_exit = (supervisor, child, "")

    def exit_labels(self, kind: otp.ExitKind) -> tuple[str, str, str]:
        self.last_kind = kind
        self.last_exit = (*self.child, kind.value)
        return self.last_exit


@final
class TreeMetrics:
    """Keeps otp's own metrics for a tree in a :class:`Metrics` registry.

    Feed it with :attr:`hook` (a supervisor hook, inherited by nested supervisors, and a
    circuit breaker hook) and :attr:`on_call` (a :func:`otp.observe_calls` observer), and
    name the phi detectors to read with :meth:`watch_detector`. Values read at collection
    time (children running in each supervisor, mailbox depth of each server called so far,
    phi) are refreshed by :meth:`Metrics.collect`.

    A restart is counted when a child's exit makes its supervisor restart it, as restart
    intensity counts them: siblings stopped and started again with it by ``one_for_all`` or
    ``rest_for_one`` are not counted as restarting themselves.

    Metrics (all prefixed ``otp_``): ``child_restarts_total``, ``child_exits_total``
    (``reason`` is the exit kind), ``child_start_failures_total``,
    ``supervisor_give_ups_total``, ``children_running``, ``calls_total`` (``outcome``),
    ``call_seconds`` (a histogram of round trips), ``mailbox_depth``, ``breaker_state``
    (0 closed, 1 half-open, 2 open), ``breaker_calls_total`` (``outcome``),
    ``breaker_rejections_total``, ``liveness_phi``.

    Example::

        tree_metrics = otp.metrics.TreeMetrics()
        with otp.observe_calls(tree_metrics.on_call):
            async with otp.open_supervisor(children, hooks=[tree_metrics.hook]):
                ...
        print(tree_metrics.metrics.render_prometheus())
    """

    __slots__ = (
        "_breaker_calls",
        "_breaker_rejections",
        "_breaker_state",
        "_call_labels",
        "_call_seconds",
        "_calls",
        "_detectors",
        "_exit_values",
        "_exits",
        "_give_ups",
        "_labels",
        "_mailbox",
        "_phi",
        "_restart_values",
        "_restarts",
        "_running",
        "_servers",
        "_start_failures",
        "_supervisors",
        "hook",
        "metrics",
    )

    def __init__(self, metrics: Metrics | None = None) -> None:
        m = self.metrics = metrics if metrics is not None else Metrics()
        sup, child = "supervisor", "child"
        self._restarts = m.counter(
            "otp_child_restarts_total",
            "Exits after which the supervisor restarts the child (as restart intensity counts).",
            [sup, child],
        )
        self._exits = m.counter(
            "otp_child_exits_total",
            "Children that exited by themselves, by kind of exit reason.",
            [sup, child, "reason"],
        )
        self._start_failures = m.counter(
            "otp_child_start_failures_total", "Starts and restarts that failed.", [sup, child]
        )
        self._give_ups = m.counter(
            "otp_supervisor_give_ups_total", "Supervisors that reached their intensity.", [sup]
        )
        self._running = m.gauge(
            "otp_children_running", "Children running now (read at collection).", [sup]
        )
        self._calls = m.counter(
            "otp_calls_total", "Calls to servers, by outcome.", ["server", "outcome"]
        )
        self._call_seconds = m.histogram(
            "otp_call_seconds", "Call round trips, as the caller saw them.", ["server"]
        )
        self._mailbox = m.gauge(
            "otp_mailbox_depth", "Messages waiting in a server's mailbox.", ["server"]
        )
        self._breaker_state = m.gauge(
            "otp_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
        )
        self._breaker_calls = m.counter(
            "otp_breaker_calls_total",
            "Calls through a breaker, by outcome.",
            ["breaker", "outcome"],
        )
        self._breaker_rejections = m.counter(
            "otp_breaker_rejections_total", "Calls a breaker refused.", ["breaker"]
        )
        self._phi = m.gauge("otp_liveness_phi", "A phi-accrual detector's phi now.", ["path"])
        self._labels: dict[tuple[str, object], _ChildLabels] = {}
        self._supervisors: dict[str, otp.Supervisor | otp.DynamicSupervisor] = {}
        self._restart_values = self._restarts.values
        self._exit_values = self._exits.values
        self._call_labels: dict[
            int, tuple[otp.ServerRef[Any, Any], tuple[str], tuple[str, str]]
        ] = {}
        self._servers: dict[str, otp.ServerRef[Any, Any]] = {}
        self._detectors: dict[str, otp.PhiAccrualDetector] = {}
        m.on_collect(self._refresh)
        self.hook = otp.FilteredHook(self._count, _COUNTED)
        """The supervisor and circuit breaker hook that feeds these metrics.

        It wants only the events it counts, so that a crash loop builds no other records.
        """

    def _count(self, event: otp.SupervisorEvent | otp.BreakerEvent) -> None:
        # This runs for every crash of every child in the tree, so it dispatches on the exact
        # type and adds straight into the values, through label tuples made once per child
        # (and kept for the child's last kind of exit, which a crash loop repeats).
        kind = type(event)
        if kind is _ChildExited:
            exited: otp.ChildExited = event  # type: ignore[assignment]
            labels = self._labels.get((exited.supervisor, exited.child_id)) or self._child_labels(
                exited.supervisor, exited.child_id
            )
            exit_kind = exited.reason.kind
            if exit_kind is labels.last_kind:
                exit_labels = labels.last_exit
            else:
                exit_labels = labels.exit_labels(exit_kind)
                self._exit_values.setdefault(exit_labels, 0.0)
            self._exit_values[exit_labels] += 1.0
            if exited.restarting:
                self._restart_values[labels.child] += 1.0
        elif kind is otp.ChildStartFailed:
            failed: otp.ChildStartFailed = event  # type: ignore[assignment]
            labels = self._child_labels(failed.supervisor, failed.child_id)
            self._start_failures.inc(labels.child)
        elif kind is otp.SupervisorStarted:
            started: otp.SupervisorStarted = event  # type: ignore[assignment]
            if started.handle is not None:
                self._supervisors[started.supervisor] = started.handle
        elif kind is otp.SupervisorGaveUp:
            self._give_ups.inc((event.supervisor,))  # type: ignore[union-attr]
        elif isinstance(event, otp.BreakerEvent):
            self._breaker_event(event)

    def _child_labels(self, supervisor: str, child_id: object) -> _ChildLabels:
        labels = self._labels.get((supervisor, child_id))
        if labels is None:
            labels = self._labels[supervisor, child_id] = _ChildLabels(supervisor, str(child_id))
            self._restart_values.setdefault(labels.child, 0.0)
        return labels

    def _breaker_event(self, event: otp.BreakerEvent) -> None:
        name = event.breaker
        if isinstance(event, otp.BreakerStateChanged):
            self._breaker_state.set(_BREAKER_STATES[event.new], (name,))
            return
        outcome = event.name.removeprefix("breaker.")
        self._breaker_calls.inc((name, outcome))
        if isinstance(event, otp.BreakerCallRejected):
            self._breaker_rejections.inc((name,))

    def on_call(
        self,
        ref: otp.ServerRef[Any, Any],
        request: object,
        error: BaseException | None,
        seconds: float,
    ) -> None:
        """A call observer (see :func:`otp.observe_calls`): counts and times each call."""
        # Labels per server instance, made once: this runs for every call.
        labels = self._call_labels.get(id(ref))
        if labels is None or labels[0] is not ref:
            server = ref.description
            self._servers[server] = ref
            labels = self._call_labels[id(ref)] = (ref, (server,), (server, "ok"))
        if error is None:
            self._calls.inc(labels[2])
        else:
            self._calls.inc((labels[1][0], call_outcome(error)))
        self._call_seconds.observe(seconds, labels[1])

    def watch_detector(self, path: str, detector: otp.PhiAccrualDetector) -> None:
        """Report ``detector``'s phi as ``otp_liveness_phi{path=...}`` at each collection."""
        self._detectors[path] = detector

    def _refresh(self) -> None:
        for server, ref in list(self._servers.items()):
            if ref.alive:
                self._mailbox.set(ref.mailbox_statistics().queued, (server,))
            else:
                self._mailbox.remove((server,))
                del self._servers[server]
                self._call_labels.pop(id(ref), None)
        for path, detector in self._detectors.items():
            self._phi.set(detector.phi(), (path,))
        for name, supervisor in list(self._supervisors.items()):
            if supervisor.running:
                self._running.set(supervisor.count_children().active, (name,))
            else:
                self._running.remove((name,))
                del self._supervisors[name]

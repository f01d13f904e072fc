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
class TreeMetrics:
    """Keeps otp's own metrics for a tree in a :class:`Metrics` registry.

    Feed it with :attr:`hook` (a supervisor hook, inherited by nested supervisors, and a
    circuit breaker hook) and :attr:`on_call` (a :func:`otp.observe_calls` observer), and
    name the phi detectors to read with :meth:`watch_detector`. Values read at collection
    time (mailbox depth of each server called so far, phi) are refreshed by
    :meth:`Metrics.collect`.

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
        "_exit_labels",
        "_exits",
        "_give_ups",
        "_labels",
        "_mailbox",
        "_phi",
        "_restarts",
        "_running",
        "_servers",
        "_start_failures",
        "metrics",
    )

    def __init__(self, metrics: Metrics | None = None) -> None:
        m = self.metrics = metrics if metrics is not None else Metrics()
        sup, child = "supervisor", "child"
        self._restarts = m.counter(
            "otp_child_restarts_total", "Children started again by their supervisor.", [sup, child]
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
        self._running = m.gauge("otp_children_running", "Children running now.", [sup])
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
        self._labels: dict[tuple[str, object], tuple[str, str]] = {}
        self._exit_labels: dict[tuple[str, object, str], tuple[str, str, str]] = {}
        self._call_labels: dict[
            int, tuple[otp.ServerRef[Any, Any], tuple[str], tuple[str, str]]
        ] = {}
        self._servers: dict[str, otp.ServerRef[Any, Any]] = {}
        self._detectors: dict[str, otp.PhiAccrualDetector] = {}
        m.on_collect(self._refresh)

    def hook(self, event: otp.SupervisorEvent | otp.BreakerEvent) -> None:
        """A supervisor and circuit breaker hook that counts what it is told."""
        # By exact type, and straight into the values (labels checked when first made):
        # this runs for every report of every supervisor in the tree.
        kind = type(event)
        if kind is otp.ChildStarted:
            started: otp.ChildStarted = event  # type: ignore[assignment]
            self._running.add(1, (started.supervisor,))
            if started.restart:
                labels = self._child_labels(started.supervisor, started.child_id)
                values = self._restarts.values
                values[labels] = values.get(labels, 0.0) + 1.0
        elif kind is otp.ChildExited:
            exited: otp.ChildExited = event  # type: ignore[assignment]
            sup = exited.supervisor
            self._running.add(-1, (sup,))
            key = (sup, exited.child_id, exited.reason.kind)
            exit_labels = self._exit_labels.get(key)
            if exit_labels is None:
                exit_labels = (sup, str(exited.child_id), exited.reason.kind.value)
                self._exit_labels[key] = exit_labels
            values = self._exits.values
            values[exit_labels] = values.get(exit_labels, 0.0) + 1.0
        elif kind is otp.ChildTerminated:
            self._running.add(-1, (event.supervisor,))  # type: ignore[union-attr]
        elif kind is otp.ChildStartFailed:
            failed: otp.ChildStartFailed = event  # type: ignore[assignment]
            self._start_failures.inc(self._child_labels(failed.supervisor, failed.child_id))
        elif kind is otp.SupervisorGaveUp:
            self._give_ups.inc((event.supervisor,))  # type: ignore[union-attr]
        elif isinstance(event, otp.BreakerEvent):
            self._breaker_event(event)

    def _child_labels(self, supervisor: str, child_id: object) -> tuple[str, str]:
        key = (supervisor, child_id)
        labels = self._labels.get(key)
        if labels is None:
            labels = self._labels[key] = (supervisor, str(child_id))
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

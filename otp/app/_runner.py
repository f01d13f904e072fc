"""The application runner: start a tree, serve until a signal, stop it in order in time.

The user's root supervisor runs under two small supervisors of the runner's: the *master*
(the top of the run) and, between them, the *switch*, whose shutdown limit is
``brutal_kill``. An orderly stop asks the root to stop (each child within its own limit);
forcing stops the master, which kills the switch at once, and the kernel then kills
everything below it, cleanup scopes included. So the runner needs no private kernel API,
and a signal during startup still stops the children already started in order.
"""

from __future__ import annotations

import contextlib
import functools
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from enum import StrEnum
from typing import Any, final

import trio

import otp
import otp.config

from ._codes import ExitCode
from ._errors import AppOptionError, AppStartError, got
from ._hooks import ShutdownHook, check_hooks, check_seconds
from ._records import (
    AppEvent,
    AppStarted,
    AppStartFailed,
    AppStopped,
    EventSink,
    HookFailed,
    HookTimedOut,
    Reloaded,
    ReloadFailed,
    ReloadSkipped,
    ShutdownForced,
    ShutdownPhase,
    StopRequested,
    emit,
)
from ._root import RootPlan, master_name, plan_root, start_failure, switch_name

__all__ = ["App", "AppState", "run", "serve"]

SupervisorHook = Callable[[otp.SupervisorEvent], object]
_SIGNAL_CODES = {signal.SIGINT: ExitCode.SIGINT, signal.SIGTERM: ExitCode.SIGTERM}
_SIGHUP: int | None = getattr(signal, "SIGHUP", None)


class AppState(StrEnum):
    """Where a run stands (:attr:`App.state`).

    Example::

        assert app.state is otp.app.AppState.RUNNING
    """

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@final
class _Filtered:
    """A tree hook that does not hear the runner's own two supervisors."""

    __slots__ = ("hidden", "hook")

    def __init__(self, hook: SupervisorHook, hidden: frozenset[str]) -> None:
        self.hook = hook
        self.hidden = hidden

    def __call__(self, event: otp.SupervisorEvent) -> object:
        if event.supervisor in self.hidden:
            return None
        return self.hook(event)

    def __repr__(self) -> str:
        return repr(self.hook)


def _running_paths(sup: otp.Supervisor | otp.DynamicSupervisor, path: str) -> list[str]:
    paths: list[str] = []
    for info in sup.which_children():
        if info.child is None:
            continue
        here = f"{path}/{info.id}"
        paths.append(here)
        value = info.child.value
        if isinstance(value, otp.Supervisor | otp.DynamicSupervisor):
            paths.extend(_running_paths(value, here))
    return paths


@final
class _Status:
    """Remembers whether ``started()`` was called, so a stop during startup can still call it."""

    __slots__ = ("_status", "done")

    def __init__(self, status: trio.TaskStatus[App]) -> None:
        self._status = status
        self.done = False

    def started(self, value: App) -> None:
        self.done = True
        self._status.started(value)


@final
class App:
    """A running application: what :func:`serve` passes to ``task_status.started()``.

    Attributes:
        name: The application's name.
        root: The root supervisor (an :class:`otp.Supervisor`, or the
            :class:`otp.DynamicSupervisor` of a dynamic root spec), once started.

    Example::

        async with trio.open_nursery() as nursery:
            app = await nursery.start(otp.app.serve, tree)
            ...
            app.stop()
            code = await app.wait()
    """

    name: str
    root: otp.Supervisor | otp.DynamicSupervisor | None
    _plan: RootPlan
    _shutdown_timeout: float
    _before_stop: tuple[ShutdownHook, ...]
    _after_stop: tuple[ShutdownHook, ...]
    _on_reload: Callable[[], Awaitable[object]] | None
    _sinks: tuple[EventSink, ...]
    _master_name: str
    _switch_name: str
    _tree_hooks: tuple[_Filtered, ...]
    _state: AppState
    _cause: str | None
    _signal_code: ExitCode | None
    _tree_failed: bool
    _forced: bool
    _stop_requested: trio.Event
    _stopped: trio.Event
    _startup_scope: trio.CancelScope
    _hook_scope: trio.CancelScope | None
    _deadline_scope: trio.CancelScope
    _reload_scope: trio.CancelScope
    _reloading: bool
    _reload_again: bool
    _master: otp.Supervisor | None
    _exit_code: ExitCode | None
    _nursery: trio.Nursery

    def __init__(self) -> None:
        msg = "otp.app.App has no public constructor; use otp.app.serve"
        raise TypeError(msg)

    @classmethod
    def _create(
        cls,
        plan: RootPlan,
        *,
        shutdown_timeout: float,
        before_stop: tuple[ShutdownHook, ...],
        after_stop: tuple[ShutdownHook, ...],
        on_reload: Callable[[], Awaitable[object]] | None,
        hooks: tuple[SupervisorHook, ...],
        sinks: tuple[EventSink, ...],
    ) -> App:
        self = object.__new__(cls)
        self.name = plan.app
        self.root = None
        self._plan = plan
        self._shutdown_timeout = shutdown_timeout
        self._before_stop = before_stop
        self._after_stop = after_stop
        self._on_reload = on_reload
        self._sinks = sinks
        self._master_name = master_name(plan.app)
        self._switch_name = switch_name(plan.app)
        hidden = frozenset((self._master_name, self._switch_name))
        self._tree_hooks = tuple(_Filtered(hook, hidden) for hook in hooks)
        self._state = AppState.STARTING
        self._cause = None
        self._signal_code = None
        self._tree_failed = False
        self._forced = False
        self._stop_requested = trio.Event()
        self._stopped = trio.Event()
        self._startup_scope = trio.CancelScope()
        self._hook_scope = None
        self._deadline_scope = trio.CancelScope()
        self._reload_scope = trio.CancelScope()
        self._reloading = False
        self._reload_again = False
        self._master = None
        self._exit_code = None
        return self

    def __repr__(self) -> str:
        return f"<otp.app.App {self.name!r} ({self._state.value})>"

    # --- public ---------------------------------------------------------------------------

    @property
    def state(self) -> AppState:
        """Starting, running, stopping or stopped."""
        return self._state

    @property
    def exit_code(self) -> ExitCode | None:
        """The exit code once the run is over, else ``None``."""
        return self._exit_code

    def stop(self) -> None:
        """Ask for the orderly shutdown a SIGTERM would start, with exit code 0.

        A second call, like a second signal, forces the rest down.

        Example::

            app.stop()
            assert await app.wait() is otp.app.ExitCode.OK
        """
        self._stop_or_force("stop()", None)

    def reload_soon(self) -> None:
        """Run the reload callback, as SIGHUP does (one at a time; repeats coalesce).

        Example::

            app.reload_soon()
        """
        if self._on_reload is None:
            self._emit(ReloadSkipped(self.name, trio.current_time(), "no reload callback"))
            return
        if self._state is not AppState.RUNNING:
            why = f"the application is {self._state.value}"
            self._emit(ReloadSkipped(self.name, trio.current_time(), why))
            return
        if self._reloading:
            self._reload_again = True
            return
        self._reloading = True
        self._reload_scope = trio.CancelScope()  # a scope serves one with block
        self._nursery.start_soon(self._reload, self._on_reload, name="otp.app.reload")

    async def wait(self) -> ExitCode:
        """Wait until the run is over and return its exit code.

        Example::

            code = await app.wait()
        """
        await self._stopped.wait()
        assert self._exit_code is not None
        return self._exit_code

    # --- the run --------------------------------------------------------------------------

    async def _serve(self, task_status: _Status, *, signals: bool) -> ExitCode:
        failure: AppStartError | None = None
        with self._signal_receiver(wanted=signals) as receiver:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if receiver is not None:
                    nursery.start_soon(self._watch_signals, receiver, name="otp.app.signals")
                try:
                    await self._lifecycle(task_status)
                except AppStartError as exc:
                    failure = exc
                finally:
                    self._deadline_scope.cancel()
                    self._reload_scope.cancel()
                    if self._master is not None:
                        self._master.stop_nowait()
                    nursery.cancel_scope.cancel()
        self._state = AppState.STOPPED
        self._stopped.set()
        if failure is not None:
            raise failure
        assert self._exit_code is not None
        return self._exit_code

    @contextlib.contextmanager
    def _signal_receiver(self, *, wanted: bool) -> Iterator[Any]:
        if not wanted:
            yield None
            return
        signums = [signal.SIGINT, signal.SIGTERM]
        if _SIGHUP is not None:
            signums.append(signal.Signals(_SIGHUP))
        with trio.open_signal_receiver(*signums) as receiver:
            yield receiver

    async def _watch_signals(self, receiver: Any) -> None:  # noqa: ANN401  (trio's private type)
        async for signum in receiver:
            if signum == _SIGHUP:
                self.reload_soon()
                continue
            self._stop_or_force(signal.Signals(signum).name, _SIGNAL_CODES.get(signum))

    async def _lifecycle(self, task_status: _Status) -> None:
        began = trio.current_time()
        master = await self._nursery.start(
            functools.partial(otp.supervisor, name=self._master_name, hooks=self._tree_hooks)
        )
        self._master = master
        switch_spec = otp.supervisor_spec(
            "switch", name=self._switch_name, restart="temporary", shutdown=otp.BRUTAL_KILL
        )
        switch_child = await master.start_child(switch_spec)
        assert switch_child is not None
        switch = switch_child.value
        assert isinstance(switch, otp.Supervisor)
        root_child: otp.Child | None = None
        with self._startup_scope:
            try:
                root_child = await switch.start_child(self._plan.spec)
            except otp.StartError as exc:
                path, error = start_failure(self._plan.root, exc)
                self._emit(AppStartFailed(self.name, trio.current_time(), path, error))
                self._state = AppState.STOPPING
                await self._run_hooks(ShutdownPhase.AFTER_STOP, self._after_stop)
                self._finish(ExitCode.START_FAILED, "start failed")
                raise AppStartError(self.name, path, error) from error
        if root_child is None:
            if self._cause is None:  # it raised otp.Ignore: nothing runs, nothing to serve
                error = otp.Ignore()
                self._emit(AppStartFailed(self.name, trio.current_time(), self._plan.root, error))
                self._finish(ExitCode.START_FAILED, "start failed")
                raise AppStartError(self.name, self._plan.root, error)
        else:
            root = root_child.value
            assert isinstance(root, otp.Supervisor | otp.DynamicSupervisor)
            self.root = root
            if self._cause is None:
                self._state = AppState.RUNNING
                children = len(root.which_children())
                took = trio.current_time() - began
                self._emit(
                    AppStarted(self.name, trio.current_time(), self._plan.root, children, took)
                )
                task_status.started(self)
                self._nursery.start_soon(self._watch_tree, root_child, name="otp.app.tree")
                await self._stop_requested.wait()
                await self._run_hooks(ShutdownPhase.BEFORE_STOP, self._before_stop)
            if not self._forced:
                root.stop_nowait()
            await root_child.wait()
        self._deadline_scope.cancel()
        await self._run_hooks(ShutdownPhase.AFTER_STOP, self._after_stop)
        self._finish(self._code(), self._cause or "stopped")
        if not task_status.done:
            task_status.started(self)  # stopped during startup: hand over the finished run

    def _code(self) -> ExitCode:
        if self._forced:
            return ExitCode.FORCED
        if self._signal_code is not None:
            return self._signal_code
        if self._tree_failed:
            return ExitCode.GAVE_UP
        return ExitCode.OK

    def _finish(self, code: ExitCode, cause: str) -> None:
        self._exit_code = code
        self._emit(AppStopped(self.name, trio.current_time(), code, cause))

    async def _watch_tree(self, root_child: otp.Child) -> None:
        reason = await root_child.wait()
        if self._cause is not None:
            return  # we are stopping it
        gave_up = isinstance(reason.exception, otp.RestartIntensityExceeded)
        self._tree_failed = gave_up or reason.abnormal
        self._request_stop(f"the tree stopped: {reason}", None)

    # --- stopping -------------------------------------------------------------------------

    def _stop_or_force(self, cause: str, code: ExitCode | None) -> None:
        if self._cause is None:
            self._request_stop(cause, code)
        else:
            self._force(f"second stop request ({cause})")

    def _request_stop(self, cause: str, code: ExitCode | None) -> None:
        if self._cause is not None or self._state is AppState.STOPPED:
            return
        self._cause = cause
        self._signal_code = code
        self._state = AppState.STOPPING
        self._reload_scope.cancel()
        self._emit(StopRequested(self.name, trio.current_time(), cause))
        self._startup_scope.cancel()
        self._stop_requested.set()
        deadline = trio.current_time() + self._shutdown_timeout
        self._nursery.start_soon(self._enforce_deadline, deadline, name="otp.app.deadline")

    async def _enforce_deadline(self, deadline: float) -> None:
        with self._deadline_scope:
            await trio.sleep_until(deadline)
            self._force(f"the shutdown deadline of {self._shutdown_timeout:g} s passed")

    def _force(self, why: str) -> None:
        if self._forced or self._state is AppState.STOPPED:
            return
        self._forced = True
        running = tuple(_running_paths(self.root, self._plan.root)) if self.root else ()
        self._emit(ShutdownForced(self.name, trio.current_time(), why, running))
        if self._hook_scope is not None:
            self._hook_scope.cancel()
        if self._master is not None:
            self._master.stop_nowait()  # kills the switch at once, and the tree under it

    async def _run_hooks(self, phase: ShutdownPhase, hooks: tuple[ShutdownHook, ...]) -> None:
        for hook in hooks:
            if self._forced:
                return  # forcing skips what is left of the shutdown's hooks
            with trio.CancelScope() as scope:
                self._hook_scope = scope
                with trio.move_on_after(hook.timeout) as timer:
                    try:
                        await hook.fn()
                    except Exception as exc:  # noqa: BLE001  (reported; the shutdown goes on)
                        self._emit(
                            HookFailed(self.name, trio.current_time(), phase, hook.name, exc)
                        )
                if timer.cancelled_caught:
                    now = trio.current_time()
                    self._emit(HookTimedOut(self.name, now, phase, hook.name, hook.timeout))
            self._hook_scope = None

    # --- reload ---------------------------------------------------------------------------

    async def _reload(self, on_reload: Callable[[], Awaitable[object]]) -> None:
        with self._reload_scope:
            try:
                while True:
                    self._reload_again = False
                    try:
                        result = await on_reload()
                    except Exception as exc:  # noqa: BLE001  (reported; the app keeps running)
                        self._emit(ReloadFailed(self.name, trio.current_time(), exc))
                    else:
                        if isinstance(result, otp.config.ConfigReloadFailed):
                            # Config.reload reports a bad file by returning, not raising.
                            self._emit(ReloadFailed(self.name, trio.current_time(), result.error))
                        else:
                            self._emit(Reloaded(self.name, trio.current_time()))
                    if not self._reload_again:
                        return
            finally:
                self._reloading = False

    def _emit(self, event: AppEvent) -> None:
        emit(event, self._sinks)


def _check_callable(where: str, value: object) -> None:
    if value is not None and not callable(value):
        msg = f"{where} must be callable or None (got {got(value)})"
        raise AppOptionError(msg)


async def serve(
    root: Sequence[otp.ChildSpec] | otp.Tree | otp.ChildSpec,
    *,
    name: str | None = None,
    shutdown_timeout: float = 30.0,
    before_stop: Sequence[ShutdownHook | Callable[[], Awaitable[object]]] = (),
    after_stop: Sequence[ShutdownHook | Callable[[], Awaitable[object]]] = (),
    on_reload: Callable[[], Awaitable[object]] | None = None,
    hooks: Sequence[SupervisorHook] = (),
    on_event: EventSink | None = None,
    signals: bool = True,
    task_status: trio.TaskStatus[App] = trio.TASK_STATUS_IGNORED,
) -> ExitCode:
    """Run a tree as an application until it is stopped; return the exit code.

    Starts the tree; once every child has called ``task_status.started()`` it reports
    :class:`AppStarted` and passes the :class:`App` to ``task_status.started()``. Then it
    serves until SIGINT or SIGTERM (or :meth:`App.stop`, or the tree ends by itself), and
    shuts down: the ``before_stop`` hooks, the tree in reverse start order (each child
    within its own shutdown limit), the ``after_stop`` hooks. The hooks and the tree's stop
    together get ``shutdown_timeout`` seconds; past that, or on a second signal, the rest is
    forced down at once (:class:`ShutdownForced`). SIGHUP runs ``on_reload``.

    Args:
        root: A list of :class:`otp.ChildSpec`, an :class:`otp.Tree`, or the ChildSpec of a
            supervisor (``otp.supervisor_spec``, ``otp.dynamic_supervisor_spec``).
        name: The application's name, also the root supervisor's (default: the tree's
            own name, else ``"app"``).
        shutdown_timeout: Seconds from the stop request to forcing (default 30).
        before_stop: :class:`ShutdownHook` s run before the tree is stopped.
        after_stop: :class:`ShutdownHook` s run after it is down (also after a failed start).
        on_reload: An async callable run on SIGHUP (and :meth:`App.reload_soon`), such as
            :meth:`otp.config.Config.reload`; an error it raises, or a
            :class:`otp.config.ConfigReloadFailed` it returns, is reported as
            :class:`ReloadFailed` and the application keeps running.
        hooks: Callables that receive every :class:`otp.SupervisorEvent` of the tree.
        on_event: A callable that receives every :class:`AppEvent`.
        signals: Install the signal handlers (main thread only). Defaults to True.
        task_status: Given by ``nursery.start``.

    Returns:
        The :class:`ExitCode`.

    Raises:
        AppOptionError: An argument is wrong (before anything starts).
        otp.ChildSpecError: The tree is invalid (before anything starts).
        AppStartError: A child failed to start (naming its path); what had started was
            stopped in order.

    Example::

        async def main():
            code = await otp.app.serve(tree, name="shop", shutdown_timeout=10)
            sys.exit(code)
    """
    timeout = check_seconds("shutdown_timeout", shutdown_timeout)
    plan = plan_root(root, name)
    _check_callable("on_reload", on_reload)
    _check_callable("on_event", on_event)
    if not isinstance(hooks, list | tuple) or not all(callable(hook) for hook in hooks):
        msg = f"hooks must be a list of callables (got {got(hooks)})"
        raise AppOptionError(msg)
    app = App._create(
        plan,
        shutdown_timeout=timeout,
        before_stop=check_hooks("before_stop", before_stop),
        after_stop=check_hooks("after_stop", after_stop),
        on_reload=on_reload,
        hooks=tuple(hooks),
        sinks=(on_event,) if on_event is not None else (),
    )
    return await app._serve(_Status(task_status), signals=bool(signals))


def run(
    root: Sequence[otp.ChildSpec] | otp.Tree | otp.ChildSpec,
    *,
    name: str | None = None,
    shutdown_timeout: float = 30.0,
    before_stop: Sequence[ShutdownHook | Callable[[], Awaitable[object]]] = (),
    after_stop: Sequence[ShutdownHook | Callable[[], Awaitable[object]]] = (),
    on_reload: Callable[[], Awaitable[object]] | None = None,
    hooks: Sequence[SupervisorHook] = (),
    on_event: EventSink | None = None,
    signals: bool = True,
) -> ExitCode:
    """Run a tree as an application in a new Trio run: :func:`serve` from sync code.

    A start failure is reported (:class:`AppStartFailed`, logged with its traceback) and
    returns ``ExitCode.START_FAILED`` instead of raising.

    Example::

        if __name__ == "__main__":
            sys.exit(otp.app.run(tree, name="shop"))
    """
    start = functools.partial(
        serve,
        root,
        name=name,
        shutdown_timeout=shutdown_timeout,
        before_stop=before_stop,
        after_stop=after_stop,
        on_reload=on_reload,
        hooks=hooks,
        on_event=on_event,
        signals=signals,
    )
    try:
        code: ExitCode = trio.run(start)
    except AppStartError:
        return ExitCode.START_FAILED
    return code

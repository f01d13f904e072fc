"""Monitors: exactly one DOWN notification when a server ends, with its exit reason.

Erlang's ``monitor(process, Pid)``: the watcher learns that a server ended, and why, once,
also when the server had already ended when the monitor was set up. A monitor notifies a
task waiting in :meth:`Monitor.wait`, or a server's mailbox (the DOWN then arrives in its
``handle_info``). A server's names are released before any monitor hears of its end, so a
watcher that looks the name up again never finds the dead server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import attrs
import trio

from ._exceptions import NoProc
from ._exit import ExitKind, ExitReason

if TYPE_CHECKING:
    from ._server import ServerRef, _ServerCore

__all__ = ["Down", "Monitor", "demonitor", "monitor"]


@final
@attrs.frozen
class Down:
    """The notification that a monitored server ended (Erlang's ``'DOWN'`` message).

    Attributes:
        monitor: The :class:`Monitor` that fired.
        ref: The server that ended.
        reason: Why it ended.

    Example::

        async def handle_info(self, message):
            if isinstance(message, otp.Down):
                self.workers.discard(message.ref)
    """

    monitor: Monitor = attrs.field(eq=False, repr=False)
    ref: ServerRef[Any, Any]
    reason: ExitReason


@final
class Monitor:
    """A watch on one server, made by :func:`monitor`.

    Example::

        mon = otp.monitor(ref)
        down = await mon.wait()
        print("server ended:", down.reason)
    """

    __slots__ = ("_core", "_event", "_notify", "down", "ref")

    def __init__(self) -> None:
        msg = "otp.Monitor has no public constructor; use otp.monitor(ref)"
        raise TypeError(msg)

    ref: ServerRef[Any, Any]
    down: Down | None
    """The notification, once it has fired."""
    _core: _ServerCore | None
    _event: trio.Event | None
    _notify: ServerRef[Any, Any] | None

    @classmethod
    def _create(
        cls,
        ref: ServerRef[Any, Any],
        core: _ServerCore | None,
        notify: ServerRef[Any, Any] | None,
    ) -> Monitor:
        self = object.__new__(cls)
        self.ref = ref
        self.down = None
        self._core = core
        self._event = None
        self._notify = notify
        return self

    @property
    def active(self) -> bool:
        """Whether it still waits for the server to end (not fired, not cancelled)."""
        return self._core is not None

    async def wait(self) -> Down:
        """Wait for the DOWN notification and return it.

        Raises:
            trio.ClosedResourceError: The monitor was cancelled before it fired.

        Example::

            down = await otp.monitor(ref).wait()
        """
        if self.down is None:
            if self._core is None:
                msg = "this monitor was cancelled before the server ended"
                raise trio.ClosedResourceError(msg)
            if self._event is None:
                self._event = trio.Event()
            await self._event.wait()
            if self.down is None:
                msg = "this monitor was cancelled before the server ended"
                raise trio.ClosedResourceError(msg)
        else:
            await trio.lowlevel.checkpoint()
        return self.down

    def cancel(self) -> bool:
        """Stop watching (Erlang's ``demonitor``). Returns whether it was still active.

        Example::

            mon = otp.monitor(ref)
            mon.cancel()
        """
        core = self._core
        if core is None:
            return False
        self._core = None
        if core.monitors is not None:
            core.monitors.discard(self)
        if self._event is not None:
            self._event.set()
        return True

    def _fire(self, reason: ExitReason) -> None:
        self._core = None
        self.down = Down(self, self.ref, reason)
        if self._notify is not None:
            self._notify.send(self.down)
        if self._event is not None:
            self._event.set()

    def __repr__(self) -> str:
        state = "active" if self.active else ("fired" if self.down else "cancelled")
        return f"<otp.Monitor of {self.ref!r} ({state})>"


def monitor(ref: ServerRef[Any, Any], *, notify: ServerRef[Any, Any] | None = None) -> Monitor:
    """Watch ``ref``: one DOWN notification when the server ends (at once if it has).

    Args:
        ref: The server to watch. A ref from :func:`otp.named` is resolved now; if no server
            holds the name, the monitor fires at once with reason ``noproc`` semantics (an
            ``abnormal`` exit carrying :class:`otp.NoProc`).
        notify: Also (or instead of waiting on :meth:`Monitor.wait`) deliver the
            :class:`Down` to this server's ``handle_info``.

    Example::

        mon = otp.monitor(worker_ref)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, mon)
    """
    core = ref._resolve_now()
    if core is None:
        mon = Monitor._create(ref, None, notify)
        error = NoProc(f"no server is registered as {ref.name!r}")
        mon._fire(ExitReason(ExitKind.ABNORMAL, error))
        return mon
    mon = Monitor._create(core.ref, core, notify)
    if core.exit is not None:
        mon._fire(core.exit)
    else:
        if core.monitors is None:
            core.monitors = set()
        core.monitors.add(mon)
    return mon


def demonitor(mon: Monitor) -> bool:
    """Cancel a monitor (the same as :meth:`Monitor.cancel`).

    Example::

        otp.demonitor(mon)
    """
    return mon.cancel()

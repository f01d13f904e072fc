"""Remote monitors: one DOWN when a node, or the holder of a global name, is gone."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, final

import attrs
import trio

import otp

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["RemoteDown", "RemoteMonitor"]


@final
@attrs.frozen
class RemoteDown:
    """A remote monitor fired: ``target`` (a node or a global name) is gone, and why.

    ``reason`` is ``"node_down"`` when the node was judged down (or restarted), ``"noproc"``
    when a global name had no owner, or why its owner released it.

    Example::

        down = await node.monitor_node("b").wait()
        assert down.reason == "node_down"
    """

    target: str
    node: str
    reason: str


@final
class RemoteMonitor:
    """A watch on a node or a global name: exactly one :class:`RemoteDown`.

    Made by :meth:`Node.monitor_node` or :meth:`Node.monitor_global`.

    Example::

        monitor = await node.monitor_global("leader")
        down = await monitor.wait()
    """

    __slots__ = ("_event", "_node", "_notify", "down", "kind", "node_id", "target")

    def __init__(
        self,
        node: Node,
        kind: str,
        target: str,
        node_id: str,
        notify: otp.ServerRef[Any, Any] | None,
    ) -> None:
        self._node = node
        self._event = trio.Event()
        self._notify = notify
        self.kind = kind
        self.target = target
        self.node_id = node_id
        self.down: RemoteDown | None = None

    def __repr__(self) -> str:
        return f"<otp.dist.RemoteMonitor of {self.kind} {self.target!r}>"

    @property
    def active(self) -> bool:
        """Whether it has neither fired nor been cancelled."""
        return self in self._node._monitors

    async def wait(self) -> RemoteDown:
        """Wait for the DOWN (at once if it has fired already)."""
        await self._event.wait()
        assert self.down is not None
        return self.down

    def cancel(self) -> bool:
        """Stop watching; ``True`` if it had not fired yet."""
        if self in self._node._monitors:
            self._node._monitors.discard(self)
            return True
        return False

    def _fire(self, node: str, reason: str) -> None:
        self._node._monitors.discard(self)
        self.down = RemoteDown(self.target, node, reason)
        self._event.set()
        if self._notify is not None:
            with contextlib.suppress(otp.NoProc):
                self._notify.send(self.down)

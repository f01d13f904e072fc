"""The host side of remote children: this node runs children that supervisors elsewhere own.

Control subjects, for the node named ``<node>``:

* ``otp.<cluster>.control.<node>.start`` (request): ``{"instance", "owner", "owner_id",
  "child", "global_name"}``; ``child`` is a tree-file child entry. The reply is
  ``{"ok": {"node": id}}`` once the child runs (and holds its global name), or an error.
* ``otp.<cluster>.control.<node>.stop`` (request): ``{"instance", "reason"}``; the reply
  comes once the child has stopped (within its shutdown limit).
* ``otp.<cluster>.control.<node>.info`` (request): what the node hosts and holds.
* ``otp.<cluster>.control.<owner>.exit`` (published by the host): ``{"instance", "kind",
  "description"}`` when a hosted child ends, for whatever reason.

Each hosted child runs under its own one-child supervisor (so liveness and shutdown modes
work as locally), which runs under the node's dynamic supervisor. The host never restarts
a child: its owner's supervisor decides. A child whose owner's node goes down is stopped,
as a linked Erlang process would be; so is one whose global name another node took.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, final

import attrs
import trio

import otp

from ._errors import ConnectionClosed, DistError

if TYPE_CHECKING:
    from ._names import Holding
    from ._node import Node

__all__ = ["Host"]

logger = logging.getLogger("otp.dist")


@attrs.define(eq=False)
class _Hosted:
    instance: str
    owner: str
    owner_id: str
    tree: otp.Tree
    child_id: Hashable
    local_name: str | None
    global_name: str | None
    child: otp.Child | None = None
    started: bool = False
    kind: str = "shutdown"
    description: str = "stopped"
    stopped_because: str | None = None
    holding: Holding | None = None


@final
class Host:
    """The children this node hosts for other nodes' supervisors."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.children: dict[str, _Hosted] = {}
        self.supervisor: otp.DynamicSupervisor | None = None
        self.leaving = False
        self.template = otp.ChildSpec(
            "hosted", self._run_one, restart="temporary", type="supervisor"
        )

    def control_subject(self, node_name: str, verb: str) -> str:
        return f"otp.{self.node.cluster}.control.{node_name}.{verb}"

    # -- control requests ----------------------------------------------------------------

    async def serve(self, requests: Any) -> None:  # noqa: ANN401  (a Subscription)
        async for message in requests:
            verb = message.subject.rpartition(".")[2]
            if verb == "start":
                self.node._nursery.start_soon(self._start, message)
            elif verb == "stop":
                self.node._nursery.start_soon(self._stop_request, message)
            elif verb == "exit":
                self.node._remote_exit(message.payload)
            elif verb == "info":
                self._reply(message, {"ok": self.info()})

    def info(self) -> dict[str, object]:
        """What this node hosts and holds, for ``otp.<cluster>.control.<node>.info``."""
        return {
            "node": self.node.id,
            "roles": sorted(self.node.roles),
            "children": [
                {"instance": h.instance, "id": str(h.child_id), "owner": h.owner_id}
                for h in self.children.values()
            ],
            "names": sorted(self.node._names.held),
        }

    def _reply(self, message: Any, body: dict[str, object]) -> None:  # noqa: ANN401
        if message.reply is None:
            return
        try:
            self.node.connection.publish(message.reply, json.dumps(body).encode())
        except ConnectionClosed:
            logger.warning("node %r: could not answer a control request", self.node.id)

    def _error(self, message: Any, kind: str, text: str) -> None:  # noqa: ANN401
        logger.warning("node %r refused to host a child: %s", self.node.id, text)
        self._reply(message, {"error": {"type": kind, "message": text}})

    async def _start(self, message: Any) -> None:  # noqa: ANN401
        try:
            data = json.loads(message.payload)
            instance = str(data["instance"])
            owner, owner_id = str(data["owner"]), str(data["owner_id"])
            child = dict(data["child"])
            global_name = data.get("global_name")
        except (ValueError, KeyError, TypeError) as error:
            self.node._refuse(message, f"a start request that does not parse: {error}")
            return
        if instance in self.children:
            self._reply(message, {"ok": {"node": self.node.id}})  # a retried request
            return
        if self.leaving:
            self._error(message, "NodeLeaving", f"node {self.node.id!r} is leaving the cluster")
            return
        try:
            # Temporary and significant: the child's end ends its one-child supervisor.
            entry = {**child, "restart": "temporary", "significant": True}
            tree = otp.Tree.from_dict(
                {
                    "name": f"{self.node.name}/{child.get('id')}",
                    "auto_shutdown": "any_significant",
                    "children": [entry],
                }
            )
        except (otp.TreeError, otp.ChildSpecError, TypeError, ValueError) as error:
            self._error(message, "InvalidChild", str(error))
            return
        hosted = _Hosted(
            instance,
            owner,
            owner_id,
            tree,
            tree.children[0].id,
            child.get("name"),
            None if global_name is None else str(global_name),
        )
        self.children[instance] = hosted
        assert self.supervisor is not None
        try:
            hosted.child = await self.supervisor.start_child(hosted)
            hosted.started = True  # from here on, its end is reported to the owner
            if hosted.global_name is not None:
                assert hosted.local_name is not None  # checked by the owner
                hosted.holding = await self.node._hold_global(
                    hosted.global_name,
                    otp.named(hosted.local_name),
                    on_lost=lambda why: self.stop(hosted, why),
                )
        except Exception as error:  # noqa: BLE001  (reported to the owner, who decides)
            self.children.pop(instance, None)
            if hosted.child is not None:
                hosted.started = False  # the owner hears of it in the reply, not as an exit
                await self.supervisor.terminate_child(hosted.child)
            root: BaseException = error
            while isinstance(root, otp.StartError) and root.__cause__ is not None:
                root = root.__cause__  # the child's own error, not the layers that wrap it
            self._error(message, type(root).__name__, str(root))
            return
        self._reply(message, {"ok": {"node": self.node.id}})

    async def _stop_request(self, message: Any) -> None:  # noqa: ANN401
        try:
            data = json.loads(message.payload)
            instance, reason = str(data["instance"]), str(data.get("reason", "stopped"))
        except (ValueError, KeyError, TypeError) as error:
            self.node._refuse(message, f"a stop request that does not parse: {error}")
            return
        hosted = self.children.get(instance)
        if hosted is not None:
            await self._terminate(hosted, reason)
        self._reply(message, {"ok": {"node": self.node.id}})

    # -- running and stopping ------------------------------------------------------------

    async def _run_one(self, hosted: _Hosted, *, task_status: trio.TaskStatus[Any]) -> None:
        def note(event: otp.SupervisorEvent) -> None:
            if isinstance(event, otp.ChildExited) and event.child_id == hosted.child_id:
                hosted.kind = event.reason.kind.value
                hosted.description = str(event.reason)

        try:
            await hosted.tree.run(hooks=[note], task_status=task_status)
        finally:
            self._ended(hosted)

    def _ended(self, hosted: _Hosted) -> None:
        self.children.pop(hosted.instance, None)
        if hosted.global_name is not None and hosted.holding is not None:
            self.node._nursery.start_soon(
                self.node._names.release, hosted.global_name, "its server ended", hosted.holding
            )
        if not hosted.started:
            return
        if hosted.stopped_because is not None:
            hosted.kind, hosted.description = "shutdown", hosted.stopped_because
        body = {"instance": hosted.instance, "kind": hosted.kind, "description": hosted.description}
        try:
            self.node.connection.publish(
                self.control_subject(hosted.owner, "exit"), json.dumps(body).encode()
            )
        except (ConnectionClosed, DistError):
            logger.warning("node %r: could not tell %r its child ended", self.node.id, hosted.owner)

    async def _terminate(self, hosted: _Hosted, why: str) -> None:
        hosted.stopped_because = hosted.stopped_because or why
        if hosted.child is not None and self.supervisor is not None:
            try:
                await self.supervisor.terminate_child(hosted.child)  # fine if it has ended
            except otp.OtpError as error:  # the host itself is stopping: it stops them all
                logger.info(
                    "node %r: %r stops with its host: %s", self.node.id, hosted.child_id, error
                )

    def stop(self, hosted: _Hosted, why: str) -> None:
        """Stop ``hosted`` in the background (it may be called from a sync hook)."""
        logger.warning("node %r stops hosted child %r: %s", self.node.id, hosted.child_id, why)
        self.node._nursery.start_soon(self._terminate, hosted, why)

    def owner_down(self, owner: str, owner_id: str) -> None:
        """The node of an owner went down: its children here stop, as linked ones would."""
        for hosted in list(self.children.values()):
            if hosted.owner == owner and hosted.owner_id == owner_id:
                self.stop(hosted, f"its owner node {owner!r} is down")

"""Global names: at most one owner per name in the cluster, kept in a JetStream KV bucket.

A name's entry (bucket ``otp_<cluster>_names``, key the name) holds its owner's node id and
name; it is written with an atomic create, so of two nodes racing exactly one wins. The
owner serves the name's subject ``otp.<cluster>.name.<name>`` (no queue group: one owner).

An entry is released (an atomic delete of the revision read, so never someone else's):

* by its owner, when the server it names ends or the owner leaves the cluster;
* by every node that judges the owner's node down (the first delete wins);
* and taken over by a node that registers it while the old owner is known to be down.

A node checks its own entries after its link to the broker comes back and after it was
paused itself (a broker restarted in memory forgot them all: they are written again; one
another node took meanwhile is lost, and its server told so).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, final

import attrs
import trio

from ._errors import ConnectionClosed, DistError, NameTaken
from ._kv import Entry, KeyValue, KeyValueError, WrongRevision
from ._peers import PeerState

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["GlobalNames", "Holding", "Owner"]

logger = logging.getLogger("otp.dist")


@final
@attrs.frozen
class Owner:
    """Who holds a global name: the node's name and id, and the entry's revision.

    Example::

        owner = await node.whereis_global("leader")
        if owner is not None:
            print(owner.node, owner.revision)
    """

    name: str
    node: str
    node_id: str
    revision: int


def _owner(entry: Entry) -> Owner | None:
    try:
        data = json.loads(entry.value)
        return Owner(entry.key, str(data["name"]), str(data["node"]), entry.revision)
    except (ValueError, KeyError, TypeError):
        return None


@attrs.define(eq=False)
class Holding:
    """This node's hold on one name (compared by identity: a later hold is another)."""

    revision: int
    on_lost: Callable[[str], object] | None


@final
class GlobalNames:
    """The node's side of global names (see the module docstring)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.kv = KeyValue(node.connection, f"otp_{node.cluster}_names")
        self.held: dict[str, Holding] = {}
        self._ready = False
        self.conflicts = 0

    async def _ensure(self) -> None:
        if not self._ready:
            await self.kv.ensure()
            self._ready = True

    def _value(self) -> bytes:
        return json.dumps({"node": self.node.id, "name": self.node.name}).encode()

    def _owner_gone(self, owner: Owner | None) -> bool:
        if owner is None:
            return True
        if owner.node_id == self.node.id:
            return False
        peer = self.node.peers().get(owner.node)
        return peer is not None and (peer.node_id != owner.node_id or peer.state is PeerState.DOWN)

    def _owner_unsure(self, owner: Owner | None) -> bool:
        peer = None if owner is None else self.node.peers().get(owner.node)
        return peer is not None and peer.state is PeerState.SUSPECT

    async def claim(
        self, name: str, on_lost: Callable[[str], object] | None, *, wait: float
    ) -> Holding:
        """Register ``name`` to this node; the holding. Takes over a down owner's entry.

        While the holder is only ``suspect`` it waits up to ``wait`` seconds for a verdict.
        """
        await self._ensure()
        with trio.move_on_after(wait) as patience:
            while True:
                try:
                    revision = await self.kv.create(name, self._value())
                    break
                except WrongRevision:
                    entry = await self.kv.get(name)
                    owner = None if entry is None else _owner(entry)
                    if entry is not None and self._owner_gone(owner):
                        await self._delete(name, entry.revision, "its node is down")
                        continue
                    if entry is not None and not self._owner_unsure(owner):
                        raise self._taken(name, owner) from None
                await trio.sleep(self.node.heartbeat_interval / 4)
        if patience.cancelled_caught:
            raise self._taken(name, None)
        held = self.held[name] = Holding(revision, on_lost)
        return held

    def _taken(self, name: str, owner: Owner | None) -> NameTaken:
        holder = "another node" if owner is None else repr(owner.node_id)
        msg = f"the global name {name!r} is registered by {holder}, which is up"
        return NameTaken(msg, "" if owner is None else owner.node_id)

    async def _delete(self, name: str, revision: int, why: str) -> bool:
        try:
            await self.kv.delete(name, revision)
        except WrongRevision:
            return False  # someone else released or took it first
        logger.info("node %r released the global name %r: %s", self.node.id, name, why)
        self.node._announce_release(name, why)
        return True

    async def release(self, name: str, why: str, holding: Holding | None = None) -> None:
        """Give up a name this node holds, and stop answering to it.

        With ``holding``, only that holding (not a later one of the same name).
        """
        held = self.held.get(name)
        if held is None or (holding is not None and held is not holding):
            return
        del self.held[name]
        self.node._unserve(self.node._name_subject(name))
        try:
            await self._delete(name, held.revision, why)
        except (KeyValueError, ConnectionClosed, DistError) as error:
            logger.warning("node %r could not release %r: %s", self.node.id, name, error)

    async def whereis(self, name: str) -> Owner | None:
        await self._ensure()
        entry = await self.kv.get(name)
        return None if entry is None else _owner(entry)

    async def release_node(self, node_name: str, node_id: str, names: list[str]) -> None:
        """Release the entries a down node held (each only if it is still that node's)."""
        for name in names:
            try:
                entry = await self.kv.get(name)
                owner = None if entry is None else _owner(entry)
                if entry is not None and owner is not None and owner.node_id == node_id:
                    await self._delete(name, entry.revision, f"node {node_name!r} is down")
            except (KeyValueError, ConnectionClosed, DistError) as error:
                logger.warning("node %r could not release %r: %s", self.node.id, name, error)

    async def verify(self) -> None:
        """Check every held name is still ours; write back those a broker restart forgot."""
        if not self.held:
            return
        self._ready = False
        await self._ensure()
        for name, held in list(self.held.items()):
            entry = await self.kv.get(name)
            owner = None if entry is None else _owner(entry)
            if owner is not None and owner.node_id == self.node.id:
                held.revision = owner.revision
                continue
            if entry is None:
                try:
                    held.revision = await self.kv.create(name, self._value())
                    logger.info("node %r registered %r again", self.node.id, name)
                    continue
                except WrongRevision:
                    entry = await self.kv.get(name)
                    owner = None if entry is None else _owner(entry)
            self.conflicts += 1
            who = "nobody" if owner is None else repr(owner.node_id)
            logger.error(
                "node %r lost the global name %r (now held by %s): stopping its server",
                self.node.id,
                name,
                who,
            )
            del self.held[name]
            self.node._unserve(self.node._name_subject(name))  # one answer per name
            if held.on_lost is not None:
                held.on_lost(f"the global name {name!r} was taken over by {who}")
